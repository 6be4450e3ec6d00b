"""The fitting stage of a run: every model of every endpoint, with comparators and sensitivity.

Per endpoint the main model (the configured pooling) is fitted once; the complete- and no-pooling
comparators are fitted for LOO; the sensitivity refits reuse the main model's compiled graph with
the heterogeneity prior scale halved and doubled (prior values are ``pm.Data``). Fits are keyed
``"<endpoint>"``, ``"<endpoint>__complete"``, ``"<endpoint>__none"``, ``"<endpoint>__tau_half"``,
``"<endpoint>__tau_double"``.

Each fit computes only what the run reads from it (:data:`FIT_GROUPS`): the main fit everything
(prior, posterior predictive, log-likelihood), a comparator its log-likelihood (for LOO), a
sensitivity refit its posterior. Leaving a group out changes no number of the others. Models of
the same structure (e.g. the three binary endpoints of one study) share one nutpie compilation
(see :mod:`rechallenge.models.sampling`). On small studies the comparators are written nested in
the partial-pooling structure (:mod:`rechallenge.models.nesting`), so that they share its
compilation too (:func:`nests_comparators`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import arviz as az
import pymc as pm

from rechallenge.data import Study, schema
from rechallenge.models.binary import build_binary_model
from rechallenge.models.log_density import add_pointwise_log_density
from rechallenge.models.sampling import compiled_structures, fit, is_compiled
from rechallenge.models.ttp import build_ttp_model

from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.fit_names import (
    COMPARATORS, SENSITIVITY_SCALES, endpoint_of, fit_key, fit_order,
)
from rechallenge.analysis.run.forked import WORKERS_ENV, ChildProcessDied, ForkedCall, forks, run_workers

#: Largest study (sites) whose comparators are nested in the partial-pooling structure. A nested
#: comparator samples the hierarchy's variables along (about 0.5 s more per fit on the shipped
#: data) and saves compiling its own structure (3-4 s); with hundreds of sites the sampling costs
#: more than the compilation saves.
NEST_COMPARATORS_MAX_SITES = 100
#: Optional InferenceData groups each kind of fit computes (``fit(groups=...)``).
FIT_GROUPS: dict[str, tuple[str, ...]] = {
    "main": ("prior", "posterior_predictive", "log_likelihood"),
    "comparator": ("log_likelihood",),
    "sensitivity": (),
}

Progress = Callable[[str], None]


@dataclass
class FitStage:
    """Fits of a run, the time each took and the time of each step (seconds).

    ``steps`` sums the steps of every fit: ``build``, ``compile``, ``sample``, ``prior``,
    ``posterior_predictive``, ``log_likelihood`` and ``log_prior``.
    """

    fits: dict[str, az.InferenceData] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)

    def add_steps(self, steps: dict[str, float]) -> None:
        """Add one fit's step timings to the totals."""
        for name, seconds in steps.items():
            self.steps[name] = self.steps.get(name, 0.0) + seconds


def nests_comparators(study: Study, config: RunConfig) -> bool:
    """Whether the run writes its models nested (:mod:`rechallenge.models.nesting`).

    When compiling dominates: with nutpie (PyMC's sampler compiles every model anyway), partial
    pooling as the main model, comparators to fit and at most
    :data:`NEST_COMPARATORS_MAX_SITES` sites.
    """
    return (
        config.sampler.backend == "nutpie"
        and config.analysis.pooling == "partial"
        and bool(_comparators(config))
        and len(study.sites) <= NEST_COMPARATORS_MAX_SITES
    )


def build_model(study: Study, endpoint: str, config: RunConfig, pooling: str) -> pm.Model:
    """Build the configured model of one endpoint with the given pooling (its rows only)."""
    a = config.analysis
    nested = nests_comparators(study, config)
    study = study.for_endpoint(endpoint)
    if endpoint == schema.TTP_ENDPOINT:
        return build_ttp_model(
            study,
            pooling=pooling,
            patient_frailty=a.patient_effect,
            shared_shape=a.shared_shape,
            covariates=a.covariates,
            covariate_effects=a.covariate_effects,
            priors=config.priors.get("ttp"),
            nested=nested,
        )
    return build_binary_model(
        study,
        endpoint,
        pooling=pooling,
        patient_effect=a.patient_effect,
        covariates=a.covariates,
        covariate_effects=a.covariate_effects,
        priors=config.priors.get("binary"),
        nested=nested,
    )


def _sample(
    model: pm.Model,
    config: RunConfig,
    kind: str,
    stage: FitStage,
    data: dict[str, float] | None = None,
) -> az.InferenceData:
    s = config.sampler
    steps: dict[str, float] = {}
    idata = fit(
        model,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        seed=s.seed,
        backend=s.backend,
        target_accept=s.target_accept,
        prior_draws=s.prior_draws,
        data=data,
        groups=FIT_GROUPS[kind],
        timings=steps,
    )
    stage.add_steps(steps)
    return idata


def _build(
    study: Study, endpoint: str, config: RunConfig, pooling: str, stage: FitStage
) -> pm.Model:
    start = time.perf_counter()
    model = build_model(study, endpoint, config, pooling)
    stage.add_steps({"build": time.perf_counter() - start})
    return model


def _fit_main(
    study: Study, endpoint: str, config: RunConfig, *, progress: Progress, stage: FitStage
) -> None:
    """The main fit of ``endpoint`` and, as configured, its sensitivity refits."""
    main_pooling = config.analysis.pooling
    start = time.perf_counter()
    progress(f"{endpoint}: fitting {main_pooling} pooling")
    model = _build(study, endpoint, config, main_pooling, stage)
    stage.fits[fit_key(endpoint)] = _sample(model, config, "main", stage)
    stage.timings[fit_key(endpoint)] = time.perf_counter() - start

    if config.analysis.sensitivity and main_pooling == "partial":
        tau_sd = float(model["prior_tau_sd"].get_value())
        for variant, factor in SENSITIVITY_SCALES.items():
            start = time.perf_counter()
            progress(f"{endpoint}: sensitivity refit, tau prior scale x{factor:g}")
            stage.fits[fit_key(endpoint, variant)] = _sample(
                model, config, "sensitivity", stage, data={"prior_tau_sd": tau_sd * factor}
            )
            stage.timings[fit_key(endpoint, variant)] = time.perf_counter() - start
        start = time.perf_counter()
        add_pointwise_log_density(model, stage.fits[fit_key(endpoint)], "prior")
        stage.add_steps({"log_prior": time.perf_counter() - start})


def _fit_comparator(
    study: Study, endpoint: str, pooling: str, config: RunConfig, *, progress: Progress,
    stage: FitStage,
) -> None:
    start = time.perf_counter()
    progress(f"{endpoint}: fitting comparator, {pooling} pooling")
    comparator = _build(study, endpoint, config, pooling, stage)
    stage.fits[fit_key(endpoint, pooling)] = _sample(comparator, config, "comparator", stage)
    stage.timings[fit_key(endpoint, pooling)] = time.perf_counter() - start


def _comparators(config: RunConfig) -> tuple[str, ...]:
    if not config.analysis.comparators:
        return ()
    return tuple(p for p in COMPARATORS if p != config.analysis.pooling)


def fit_endpoint(
    study: Study, endpoint: str, config: RunConfig, *, progress: Progress, stage: FitStage
) -> None:
    """Fit the main model of ``endpoint`` and, as configured, its comparators and sensitivity refits."""
    _fit_main(study, endpoint, config, progress=progress, stage=stage)
    for pooling in _comparators(config):
        _fit_comparator(study, endpoint, pooling, config, progress=progress, stage=stage)


# --------------------------------------------------------------------------- in two processes
#
# Compiling a model structure takes seconds and one core; sampling takes well under a second per
# fit. With two cores the fitting stage therefore runs in this process and one forked worker
# process, each fitting whole groups of fits that share a model structure (so each structure is
# compiled once, in one process). A fit does not depend on where it ran: same seeds, same numbers.

#: Cost of compiling a model structure, in fits (for sharing the work between processes): on the
#: shipped data a fit samples in about 0.5 s, a partial-pooling structure (nested or not)
#: compiled in about 8 s and a comparator's own structure (no site-effect hierarchy) in 3-4.5 s
#: with nutpie's own C callbacks. The lean ones (:mod:`rechallenge.models.nutpie_wrappers`) take
#: 2-4 s off every structure; these ratios were not re-measured since. They decide the split only
#: when the comparators have structures of their own (not nested: over
#: NEST_COMPARATORS_MAX_SITES sites); nested, each process gets one model family.
_COMPILE_COST = {"partial": 16.0, "complete": 9.0, "none": 9.0}


@dataclass(frozen=True)
class FitGroup:
    """Fits of one model structure: one pooling across the endpoints of one model family.

    ``kind`` is ``"main"`` (main fits and their sensitivity refits), ``"comparator"``, or
    ``"nested"`` (main fits, sensitivity refits and comparators, which then share the main
    model's structure; see :func:`nests_comparators`).
    """

    kind: str
    pooling: str
    endpoints: tuple[str, ...]

    def n_fits(self, config: RunConfig) -> int:
        """Number of fits in the group."""
        if self.kind == "comparator":
            return len(self.endpoints)
        refits = len(SENSITIVITY_SCALES) if (
            config.analysis.sensitivity and self.pooling == "partial") else 0
        comparators = len(_comparators(config)) if self.kind == "nested" else 0
        return len(self.endpoints) * (1 + refits + comparators)


def fit_groups(study: Study, config: RunConfig) -> list[FitGroup]:
    """The fits of a run grouped by model structure (binary endpoints share theirs)."""
    families: dict[bool, list[str]] = {}
    for endpoint in config.analysis.endpoints:
        families.setdefault(endpoint == schema.TTP_ENDPOINT, []).append(endpoint)
    nested = nests_comparators(study, config)
    groups = []
    for endpoints in families.values():
        if nested:
            groups.append(FitGroup("nested", config.analysis.pooling, tuple(endpoints)))
            continue
        groups.append(FitGroup("main", config.analysis.pooling, tuple(endpoints)))
        groups += [FitGroup("comparator", p, tuple(endpoints)) for p in _comparators(config)]
    return groups


def _run_group(
    study: Study, config: RunConfig, group: FitGroup, progress: Progress, stage: FitStage
) -> None:
    for endpoint in group.endpoints:
        if group.kind == "comparator":
            _fit_comparator(study, endpoint, group.pooling, config, progress=progress, stage=stage)
        elif group.kind == "nested":
            fit_endpoint(study, endpoint, config, progress=progress, stage=stage)
        else:
            _fit_main(study, endpoint, config, progress=progress, stage=stage)


def _split(study: Study, config: RunConfig, groups: list[FitGroup]) -> tuple[list, list]:
    """Share groups between this process and the worker, longest first (LPT).

    A group whose structure this process has compiled before (a repeated run) costs only its
    sampling, here and, when the worker is forked (it inherits the compiled models), there too;
    with the spawn start method the worker would compile it again, so it stays here.
    """
    cached = set()
    if compiled_structures():
        for group in groups:
            model = build_model(study, group.endpoints[0], config, group.pooling)
            if is_compiled(model):
                cached.add(group)
    cost = {g: g.n_fits(config) + (0.0 if g in cached else _COMPILE_COST[g.pooling])
            for g in groups}
    here: list[FitGroup] = []
    there: list[FitGroup] = []
    load = [0.0, 0.0]
    for group in sorted(groups, key=lambda g: -cost[g]):
        if (group in cached and not forks()) or load[0] <= load[1]:
            here.append(group)
            load[0] += cost[group]
        else:
            there.append(group)
            load[1] += cost[group]
    return here, there


def _fit_groups(study: Study, config: RunConfig, groups: list[FitGroup]) -> FitStage:
    """Fit ``groups`` quietly (the worker process's job)."""
    stage = FitStage()
    for group in groups:
        _run_group(study, config, group, lambda _message: None, stage)
    return stage


def _canonical_order(stage: FitStage, config: RunConfig) -> FitStage:
    """The fits in the order a one-process run makes them (endpoint by endpoint)."""
    order = []
    for endpoint in config.analysis.endpoints:
        order.append(fit_key(endpoint))
        order += [fit_key(endpoint, v) for v in SENSITIVITY_SCALES]
        order += [fit_key(endpoint, p) for p in COMPARATORS]
    rank = {key: i for i, key in enumerate(order)}
    ordered = FitStage(steps=dict(stage.steps))
    for key in sorted(stage.fits, key=lambda k: rank.get(k, len(rank))):
        ordered.fits[key] = stage.fits[key]
        ordered.timings[key] = stage.timings[key]
    return ordered


def fit_all(
    study: Study, config: RunConfig, *, progress: Progress, workers: int | None = None
) -> FitStage:
    """Fit every configured endpoint; return the fits and their timings.

    Parameters
    ----------
    study, config
        The run's data and config.
    progress
        Called with a line of text as the work goes on.
    workers
        Processes to use: with 2 or more (the default on two or more cores, see
        :func:`~rechallenge.analysis.run.forked.run_workers`) and the nutpie backend, one worker
        process fits part of the model structures while this process fits the rest. The fits
        are the same either way.
    """
    workers = run_workers() if workers is None else workers
    groups = fit_groups(study, config)
    if workers < 2 or config.sampler.backend != "nutpie" or len(groups) < 2:
        stage = FitStage()
        for endpoint in config.analysis.endpoints:
            fit_endpoint(study, endpoint, config, progress=progress, stage=stage)
        return stage
    here, there = _split(study, config, groups)
    if not there:
        stage = FitStage()
        for group in here:
            _run_group(study, config, group, progress, stage)
        return _canonical_order(stage, config)

    progress(f"fitting in 2 processes; the worker fits: "
             + "; ".join(f"{', '.join(g.endpoints)} ({g.pooling} pooling)" for g in there))
    with ForkedCall(_fit_groups, study, config, there, name="fitting worker") as worker:
        stage = FitStage()
        for group in here:
            _run_group(study, config, group, progress, stage)
        progress("waiting for the worker process")
        try:
            worker_stage: FitStage = worker.result()
        except ChildProcessDied as exc:
            exc.add_note(f"run with {WORKERS_ENV}=1 to fit in one process")
            raise
    stage.fits.update(worker_stage.fits)
    stage.timings.update(worker_stage.timings)
    stage.add_steps(worker_stage.steps)
    return _canonical_order(stage, config)

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

The fits are grouped by model structure (:func:`fit_groups`): each group is one task of the
engine (:mod:`rechallenge.analysis.run.fit_tasks`), so each structure is compiled once, in the
worker that fits the group. A fit does not depend on where it ran: same seeds, same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import arviz as az
import pymc as pm

from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.fit_names import (
    COMPARATORS,
    SENSITIVITY_SCALES,
    fit_key,
)
from rechallenge.data import Study, schema
from rechallenge.models.binary import build_binary_model
from rechallenge.models.dims import Pooling
from rechallenge.models.log_density import add_pointwise_log_density
from rechallenge.models.sampling import fit
from rechallenge.models.ttp import build_ttp_model

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
    ``posterior_predictive``, ``log_likelihood`` and ``log_prior``. ``tasks`` records where each
    task of the stage ran (:class:`~rechallenge.analysis.run.engine.TaskRecord` as dicts).
    """

    fits: dict[str, az.InferenceData] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    tasks: list[dict] = field(default_factory=list)

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


def build_model(study: Study, endpoint: str, config: RunConfig, pooling: Pooling) -> pm.Model:
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
    study: Study, endpoint: str, config: RunConfig, pooling: Pooling, stage: FitStage
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
    study: Study, endpoint: str, pooling: Pooling, config: RunConfig, *, progress: Progress,
    stage: FitStage,
) -> None:
    start = time.perf_counter()
    progress(f"{endpoint}: fitting comparator, {pooling} pooling")
    comparator = _build(study, endpoint, config, pooling, stage)
    stage.fits[fit_key(endpoint, pooling)] = _sample(comparator, config, "comparator", stage)
    stage.timings[fit_key(endpoint, pooling)] = time.perf_counter() - start


def _comparators(config: RunConfig) -> tuple[Pooling, ...]:
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


# --------------------------------------------------------------------------- groups (tasks)


@dataclass(frozen=True)
class FitGroup:
    """Fits of one model structure: one pooling across the endpoints of one model family.

    ``kind`` is ``"main"`` (main fits and their sensitivity refits), ``"comparator"``, or
    ``"nested"`` (main fits, sensitivity refits and comparators, which then share the main
    model's structure; see :func:`nests_comparators`).
    """

    kind: str
    pooling: Pooling
    endpoints: tuple[str, ...]

    @property
    def name(self) -> str:
        """A readable name, e.g. ``"nested-partial-response+disease_control+toxicity"``."""
        return f"{self.kind}-{self.pooling}-{'+'.join(self.endpoints)}"

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


def fit_group(study: Study, config: RunConfig, group: FitGroup,
              progress: Progress = lambda _message: None) -> FitStage:
    """Every fit of ``group``, in this process (one task of the fitting stage)."""
    stage = FitStage()
    for endpoint in group.endpoints:
        if group.kind == "comparator":
            _fit_comparator(study, endpoint, group.pooling, config, progress=progress, stage=stage)
        elif group.kind == "nested":
            fit_endpoint(study, endpoint, config, progress=progress, stage=stage)
        else:
            _fit_main(study, endpoint, config, progress=progress, stage=stage)
    return stage


def canonical_order(stage: FitStage, config: RunConfig) -> FitStage:
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

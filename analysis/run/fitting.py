"""The fitting stage of a run: every model of every endpoint, with comparators and sensitivity.

Per endpoint the main model (the configured pooling) is fitted once; the complete- and no-pooling
comparators are fitted for LOO. The prior-sensitivity variants (heterogeneity prior scale halved
and doubled) are the main posterior reweighted by Pareto-smoothed importance sampling
(:mod:`rechallenge.analysis.summaries.prior_reweighting`); only a variant whose Pareto k exceeds
the threshold is refitted, reusing the main model's compiled graph (prior values are
``pm.Data``). What was done per variant (method and Pareto k) is recorded in
:attr:`FitStage.sensitivity`, and the run's manifest. Fits are keyed ``"<endpoint>"``,
``"<endpoint>__complete"``, ``"<endpoint>__none"`` and, when refitted,
``"<endpoint>__tau_half"``, ``"<endpoint>__tau_double"``.

Every fit uses the run's seed, whichever others are made, so reweighting a variant instead of
refitting it changes no other fit. The decision is a deterministic function of the saved main
fit: a report rebuilt from a run recomputes the same k (:func:`sensitivity_records`).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import pymc as pm

from rechallenge.analysis.families import family_of
from rechallenge.analysis.run.manifest import RunDirectoryError
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.family_hooks import fits_comparators
from rechallenge.analysis.settings.fit_names import (
    COMPARATORS,
    SENSITIVITY_SCALES,
    fit_key,
    fit_order,
)
from rechallenge.analysis.summaries.prior_reweighting import (
    REFITTED,
    REWEIGHTED,
    reweight_prior_scale,
    sensitivity_scales,
)
from rechallenge.data import Study
from rechallenge.models.dims import Pooling
from rechallenge.models.log_density import add_pointwise_log_density
from rechallenge.models.sampling import fit

#: Largest study (sites) whose comparators are nested in the partial-pooling structure. A nested
#: comparator samples the hierarchy's variables along (about 0.5 s more per fit on the shipped
#: data) and saves compiling its own structure (3-4 s); with hundreds of sites the sampling costs
#: more than the compilation saves.
NEST_COMPARATORS_MAX_SITES = 100
#: How far a run's recorded Pareto k may be from the one recomputed from its saved main fit.
RECORD_K_TOLERANCE = 1e-6
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
    ``posterior_predictive``, ``log_likelihood``, ``log_prior`` and ``reweight``. ``tasks``
    records where each task of the stage ran (:class:`~rechallenge.analysis.run.engine.TaskRecord`
    as dicts). ``sensitivity`` records, per sensitivity variant (fit key), its factor, prior
    scale, Pareto k and method (``"reweighted"`` or ``"refitted"``; see
    :meth:`~rechallenge.analysis.summaries.prior_reweighting.Reweighting.record`). ``messages``
    holds the progress lines of a task that ran on a worker, for the client to show.
    """

    fits: dict[str, az.InferenceData] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    tasks: list[dict] = field(default_factory=list)
    sensitivity: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def add_steps(self, steps: dict[str, float]) -> None:
        """Add one fit's step timings to the totals."""
        for name, seconds in steps.items():
            self.steps[name] = self.steps.get(name, 0.0) + seconds


def nests_comparators(study: Study, config: RunConfig) -> bool:
    """Whether the run writes its models nested (:mod:`rechallenge.models.nesting`).

    When compiling dominates: with nutpie or JAX (PyMC's sampler compiles every model anyway), partial
    pooling as the main model, comparators to fit and at most
    :data:`NEST_COMPARATORS_MAX_SITES` sites.
    """
    return (
        config.sampler.backend in ("nutpie", "jax", "auto")
        and config.analysis.pooling == "partial"
        and bool(_comparators(config))
        and len(study.sites) <= NEST_COMPARATORS_MAX_SITES
    )


def build_model(study: Study, endpoint: str, config: RunConfig, pooling: Pooling,
                variant: str | None = None) -> pm.Model:
    """Build the configured model of one endpoint with the given pooling (its rows only), or
    one of its family's model variants (another survival distribution).
    """
    return family_of(endpoint).build_model(study, config, pooling,
                                           nests_comparators(study, config), variant)


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
    study: Study, endpoint: str, config: RunConfig, pooling: Pooling, stage: FitStage,
    variant: str | None = None,
) -> pm.Model:
    start = time.perf_counter()
    model = build_model(study, endpoint, config, pooling, variant)
    stage.add_steps({"build": time.perf_counter() - start})
    return model


def _fit_main(
    study: Study, endpoint: str, config: RunConfig, *, progress: Progress, stage: FitStage
) -> None:
    """The main fit of ``endpoint`` and, as configured, its sensitivity variants.

    A variant is the main posterior reweighted when its Pareto k is at most the threshold, and
    is refitted otherwise.
    """
    main_pooling = config.analysis.pooling
    start = time.perf_counter()
    progress(f"{endpoint}: fitting {main_pooling} pooling")
    model = _build(study, endpoint, config, main_pooling, stage)
    main = stage.fits[fit_key(endpoint)] = _sample(model, config, "main", stage)
    stage.timings[fit_key(endpoint)] = time.perf_counter() - start

    scales = sensitivity_scales(config)
    if scales:
        tau_sd = float(model["prior_tau_sd"].get_value())
        for variant, factor in scales.items():
            key = fit_key(endpoint, variant)
            start = time.perf_counter()
            weights = reweight_prior_scale(main, factor)
            stage.add_steps({"reweight": time.perf_counter() - start})
            if weights.reliable:
                progress(f"{endpoint}: tau prior scale x{factor:g} reweighted "
                         f"(Pareto k {weights.pareto_k:.2f})")
                stage.sensitivity[key] = weights.record(REWEIGHTED)
                continue
            progress(f"{endpoint}: sensitivity refit, tau prior scale x{factor:g} (Pareto k "
                     f"{weights.pareto_k:.2f} > {weights.threshold:.2f})")
            stage.fits[key] = _sample(
                model, config, "sensitivity", stage, data={"prior_tau_sd": tau_sd * factor}
            )
            stage.timings[key] = time.perf_counter() - start
            stage.sensitivity[key] = weights.record(REFITTED)
        start = time.perf_counter()
        add_pointwise_log_density(model, stage.fits[fit_key(endpoint)], "prior")
        stage.add_steps({"log_prior": time.perf_counter() - start})


def sensitivity_records(
    fits: Mapping[str, az.InferenceData], config: RunConfig
) -> dict[str, dict[str, Any]]:
    """The sensitivity decisions recomputed from saved main fits, as :attr:`FitStage.sensitivity`.

    A variant is ``"refitted"`` when its Pareto k is above the threshold, else ``"reweighted"``;
    this is what the fitting stage decided if the main fits are the run's (the decision depends
    on nothing else), so a rebuilt report can check the run's record against it.
    """
    records = {}
    for endpoint in config.run_endpoints:
        main = fits.get(fit_key(endpoint))
        if main is None:
            continue
        for variant, factor in sensitivity_scales(config).items():
            weights = reweight_prior_scale(main, factor)
            records[fit_key(endpoint, variant)] = weights.record(
                REWEIGHTED if weights.reliable else REFITTED)
    return dict(sorted(records.items(), key=lambda item: fit_order(item[0])))


def check_sensitivity_record(
    recorded: Mapping[str, Any], fits: Mapping[str, az.InferenceData], config: RunConfig
) -> None:
    """Check a run's sensitivity record against its saved fits.

    Recomputing the weights from the saved main fits must give the recorded variants, prior
    scales and Pareto k (to :data:`RECORD_K_TOLERANCE`: the record may come from another
    machine's floating point), and the run must hold a fit for exactly the refitted variants.

    Raises
    ------
    RunDirectoryError
        Naming the variants that disagree.
    """
    again = sensitivity_records(fits, config)
    refitted = {key for key, record in recorded.items() if record.get("method") == REFITTED}
    saved = {key for key in fits if key in again}
    differ = {key for key in set(again) | set(recorded)
              if not _same_record(again.get(key), recorded.get(key))}
    wrong = sorted(differ | (refitted ^ saved), key=fit_order)
    if wrong:
        raise RunDirectoryError(
            f"the run's record of its sensitivity variants ({', '.join(wrong)}) does not match "
            f"its saved fits: recomputed {[again.get(k) for k in wrong]}, recorded "
            f"{[recorded.get(k) for k in wrong]}, refitted {sorted(saved)}")


def _same_record(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    k_a, k_b = a.get("pareto_k"), b.get("pareto_k")
    same_k = (k_a is None and k_b is None) or (
        isinstance(k_a, float) and isinstance(k_b, (int, float))
        and abs(k_a - k_b) <= RECORD_K_TOLERANCE)
    return same_k and all(a.get(f) == b.get(f) for f in ("factor", "prior_tau_sd"))


def _fit_comparator(
    study: Study, endpoint: str, pooling: Pooling, config: RunConfig, *, progress: Progress,
    stage: FitStage,
) -> None:
    start = time.perf_counter()
    progress(f"{endpoint}: fitting comparator, {pooling} pooling")
    comparator = _build(study, endpoint, config, pooling, stage)
    stage.fits[fit_key(endpoint, pooling)] = _sample(comparator, config, "comparator", stage)
    stage.timings[fit_key(endpoint, pooling)] = time.perf_counter() - start


def _fit_variant(
    study: Study, endpoint: str, variant: str, config: RunConfig, *, progress: Progress,
    stage: FitStage,
) -> None:
    """A model variant of ``endpoint`` (another survival distribution), fitted as the main
    model is, to be compared with it.
    """
    start = time.perf_counter()
    progress(f"{endpoint}: fitting the {variant} model")
    model = _build(study, endpoint, config, config.analysis.pooling, stage, variant)
    stage.fits[fit_key(endpoint, variant)] = _sample(model, config, "main", stage)
    stage.timings[fit_key(endpoint, variant)] = time.perf_counter() - start


def _comparators(config: RunConfig, endpoint: str | None = None) -> tuple[Pooling, ...]:
    """The comparators the config asks for (of ``endpoint``: none if its family has none)."""
    if not config.analysis.comparators or (
            endpoint is not None and not fits_comparators(family_of(endpoint))):
        return ()
    return tuple(p for p in COMPARATORS if p != config.analysis.pooling)


def fit_endpoint(
    study: Study, endpoint: str, config: RunConfig, *, progress: Progress, stage: FitStage
) -> None:
    """Fit the main model of ``endpoint`` and, as configured, its comparators and sensitivity refits."""
    _fit_main(study, endpoint, config, progress=progress, stage=stage)
    for pooling in _comparators(config, endpoint):
        _fit_comparator(study, endpoint, pooling, config, progress=progress, stage=stage)


# --------------------------------------------------------------------------- groups (tasks)


@dataclass(frozen=True)
class FitGroup:
    """Fits of one model structure: one pooling across the endpoints of one model family.

    ``kind`` is ``"main"`` (main fits and their sensitivity refits), ``"comparator"``,
    ``"nested"`` (main fits, sensitivity refits and comparators, which then share the main
    model's structure; see :func:`nests_comparators`) or ``"variant"`` (the family's model
    ``variant``, another survival distribution, of each endpoint).
    """

    kind: str
    pooling: Pooling
    endpoints: tuple[str, ...]
    variant: str | None = None

    @property
    def name(self) -> str:
        """A readable name, e.g. ``"nested-partial-response+disease_control+toxicity"``."""
        kind = self.kind if self.variant is None else f"{self.kind}-{self.variant}"
        return f"{kind}-{self.pooling}-{'+'.join(self.endpoints)}"

    def n_fits(self, config: RunConfig) -> int:
        """Number of fits in the group known in advance: main fits and comparators.

        The sensitivity variants are refitted only where their Pareto k is too high, which is
        known once the main fit is made; they are not counted.
        """
        if self.kind in ("comparator", "variant"):
            return len(self.endpoints)
        comparators = len(_comparators(config)) if self.kind == "nested" else 0
        return len(self.endpoints) * (1 + comparators)


def fit_groups(study: Study, config: RunConfig) -> list[FitGroup]:
    """The fits of a run grouped by model structure: the endpoints of one family share theirs."""
    families: dict[str, list[str]] = {}
    for endpoint in config.run_endpoints:
        families.setdefault(family_of(endpoint).family, []).append(endpoint)
    nested = nests_comparators(study, config)
    groups = []
    for endpoints in families.values():
        comparators = _comparators(config, endpoints[0])  # a family without any: main only
        if nested and comparators:
            groups.append(FitGroup("nested", config.analysis.pooling, tuple(endpoints)))
            continue
        groups.append(FitGroup("main", config.analysis.pooling, tuple(endpoints)))
        groups += [FitGroup("comparator", p, tuple(endpoints)) for p in comparators]
    for endpoint in config.run_endpoints:  # each variant is a structure of its own
        groups += [FitGroup("variant", config.analysis.pooling, (endpoint,), variant)
                   for variant in family_of(endpoint).model_variants(config)]
    return groups


def fit_group(study: Study, config: RunConfig, group: FitGroup,
              progress: Progress | None = None) -> FitStage:
    """Every fit of ``group``, in this process (one task of the fitting stage).

    Without ``progress`` the lines go to the stage's ``messages``: a worker's standard error is
    not the user's console, so the client shows them when the task comes back.
    """
    stage = FitStage()
    if progress is None:
        progress = stage.messages.append
    for endpoint in group.endpoints:
        if group.kind == "comparator":
            _fit_comparator(study, endpoint, group.pooling, config, progress=progress, stage=stage)
        elif group.variant is not None:
            _fit_variant(study, endpoint, group.variant, config, progress=progress, stage=stage)
        elif group.kind == "nested":
            fit_endpoint(study, endpoint, config, progress=progress, stage=stage)
        else:
            _fit_main(study, endpoint, config, progress=progress, stage=stage)
    return stage


def canonical_order(stage: FitStage, config: RunConfig) -> FitStage:
    """The fits in the order a one-process run makes them (endpoint by endpoint)."""
    order = []
    for endpoint in config.run_endpoints:
        order.append(fit_key(endpoint))
        order += [fit_key(endpoint, v) for v in SENSITIVITY_SCALES]
        order += [fit_key(endpoint, p) for p in COMPARATORS]
        order += [fit_key(endpoint, v) for v in family_of(endpoint).model_variants(config)]
    rank = {key: i for i, key in enumerate(order)}
    ordered = FitStage(steps=dict(stage.steps), sensitivity={
        key: stage.sensitivity[key] for key in sorted(
            stage.sensitivity, key=lambda k: rank.get(k, len(rank)))})
    for key in sorted(stage.fits, key=lambda k: rank.get(k, len(rank))):
        ordered.fits[key] = stage.fits[key]
        ordered.timings[key] = stage.timings[key]
    return ordered

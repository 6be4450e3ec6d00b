"""The fitting stage of a run: every model of every endpoint, with comparators and sensitivity.

Per endpoint the main model (the configured pooling) is fitted once; the complete- and no-pooling
comparators are fitted for LOO; the sensitivity refits reuse the main model's compiled graph with
the heterogeneity prior scale halved and doubled (prior values are ``pm.Data``). Fits are keyed
``"<endpoint>"``, ``"<endpoint>__complete"``, ``"<endpoint>__none"``, ``"<endpoint>__tau_half"``,
``"<endpoint>__tau_double"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import arviz as az
import pymc as pm

from rechallenge.data import Study, schema
from rechallenge.models.binary import build_binary_model
from rechallenge.models.sampling import fit
from rechallenge.models.ttp import build_ttp_model

from .config import RunConfig

#: Multipliers of the heterogeneity prior scale for the sensitivity refits.
SENSITIVITY_SCALES: dict[str, float] = {"tau_half": 0.5, "tau_double": 2.0}
#: The pooling of the comparators fitted beside the main model.
COMPARATORS: tuple[str, ...] = ("complete", "none")

Progress = Callable[[str], None]


def fit_key(endpoint: str, variant: str | None = None) -> str:
    """Name of a fit in a run (also its file name under ``fits/``)."""
    return endpoint if variant is None else f"{endpoint}__{variant}"


def fit_order(key: str) -> tuple[int, int]:
    """Sort key of fit keys: endpoints in schema order, then main, sensitivity, comparators.

    Every table and message lists fits in this order, so a run and its rebuilt report agree.
    """
    endpoint, _, variant = key.partition("__")
    variants = ("", *SENSITIVITY_SCALES, *COMPARATORS)
    e = schema.ENDPOINTS.index(endpoint) if endpoint in schema.ENDPOINTS else len(schema.ENDPOINTS)
    return (e, variants.index(variant) if variant in variants else len(variants))


def endpoint_of(key: str) -> str:
    """The endpoint of a fit key (inverse of :func:`fit_key`)."""
    return key.split("__", 1)[0]


@dataclass
class FitStage:
    """Fits of a run and the time each took (seconds)."""

    fits: dict[str, az.InferenceData] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def build_model(study: Study, endpoint: str, config: RunConfig, pooling: str) -> pm.Model:
    """Build the configured model of one endpoint with the given pooling (its rows only)."""
    a = config.analysis
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
        )
    return build_binary_model(
        study,
        endpoint,
        pooling=pooling,
        patient_effect=a.patient_effect,
        covariates=a.covariates,
        covariate_effects=a.covariate_effects,
        priors=config.priors.get("binary"),
    )


def _sample(model: pm.Model, config: RunConfig, data: dict[str, float] | None = None) -> az.InferenceData:
    s = config.sampler
    return fit(
        model,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        seed=s.seed,
        backend=s.backend,
        target_accept=s.target_accept,
        prior_draws=s.prior_draws,
        data=data,
    )


def fit_endpoint(
    study: Study, endpoint: str, config: RunConfig, *, progress: Progress, stage: FitStage
) -> None:
    """Fit the main model of ``endpoint`` and, as configured, its comparators and sensitivity refits."""
    main_pooling = config.analysis.pooling
    start = time.perf_counter()
    progress(f"{endpoint}: fitting {main_pooling} pooling")
    model = build_model(study, endpoint, config, main_pooling)
    stage.fits[fit_key(endpoint)] = _sample(model, config)
    stage.timings[fit_key(endpoint)] = time.perf_counter() - start

    if config.analysis.sensitivity and main_pooling == "partial":
        tau_sd = float(model["prior_tau_sd"].get_value())
        for variant, factor in SENSITIVITY_SCALES.items():
            start = time.perf_counter()
            progress(f"{endpoint}: sensitivity refit, tau prior scale x{factor:g}")
            stage.fits[fit_key(endpoint, variant)] = _sample(
                model, config, data={"prior_tau_sd": tau_sd * factor}
            )
            stage.timings[fit_key(endpoint, variant)] = time.perf_counter() - start
        with model:
            pm.compute_log_prior(stage.fits[fit_key(endpoint)], extend_inferencedata=True)

    if config.analysis.comparators:
        for pooling in COMPARATORS:
            if pooling == main_pooling:
                continue
            start = time.perf_counter()
            progress(f"{endpoint}: fitting comparator, {pooling} pooling")
            comparator = build_model(study, endpoint, config, pooling)
            stage.fits[fit_key(endpoint, pooling)] = _sample(comparator, config)
            stage.timings[fit_key(endpoint, pooling)] = time.perf_counter() - start


def fit_all(study: Study, config: RunConfig, *, progress: Progress) -> FitStage:
    """Fit every configured endpoint; return the fits and their timings."""
    stage = FitStage()
    for endpoint in config.analysis.endpoints:
        fit_endpoint(study, endpoint, config, progress=progress, stage=stage)
    return stage

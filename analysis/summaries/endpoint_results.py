"""Compute step of the report: per endpoint, every table's numbers from the saved fits.

Pure functions of (study, fits, config): no sampling and no files, so ``rechallenge report`` gives
the same numbers as ``rechallenge analyze`` from the same fits.

Each prior-sensitivity variant is read from its refit where the run made one (its Pareto k was
too high), and is otherwise the main posterior reweighted
(:mod:`rechallenge.analysis.summaries.prior_reweighting`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd

from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import endpoint_order, family_of
from rechallenge.analysis.settings.fit_names import COMPARATORS, fit_key
from rechallenge.analysis.summaries.captured import captured_warnings
from rechallenge.analysis.summaries.checks import (
    leave_one_site_out,
    loo_comparison,
    power_scaling,
    sensitivity_table,
)
from rechallenge.analysis.summaries.family_comparison import family_comparison
from rechallenge.analysis.summaries.prior_reweighting import (
    REFITTED,
    REWEIGHTED,
    reweight_prior_scale,
    reweighted_summary,
    sensitivity_scales,
)
from rechallenge.data import Study


@dataclass
class EndpointResults:
    """Everything computed for one endpoint."""

    endpoint: str
    summary: pd.DataFrame
    sites: pd.DataFrame
    loo: pd.DataFrame | None = None
    loso: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    power_scaling: pd.DataFrame | None = None
    variant_summaries: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Per sensitivity variant, how it was obtained (``"reweighted"`` or ``"refitted"``) and the
    #: Pareto k of its importance weights.
    variant_methods: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: The survival distributions compared (``[ttp] families`` with more than one), one row each
    #: (:func:`~rechallenge.analysis.summaries.family_comparison.family_comparison`).
    families: pd.DataFrame | None = None
    #: Library warnings raised by each step (``"loo"``, ``"leave_one_site_out"``,
    #: ``"power_scaling"``), counted by kind (see :mod:`captured`).
    warnings: dict[str, dict[str, int]] = field(default_factory=dict)


def summarise(idata: az.InferenceData, endpoint: str, config: RunConfig) -> pd.DataFrame:
    """The tidy summary of one fit of ``endpoint`` (its family's summary)."""
    return family_of(endpoint).summarise(idata, config.interval, config.sampler.seed)


def quantity_draws(
    idata: az.InferenceData, endpoint: str, config: RunConfig
) -> list[tuple[str, str, np.ndarray]]:
    """``(quantity, line, draws)`` of every quantity of :func:`summarise`, same seed."""
    return family_of(endpoint).quantity_draws(idata, config.sampler.seed)


def site_table(idata: az.InferenceData, endpoint: str, config: RunConfig) -> pd.DataFrame:
    """Per-site estimates of one fit."""
    return family_of(endpoint).site_table(idata, config.interval)


def endpoint_results(
    endpoint: str, fits: Mapping[str, az.InferenceData], config: RunConfig
) -> EndpointResults:
    """Summaries, site estimates, LOO, leave-one-site-out and sensitivity of one endpoint."""
    main = fits[fit_key(endpoint)]
    result = EndpointResults(endpoint, summarise(main, endpoint, config),
                             site_table(main, endpoint, config))
    comparators: dict[str, az.InferenceData] = {
        p: fits[fit_key(endpoint, p)] for p in COMPARATORS if fit_key(endpoint, p) in fits}
    if comparators:
        with captured_warnings() as caught:
            result.loo = loo_comparison({config.analysis.pooling: main, **comparators})
        result.warnings["loo"] = dict(caught)
        result.loo.insert(0, "endpoint", endpoint)
    variants = family_of(endpoint).model_variants(config)
    if variants:
        by_variant = {family_of(endpoint).main_variant(config): main,
                      **{v: fits[fit_key(endpoint, v)] for v in variants
                         if fit_key(endpoint, v) in fits}}
        with captured_warnings() as caught:
            result.families = family_comparison(
                endpoint, by_variant,
                {v: result.summary if idata is main else summarise(idata, endpoint, config)
                 for v, idata in by_variant.items()},
                tuple(str(x) for x in main.posterior.coords["line"].to_numpy()))
        result.warnings["families"] = dict(caught)
    if "site" in main.posterior.coords and "site_idx" in main.constant_data:
        with captured_warnings() as caught:
            result.loso = leave_one_site_out(main, model=endpoint)
        result.warnings["leave_one_site_out"] = dict(caught)
    if sensitivity_scales(config) and "tau" in main.posterior:
        _sensitivity(result, main, fits, config)
    if "log_prior" in main.groups():
        var_names, prior_names = family_of(endpoint).power_scaled_for(main)
        with captured_warnings() as caught:
            result.power_scaling = power_scaling(main, var_names, prior_names)
        result.warnings["power_scaling"] = dict(caught)
        result.power_scaling.insert(0, "endpoint", endpoint)
    return result


def _sensitivity(result: EndpointResults, main: az.InferenceData,
                 fits: Mapping[str, az.InferenceData], config: RunConfig) -> None:
    """The prior-sensitivity variants of one endpoint: refits where made, else reweighted."""
    endpoint = result.endpoint
    shown = family_of(endpoint).sensitivity_quantities
    result.variant_summaries = {"default": result.summary}
    draws: list[tuple[str, str, np.ndarray]] | None = None
    for variant, factor in sensitivity_scales(config).items():
        weights = reweight_prior_scale(main, factor)
        refit = fits.get(fit_key(endpoint, variant))
        if refit is not None:
            result.variant_summaries[variant] = summarise(refit, endpoint, config)
            result.variant_methods[variant] = (REFITTED, weights.pareto_k)
            continue
        if draws is None:
            draws = [d for d in quantity_draws(main, endpoint, config) if d[0] in shown]
        result.variant_summaries[variant] = reweighted_summary(
            draws, weights, endpoint=endpoint, interval=config.interval)
        result.variant_methods[variant] = (REWEIGHTED, weights.pareto_k)
    result.sensitivity = sensitivity_table(result.variant_summaries, shown, endpoint=endpoint,
                                           methods=result.variant_methods)


def all_endpoint_results(
    study: Study, fits: Mapping[str, az.InferenceData], config: RunConfig
) -> dict[str, EndpointResults]:
    """:func:`endpoint_results` for every endpoint that has a main fit, in registry order."""
    ordered = sorted(config.run_endpoints, key=endpoint_order)
    return {e: endpoint_results(e, fits, config) for e in ordered if fit_key(e) in fits}

"""The tables of a run: the convergence gate, the diagnostics and every result table, machine
and reader versions, computed from the endpoint results (the run layer writes them).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import arviz as az
import pandas as pd

from rechallenge.analysis.reporting import run_tables as rt
from rechallenge.analysis.reporting.family_tables import families_machine_table
from rechallenge.analysis.reporting.reader_set import ReaderTables, build_reader_tables
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import endpoint_label
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import family_of
from rechallenge.analysis.settings.family_hooks import own_tables
from rechallenge.analysis.settings.fit_names import endpoint_of, fit_key, fit_order
from rechallenge.analysis.summaries.captured import classify
from rechallenge.analysis.summaries.descriptive import response_by_prior_response
from rechallenge.analysis.summaries.diagnostics import (
    DEFAULT_THRESHOLDS,
    GateResult,
    derived_diagnostics,
    evaluate_gate,
    parameter_diagnostics,
    sampler_diagnostics,
)
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.prior_reweighting import pareto_k_threshold
from rechallenge.data import Study, schema
from rechallenge.models.fit_settings import fit_attrs
from rechallenge.models.priors import study_size


def diagnostics_tables(
    fits: Mapping[str, az.InferenceData], results: Mapping[str, EndpointResults],
    variants: Collection[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, GateResult]:
    """Diagnostics of every fit (parameters) and main fit (derived quantities), and the gate.

    The gate judges the main fits and the model ``variants`` (fit keys: the other survival
    distributions, whose medians and contrasts the report compares), whose numbers are
    reported; comparators and sensitivity refits are listed in the table but only inform.
    """
    frames, sampler_rows = [], []
    for key in sorted(fits, key=fit_order):
        idata = fits[key]
        frames.append(parameter_diagnostics(idata, model=key))
        sampler_rows.append(sampler_diagnostics(idata, model=key))
    for endpoint, result in results.items():
        frames.append(derived_diagnostics(result.summary, model=endpoint))
        frames.append(derived_diagnostics(result.sites, model=endpoint))
    diagnostics = pd.concat(frames, ignore_index=True)
    sampler = pd.DataFrame(sampler_rows)
    main = set(results) | set(variants)
    gate = evaluate_gate(
        diagnostics[diagnostics["model"].isin(main)],
        [row for row in sampler_rows if row["model"] in main],
        DEFAULT_THRESHOLDS,
    )
    return diagnostics, sampler, gate


@dataclass(frozen=True)
class ResultTables:
    """The gate and the tables of a run, as written to ``tables/``."""

    gate: GateResult
    diagnostics: Table
    descriptive: Table
    comparisons: list[Table]
    sites: list[Table]
    priors: Table
    overview: Table
    loo: Table | None
    loso: Table | None
    sensitivity: Table | None
    psens: Table | None
    cross: Table | None
    attrs: dict[str, dict[str, Any]]
    reader: ReaderTables
    #: Per fit, the library warnings its sampling raised, counted by kind.
    sampler_warnings: dict[str, dict[str, int]]
    #: The survival distributions compared (``[ttp] families``), or None.
    families: Table | None = None
    #: Tables a family adds of its own (the benefit-risk table), machine versions.
    own: tuple[Table, ...] = ()

    @property
    def machine(self) -> list[Table]:
        """The machine tables (``tables/*.csv``), in the order they are written."""
        return [t for t in (self.diagnostics, self.descriptive, *self.comparisons, *self.sites,
                            self.priors, self.overview, self.loo, self.loso, self.sensitivity,
                            self.psens, self.cross, self.families, *self.own) if t is not None]


def result_tables(
    study: Study,
    fits: Mapping[str, az.InferenceData],
    results: Mapping[str, EndpointResults],
    config: RunConfig,
) -> ResultTables:
    """The gate, the diagnostics table and every result table of a run (machine and reader
    versions), computed from its results; nothing is written.
    """
    interval = config.interval
    variants = [fit_key(e, v) for e in results for v in family_of(e).model_variants(config)
                if fit_key(e, v) in fits]
    diagnostics, sampler, gate = diagnostics_tables(fits, results, variants)

    diagnostics_table = Table("diagnostics", "Convergence diagnostics of every parameter and "
                              "derived quantity.", diagnostics)
    overview = rt.diagnostics_overview(diagnostics, sampler)
    descriptive = rt.descriptive(study, interval)
    comparisons = [rt.comparison(r, study, interval) for r in results.values()]
    site_tables = [rt.sites(r, interval) for r in results.values()]
    attrs = {e: fit_attrs(fits[fit_key(e)]) for e in results}
    # The main fits' priors, then those of the models fitted beside them (other distributions).
    priors_of = {**attrs, **{key: fit_attrs(fits[key]) for key in variants}}
    priors = rt.priors_table(priors_of,
                             {key: study_size(study, endpoint_of(key)) for key in priors_of})
    loo = rt.concat_table(
        "loo", "PSIS-LOO comparison of partial, complete and no pooling per endpoint (ELPD: higher "
        "is better; Pareto k > 0.7 marks unreliable rows).", [r.loo for r in results.values()])
    loso = rt.concat_table(
        "leave_one_site_out", "Leave-one-site-out PSIS per endpoint: expected log predictive "
        "density of each whole site and its Pareto k (k > 0.7: approximation unreliable).",
        [r.loso for r in results.values()])
    k_max = pareto_k_threshold(config.sampler.draws * config.sampler.chains)
    sensitivity = rt.concat_table(
        "sensitivity_priors", f"Headline quantities under the default heterogeneity prior and with "
        f"its scale halved and doubled (posterior medians and {interval.label}s); max_shift_sd is the "
        "largest move of a median in default posterior SDs. <variant>_method: the main posterior "
        "reweighted by Pareto-smoothed importance sampling, or refitted where the Pareto k of the "
        f"weights (<variant>_pareto_k) was above {k_max:.2f}.",
        [r.sensitivity for r in results.values()])
    psens = rt.concat_table(
        "sensitivity_power_scaling", "Power-scaling sensitivity of the top-level parameters to "
        "the prior and the likelihood (Kallioinen et al., Statistics and Computing 2023), from the "
        "cumulative Jensen-Shannon distance between the posterior and its power-scaled versions; "
        "\u2265 0.05 is flagged.",
        [r.power_scaling for r in results.values()])
    cross = None
    if len(study.patients) and len(study.lines) >= 2 and schema.BEST_RESPONSE in study.patients:
        frame = response_by_prior_response(study.patients, study.lines[0], study.lines[1],
                                           level=interval.level)
        cross = Table(
            "response_by_previous_response",
            f"Objective response at {study.lines[1]} by best response at {study.lines[0]} (crude "
            f"proportions with exact {interval.percent} confidence intervals).",
            frame.reset_index())
    families = families_machine_table([r.families for r in results.values()])
    own = [(e, t) for e, r in results.items()
           for t in own_tables(e, r.summary, interval, config.report.estimate)]
    reader = build_reader_tables(
        results, study, interval, estimate=config.report.estimate, descriptive=descriptive,
        cross=cross, priors=priors, overview=overview, loo=loo, loso=loso,
        sensitivity=sensitivity, psens=psens, families=families,
        own=[(endpoint_label(e), Table(t.name, t.caption, t.reader)) for e, t in own])
    return ResultTables(gate, diagnostics_table, descriptive, comparisons, site_tables, priors,
                        overview, loo, loso, sensitivity, psens, cross, attrs, reader,
                        {k: classify(fit_attrs(fits[k]).get("warnings", {}))
                         for k in sorted(fits, key=fit_order)}, families,
                        tuple(Table(t.name, t.machine_caption or t.caption, t.machine)
                              for _, t in own))



"""Format step of the report: the run's tables, each a :class:`~rechallenge.analysis.reporting.tables.Table`.

Every caption names the interval it shows (Bayesian credible intervals from the run's one
:class:`Interval`; frequentist confidence intervals, labelled as such, at the same level).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from rechallenge.analysis.reporting.prose import used_priors
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.settings.families import family_of
from rechallenge.analysis.settings.fit_names import endpoint_of
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.descriptive import descriptive_table
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.reference import Key, Reference
from rechallenge.data import Study
from rechallenge.models.priors import StudySize

#: How the frequentist reference intervals are computed (for captions).
CONFIDENCE = (
    "exact (Clopper-Pearson) CI for proportions; Kaplan-Meier median with linear (Collett) CI; "
    "Cox model HR with patient-clustered robust CI")


def descriptive(study: Study, interval: Interval) -> Table:
    """The paper's own analysis per line (frequentist, patient rows only)."""
    raw = descriptive_table(study.patients, study.lines, level=interval.level)
    frame = raw.T.rename_axis("statistic").reset_index()
    frame.columns.name = None
    return Table(
        "descriptive",
        f"Descriptive and frequentist reference analysis per line (patient-level rows; "
        f"{interval.percent} confidence intervals: {CONFIDENCE}).",
        frame,
    )


def frequentist_reference(study: Study, endpoint: str, level: float) -> dict[Key, Reference]:
    """The frequentist reference of an endpoint keyed by (quantity, line): crude proportions with
    exact CIs, or Kaplan-Meier medians and a Cox hazard ratio; an estimate that does not exist
    is there with NaN numbers and its reason (:mod:`rechallenge.analysis.summaries.reference`).
    """
    return family_of(endpoint).frequentist_reference(study, level)


def comparison(result: EndpointResults, study: Study, interval: Interval) -> Table:
    """ICI-2 vs ICI-1 for one endpoint: Bayesian estimates with the frequentist reference beside."""
    wanted = family_of(result.endpoint).comparison_quantities
    freq = frequentist_reference(study, result.endpoint, interval.level)
    s = result.summary
    rows = []
    for quantity in wanted:
        for _, r in s[s["quantity"] == quantity].iterrows():
            f = freq.get((quantity, r["line"]), Reference(np.nan))
            is_prob = quantity == "prob_greater_population"
            rows.append({
                "quantity": quantity,
                "line": r["line"],
                "posterior_median": np.nan if is_prob else r["median"],
                "lower": np.nan if is_prob else r["lower"],
                "upper": np.nan if is_prob else r["upper"],
                "probability": r["mean"] if is_prob else np.nan,
                "frequentist": f.estimate,
                "freq_lower": f.lower,
                "freq_upper": f.upper,
                "freq_note": f.note,
            })
    label = family_of(result.endpoint).label
    return Table(
        f"comparison_{result.endpoint}",
        f"{label}: posterior medians with {interval.label}s (lower, upper); 'probability' is a "
        f"posterior probability; frequentist reference beside ({interval.percent} CIs: {CONFIDENCE}; "
        f"freq_note: why a reference estimate does not exist, or a median not reached).",
        pd.DataFrame(rows),
    )


def sites(result: EndpointResults, interval: Interval) -> Table:
    """Per-site estimates beside the raw data."""
    what = family_of(result.endpoint).site_words
    return Table(
        f"sites_{result.endpoint}",
        f"{family_of(result.endpoint).label}: per-site raw estimates and shrunken posterior "
        f"{what} with {interval.label}s.",
        result.sites,
    )


def priors_table(fit_attrs: Mapping[str, Mapping],
                 sizes: Mapping[str, StudySize] | None = None) -> Table:
    """Every prior hyperparameter the fits use, its distribution and the reason for its
    default (``fit_attrs``: per fit key, the decoded provenance of the fit: each endpoint's main
    fit and the models fitted beside it, such as other survival distributions). ``sizes``: per
    fit key, the study's counts (:func:`rechallenge.models.priors.study_size`), stated in the
    reasons that depend on them. The ``endpoint`` column holds the fit key.
    """
    rows = []
    for key, attrs in fit_attrs.items():
        endpoint = endpoint_of(key)
        defaults = family_of(endpoint).prior_defaults(attrs.get("options", {}))
        values = used_priors(endpoint, attrs["priors"], attrs.get("options", {}))
        for name, value in values.items():
            d = defaults[name]
            rows.append({"endpoint": key, "name": name, "value": value, "default": d.value,
                         "distribution": d.distribution,
                         "reason": d.reason_for((sizes or {}).get(key))})
    return Table("priors", "Prior hyperparameters by endpoint, with the reason for each default.",
                 pd.DataFrame(rows))


def concat_table(name: str, caption: str, frames: Sequence[pd.DataFrame | None]) -> Table | None:
    """One table from per-endpoint frames (``None`` when all are missing)."""
    present = [f for f in frames if f is not None and len(f)]
    if not present:
        return None
    return Table(name, caption, pd.concat(present, ignore_index=True))


def diagnostics_overview(diagnostics: pd.DataFrame, sampler: pd.DataFrame) -> Table:
    """Per fit: worst R-hat, smallest ESS, divergences, E-BFMI and the number failing."""
    grouped = diagnostics.groupby("model", sort=False).agg(
        quantities=("name", "size"),
        max_r_hat=("r_hat", "max"),
        min_ess_bulk=("ess_bulk", "min"),
        min_ess_tail=("ess_tail", "min"),
        failing=("passed", lambda s: int((~s.astype(bool)).sum())),
    ).reset_index()
    frame = grouped.merge(sampler, on="model", how="left")
    return Table(
        "diagnostics_overview",
        "Convergence per fit over every parameter and derived quantity (full list: "
        "tables/diagnostics.csv).",
        frame,
    )

"""Format step of the report: the run's tables, each a :class:`~rechallenge.analysis.reporting.tables.Table`.

Every caption names the interval it shows (Bayesian credible intervals from the run's one
:class:`Interval`; frequentist confidence intervals, labelled as such, at the same level).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from rechallenge.analysis.reporting.prose import contrast_label, used_priors
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.descriptive import descriptive_table
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.data import Study, binary_outcome, schema
from rechallenge.models.priors import StudySize

_BINARY_ROWS = ("probability_population", "probability_typical_site", "probability_new_site",
                "difference_population", "odds_ratio_typical_site", "prob_greater_population")
_TTP_ROWS = ("median_population", "median_typical_site", "median_new_site",
             "median_ratio_population", "hazard_ratio", "prob_greater_population")
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


def _frequentist_binary(study: Study, endpoint: str, level: float) -> dict[tuple[str, str], tuple]:
    """Crude estimates keyed by (quantity, line): (estimate, lower, upper)."""
    from rechallenge.analysis.summaries.frequentist import exact_proportion_ci

    out: dict[tuple[str, str], tuple] = {}
    patients = study.for_endpoint(endpoint).patients  # without reconstructed TTP-only rows
    if not len(patients):
        return out
    y = binary_outcome(patients, endpoint)
    crude = {}
    for line in study.lines:
        rows = (patients[schema.LINE] == line).to_numpy()
        events, n = int(y[rows].sum()), int(rows.sum())
        if n == 0:
            continue
        ci = exact_proportion_ci(events, n, level)
        crude[line] = events / n
        for q in ("probability_population", "probability_typical_site"):
            out[(q, line)] = (events / n, ci.lower, ci.upper)
    first = study.lines[0]
    for later in study.lines[1:]:
        if first in crude and later in crude:
            c = contrast_label(later, first)
            out[("difference_population", c)] = (crude[later] - crude[first], np.nan, np.nan)
            p1, p2 = crude[first], crude[later]
            if 0 < p1 < 1 and 0 < p2 < 1:
                out[("odds_ratio_typical_site", c)] = (p2 / (1 - p2) / (p1 / (1 - p1)), np.nan, np.nan)
    return out


def _frequentist_ttp(study: Study, level: float) -> dict[tuple[str, str], tuple]:
    """Kaplan-Meier medians (linear CI) and a patient-clustered Cox hazard ratio."""
    from rechallenge.analysis.summaries.frequentist import km_median

    out: dict[tuple[str, str], tuple] = {}
    p = study.patients
    if not len(p) or schema.TTP_MONTHS not in p:
        return out
    medians = {}
    for line in study.lines:
        rows = p[p[schema.LINE] == line]
        if len(rows) == 0:
            continue
        est = km_median(rows[schema.TTP_MONTHS], rows[schema.PROGRESSED], method="linear", level=level)
        medians[line] = est.median
        for q in ("median_population", "median_typical_site"):
            out[(q, line)] = (est.median, est.lower, est.upper)
    first = study.lines[0]
    for later in study.lines[1:]:
        c = contrast_label(later, first)
        if first in medians and later in medians:
            out[("median_ratio_population", c)] = (medians[later] / medians[first], np.nan, np.nan)
        pair = p[p[schema.LINE].isin([first, later])]
        frame = pd.DataFrame({
            "t": pair[schema.TTP_MONTHS].to_numpy(float),
            "e": pair[schema.PROGRESSED].to_numpy(int),
            "later": (pair[schema.LINE] == later).to_numpy(float),
            "patient": (pair[schema.SITE] + "/" + pair[schema.PATIENT_ID]).to_numpy(),
        })
        if frame["later"].nunique() == 2:
            # Robust (sandwich) variance clustered on patient: the same patients at both lines.
            cox = CoxPHFitter(alpha=1 - level).fit(frame, "t", "e", cluster_col="patient")
            hr = float(np.exp(cox.params_["later"]))
            lo, hi = np.exp(cox.confidence_intervals_.loc["later"].to_numpy())
            out[("hazard_ratio", c)] = (hr, float(lo), float(hi))
    return out


def frequentist_reference(study: Study, endpoint: str, level: float) -> dict[tuple[str, str], tuple]:
    """The frequentist reference of an endpoint keyed by (quantity, line): (estimate, lower,
    upper); crude proportions with exact CIs, or Kaplan-Meier medians and a Cox hazard ratio.
    """
    if endpoint == schema.TTP_ENDPOINT:
        return _frequentist_ttp(study, level)
    return _frequentist_binary(study, endpoint, level)


def comparison(result: EndpointResults, study: Study, interval: Interval) -> Table:
    """ICI-2 vs ICI-1 for one endpoint: Bayesian estimates with the frequentist reference beside."""
    ttp = result.endpoint == schema.TTP_ENDPOINT
    wanted = _TTP_ROWS if ttp else _BINARY_ROWS
    freq = _frequentist_ttp(study, interval.level) if ttp else _frequentist_binary(
        study, result.endpoint, interval.level)
    s = result.summary
    rows = []
    for quantity in wanted:
        for _, r in s[s["quantity"] == quantity].iterrows():
            f = freq.get((quantity, r["line"]), (np.nan, np.nan, np.nan))
            is_prob = quantity == "prob_greater_population"
            rows.append({
                "quantity": quantity,
                "line": r["line"],
                "posterior_median": np.nan if is_prob else r["median"],
                "lower": np.nan if is_prob else r["lower"],
                "upper": np.nan if is_prob else r["upper"],
                "probability": r["mean"] if is_prob else np.nan,
                "frequentist": f[0],
                "freq_lower": f[1],
                "freq_upper": f[2],
            })
    label = schema.ENDPOINT_LABELS[result.endpoint]
    return Table(
        f"comparison_{result.endpoint}",
        f"{label}: posterior medians with {interval.label}s (lower, upper); 'probability' is a "
        f"posterior probability; frequentist reference beside ({interval.percent} CIs: {CONFIDENCE}).",
        pd.DataFrame(rows),
    )


def sites(result: EndpointResults, interval: Interval) -> Table:
    """Per-site estimates beside the raw data."""
    what = "median TTP (months)" if result.endpoint == schema.TTP_ENDPOINT else "probability"
    return Table(
        f"sites_{result.endpoint}",
        f"{schema.ENDPOINT_LABELS[result.endpoint]}: per-site raw estimates and shrunken posterior "
        f"{what} with {interval.label}s.",
        result.sites,
    )


def priors_table(fit_attrs: Mapping[str, Mapping],
                 sizes: Mapping[str, StudySize] | None = None) -> Table:
    """Every prior hyperparameter the main fits use, its distribution and the reason for its
    default (``fit_attrs``: per endpoint, the decoded provenance of its main fit). ``sizes``:
    per endpoint, the study's counts (:func:`rechallenge.models.priors.study_size`), stated in
    the reasons that depend on them.
    """
    from rechallenge.models.binary import BINARY_PRIORS
    from rechallenge.models.ttp import TTP_PRIORS

    rows = []
    for endpoint, attrs in fit_attrs.items():
        defaults = TTP_PRIORS if endpoint == schema.TTP_ENDPOINT else BINARY_PRIORS
        values = used_priors(endpoint, attrs["priors"], attrs.get("options", {}))
        for name, value in values.items():
            d = defaults[name]
            rows.append({"endpoint": endpoint, "name": name, "value": value, "default": d.value,
                         "distribution": d.distribution,
                         "reason": d.reason_for((sizes or {}).get(endpoint))})
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

"""The survival distributions of time to progression compared: PSIS-LOO, stacking weights and,
per distribution, the medians and the headline contrasts (``[ttp] families``).

A reviewer's first question of a survival model is whether the conclusion holds under other
plausible distributions. Each distribution is fitted with the same hierarchical structure
(:mod:`rechallenge.models.ttp`) to the same rows; the table ranks them by expected log
predictive density and gives, per distribution, what the report concludes from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import arviz as az
import pandas as pd

from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.checks import loo_comparison
from rechallenge.data import Study, schema
from rechallenge.data.frequentist import MedianCI, km_median
from rechallenge.models.fit_settings import fit_attrs
from rechallenge.models.survival import fit_distribution

#: Per-line quantities of the table, from each fit's summary.
PER_LINE: tuple[str, ...] = ("median_population",)
#: Contrasts of the table (later line vs the first), from each fit's summary.
CONTRASTS: tuple[str, ...] = ("median_ratio_population", "prob_greater_population",
                              "rmst_difference_population")


def family_comparison(endpoint: str, fits: Mapping[str, az.InferenceData],
                      summaries: Mapping[str, pd.DataFrame],
                      lines: Sequence[str]) -> pd.DataFrame:
    """One row per survival distribution, best first.

    Parameters
    ----------
    endpoint
        The time-to-event endpoint.
    fits, summaries
        Per distribution name (the main model's first), its fit and its summary
        (:func:`rechallenge.analysis.summaries.ttp.summarise_ttp`).
    lines
        The treatment lines, the first the reference of the contrasts.

    Returns
    -------
    pandas.DataFrame
        endpoint, distribution, label, the columns of
        :func:`~rechallenge.analysis.summaries.checks.loo_comparison` (rank, elpd_loo, se,
        elpd_diff, dse, weight, n_rows, n_pareto_k_high, max_pareto_k), then per line
        ``median_population[<line>]`` with ``_lower``/``_upper``, and per contrast of the later
        lines (``<quantity>[<later> vs <first>]``; the restricted-mean difference at the first
        horizon) the posterior median and interval (a probability: its posterior mean).
        ``main`` marks the run's main distribution.
    """
    loo = loo_comparison(fits).rename(columns={"model": "distribution"})
    main = next(iter(fits))
    rows = []
    for record in loo.to_dict("records"):
        name = str(record["distribution"])
        options = fit_attrs(fits[name]).get("options", {})
        dist = fit_distribution(options)
        row = {"endpoint": endpoint, "distribution": name, "label": dist.label,
               "main": name == main, **record}
        summary = summaries[name]
        for line in lines:
            _estimate(row, summary, "median_population", line)
        for later in lines[1:]:
            label = f"{later} vs {lines[0]}"
            for quantity in CONTRASTS:
                match = summary[(summary["quantity"] == quantity)
                                & summary["line"].astype(str).str.startswith(label)]
                if len(match):  # the restricted mean: its first horizon
                    _estimate(row, match.head(1), quantity, str(match["line"].iloc[0]))
        rows.append(row)
    return pd.DataFrame(rows)


def _estimate(row: dict, summary: pd.DataFrame, quantity: str, line: str) -> None:
    """Copy the posterior median and interval of ``quantity`` at ``line`` into ``row``."""
    match = summary[(summary["quantity"] == quantity) & (summary["line"].astype(str) == line)]
    if not len(match):
        return
    first = match.iloc[0]
    key = f"{quantity}[{line}]"
    # A probability is the posterior mean of a 0/1 indicator (its median would be 0 or 1).
    row[key] = float(first["mean" if quantity.startswith("prob_") else "median"])
    row[f"{key}_lower"] = float(first["lower"])
    row[f"{key}_upper"] = float(first["upper"])


def observed_medians(study: Study, interval: Interval) -> dict[str, MedianCI]:
    """The Kaplan-Meier median TTP of all patients of each line, with its confidence interval
    (the descriptive table's method), for lines with patient rows.
    """
    patients, out = study.patients, {}
    for line in study.lines:
        rows = patients[patients[schema.LINE] == line] if len(patients) else patients
        if len(rows) and schema.TTP_MONTHS in rows:
            out[line] = km_median(rows[schema.TTP_MONTHS], rows[schema.PROGRESSED],
                                  level=interval.level)
    return out

"""The headline table (the paper's Table 2): every endpoint's comparison of the lines at a glance.

One row per endpoint and reading (population average, typical site, new site), then the
frequentist reference of that endpoint; columns: each line, the contrast of each later line with
the first (difference, odds ratio or ratio of medians, named in the cell) and the posterior
probability that the later line is higher. Cells come from :mod:`estimates`, words from
:mod:`vocabulary`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rechallenge.analysis.reporting.estimates import (
    estimate_words,
    posterior_cell,
    probability_cell,
    reference_cell,
)
from rechallenge.analysis.reporting.prose import contrast_label
from rechallenge.analysis.reporting.run_tables import CONFIDENCE
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import READINGS, endpoint_label
from rechallenge.analysis.settings.families import family_of
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.reference import NOT_ESTIMABLE
from rechallenge.data import Study

HEADLINE_NAME = "table2_headline"


def _pick(summary: pd.DataFrame, quantity: str, line: str) -> Mapping[str, Any] | None:
    hit = summary[(summary["quantity"] == quantity) & (summary["line"] == line)]
    return None if hit.empty else hit.iloc[0]


def _endpoint_rows(result: EndpointResults, study: Study, lines: Sequence[str],
                   interval: Interval, estimate: str) -> list[dict[str, str]]:
    family = family_of(result.endpoint)
    value_scale, first, s = family.value_scale, lines[0], result.summary
    rows = []
    for spec in family.headline_rows:
        row = {"Endpoint": endpoint_label(result.endpoint),
               "Estimate": READINGS[spec.reading] + family.headline_suffix}
        for line in lines:
            r = _pick(s, spec.quantity, line)
            row[line] = "" if r is None else posterior_cell(r, value_scale, estimate=estimate)
        for later in lines[1:]:
            c, words = contrast_label(later, first), spec.words
            r = _pick(s, spec.contrast, c) if spec.contrast else None
            if r is None and spec.fallback is not None:
                r, words = _pick(s, spec.fallback[0], c), spec.fallback[1]
            row[c] = "" if r is None else f"{words} {posterior_cell(r, spec.scale, estimate=estimate)}"
            p = _pick(s, "prob_greater_population", c) if spec.reading == "population" else None
            row[f"P({later} > {first})"] = "" if p is None else probability_cell(p["mean"])
        rows.append(row)
    freq = family.frequentist_reference(study, interval.level)
    ref = family.reference_row
    if freq and ref is not None:
        row = {"Endpoint": endpoint_label(result.endpoint),
               "Estimate": f"Frequentist reference: {ref.words}"}
        for line in lines:
            row[line] = reference_cell(freq.get((ref.quantity, line)), value_scale)
        for later in lines[1:]:
            c = contrast_label(later, first)
            cell = reference_cell(freq.get((ref.contrast, c)), ref.contrast_scale)
            row[c] = f"{ref.contrast_words} {cell}" if cell else ""
            row[f"P({later} > {first})"] = ""
        rows.append(row)
    return rows


def headline_table(results: Mapping[str, EndpointResults], study: Study, interval: Interval,
                   *, estimate: str = "median") -> Table:
    """Table 2: every endpoint's lines and contrasts, with the frequentist reference.

    Parameters
    ----------
    results
        Endpoint results of the run (schema order).
    study
        The data (for the frequentist reference).
    interval
        The run's credible interval; the frequentist CIs use its level.
    estimate
        ``"median"`` or ``"mean_sd"`` (the config's ``[report] estimate``).

    Returns
    -------
    Table
        ``table2_headline``; the endpoint is written on its first row only.
    """
    lines = list(study.lines)
    rows = [row for r in results.values()
            for row in _endpoint_rows(r, study, lines, interval, estimate)]
    frame = pd.DataFrame(rows)
    if len(frame):
        repeated = frame["Endpoint"].eq(frame["Endpoint"].shift())
        frame.loc[repeated, "Endpoint"] = ""
    later = ", ".join(lines[1:])
    caption = (
        f"Table 2. {later} against {lines[0]} by endpoint: {estimate_words(estimate, interval)}; "
        f"event probabilities in %, differences in percentage points (pp), time to progression "
        f"in months. P (a probability from 0 to 1) is the posterior probability that the "
        f"population average is higher at "
        f"{later} (for time to progression: that the median is longer). Population average: "
        f"over the distribution of sites; typical site: a site with an average site effect; new "
        f"site: predictive for a site not in the data. Frequentist reference with "
        f"{interval.percent} confidence intervals: {CONFIDENCE}; the crude difference with "
        f"Newcombe's interval for paired proportions (the same patients at both lines; none "
        f"when some patients were seen at one line only)."
    )
    text = " ".join(frame.astype(str).to_numpy().ravel()) if len(frame) else ""
    if NOT_ESTIMABLE in text or "not reached" in text:
        caption += (" A reference estimate that does not exist on these data (no progression at "
                    "a line, every or no patient with the event) is written 'not estimable', with "
                    "the reason; a Kaplan-Meier median the curve never reaches, 'not reached'.")
    return Table(HEADLINE_NAME, caption, frame)

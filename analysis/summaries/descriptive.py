"""The reference study's own descriptive analysis, per treatment line.

Crude proportions with exact (Clopper-Pearson) intervals, Kaplan-Meier median time to progression
with the linear (SPSS-style) interval and, beside it, the log-log (Brookmeyer-Crowley) interval,
the regimen mix and the systemic line number; plus response at the second line by best response
at the first (the paper's 11/21).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from rechallenge.data import schema
from rechallenge.data.endpoints import (
    binary_outcome,
    endpoint_columns,
    endpoints_of_kind,
    rows_with_endpoint,
)
from rechallenge.data.frequentist import (
    MEDIAN_CI_LABELS,
    PROPORTION_CI_LABEL,
    exact_proportion_ci,
    km_median,
)


def _proportion_columns(prefix: str, y: pd.Series, level: float) -> dict[str, float]:
    ci = exact_proportion_ci(int(y.sum()), int(y.size), level)
    return {f"{prefix}_n": ci.events, f"{prefix}_prop": ci.proportion,
            f"{prefix}_lower": ci.lower, f"{prefix}_upper": ci.upper}


def _line_row(rows: pd.DataFrame, level: float, regimens: Sequence[str]) -> dict[str, float]:
    """All descriptive figures of one treatment line."""
    out: dict[str, float] = {"n_patients": int(len(rows))}
    for endpoint in endpoints_of_kind("binary"):
        if all(c in rows.columns for c in endpoint_columns(endpoint)):
            known = rows_with_endpoint(rows, endpoint)  # reconstructed rows hold TTP only
            out.update(_proportion_columns(endpoint, binary_outcome(known, endpoint), level))
    if len(rows) and {schema.TTP_MONTHS, schema.PROGRESSED} <= set(rows.columns):
        t, e = rows[schema.TTP_MONTHS], rows[schema.PROGRESSED]
        linear = km_median(t, e, level, "linear")
        loglog = km_median(t, e, level, "log-log")
        out.update({
            "progression_events": int(e.sum()), "censored": int(len(e) - e.sum()),
            "ttp_median": linear.median, "ttp_lower": linear.lower, "ttp_upper": linear.upper,
            "ttp_se": linear.se,
            "ttp_lower_loglog": loglog.lower, "ttp_upper_loglog": loglog.upper,
        })
    if schema.REGIMEN_CLASS in rows.columns:
        counts = rows[schema.REGIMEN_CLASS].value_counts()
        for regimen in regimens:
            out[f"regimen_{regimen}"] = int(counts.get(regimen, 0))
    if schema.LINE_NUMBER in rows.columns and rows[schema.LINE_NUMBER].notna().any():
        ln = rows[schema.LINE_NUMBER].dropna()
        out.update({"line_number_median": float(ln.median()),
                    "line_number_min": int(ln.min()), "line_number_max": int(ln.max())})
    return out


def descriptive_table(
    patients: pd.DataFrame,
    lines: Sequence[str] = schema.DEFAULT_LINES,
    level: float = 0.95,
) -> pd.DataFrame:
    """The paper's descriptive analysis, one row per treatment line.

    Parameters
    ----------
    patients
        Patient table (long format, :mod:`rechallenge.data.schema` columns). Optional columns
        that are absent are skipped.
    lines
        Line labels, in the order of the output rows.
    level
        Confidence level of every interval, default 0.95.

    Returns
    -------
    pandas.DataFrame
        Indexed by line. Columns: ``n_patients``; for each binary endpoint (``response``,
        ``disease_control``, ``toxicity``) ``<endpoint>_n``, ``_prop`` and exact ``_lower`` /
        ``_upper`` (probability scale, NE in the denominator); ``progression_events``,
        ``censored``; ``ttp_median`` (months) with the linear interval ``ttp_lower`` /
        ``ttp_upper`` and its ``ttp_se``, and the log-log interval ``ttp_lower_loglog`` /
        ``ttp_upper_loglog``; ``regimen_<class>`` counts; ``line_number_median``, ``_min``,
        ``_max``. ``attrs`` records the level and the interval kinds.
    """
    unknown = sorted(set(patients[schema.LINE]) - set(lines))
    if unknown:
        raise ValueError(f"line labels {unknown} not in lines={tuple(lines)}")
    regimens = list(schema.REGIMEN_CLASSES)
    if schema.REGIMEN_CLASS in patients.columns:
        regimens += sorted(set(patients[schema.REGIMEN_CLASS].dropna()) - set(regimens))
    table = pd.DataFrame(
        [_line_row(patients[patients[schema.LINE] == line], level, regimens) for line in lines],
        index=pd.Index(list(lines), name=schema.LINE),
    )
    table.attrs.update({
        "level": level,
        "proportion_interval": PROPORTION_CI_LABEL,
        "median_interval": MEDIAN_CI_LABELS["linear"],
        "median_interval_alt": MEDIAN_CI_LABELS["log-log"],
    })
    return table


def response_by_prior_response(
    patients: pd.DataFrame,
    first: str = "ICI-1",
    second: str = "ICI-2",
    endpoint: str = "response",
    level: float = 0.95,
) -> pd.DataFrame:
    """Cross table: best response at the first line (rows) by the endpoint at the second line.

    Only patients treated at both lines count. With the defaults this is the paper's "responses at
    ICI-2 among patients with PD as best response at ICI-1" (11/21 in the reference study).

    Parameters
    ----------
    patients
        Patient table (long format).
    first, second
        Line labels; rows are best responses at ``first``, the outcome is taken at ``second``.
    endpoint
        Binary endpoint at the second line (``"response"`` = CR/PR by default).
    level
        Confidence level of the exact interval of each row's proportion.

    Returns
    -------
    pandas.DataFrame
        Index: CR, PR, SD, PD, NE and ``Total``. Columns ``no`` and ``yes`` (patients without and
        with the endpoint at ``second``), ``n``, ``proportion`` and exact ``lower`` / ``upper``.
    """
    key = [schema.SITE, schema.PATIENT_ID]
    a_rows = rows_with_endpoint(patients, "response")  # reconstructed rows have no response
    a = a_rows.loc[a_rows[schema.LINE] == first, key + [schema.BEST_RESPONSE]]
    b_rows = rows_with_endpoint(patients, endpoint)
    b_rows = b_rows[b_rows[schema.LINE] == second]
    b = b_rows[key].assign(outcome=binary_outcome(b_rows, endpoint).to_numpy())
    paired = a.merge(b, on=key, how="inner", validate="one_to_one")
    cats = pd.Categorical(paired[schema.BEST_RESPONSE], categories=list(schema.RESPONSES))
    counts = pd.crosstab(cats, paired["outcome"], dropna=False).reindex(
        index=list(schema.RESPONSES), columns=[0, 1], fill_value=0)
    counts.columns = ["no", "yes"]
    counts.loc["Total"] = counts.sum()
    counts["n"] = counts["no"] + counts["yes"]
    cis = [exact_proportion_ci(int(y), int(n), level) for y, n in zip(counts["yes"], counts["n"])]
    counts["proportion"] = [c.proportion for c in cis]
    counts["lower"] = [c.lower for c in cis]
    counts["upper"] = [c.upper for c in cis]
    counts.index.name = f"best response at {first}"
    counts.attrs.update({"first": first, "second": second, "endpoint": endpoint, "level": level,
                         "interval": PROPORTION_CI_LABEL})
    return counts

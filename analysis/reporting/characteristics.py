"""Table 1 of the main text: patient and site characteristics by treatment line.

Made from the machine descriptive table (``tables/descriptive.csv``, one row per statistic) and
the study, in Table 2's style: one cell per quantity, a proportion with its interval in the same
cell ("13/58; 22.4% (12.5 to 35.3)"), counts with their percentage, the line of therapy as
median (range). The supplement keeps the descriptive table with one row per bound for readers
who want every number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from rechallenge.analysis.reporting.estimates import interval_cell, number_text
from rechallenge.analysis.reporting.reader_tables import READER_DIR, statistic_label
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.data import Study, schema
from rechallenge.data.endpoints import endpoints_of_kind

#: File stem of Table 1 (``tables/reader/table1_characteristics.*``).
TABLE1_NAME = "table1_characteristics"


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _count(value: Any) -> str:
    v = _number(value)
    return f"{int(v)}" if math.isfinite(v) else ""


def _sites_per_line(study: Study) -> dict[str, int]:
    rows = [study.patients[[schema.SITE, schema.LINE]]] if len(study.patients) else []
    if len(study.aggregates):
        rows.append(study.aggregates[[schema.SITE, schema.LINE]])
    if not rows:
        return {}
    both = pd.concat(rows, ignore_index=True).astype(str)
    return both.groupby(schema.LINE)[schema.SITE].nunique().to_dict()


def characteristics_table(descriptive: Table, study: Study, interval: Interval) -> Table:
    """Table 1: per line, patients and sites, regimens, line of therapy, and per endpoint the
    crude estimate with its confidence interval.

    Parameters
    ----------
    descriptive
        The machine descriptive table (``statistic`` column, one column per line).
    study
        The run's data (for the sites per line).
    interval
        The run's interval; the frequentist intervals are confidence intervals at its level.
    """
    frame = descriptive.frame.set_index("statistic")
    lines: Sequence[str] = [line for line in study.lines if line in frame.columns]
    sites = _sites_per_line(study)

    def value(stat: str, line: str) -> Any:
        return frame.at[stat, line] if stat in frame.index else None

    rows: list[tuple[str, dict[str, str]]] = [
        ("Patients, n", {line: _count(value("n_patients", line)) for line in lines}),
        ("Sites, n", {line: str(sites.get(line, "")) for line in lines}),
    ]
    for stat in frame.index:
        if str(stat).startswith("regimen_"):
            rows.append((statistic_label(str(stat)) + ", n (%)", {
                line: _share(value(stat, line), value("n_patients", line)) for line in lines}))
    if "line_number_median" in frame.index:
        rows.append(("Line of therapy, median (range)", {line: (
            f"{_count(value('line_number_median', line))} ({_count(value('line_number_min', line))}"
            f" to {_count(value('line_number_max', line))})") for line in lines}))
    for endpoint in endpoints_of_kind("binary"):
        if f"{endpoint}_prop" not in frame.index:
            continue
        label = statistic_label(f"{endpoint}_prop").removesuffix(": proportion")
        rows.append((f"{label}, n/N; % ({interval.percent} CI)", {line: _proportion(
            value(f"{endpoint}_n", line), value("n_patients", line), value(f"{endpoint}_prop", line),
            value(f"{endpoint}_lower", line), value(f"{endpoint}_upper", line)) for line in lines}))
    if "ttp_median" in frame.index:
        rows.append(("Progressions / censored, n", {line: (
            f"{_count(value('progression_events', line))} / {_count(value('censored', line))}")
            for line in lines}))
        rows.append((f"Median TTP, months ({interval.percent} CI)", {line: interval_cell(
            _number(value("ttp_median", line)), _number(value("ttp_lower", line)),
            _number(value("ttp_upper", line)), "months") or "not estimable" for line in lines}))
    table = pd.DataFrame([{"Characteristic": name, **cells} for name, cells in rows])
    caption = (
        "Patient and site characteristics by treatment line (patient-level rows; proportions "
        f"with exact (Clopper-Pearson) {interval.percent} confidence intervals, the median time "
        f"to progression from the Kaplan-Meier curve with its {interval.percent} confidence "
        "interval)."
    )
    return Table(TABLE1_NAME, caption, table, folder=READER_DIR)


def _share(count: Any, total: Any) -> str:
    c, n = _number(count), _number(total)
    if not (math.isfinite(c) and math.isfinite(n)) or n <= 0:
        return _count(count)
    return f"{int(c)} ({number_text(c / n, 'percent')})"


def _proportion(events: Any, n: Any, prop: Any, lower: Any, upper: Any) -> str:
    if not math.isfinite(_number(events)):
        return ""
    cell = interval_cell(_number(prop), _number(lower), _number(upper), "percent")
    return f"{_count(events)}/{_count(n)}; {cell}"

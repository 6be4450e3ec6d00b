"""Rules of the aggregate table: counts per site, line and endpoint from sites without patient rows.

A binary-endpoint row gives ``n`` patients and ``events`` among them. A ``ttp`` row gives ``n`` and
the median time to progression with its 95% interval (``events`` optional), which the TTP model
uses through an approximate likelihood on the log median, so the interval must be a real one:
``0 < median_lower <= median_months <= median_upper`` and ``median_lower < median_upper``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from . import schema
from ._headers import AGGREGATES, wrong_kind_problem
from ._labels import check_text_column, limit_of, text_problem
from ._parsers import (
    INVALID,
    MONTHS_EXPECTED,
    choice_parser,
    parse_months,
    parse_text,
    whole_between,
)
from ._tables import (
    MISSING_MARKERS,
    RawTable,
    check_cells,
    check_required_columns,
    line_expected,
)
from .endpoints import endpoints_of_kind
from .errors import ValidationIssue

_MEDIANS = (schema.MEDIAN_MONTHS, schema.MEDIAN_LOWER, schema.MEDIAN_UPPER)
_KEY = list(schema.AGGREGATE_KEY_COLUMNS)


def _binary(name: str | None) -> bool:
    # Rows carry counts or medians by the kind of their endpoint, read from the registry.
    return name in endpoints_of_kind("binary")


def _timed(name: str | None) -> bool:
    return name in endpoints_of_kind("time_to_event")


_AT_MOST = f"at most {schema.MAX_PATIENTS:,}"


def parse_aggregate_table(
    table: RawTable, lines: Sequence[str], issues: list[ValidationIssue]
) -> pd.DataFrame:
    """Parse the cells of one aggregate table, appending every problem to ``issues``.

    Returns
    -------
    pandas.DataFrame
        Parsed values with :func:`aggregate_dtypes` applied, aligned with ``table.frame``.
    """
    src, cols = table.source, table.frame.columns
    wrong_kind = wrong_kind_problem(cols, AGGREGATES)
    if wrong_kind is not None:  # one message instead of every aggregate column missing
        issues.append(ValidationIssue(src, None, None, None, wrong_kind))
    else:
        check_required_columns(table, {c: "a column of every aggregate table" for c in
                                       (*_KEY, schema.N)}, issues)
    data: dict[str, list[Any]] = {}
    rules = {
        schema.SITE: (parse_text, "a site label (not blank)"),
        schema.LINE: (choice_parser(lines), line_expected(lines)),
        schema.ENDPOINT: (choice_parser(schema.ENDPOINTS, fold=str.lower),
                          f"one of the endpoints {', '.join(schema.ENDPOINTS)}"),
        schema.N: (whole_between(1, schema.MAX_PATIENTS),
                   f"a whole number of patients >= 1, {_AT_MOST} (leave out rows without "
                   "patients)"),
    }
    for column, (parse, expected) in rules.items():
        if column in cols:
            data[column] = check_cells(table, column, parse, expected, required=True, issues=issues)
    endpoint = data.get(schema.ENDPOINT, [None] * len(table.frame))

    # Which optional columns are needed depends on the endpoints present in the file.
    conditional = {}
    if any(_binary(e) for e in endpoint):
        conditional[schema.EVENTS] = ("needed on rows of the endpoints "
                                      f"{', '.join(endpoints_of_kind('binary'))}")
    timed = sorted({e for e in endpoint if e is not None and _timed(e)})
    if timed:
        conditional.update({c: f"needed on {', '.join(timed)} rows" for c in _MEDIANS})
    check_required_columns(table, conditional, issues)

    if schema.EVENTS in cols:
        events = check_cells(table, schema.EVENTS, whole_between(0, schema.MAX_PATIENTS),
                             f"a whole number of events >= 0, {_AT_MOST}", required=False,
                             issues=issues)
        n = data.get(schema.N, [None] * len(events))
        for (row, raw), count, total, name in zip(table.column(schema.EVENTS), events, n, endpoint):
            if count is None and text_problem(raw, limit_of(schema.EVENTS)) is not None:
                continue  # reported by check_cells already
            if _binary(name) and raw.strip().lower() in MISSING_MARKERS:
                issues.append(ValidationIssue(
                    src, row, schema.EVENTS, raw,
                    f"the number of patients with the event (required on {name} rows)"))
            elif count is not None and total is not None and count > total:
                issues.append(ValidationIssue(
                    src, row, schema.EVENTS, raw,
                    f"at most n = {total} (events are counted among the n patients)"))
        data[schema.EVENTS] = events

    for column in _MEDIANS:
        if column in cols:
            data[column] = _check_median(table, column, endpoint, issues)
    if all(c in data for c in _MEDIANS):
        _check_interval(table, data, issues)

    extras = [c for c in cols if c not in data and c not in schema.AGGREGATE_COLUMNS]
    frame = pd.DataFrame(data, index=table.frame.index)
    for column in extras:
        check_text_column(table.source, table.rows, table.frame[column].to_numpy(), column, issues)
        frame[column] = [v.strip() for v in table.frame[column]]
    return aggregate_dtypes(frame)


def _check_median(
    table: RawTable, column: str, endpoint: list[str | None], issues: list[ValidationIssue],
) -> list[float | None]:
    """Median fields: a plausible number of months on ttp rows, blank on binary-endpoint rows."""
    values: list[float | None] = []
    for (row, raw), name in zip(table.column(column), endpoint):
        problem = text_problem(raw, limit_of(column))
        if problem is not None:
            issues.append(ValidationIssue(table.source, row, column, raw, problem))
            values.append(None)
            continue
        missing = raw.strip().lower() in MISSING_MARKERS
        value = None if missing else parse_months(raw.strip())
        if _binary(name) and not missing:
            # A number here is probably a shifted column or a ttp row with the wrong endpoint.
            issues.append(ValidationIssue(
                table.source, row, column, raw,
                f"a blank cell on a {name} row ({column} belongs to "
                f"{', '.join(endpoints_of_kind('time_to_event'))} rows)"))
            value = None
        elif _timed(name) and (missing or value is INVALID):
            issues.append(ValidationIssue(
                table.source, row, column, raw, f"{MONTHS_EXPECTED} (required on {name} rows)"))
            value = None
        elif value is INVALID:  # row with an unknown endpoint: still report a bad number
            issues.append(ValidationIssue(table.source, row, column, raw, MONTHS_EXPECTED))
            value = None
        values.append(value)
    return values


def _check_interval(
    table: RawTable, data: dict[str, list[Any]], issues: list[ValidationIssue]
) -> None:
    """0 < lower <= median <= upper, and a 95% interval of non-zero width."""
    raw = {c: table.frame[c].tolist() for c in _MEDIANS}
    for i, row in enumerate(table.rows.tolist()):
        median, lower, upper = (data[c][i] for c in _MEDIANS)
        if median is None or lower is None or upper is None:
            continue
        if lower > median:
            issues.append(ValidationIssue(
                table.source, row, schema.MEDIAN_LOWER, raw[schema.MEDIAN_LOWER][i],
                f"a lower 95% limit <= median_months ({raw[schema.MEDIAN_MONTHS][i].strip()})"))
        if upper < median:
            issues.append(ValidationIssue(
                table.source, row, schema.MEDIAN_UPPER, raw[schema.MEDIAN_UPPER][i],
                f"an upper 95% limit >= median_months ({raw[schema.MEDIAN_MONTHS][i].strip()})"))
        elif lower == upper:
            issues.append(ValidationIssue(
                table.source, row, schema.MEDIAN_UPPER, raw[schema.MEDIAN_UPPER][i],
                "an upper 95% limit above median_lower (an interval of zero width gives the "
                "log-median likelihood no spread)"))


def aggregate_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """All contract columns, in order: text as ``object``, ``n`` ``int64`` when complete,
    ``events`` nullable ``Int64`` (optional on ttp rows), medians ``float64``.
    """
    out = frame.copy()
    for column in schema.AGGREGATE_COLUMNS:
        if column not in out.columns:
            out[column] = None
    for column in (schema.N, schema.EVENTS):
        values = pd.array(out[column].where(out[column].notna(), None).tolist(), dtype="Int64")
        complete = column == schema.N and not values.isna().any()
        out[column] = values.astype("int64") if complete else values
    for column in _MEDIANS:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    for column in _KEY:
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    order = list(schema.AGGREGATE_COLUMNS)
    return out[order + [c for c in out.columns if c not in order]]


def check_aggregate_rows(
    parts: Sequence[tuple[RawTable, pd.DataFrame]], issues: list[ValidationIssue]
) -> None:
    """One row per site, line and endpoint, within and across files (later copies reported)."""
    seen: dict[tuple[str, str, str], tuple[str, int]] = {}
    for table, parsed in parts:
        if schema.ENDPOINT not in table.frame.columns:
            continue
        keys = parsed[_KEY].itertuples(index=False, name=None)
        for row, raw, key in zip(table.rows.tolist(), table.frame[schema.ENDPOINT], keys):
            if any(k is None for k in key):
                continue
            if key in seen:
                file, first = seen[key]
                where = f"row {first}" if file == table.source else f"{file}, row {first}"
                issues.append(ValidationIssue(
                    table.source, row, schema.ENDPOINT, raw,
                    f"one row per site, line and endpoint; site {key[0]!r}, line {key[1]}, "
                    f"endpoint {key[2]} already appears on {where}"))
            else:
                seen[key] = (table.source, row)

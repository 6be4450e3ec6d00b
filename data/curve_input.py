"""Reading, checking and cleaning a digitised Kaplan-Meier curve and its numbers-at-risk table.

Two small tables feed :mod:`rechallenge.data.reconstruct`:

- the curve (``CURVE.csv``): columns ``time`` and ``survival``, one row per digitised point, in
  any order. Survival is a proportion (0-1) or a percentage (0-100); percent is detected when any
  value exceeds ``1 + rise_tolerance``, or set explicitly;
- the numbers at risk (``AT_RISK.csv``): columns ``time`` and ``n_at_risk`` as printed under the
  figure, the first row at time 0 with the number of patients.

Every problem in both files is collected and raised together as one
:class:`~rechallenge.data.errors.DataValidationError` naming the file, row (header = row 1),
column and value, as for the patient and aggregate tables.

Sizes are bounded before any work, so a mistyped number cannot make the reconstruction allocate
without limit: at most :data:`MAX_CURVE_POINTS` digitised points, :data:`MAX_AT_RISK_ROWS` at-risk
rows, :data:`MAX_AT_RISK` patients at risk, and times up to ``schema.MAX_MONTHS`` (100 years) in
the tables' unit. A curve the numbers at risk cannot produce is refused too: every digitised point
at one time (no curve to follow), or a drop of the curve at or after a time with nobody at risk.

Cleaning a digitiser's jitter (what is accepted, and how it is rewritten):

1. points are sorted by time, and at equal times from the highest survival to the lowest (the top
   corner of a step before its bottom corner);
2. survival within ``rise_tolerance`` above 1 (or 100%) is set to 1; a point at time 0 must read
   1 within the same tolerance and is set to 1; a point ``(0, 1)`` is added when the curve does not
   start at time 0;
3. the curve is made non-increasing by replacing each point with the running minimum of the
   points before it. A point may rise above that minimum only by jitter: by at most
   ``rise_tolerance`` (survival scale), or by any amount when it lies within ``time_tolerance``
   (a fraction of the curve's time span) of the point that set the minimum, which is the
   signature of the two corners of one step read with a little horizontal error. Any other rise
   is an error: a Kaplan-Meier curve never goes up;
4. points at the same time are merged into one, with the lowest survival (the curve is
   right-continuous: its value at a drop is the value after it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final, Union

import numpy as np
import pandas as pd

from . import schema
from ._at_risk import N_AT_RISK, SURVIVAL, TIME, check_at_risk, check_together
from ._parsers import INVALID, parse_number, parse_whole
from ._tables import RawTable, check_cells, check_required_columns, table_from_frame
from .errors import DataValidationError, ValidationIssue
from .load import read_table

__all__ = ["CurveInputs", "read_curve_inputs", "curve_inputs_from_frames",
           "DEFAULT_RISE_TOLERANCE", "DEFAULT_TIME_TOLERANCE", "MAX_AT_RISK", "MAX_CURVE_POINTS",
           "MAX_AT_RISK_ROWS", "MONTHS_PER_UNIT", "max_time"]

PathLike = Union[str, "os.PathLike[str]"]


#: Largest rise of survival (proportion scale) accepted as digitising jitter anywhere.
DEFAULT_RISE_TOLERANCE: Final = 0.02
#: Horizontal distance, as a fraction of the curve's time span, within which a larger rise is
#: accepted as the two corners of one step read slightly out of order.
DEFAULT_TIME_TOLERANCE: Final = 0.01
#: Most patients at risk at any time (the first row of the at-risk table). A published
#: Kaplan-Meier figure of a clinical study has hundreds to a few thousand; each patient becomes a
#: row of the output, so a mistyped count (10^12) would otherwise ask for terabytes.
MAX_AT_RISK: Final = 100_000
#: Most rows of the digitised curve (a digitiser gives tens to a few hundred points per curve).
MAX_CURVE_POINTS: Final = 10_000
#: Most rows of the at-risk table (a printed table has a few to a few dozen columns).
MAX_AT_RISK_ROWS: Final = 1_000
#: Conversion of the curve's time unit to months (a month is 365.25 / 12 days).
MONTHS_PER_UNIT: Final[dict[str, float]] = {
    "months": 1.0, "weeks": 7 / (365.25 / 12), "days": 1 / (365.25 / 12)}


@dataclass(frozen=True)
class CurveInputs:
    """A cleaned digitised curve and its numbers-at-risk table, ready for reconstruction.

    Parameters
    ----------
    curve
        Columns ``time`` and ``survival`` (proportion), sorted, non-increasing, starting at
        ``(0, 1)``, one point per time.
    at_risk
        Columns ``time`` and ``n_at_risk``, sorted, starting at time 0; rows past the end of the
        curve with nobody at risk are dropped.
    percent
        Whether survival was read as a percentage.
    adjusted_points
        How many points the cleaning lowered to the running minimum (jitter removed).
    sources
        Names of the curve and the at-risk inputs, as used in messages.
    curve_rows
        The file row of each point of ``curve`` (the row of its lowest reading when several
        points share a time; 0 for the point ``(0, 1)`` added at the start), for messages.
    """

    curve: pd.DataFrame
    at_risk: pd.DataFrame
    percent: bool
    adjusted_points: int
    sources: tuple[str, str]
    curve_rows: tuple[int, ...] = ()


def read_curve_inputs(
    curve_path: PathLike,
    at_risk_path: PathLike,
    *,
    percent: bool | None = None,
    rise_tolerance: float = DEFAULT_RISE_TOLERANCE,
    time_tolerance: float = DEFAULT_TIME_TOLERANCE,
    time_unit: str | None = None,
) -> CurveInputs:
    """Read, check and clean a digitised curve file and its at-risk file (CSV, TSV or XLSX).

    Parameters
    ----------
    curve_path, at_risk_path
        The two files; named in messages as given.
    percent
        ``True``: survival is in percent; ``False``: a proportion; ``None``: detect (percent when
        any value exceeds ``1 + rise_tolerance``).
    rise_tolerance, time_tolerance
        Jitter accepted by the cleaning (module docstring, step 3).
    time_unit
        Unit of both tables' times (a key of :data:`MONTHS_PER_UNIT`); times are accepted up to
        :func:`max_time` of it. ``None``: not known here, so up to 100 years in days, the
        finest unit.

    Returns
    -------
    CurveInputs

    Raises
    ------
    DataValidationError
        Listing every problem in both files.
    """
    issues: list[ValidationIssue] = []
    curve, found = read_table(curve_path)
    issues += found
    at_risk, found = read_table(at_risk_path)
    issues += found
    return _check(curve, at_risk, issues, (str(curve_path), str(at_risk_path)), percent,
                  (rise_tolerance, time_tolerance), time_unit)


def curve_inputs_from_frames(
    curve: pd.DataFrame,
    at_risk: pd.DataFrame,
    *,
    percent: bool | None = None,
    rise_tolerance: float = DEFAULT_RISE_TOLERANCE,
    time_tolerance: float = DEFAULT_TIME_TOLERANCE,
    sources: tuple[str, str] = ("<curve DataFrame>", "<at-risk DataFrame>"),
    time_unit: str | None = None,
) -> CurveInputs:
    """As :func:`read_curve_inputs`, for in-memory tables (first row is row 2, as in a CSV)."""
    issues: list[ValidationIssue] = []
    curve_table, found = table_from_frame(curve, sources[0])
    issues += found
    risk_table, found = table_from_frame(at_risk, sources[1])
    issues += found
    return _check(curve_table, risk_table, issues, sources, percent,
                  (rise_tolerance, time_tolerance), time_unit)


def max_time(time_unit: str | None) -> float:
    """Largest time accepted in ``time_unit``: ``schema.MAX_MONTHS`` (100 years) converted.

    ``None`` (unit not known) gives the largest, in days.

    Raises
    ------
    ValueError
        If ``time_unit`` is not a key of :data:`MONTHS_PER_UNIT`.
    """
    if time_unit is None:
        return max(max_time(unit) for unit in MONTHS_PER_UNIT)
    if time_unit not in MONTHS_PER_UNIT:
        raise ValueError(f"time_unit must be one of {', '.join(MONTHS_PER_UNIT)}, got {time_unit!r}")
    return float(schema.MAX_MONTHS / MONTHS_PER_UNIT[time_unit])


def _check(
    curve: RawTable | None, at_risk: RawTable | None, issues: list[ValidationIssue],
    sources: tuple[str, str], percent: bool | None, tolerances: tuple[float, float],
    time_unit: str | None,
) -> CurveInputs:
    curve_source, risk_source = sources
    rise_tolerance, time_tolerance = tolerances
    if not 0 <= rise_tolerance < 0.5 or not 0 <= time_tolerance < 0.5:
        raise ValueError("rise_tolerance and time_tolerance must be in [0, 0.5)")
    limit = max_time(time_unit)
    # Sizes first: a table over its limit is not parsed at all (checked before any work).
    curve = _within_rows(curve, MAX_CURVE_POINTS, "digitised points", issues)
    at_risk = _within_rows(at_risk, MAX_AT_RISK_ROWS, "at-risk rows", issues)
    points = _parse_curve(curve, limit, time_unit, issues) if curve is not None else None
    risk = _parse_at_risk(at_risk, limit, time_unit, issues) if at_risk is not None else None
    result = None
    # The cells that did parse are checked further, so one pass reports every kind of problem.
    if points is not None and len(points):
        result = _clean_curve(points, curve_source, percent, rise_tolerance, time_tolerance, issues)
    if risk is not None and len(risk):
        risk = check_at_risk(risk, risk_source, issues)
    if result is not None and risk is not None and not issues:
        risk = check_together(result[0], risk, curve_source, risk_source, rise_tolerance,
                               issues)
    if issues:
        order = {curve_source: 0, risk_source: 1}
        raise DataValidationError(sorted(issues, key=lambda x: (order.get(x.file, 2), x.row or 0)))
    assert result is not None and risk is not None
    clean, was_percent, adjusted = result
    return CurveInputs(clean.drop(columns="row"), risk.drop(columns="row").reset_index(drop=True),
                       was_percent, adjusted, (curve_source, risk_source),
                       tuple(int(r) for r in clean["row"]))


def _within_rows(
    table: RawTable | None, limit: int, what: str, issues: list[ValidationIssue]
) -> RawTable | None:
    """``table``, or ``None`` with a problem when it has more than ``limit`` data rows."""
    if table is None or len(table.rows) <= limit:
        return table
    issues.append(ValidationIssue(table.source, None, None, None,
                                  f"at most {limit:,} {what} (the file has {len(table.rows):,} "
                                  "data rows)"))
    return None


def _nonnegative(text: str) -> Any:
    value = parse_number(text)
    return value if value is not INVALID and value >= 0 else INVALID


def _time_up_to(limit: float) -> Any:
    def parse(text: str) -> Any:
        value = _nonnegative(text)
        return value if value is not INVALID and value <= limit else INVALID
    return parse


def _time_expected(limit: float, unit: str | None) -> str:
    return (f"a time from 0 to {limit:,.6g} {unit or 'days'} (100 years; a negative time is a "
            "digitising error: the curve starts at 0)")


def _count(text: str) -> Any:
    value = parse_whole(text)
    return value if value is not INVALID and 0 <= value <= MAX_AT_RISK else INVALID


def _parse_curve(
    table: RawTable, limit: float, unit: str | None, issues: list[ValidationIssue]
) -> pd.DataFrame | None:
    """Times and survival values with their row numbers; ``None`` when columns are missing."""
    before = len(issues)
    check_required_columns(table, {TIME: "the time of each digitised point",
                                   SURVIVAL: "the survival read at each point"}, issues)
    if len(issues) > before:
        return None
    times = check_cells(table, TIME, _time_up_to(limit), _time_expected(limit, unit),
                        required=True, issues=issues)
    surv = check_cells(table, SURVIVAL, _nonnegative,
                       "a survival >= 0, as a proportion (0-1) or a percentage (0-100)",
                       required=True, issues=issues)
    return pd.DataFrame({TIME: times, SURVIVAL: surv, "row": table.rows}).dropna()


def _parse_at_risk(
    table: RawTable, limit: float, unit: str | None, issues: list[ValidationIssue]
) -> pd.DataFrame | None:
    before = len(issues)
    check_required_columns(table, {TIME: "the time of each column of the printed at-risk table",
                                   N_AT_RISK: "the number at risk printed at that time"}, issues)
    if len(issues) > before:
        return None
    times = check_cells(table, TIME, _time_up_to(limit), _time_expected(limit, unit),
                        required=True, issues=issues)
    counts = check_cells(table, N_AT_RISK, _count,
                         f"a whole number of patients from 0 to {MAX_AT_RISK:,} (the most "
                         "reconstruct takes)", required=True, issues=issues)
    return pd.DataFrame({TIME: times, N_AT_RISK: counts, "row": table.rows}).dropna()


def _clean_curve(
    points: pd.DataFrame, source: str, percent: bool | None, rise_tolerance: float,
    time_tolerance: float, found: list[ValidationIssue],
) -> tuple[pd.DataFrame, bool, int] | None:
    """Scale, sort and make the curve monotone (module docstring); report what cannot be."""
    issues: list[ValidationIssue] = []  # this step's own problems decide whether it goes on
    result = _clean_steps(points, source, percent, rise_tolerance, time_tolerance, issues)
    found += issues
    return result


def _clean_steps(
    points: pd.DataFrame, source: str, percent: bool | None, rise_tolerance: float,
    time_tolerance: float, issues: list[ValidationIssue],
) -> tuple[pd.DataFrame, bool, int] | None:
    top = float(points[SURVIVAL].max())
    was_percent = top > 1 + rise_tolerance if percent is None else bool(percent)
    scale, limit = (100.0, "100 (percent)") if was_percent else (1.0, "1 (a proportion)")
    hint = "" if was_percent else "; for percentages give --percent (percent=True)"
    for rec in points[points[SURVIVAL] > scale * (1 + rise_tolerance)].itertuples():
        issues.append(ValidationIssue(source, int(rec.row), SURVIVAL, _show(rec.survival),
                                      f"a survival of at most {limit}{hint}"))
    frame = points.assign(**{SURVIVAL: np.minimum(points[SURVIVAL] / scale, 1.0)})
    frame = frame.sort_values([TIME, SURVIVAL], ascending=[True, False], kind="stable")
    start = frame[frame[TIME] == 0]
    for rec in start[start[SURVIVAL] < 1 - rise_tolerance].itertuples():
        issues.append(ValidationIssue(source, int(rec.row), SURVIVAL, _show(rec.survival * scale),
                                      f"{limit.split()[0]} at time 0: a Kaplan-Meier curve starts "
                                      "with everybody event-free"))
    if len(frame) < 2 or frame[TIME].max() <= 0:
        issues.append(ValidationIssue(source, None, TIME, None,
                                      "at least two digitised points, one of them after time 0"))
    elif frame[TIME].nunique() == 1:
        # A vertical line: nothing says where between time 0 and this time the curve fell.
        issues.append(ValidationIssue(
            source, None, TIME, _show(frame[TIME].iloc[0]),
            f"points at two or more different times; every digitised point ({_rows(frame['row'])})"
            " is at this one time, so there is no curve to follow: digitise it along its length"))
    if issues:
        return None
    frame.loc[frame[TIME] == 0, SURVIVAL] = 1.0
    if frame[TIME].iloc[0] > 0:
        frame = pd.concat([pd.DataFrame({TIME: [0.0], SURVIVAL: [1.0], "row": [0]}), frame])

    t = frame[TIME].to_numpy(float)
    s = frame[SURVIVAL].to_numpy(float)
    rows = frame["row"].to_numpy(int)
    jitter_time = time_tolerance * t[-1]
    lowest, setter, adjusted = s[0], 0, 0
    for k in range(1, len(s)):
        if s[k] <= lowest:
            lowest, setter = s[k], k
            continue
        rise = s[k] - lowest
        if rise > rise_tolerance + 1e-12 and t[k] - t[setter] > jitter_time:
            where = f"row {rows[setter]}" if rows[setter] else "the start"
            issues.append(ValidationIssue(
                source, int(rows[k]), SURVIVAL, _show(s[k] * scale),
                f"at most {_show(lowest * scale)} as at time {t[setter]:g} ({where}): a "
                f"Kaplan-Meier curve never rises (accepted as jitter: {rise_tolerance * scale:g} "
                f"above, or any rise within {jitter_time:.3g} time units of a step); is this "
                "point from another curve, or its time mistyped?"))
        s[k] = lowest
        adjusted += 1
    if issues:
        return None
    # At one time the last point is the lowest (sorted, then made non-increasing): its row names
    # the merged point in messages.
    clean = pd.DataFrame({TIME: t, SURVIVAL: s, "row": rows}).groupby(TIME, as_index=False).last()
    return clean, was_percent, adjusted


def _rows(rows: pd.Series) -> str:
    """``row 2``, ``rows 2, 3, 5`` or ``rows 2, 3, 4, ... (40 rows)`` for a message."""
    listed = [str(int(r)) for r in rows]
    if len(listed) == 1:
        return f"row {listed[0]}"
    shown = ", ".join(listed[:5]) + (f", ... ({len(listed)} rows)" if len(listed) > 5 else "")
    return f"rows {shown}"


def _show(value: float) -> str:
    return f"{value:g}"


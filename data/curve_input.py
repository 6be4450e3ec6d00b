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

from ._parsers import INVALID, parse_number, parse_whole
from ._tables import RawTable, check_cells, check_required_columns, table_from_frame
from .errors import DataValidationError, ValidationIssue
from .load import read_table

__all__ = ["CurveInputs", "read_curve_inputs", "curve_inputs_from_frames",
           "DEFAULT_RISE_TOLERANCE", "DEFAULT_TIME_TOLERANCE"]

PathLike = Union[str, "os.PathLike[str]"]

TIME: Final = "time"
SURVIVAL: Final = "survival"
N_AT_RISK: Final = "n_at_risk"

#: Largest rise of survival (proportion scale) accepted as digitising jitter anywhere.
DEFAULT_RISE_TOLERANCE: Final = 0.02
#: Horizontal distance, as a fraction of the curve's time span, within which a larger rise is
#: accepted as the two corners of one step read slightly out of order.
DEFAULT_TIME_TOLERANCE: Final = 0.01
#: The curve may run past the last at-risk time by this many at-risk intervals before the two
#: tables are taken to be on different time scales (days against months, say).
_MAX_TAIL_INTERVALS: Final = 3


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
    """

    curve: pd.DataFrame
    at_risk: pd.DataFrame
    percent: bool
    adjusted_points: int
    sources: tuple[str, str]


def read_curve_inputs(
    curve_path: PathLike,
    at_risk_path: PathLike,
    *,
    percent: bool | None = None,
    rise_tolerance: float = DEFAULT_RISE_TOLERANCE,
    time_tolerance: float = DEFAULT_TIME_TOLERANCE,
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
    return _check(curve, at_risk, issues, str(curve_path), str(at_risk_path), percent,
                  rise_tolerance, time_tolerance)


def curve_inputs_from_frames(
    curve: pd.DataFrame,
    at_risk: pd.DataFrame,
    *,
    percent: bool | None = None,
    rise_tolerance: float = DEFAULT_RISE_TOLERANCE,
    time_tolerance: float = DEFAULT_TIME_TOLERANCE,
    sources: tuple[str, str] = ("<curve DataFrame>", "<at-risk DataFrame>"),
) -> CurveInputs:
    """As :func:`read_curve_inputs`, for in-memory tables (first row is row 2, as in a CSV)."""
    issues: list[ValidationIssue] = []
    curve_table, found = table_from_frame(curve, sources[0])
    issues += found
    risk_table, found = table_from_frame(at_risk, sources[1])
    issues += found
    return _check(curve_table, risk_table, issues, sources[0], sources[1], percent,
                  rise_tolerance, time_tolerance)


def _check(
    curve: RawTable | None, at_risk: RawTable | None, issues: list[ValidationIssue],
    curve_source: str, risk_source: str, percent: bool | None, rise_tolerance: float,
    time_tolerance: float,
) -> CurveInputs:
    if not 0 <= rise_tolerance < 0.5 or not 0 <= time_tolerance < 0.5:
        raise ValueError("rise_tolerance and time_tolerance must be in [0, 0.5)")
    points = _parse_curve(curve, issues) if curve is not None else None
    risk = _parse_at_risk(at_risk, issues) if at_risk is not None else None
    result = None
    # The cells that did parse are checked further, so one pass reports every kind of problem.
    if points is not None and len(points):
        result = _clean_curve(points, curve_source, percent, rise_tolerance, time_tolerance, issues)
    if risk is not None and len(risk):
        risk = _check_at_risk(risk, risk_source, issues)
    if result is not None and risk is not None and not issues:
        risk = _check_together(result[0], risk, curve_source, risk_source, issues)
    if issues:
        order = {curve_source: 0, risk_source: 1}
        raise DataValidationError(sorted(issues, key=lambda x: (order.get(x.file, 2), x.row or 0)))
    assert result is not None and risk is not None
    clean, was_percent, adjusted = result
    return CurveInputs(clean, risk.drop(columns="row").reset_index(drop=True), was_percent,
                       adjusted, (curve_source, risk_source))


def _nonnegative(text: str) -> Any:
    value = parse_number(text)
    return value if value is not INVALID and value >= 0 else INVALID


def _count(text: str) -> Any:
    value = parse_whole(text)
    return value if value is not INVALID and value >= 0 else INVALID


def _parse_curve(table: RawTable, issues: list[ValidationIssue]) -> pd.DataFrame | None:
    """Times and survival values with their row numbers; ``None`` when columns are missing."""
    before = len(issues)
    check_required_columns(table, {TIME: "the time of each digitised point",
                                   SURVIVAL: "the survival read at each point"}, issues)
    if len(issues) > before:
        return None
    times = check_cells(table, TIME, _nonnegative,
                        "a time >= 0 (a negative time is a digitising error: the curve starts at 0)",
                        required=True, issues=issues)
    surv = check_cells(table, SURVIVAL, _nonnegative,
                       "a survival >= 0, as a proportion (0-1) or a percentage (0-100)",
                       required=True, issues=issues)
    return pd.DataFrame({TIME: times, SURVIVAL: surv, "row": table.rows}).dropna()


def _parse_at_risk(table: RawTable, issues: list[ValidationIssue]) -> pd.DataFrame | None:
    before = len(issues)
    check_required_columns(table, {TIME: "the time of each column of the printed at-risk table",
                                   N_AT_RISK: "the number at risk printed at that time"}, issues)
    if len(issues) > before:
        return None
    times = check_cells(table, TIME, _nonnegative, "a time >= 0", required=True, issues=issues)
    counts = check_cells(table, N_AT_RISK, _count, "a whole number of patients >= 0",
                         required=True, issues=issues)
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
    clean = (pd.DataFrame({TIME: t, SURVIVAL: s}).groupby(TIME, as_index=False)[SURVIVAL].min())
    return clean, was_percent, adjusted


def _check_at_risk(risk: pd.DataFrame, source: str, issues: list[ValidationIssue]) -> pd.DataFrame:
    """Sorted at-risk rows: start at 0, one row per time, never increasing."""
    risk = risk.sort_values([TIME, "row"], kind="stable").reset_index(drop=True)
    risk[N_AT_RISK] = risk[N_AT_RISK].astype(int)
    if risk[TIME].iloc[0] != 0:
        first = risk.iloc[0]
        issues.append(ValidationIssue(source, int(first["row"]), TIME, _show(first[TIME]),
                                      "a first row at time 0 giving the number of patients"))
    elif risk[N_AT_RISK].iloc[0] < 1:
        issues.append(ValidationIssue(source, int(risk["row"].iloc[0]), N_AT_RISK, "0",
                                      "at least 1 patient at time 0"))
    for k in range(1, len(risk)):
        prev, rec = risk.iloc[k - 1], risk.iloc[k]
        if rec[TIME] == prev[TIME]:
            issues.append(ValidationIssue(source, int(rec["row"]), TIME, _show(rec[TIME]),
                                          f"each time once; row {int(prev['row'])} has it too"))
        elif rec[N_AT_RISK] > prev[N_AT_RISK]:
            issues.append(ValidationIssue(
                source, int(rec["row"]), N_AT_RISK, str(int(rec[N_AT_RISK])),
                f"at most {int(prev[N_AT_RISK])} (the number at time {prev[TIME]:g}, row "
                f"{int(prev['row'])}): the number at risk never increases"))
    return risk


def _check_together(
    curve: pd.DataFrame, risk: pd.DataFrame, curve_source: str, risk_source: str,
    issues: list[ValidationIssue],
) -> pd.DataFrame:
    """The at-risk times must lie within the curve, and both tables on one time scale."""
    end = float(curve[TIME].iloc[-1])
    beyond = risk[risk[TIME] > end]
    for rec in beyond[beyond[N_AT_RISK] > 0].itertuples():
        issues.append(ValidationIssue(
            risk_source, int(rec.row), TIME, _show(rec.time),
            f"a time within the digitised curve, which ends at {end:g} in {curve_source} "
            f"(digitise the curve up to this time, or check that both tables use one time unit)"))
    risk = risk[risk[TIME] <= end]
    if len(risk) >= 2 and not issues:
        gap = float(np.diff(risk[TIME].to_numpy()).max())
        last = float(risk[TIME].iloc[-1])
        if end > last + _MAX_TAIL_INTERVALS * gap:
            issues.append(ValidationIssue(
                curve_source, None, TIME, _show(end),
                f"a curve on the time scale of {risk_source}, whose last time is {last:g} with "
                f"intervals of up to {gap:g}: the curve runs more than {_MAX_TAIL_INTERVALS} "
                "intervals beyond it (days against months? or a missing at-risk column?)"))
    return risk


def _show(value: float) -> str:
    return f"{value:g}"


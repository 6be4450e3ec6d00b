"""The numbers-at-risk table's own rules, and its agreement with the digitised curve.

Part of :mod:`rechallenge.data.curve_input` (which documents the rules); every problem is
appended to the caller's list, so one pass reports all of them.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from .errors import ValidationIssue

TIME: Final = "time"
SURVIVAL: Final = "survival"
N_AT_RISK: Final = "n_at_risk"

#: The curve may run past the last at-risk time by this many at-risk intervals before the two
#: tables are taken to be on different time scales (days against months, say).
MAX_TAIL_INTERVALS: Final = 3


def check_at_risk(risk: pd.DataFrame, source: str, issues: list[ValidationIssue]) -> pd.DataFrame:
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


def check_together(
    curve: pd.DataFrame, risk: pd.DataFrame, curve_source: str, risk_source: str,
    rise_tolerance: float, issues: list[ValidationIssue],
) -> pd.DataFrame:
    """The at-risk times must lie within the curve, both tables on one time scale, and the curve
    must not fall once nobody is at risk.
    """
    end = float(curve[TIME].iloc[-1])
    _no_drop_after_empty(curve, risk[risk[TIME] <= end], curve_source, risk_source,
                         rise_tolerance, issues)
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
        if end > last + MAX_TAIL_INTERVALS * gap:
            issues.append(ValidationIssue(
                curve_source, None, TIME, _show(end),
                f"a curve on the time scale of {risk_source}, whose last time is {last:g} with "
                f"intervals of up to {gap:g}: the curve runs more than {MAX_TAIL_INTERVALS} "
                "intervals beyond it (days against months? or a missing at-risk column?)"))
    return risk


def _no_drop_after_empty(
    curve: pd.DataFrame, risk: pd.DataFrame, curve_source: str, risk_source: str,
    rise_tolerance: float, issues: list[ValidationIssue],
) -> None:
    """A drop at or after a time with nobody at risk is an event nobody could have.

    The reconstruction would silently lose it (0 events where the curve falls), so it is refused.
    """
    empty = risk[risk[N_AT_RISK] == 0]
    if empty.empty:
        return
    tau, risk_row = float(empty[TIME].iloc[0]), int(empty["row"].iloc[0])
    before = curve[curve[TIME] < tau]
    level = float(before[SURVIVAL].iloc[-1]) if len(before) else 1.0
    fallen = curve[(curve[TIME] >= tau) & (curve[SURVIVAL] < level - rise_tolerance - 1e-12)]
    if fallen.empty:
        return
    first = fallen.iloc[0]
    more = f" (and {len(fallen) - 1} later point(s))" if len(fallen) > 1 else ""
    issues.append(ValidationIssue(
        curve_source, int(first["row"]), SURVIVAL, _show(float(first[SURVIVAL])),
        f"no drop at or after time {tau:g}{more}: {risk_source} row {risk_row} gives 0 patients "
        f"at risk then, so nobody is left to have an event (the curve reads {level:g} just "
        "before); is the at-risk table from this curve, or a time mistyped?"))


def _show(value: float) -> str:
    return f"{value:g}"

"""Checks of a reconstruction: its labels, the total number of events given, and where the
reconstructed Kaplan-Meier curve does not follow the digitised one (part of
:mod:`rechallenge.data.reconstruct`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from . import schema
from ._at_risk import SURVIVAL, TIME
from ._labels import text_problem
from ._tables import check_lines, line_expected
from .curve_input import CurveInputs
from .errors import shown

#: A reconstruction is flagged where its Kaplan-Meier curve departs from a digitised point by
#: more than this (survival scale) ...
FIDELITY_TOLERANCE: Final = 0.1
#: ... and by more than this plus the largest step the reconstruction could take up to there
#: (its survival over the patients at risk): a departure the rounding of events to whole
#: patients explains is not flagged.
ROUNDING_MARGIN: Final = 0.05


@dataclass(frozen=True)
class Departure:
    """Where a reconstructed Kaplan-Meier curve departs furthest from the digitised curve.

    Parameters
    ----------
    time
        Time of the digitised point (the curve's unit).
    row
        Its row in the curve's file (``None`` for the point added at time 0).
    digitised, reconstructed
        The curve's survival there and the reconstruction's Kaplan-Meier estimate.
    at_risk
        Reconstructed patients at risk there.
    points
        How many digitised points depart beyond the tolerance.
    """

    time: float
    row: int | None
    digitised: float
    reconstructed: float
    at_risk: int
    points: int

    def describe(self, curve_source: str) -> str:
        """One sentence for a warning, naming the file and row."""
        where = f"{curve_source} row {self.row}" if self.row else curve_source
        more = f" ({self.points} points depart this far)" if self.points > 1 else ""
        return (f"the reconstruction departs from the digitised curve: at time {self.time:g} "
                f"({where}) the curve reads {self.digitised:g} and the reconstructed "
                f"Kaplan-Meier estimate is {self.reconstructed:.3g}, with {self.at_risk} "
                f"patient(s) at risk{more}; the censoring assumed there (carried over from the "
                "earlier intervals, or a mismatch of the two tables) left too few or too many "
                "patients. Treat these pseudo data with care; --total-events, when the paper "
                "gives it, corrects the last interval")


def check_labels(site: str, line: str, lines: Sequence[str]) -> None:
    """Check the site and line labels every reconstructed row carries (every problem at once).

    Raises
    ------
    ValueError
        Naming the option (``--site``, ``--line``) and the value: a blank label, a character or
        length a label cannot have, or a line that is not one of ``lines``.
    """
    labels = check_lines(lines)
    problems = []
    for option, value in (("site (--site)", site), ("line (--line)", line)):
        problem = "a label" if not value.strip() else text_problem(value, schema.MAX_LABEL_LENGTH)
        if problem is not None:
            problems.append(f"{option}: got {shown(value)}, expected {problem}")
        elif option.startswith("line") and value.strip().upper() not in {
                label.upper() for label in labels}:
            problems.append(f"{option}: got {shown(value)}, expected {line_expected(labels)}")
    if problems:
        raise ValueError("; ".join(problems))


def check_total_events(inputs: CurveInputs, total_events: int | None, n0: int) -> None:
    """The total number of events the paper gives must be one the curve can have."""
    if total_events is None:
        return
    given = f"total_events (--total-events) = {total_events}"
    if not 0 <= int(total_events) <= n0:
        raise ValueError(f"{given}: expected between 0 and the {n0} patients at time 0")
    lowest = float(inputs.curve[SURVIVAL].min())
    if int(total_events) > 0 and lowest >= 1.0:
        raise ValueError(f"{given}, but the curve in {inputs.sources[0]} never falls below 1: a "
                         "curve without a drop has no events (is it the right curve?)")
    if int(total_events) == 0 and lowest < 1.0:
        raise ValueError(f"{given}, but the curve in {inputs.sources[0]} falls to {lowest:g}: "
                         "each drop is an event")


def largest_departure(inputs: CurveInputs, patients: pd.DataFrame) -> Departure | None:
    """Where the reconstruction does not follow the digitised curve, if anywhere.

    With few patients at risk the reconstruction can only take large steps, and a step once
    taken (or not taken) stays until the next event: the departure explained by rounding events
    to whole patients at any point so far is the largest step so far, the survival just before a
    point over the patients at risk there (a point with nobody at risk allows none). A departure
    beyond :data:`FIDELITY_TOLERANCE` and beyond that step plus :data:`ROUNDING_MARGIN` means the
    censoring the algorithm assumed left too few patients for the events the curve shows (or
    too many): the reconstruction is then flagged, not silently reported.

    Returns
    -------
    Departure or None
        The largest departure beyond the tolerance, or ``None`` when the reconstruction follows.
    """
    times = inputs.curve[TIME].to_numpy(float)
    digitised = inputs.curve[SURVIVAL].to_numpy(float)
    t = np.sort(patients["time"].to_numpy(float))
    event_times, deaths = np.unique(patients.loc[patients["event"] == 1, "time"].to_numpy(float),
                                    return_counts=True)
    km_steps = np.concatenate([[1.0], np.cumprod(1.0 - deaths / at_risk_at(t, event_times))])
    km = km_steps[np.searchsorted(event_times, times, side="right")]
    km_before = km_steps[np.searchsorted(event_times, times, side="left")]
    at_risk = at_risk_at(t, times)
    step = np.where(at_risk > 0, km_before / np.maximum(at_risk, 1), 0.0)
    allowed = np.maximum(FIDELITY_TOLERANCE, ROUNDING_MARGIN + np.maximum.accumulate(step))
    gap = np.abs(km - digitised)
    off = np.flatnonzero(gap > allowed + 1e-9)
    if not len(off):
        return None
    worst = int(off[np.argmax(gap[off])])
    rows = inputs.curve_rows or (0,) * len(times)
    return Departure(float(times[worst]), rows[worst] or None, float(digitised[worst]),
                     float(km[worst]), int(at_risk[worst]), len(off))


def at_risk_at(sorted_times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Patients whose time is at or after each of ``at`` (the number at risk there)."""
    return len(sorted_times) - np.searchsorted(sorted_times, at, side="left")

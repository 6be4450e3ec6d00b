"""Pseudo patient data from a published Kaplan-Meier curve (Guyot et al. 2012).

Written from the description in Guyot P, Ades AE, Ouwens MJNM, Welton NJ. Enhanced secondary
analysis of survival data: reconstructing the data from published Kaplan-Meier survival curves.
BMC Med Res Methodol 2012;12:9 (the algorithm behind R's IPDfromKM). The inputs are a cleaned
digitised curve and its numbers-at-risk table (:mod:`rechallenge.data.curve_input`).

The at-risk times cut the time axis into intervals. Within interval ``i`` (from at-risk time
``tau_i`` to ``tau_{i+1}``, starting with the published ``n_i`` at risk):

1. a first guess of the number censored in the interval is
   ``n_i * S(tau_{i+1}) / S(tau_i) - n_{i+1}`` (what the drop of the curve leaves unexplained);
2. those censorings are spread uniformly over the interval (times
   ``tau_i + j (tau_{i+1} - tau_i) / (c + 1)``, ``j = 1..c``);
3. walking along the digitised points, the events at each point are the drop of the curve
   applied to the patients still at risk, ``d_k = round(n_k (1 - S_k / KM_last))``, where
   ``KM_last`` is the reconstructed Kaplan-Meier estimate at the last point with an event; the
   patients at risk then fall by the events and by the censorings before the next point;
4. the number censored is corrected by the difference between the reconstructed and published
   number at risk at ``tau_{i+1}``, and steps 2-3 repeat until they agree (or the correction
   starts to cycle, when the closest attempt is kept and the mismatch shows in the at-risk
   comparison table).

The last interval has no number at risk at its end. With the total number of events (when the
paper gives it) the censoring there is iterated until the reconstructed events add up to it;
without it the censoring rate of the earlier intervals (censored per unit time) is carried on,
as Guyot et al. do. Patients still at risk after the last point are censored at its time.

One departure from the published code, for consistency: each interval starts from the number at
risk reconstructed at its start (equal to the published one whenever step 4 converged), so the
pseudo patients always add up to the number at time 0.

Events are placed at the time of the digitised point where the curve drops; censorings at their
uniformly spread times. The reconstruction is an approximation of the original data: its
Kaplan-Meier curve follows the published one, but the individual times are not the patients'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from . import schema
from ._reconstruct_checks import (
    FIDELITY_TOLERANCE,
    ROUNDING_MARGIN,
    Departure,
    at_risk_at,
    check_labels,
    check_total_events,
    largest_departure,
)
from .curve_input import MONTHS_PER_UNIT, N_AT_RISK, SURVIVAL, TIME, CurveInputs

__all__ = ["Reconstruction", "reconstruct", "patient_table", "check_labels", "MONTHS_PER_UNIT",
           "METHOD", "FIDELITY_TOLERANCE", "ROUNDING_MARGIN", "Departure"]

#: Provenance label written into the ``source`` column of every reconstructed patient row.
METHOD: Final = schema.RECONSTRUCTED_SOURCE

#: The endpoints a reconstructed patient table carries: a published curve gives times and
#: events only, so only time to progression (see :func:`patient_table`).
RECONSTRUCTED_ENDPOINTS: Final[tuple[str, ...]] = (schema.TTP_ENDPOINT,)
#: Attempts per interval before the closest one is kept (the correction converges in a few).
_MAX_ITERATIONS: Final = 200


@dataclass(frozen=True)
class Reconstruction:
    """Pseudo patient data reconstructed from one curve, with what shows their fidelity.

    Parameters
    ----------
    patients
        Columns ``time`` (in the curve's unit) and ``event`` (1 = event, 0 = censored), one row
        per pseudo patient, sorted by time.
    at_risk
        Columns ``time``, ``published``, ``reconstructed`` and ``difference`` (reconstructed
        minus published) at every at-risk time.
    curve
        The cleaned digitised curve the reconstruction followed (``time``, ``survival``).
    total_events
        The total number of events given to the algorithm, or ``None``.
    adjusted_points, percent
        From the cleaning (:class:`~rechallenge.data.curve_input.CurveInputs`).
    departure
        Where the reconstructed Kaplan-Meier curve departs from the digitised one beyond what
        rounding explains (a flag the command line prints as a warning), or ``None``.
    """

    patients: pd.DataFrame
    at_risk: pd.DataFrame
    curve: pd.DataFrame
    total_events: int | None
    adjusted_points: int
    percent: bool
    departure: Departure | None = None

    @property
    def events(self) -> int:
        """Number of reconstructed events."""
        return int(self.patients["event"].sum())

    @property
    def n(self) -> int:
        """Number of pseudo patients (the number at risk at time 0)."""
        return len(self.patients)


@dataclass
class _Pass:
    """Events and censorings of one interval for one choice of its censoring count."""

    d: np.ndarray
    cen_times: list[np.ndarray]
    n_end: int
    km_last: float


def reconstruct(inputs: CurveInputs, *, total_events: int | None = None) -> Reconstruction:
    """Reconstruct pseudo patient data from a cleaned curve and its at-risk table.

    Parameters
    ----------
    inputs
        From :func:`~rechallenge.data.curve_input.read_curve_inputs` or
        :func:`~rechallenge.data.curve_input.curve_inputs_from_frames`.
    total_events
        Total number of events when the paper states it; used for the censoring in the last
        at-risk interval (module docstring).

    Returns
    -------
    Reconstruction

    Raises
    ------
    ValueError
        If ``total_events`` is negative, larger than the number of patients, above 0 for a curve
        that never falls, or 0 for a curve that does.
    """
    n0 = int(inputs.at_risk[N_AT_RISK].iloc[0])
    check_total_events(inputs, total_events, n0)
    t, s, lower = _with_at_risk_points(inputs.curve, inputs.at_risk[TIME].to_numpy(float))
    n_risk = inputs.at_risk[N_AT_RISK].to_numpy(int)
    last = len(lower) - 1
    upper = [lower[i + 1] - 1 for i in range(last)] + [len(t) - 1]

    d = np.zeros(len(t), dtype=int)
    cen_times: list[np.ndarray] = [np.empty(0)] * len(t)
    n_start, km_last, censored_before = n0, 1.0, 0
    for i in range(len(lower)):
        lo, hi = lower[i], upper[i]
        end = t[lower[i + 1]] if i < last else t[hi]

        def attempt(c: int, lo: int = lo, hi: int = hi, end: float = end,
                    n_start: int = n_start, km_last: float = km_last) -> _Pass:
            return _run_interval(t, s, lo, hi, end, c, n_start, km_last)

        if i < last:
            ratio = s[lower[i + 1]] / s[lo] if s[lo] > 0 else 0.0
            guess = int(round(n_risk[i] * ratio - n_risk[i + 1]))
            def at_risk_gap(p: _Pass, i: int = i) -> int:
                return int(p.n_end - n_risk[i + 1])

            chosen = _iterate(attempt, guess, n_start, at_risk_gap)
        else:
            # Guyot et al.: the censoring rate of the earlier intervals carries on ...
            span = t[lo] - t[0]
            rate = censored_before / span if span > 0 else 0.0
            guess = min(int(round(rate * (t[hi] - t[lo]))), n_start)
            if total_events is None:
                chosen = attempt(guess)
            else:  # ... unless the total number of events says how many there were.
                target = int(total_events) - int(d.sum())
                def events_gap(p: _Pass, target: int = target) -> int:
                    return int(p.d.sum()) - target

                chosen = _iterate(attempt, guess, n_start, events_gap)
        d[lo:hi + 1] = chosen.d
        cen_times[lo:hi + 1] = chosen.cen_times
        censored_before += sum(len(c) for c in chosen.cen_times)
        n_start, km_last = chosen.n_end, chosen.km_last

    patients = _patients(t, d, cen_times, remaining=n_start)
    return Reconstruction(
        patients=patients,
        at_risk=_at_risk_comparison(patients, inputs.at_risk),
        curve=inputs.curve.copy(),
        total_events=None if total_events is None else int(total_events),
        adjusted_points=inputs.adjusted_points,
        percent=inputs.percent,
        departure=largest_departure(inputs, patients),
    )


def _with_at_risk_points(
    curve: pd.DataFrame, taus: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Curve points with one point at each at-risk time (the step function's value there).

    A reader seldom clicks exactly on the at-risk times; a point there, carrying the survival of
    the last point at or before it, starts each interval without adding a drop.
    """
    t = curve[TIME].to_numpy(float)
    s = curve[SURVIVAL].to_numpy(float)
    missing = taus[~np.isin(taus, t)]
    if len(missing):
        values = s[np.searchsorted(t, missing, side="right") - 1]
        t = np.concatenate([t, missing])
        s = np.concatenate([s, values])
        order = np.argsort(t, kind="stable")
        t, s = t[order], s[order]
    lower = [int(np.searchsorted(t, tau)) for tau in taus]
    return t, s, lower


def _run_interval(
    t: np.ndarray, s: np.ndarray, lo: int, hi: int, end: float, censored: int, n_start: int,
    km_last: float,
) -> _Pass:
    """Steps 2-3 of the module docstring for one interval and one number censored."""
    spread = t[lo] + np.arange(1, censored + 1) * (end - t[lo]) / (censored + 1)
    # Censorings in [t_k, t_{k+1}) belong to point k: still at risk at t_k, gone before t_{k+1}.
    owner = np.clip(np.searchsorted(t[lo:hi + 1], spread, side="right") - 1, 0, hi - lo)
    # spread is increasing, so each point's censorings are one slice of it.
    cuts = np.searchsorted(owner, np.arange(hi - lo + 2))
    d = np.zeros(hi - lo + 1, dtype=int)
    cen_times: list[np.ndarray] = []
    n = n_start
    for j, k in enumerate(range(lo, hi + 1)):
        if n > 0 and km_last > 0:
            d[j] = min(max(int(round(n * (1 - s[k] / km_last))), 0), n)
        km_here = km_last * (1 - d[j] / n) if n > 0 else km_last
        times = spread[cuts[j]:cuts[j + 1]][: n - d[j]]  # only those at risk can be censored
        cen_times.append(times)
        n = n - d[j] - len(times)
        if d[j] > 0:
            km_last = km_here
    return _Pass(d, cen_times, n, km_last)


def _iterate(
    attempt: Callable[[int], _Pass], guess: int, n_start: int, mismatch: Callable[[_Pass], int],
) -> _Pass:
    """Step 4: correct the number censored by the mismatch until it is 0 or starts to cycle."""
    tried: dict[int, tuple[int, _Pass]] = {}
    c = min(max(guess, 0), n_start)
    for _ in range(_MAX_ITERATIONS):
        result = attempt(c)
        gap = int(mismatch(result))
        tried[c] = (abs(gap), result)
        if gap == 0:
            break
        c_next = min(max(c + gap, 0), n_start)
        if c_next in tried:
            break
        c = c_next
    # The closest attempt; among equally close ones the least censoring (fewest assumptions).
    best = min(tried, key=lambda k: (tried[k][0], k))
    return tried[best][1]


def _patients(
    t: np.ndarray, d: np.ndarray, cen_times: list[np.ndarray], *, remaining: int
) -> pd.DataFrame:
    event_times = np.repeat(t, d)
    censor_times = np.concatenate([*cen_times, np.full(remaining, t[-1])])
    frame = pd.DataFrame({
        "time": np.concatenate([event_times, censor_times]),
        "event": np.concatenate([np.ones(len(event_times), int), np.zeros(len(censor_times), int)]),
    })
    return frame.sort_values(["time", "event"], ascending=[True, False],
                             kind="stable").reset_index(drop=True)


def _at_risk_comparison(patients: pd.DataFrame, at_risk: pd.DataFrame) -> pd.DataFrame:
    times = at_risk[TIME].to_numpy(float)
    rebuilt = at_risk_at(np.sort(patients["time"].to_numpy(float)), times).astype(int)
    published = at_risk[N_AT_RISK].to_numpy(int)
    return pd.DataFrame({"time": times, "published": published, "reconstructed": rebuilt,
                         "difference": rebuilt - published})


def patient_table(
    result: Reconstruction, *, site: str, line: str, time_unit: str = "months",
    id_prefix: str = "R",
) -> pd.DataFrame:
    """The pseudo patients in the package's patient format, labelled as reconstructed.

    Parameters
    ----------
    result
        From :func:`reconstruct`.
    site, line
        Site label and treatment line of every row.
    time_unit
        Unit of the curve's time axis: ``months``, ``weeks`` or ``days``; times are converted to
        months (a month is 365.25 / 12 days).
    id_prefix
        Patient identifiers are ``R001``, ``R002``, ... (numbered in time order).

    Returns
    -------
    pandas.DataFrame
        Columns site, patient_id, line, best_response, ttp_months, progressed, trae_grade_3_4 and
        ``source`` (``reconstructed:Guyot2012``); best_response and trae_grade_3_4 are empty:
        the curve says nothing about them.
    """
    if time_unit not in MONTHS_PER_UNIT:
        raise ValueError(f"time_unit must be one of {', '.join(MONTHS_PER_UNIT)}, got {time_unit!r}")
    n = len(result.patients)
    width = max(3, len(str(n)))
    return pd.DataFrame({
        schema.SITE: site,
        schema.PATIENT_ID: [f"{id_prefix}{i:0{width}d}" for i in range(1, n + 1)],
        schema.LINE: line,
        schema.BEST_RESPONSE: None,
        # Six decimals, and never below the smallest time a patient table takes (a censoring
        # spread just after time 0 would otherwise round to 0).
        schema.TTP_MONTHS: (result.patients["time"] * MONTHS_PER_UNIT[time_unit]).round(6)
        .clip(lower=schema.MIN_MONTHS),
        schema.PROGRESSED: result.patients["event"].astype(int),
        schema.TRAE_GRADE_3_4: None,
        schema.SOURCE: METHOD,
    })

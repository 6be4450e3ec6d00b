"""The frequentist reference of an endpoint, with every estimate that does not exist named so.

Beside the Bayesian results a report shows what a clinical paper would: per line the crude
proportion with its exact interval, or the Kaplan-Meier median with its linear (Collett) interval;
per later line the crude difference and odds ratio, or the ratio of medians and a Cox hazard
ratio. On data that validate, some of these do not exist: no patient progressed (no median, no
hazard ratio), every patient responded (no odds ratio). Each is then a :class:`Reference` with
NaN numbers and a ``note`` that says why ("not estimable: ..."), so that tables, text and figures
say so instead of failing or printing a meaningless number.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError

from rechallenge.data import Study, schema
from rechallenge.data.endpoints import binary_outcome, paired_table
from rechallenge.data.frequentist import exact_proportion_ci, km_median
from rechallenge.data.paired import newcombe_paired_difference

#: First words of every note of an estimate that does not exist.
NOT_ESTIMABLE: Final = "not estimable"
#: Note of a Kaplan-Meier median the curve never reaches.
NOT_REACHED: Final = "median not reached: the Kaplan-Meier curve stays above 50%"
_NAN: Final = float("nan")

#: Key of a reference estimate: (quantity, line or contrast label).
Key = tuple[str, str]


@dataclass(frozen=True)
class Reference:
    """A frequentist estimate with its confidence interval, or the reason it does not exist.

    Attributes
    ----------
    estimate, lower, upper
        The estimate and its interval (NaN where they do not exist; ``inf`` for a Kaplan-Meier
        median that is not reached).
    note
        Empty for an ordinary estimate; else what a reader must be told, e.g.
        ``"not estimable: no progression at ICI-2 ..."``.
    """

    estimate: float
    lower: float = _NAN
    upper: float = _NAN
    note: str = ""

    @property
    def estimable(self) -> bool:
        """False when the estimate does not exist (its note says why)."""
        return not self.note.startswith(NOT_ESTIMABLE)


def not_estimable(reason: str) -> Reference:
    """A reference estimate that does not exist, with ``reason`` in its note."""
    return Reference(_NAN, _NAN, _NAN, f"{NOT_ESTIMABLE}: {reason}")


def cox_separation(durations: npt.ArrayLike, events: npt.ArrayLike, group: npt.ArrayLike,
                   labels: tuple[str, str] = ("group 0", "group 1")) -> str:
    """Why the Cox hazard ratio of a 0/1 ``group`` does not exist; empty when it does.

    Each event contributes ``exp(b x_i) / sum_{at risk} exp(b x_j)`` to the partial likelihood:
    an event of group 1 while a patient of group 0 is still at risk pulls the log hazard ratio
    ``b`` up, an event of group 0 while a patient of group 1 is at risk pulls it down. Without
    both, the partial likelihood rises for ever in one direction (monotone likelihood) and the
    maximum, so the hazard ratio, does not exist.

    Parameters
    ----------
    durations, events, group
        Times, 1 = event observed, and 0/1 per row.
    labels
        Names of group 0 and group 1 in the reason (e.g. the two line labels).

    Returns
    -------
    str
        ``""`` when the hazard ratio exists, else the reason in words.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=int) == 1
    x = np.asarray(group, dtype=float) == 1
    if not e.any():
        return f"no progression at {labels[0]} or {labels[1]}"
    for own, name in ((~x, labels[0]), (x, labels[1])):
        if not (e & own).any():
            return f"no progression at {name}"
    for own, other, name, other_name in ((x, ~x, labels[1], labels[0]),
                                         (~x, x, labels[0], labels[1])):
        # An event pulls only while the other group still has a patient at risk (t_j >= t_i).
        if not np.any(e & own & (t <= t[other].max())):
            return (f"every progression at {name} came after the last patient at {other_name} "
                    f"had left follow-up")
    return ""


def cox_hazard_ratio(
    durations: npt.ArrayLike, events: npt.ArrayLike, group: npt.ArrayLike,
    cluster: npt.ArrayLike, level: float = 0.95,
    labels: tuple[str, str] = ("group 0", "group 1"),
) -> Reference:
    """Cox hazard ratio of ``group`` 1 against 0 with a robust interval clustered on ``cluster``.

    Parameters
    ----------
    durations, events
        Times to progression or censoring, and 1 = progression observed.
    group
        0/1 per row: the hazard ratio is of group 1 against group 0.
    cluster
        Patient identifier per row: the robust (sandwich) variance allows for the same patients
        in both groups.
    level
        Confidence level.
    labels
        Names of group 0 and group 1, for the reason an estimate does not exist.

    Returns
    -------
    Reference
        Not estimable when the partial likelihood has no maximum (:func:`cox_separation`) or
        lifelines' Newton-Raphson does not converge.
    """
    why = cox_separation(durations, events, group, labels)
    if why:
        return not_estimable(why + ": the Cox partial likelihood has no maximum")
    frame = pd.DataFrame({"t": np.asarray(durations, dtype=float),
                          "e": np.asarray(events, dtype=int),
                          "group": np.asarray(group, dtype=float),
                          "cluster": np.asarray(cluster)})
    try:
        with warnings.catch_warnings():
            # A fit that ends with a warning is judged below by its numbers, not printed.
            warnings.simplefilter("ignore")
            cox = CoxPHFitter(alpha=1 - level).fit(frame, "t", "e", cluster_col="cluster")
    except ConvergenceError:
        return not_estimable("the Cox model did not converge")
    hr = float(np.exp(cox.params_["group"]))
    lo, hi = (float(v) for v in np.exp(cox.confidence_intervals_.loc["group"].to_numpy()))
    if not all(math.isfinite(v) and v > 0 for v in (hr, lo, hi)):
        return not_estimable("the Cox model did not converge")
    return Reference(hr, lo, hi)


def binary_reference(study: Study, endpoint: str, level: float) -> dict[Key, Reference]:
    """Crude proportions with exact intervals per line; crude difference and odds ratio of each
    later line against the first (the odds ratio does not exist when a proportion is 0 or 1).
    """
    out: dict[Key, Reference] = {}
    patients = study.for_endpoint(endpoint).patients  # without reconstructed TTP-only rows
    if not len(patients):
        return out
    y = binary_outcome(patients, endpoint)
    crude: dict[str, tuple[int, int]] = {}
    for line in study.lines:
        rows = (patients[schema.LINE] == line).to_numpy()
        events, n = int(y[rows].sum()), int(rows.sum())
        if n == 0:
            continue
        ci = exact_proportion_ci(events, n, level)
        crude[line] = (events, n)
        for q in ("probability_population", "probability_typical_site"):
            out[(q, line)] = Reference(events / n, ci.lower, ci.upper)
    first = study.lines[0]
    for later in study.lines[1:]:
        if first not in crude or later not in crude:
            continue
        c = f"{later} vs {first}"
        p1, p2 = (crude[line][0] / crude[line][1] for line in (first, later))
        out[("difference_population", c)] = _paired_difference(patients, endpoint, first, later,
                                                               level) or Reference(p2 - p1)
        ends: dict[str, list[str]] = {}
        for line in (first, later):
            events, n = crude[line]
            if events in (0, n):
                ends.setdefault("every" if events == n else "no", []).append(line)
        out[("odds_ratio_typical_site", c)] = (
            not_estimable(" and ".join(f"{kind} patient had the event at {' and '.join(at)}"
                                       for kind, at in ends.items())
                          + ": the odds are 0 or infinite") if ends
            else Reference(p2 / (1 - p2) / (p1 / (1 - p1))))
    return out


def _paired_difference(patients: pd.DataFrame, endpoint: str, first: str, later: str,
                       level: float) -> Reference | None:
    """The crude difference with Newcombe's paired interval when every patient was seen at both
    lines (the same patients, so the proportions are correlated); ``None`` otherwise, where the
    difference of the two lines' crude proportions has no interval of this kind.
    """
    wide = paired_table(patients, endpoint, (first, later))
    if not len(wide) or wide.isna().any().any():
        return None
    x, y = wide[first].to_numpy() == 1, wide[later].to_numpy() == 1
    d = newcombe_paired_difference(int((x & y).sum()), int((x & ~y).sum()),
                                   int((~x & y).sum()), int((~x & ~y).sum()), level)
    return Reference(d.difference, d.lower, d.upper)


def median_reference(durations: pd.Series, events: pd.Series, level: float) -> Reference:
    """A Kaplan-Meier median with its linear (Collett) interval, and a note where the median is
    not reached or its interval does not exist.
    """
    est = km_median(durations, events, method="linear", level=level)
    if not math.isfinite(est.median):
        return Reference(math.inf, _NAN, _NAN, NOT_REACHED)
    note = "" if math.isfinite(est.se) else (
        "confidence interval not estimable: no event time with S >= 0.55 or none with "
        "S <= 0.45 (Collett's standard error)")
    return Reference(est.median, est.lower, est.upper, note)


def ttp_reference(study: Study, level: float) -> dict[Key, Reference]:
    """Kaplan-Meier medians per line; ratio of medians and a patient-clustered Cox hazard ratio
    of each later line against the first.
    """
    out: dict[Key, Reference] = {}
    p = study.patients
    if not len(p) or schema.TTP_MONTHS not in p:
        return out
    for line in study.lines:
        rows = p[p[schema.LINE] == line]
        if len(rows):
            est = median_reference(rows[schema.TTP_MONTHS], rows[schema.PROGRESSED], level)
            for q in ("median_population", "median_typical_site"):
                out[(q, line)] = est
    first = study.lines[0]
    for later in study.lines[1:]:
        c = f"{later} vs {first}"
        a, b = out.get(("median_population", first)), out.get(("median_population", later))
        if a is not None and b is not None:
            unreached = [line for line, m in ((first, a), (later, b))
                         if not math.isfinite(m.estimate)]
            out[("median_ratio_population", c)] = (
                not_estimable(f"median not reached at {' and '.join(unreached)}") if unreached
                else Reference(b.estimate / a.estimate))
        pair = p[p[schema.LINE].isin([first, later])]
        if pair[schema.LINE].nunique() == 2:
            out[("hazard_ratio", c)] = cox_hazard_ratio(
                pair[schema.TTP_MONTHS], pair[schema.PROGRESSED],
                (pair[schema.LINE] == later).to_numpy(float),
                (pair[schema.SITE] + "/" + pair[schema.PATIENT_ID]).to_numpy(), level,
                labels=(first, later))
    return out


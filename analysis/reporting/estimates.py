"""One cell per estimate: ``"23.5% (13.7 to 36.8)"``, the way a manuscript table shows it.

One number style for every reader output: a true minus sign (U+2212, as on the figures' axes),
the unit written once after the point estimate, and the decimals a quantity is read at
(:data:`QUANTITY_DIGITS`: ELPD one decimal, ESS whole numbers, Pareto k two decimals ...;
:func:`column_digits` finds them from a table's column name). Machine files (CSV) keep full
precision and ASCII.

Reader tables show the point estimate the run's config chooses (``[report] estimate``: the
posterior median, or the mean +/- SD) with its interval in the same cell; the interval's level and
kind are stated once per table, in its caption (:func:`estimate_words`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.reference import NOT_ESTIMABLE, Reference

Scale = Literal["percent", "points", "ratio", "months", "number"]
#: Per scale: multiplier, decimals and the unit written after the point estimate.
_SCALES: Final[dict[str, tuple[float, int, str]]] = {
    "percent": (100.0, 1, "%"),
    "points": (100.0, 1, " pp"),
    "ratio": (1.0, 2, ""),
    "months": (1.0, 1, ""),
    "number": (1.0, 2, ""),
}


#: The minus sign of every reader output (tables, text, figures): U+2212, not the hyphen.
MINUS: Final = "\u2212"
#: Decimals by quantity, for a column whose name contains the key (first match, in this order;
#: matched in lower case on whole words). Ranks and counts are whole numbers.
QUANTITY_DIGITS: Final[tuple[tuple[str, int], ...]] = (
    ("pareto k", 2), ("r-hat", 3), ("r hat", 3), ("e-bfmi", 2), ("bfmi", 2),
    ("ess", 0), ("elir", 0), ("rank", 0),
    ("elpd", 1), ("se", 1), ("dse", 1), ("effective parameters", 1), ("p loo", 1),
    ("weight", 2), ("sds", 2),
)


def column_digits(name: str, default: int) -> int:
    """Decimals for a column of floats named ``name`` (``"Smallest bulk ESS"`` -> 0,
    ``"ELPD (LOO)"`` -> 1); ``default`` when no quantity of :data:`QUANTITY_DIGITS` is named.
    """
    words = " " + re.sub(r"[^a-z0-9\-]+", " ", name.lower().replace("_", " ")) + " "
    for key, digits in QUANTITY_DIGITS:
        if f" {key} " in words:
            return digits
    return default


def signed(text: str) -> str:
    """A formatted number with the true minus sign (``"-3.2"`` -> ``"−3.2"``)."""
    return text.replace("-", MINUS)


def decimal_text(value: float, digits: int) -> str:
    """``value`` to ``digits`` decimals with a true minus sign; ``-0.0`` prints as ``0.0``."""
    text = f"{float(value):.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return signed(text)


def _finite(*values: Any) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def quantity_scale(quantity: str) -> Scale:
    """How a summary quantity is written: ``"probability_population"`` in %,
    ``"difference_population"`` in percentage points, ``"median_population"`` and restricted
    means in months, ratios, posterior probabilities (``prob_...``) and SDs as plain numbers.
    """
    if quantity.startswith("probability"):
        return "percent"
    if quantity.startswith(("difference", "net_benefit")):
        return "points"
    if quantity.startswith(("median_", "rmst_")) and "ratio" not in quantity:
        return "months"
    return "ratio"


def number_text(value: float, scale: Scale, *, unit: bool = True) -> str:
    """One number on ``scale`` (``0.235`` -> ``"23.5%"``); ``"not reached"`` for +inf, ``""``
    for a missing value.
    """
    factor, digits, suffix = _SCALES[scale]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if math.isinf(float(value)):
        return "not reached" if value > 0 else ""
    return decimal_text(factor * float(value), digits) + (suffix if unit else "")


def interval_cell(point: float, lower: float, upper: float, scale: Scale, *,
                  sd: float | None = None) -> str:
    """``"23.5% (13.7 to 36.8)"``; with ``sd``: ``"24.1% ± 5.9 (13.7 to 36.8)"``.

    The unit is written once, after the point estimate. Missing bounds give the point estimate
    alone; a missing point estimate gives an empty cell.
    """
    if not _finite(point) and not (point is not None and math.isinf(float(point))):
        return ""
    text = number_text(point, scale)
    if sd is not None and _finite(sd):
        text += f" ± {number_text(sd, scale, unit=False)}"
    if _finite(lower) or _finite(upper):
        lo = number_text(lower, scale, unit=False) or "-"
        hi = number_text(upper, scale, unit=False) or "not reached"
        text += f" ({lo} to {hi})"
    return text


def reference_cell(ref: Reference | None, scale: Scale) -> str:
    """A frequentist reference estimate as one cell: ``"23.5% (13.7 to 36.8)"``; ``"not
    reached"`` for a Kaplan-Meier median the curve never reaches; ``"not estimable (reason)"``
    for an estimate that does not exist; ``""`` for none.
    """
    if ref is None:
        return ""
    if not ref.estimable:
        return f"{NOT_ESTIMABLE} ({ref.note.removeprefix(NOT_ESTIMABLE + ': ')})"
    text = interval_cell(ref.estimate, ref.lower, ref.upper, scale)
    if ref.note and _finite(ref.estimate) and not (_finite(ref.lower) or _finite(ref.upper)):
        text += " (CI not estimable)"
    return text


def posterior_cell(row: Mapping[str, Any], scale: Scale, *, estimate: str = "median") -> str:
    """A summary row (``median``, ``mean``, ``sd``, ``lower``, ``upper``) as one cell."""
    if estimate == "mean_sd":
        return interval_cell(row["mean"], row["lower"], row["upper"], scale, sd=row["sd"])
    return interval_cell(row["median"], row["lower"], row["upper"], scale)


def probability_cell(value: float) -> str:
    """A posterior probability, two decimals (``"0.62"``); ``"> 0.99"`` / ``"< 0.01"`` at the
    ends, where two decimals would read as certainty.
    """
    if not _finite(value):
        return ""
    if value > 0.995:
        return "> 0.99"
    if value < 0.005:
        return "< 0.01"
    return f"{value:.2f}"


def estimate_words(estimate: str, interval: Interval) -> str:
    """What the cells of a reader table hold, for its caption."""
    point = "posterior mean ± SD" if estimate == "mean_sd" else "posterior median"
    return f"{point} with {interval.label} in parentheses"

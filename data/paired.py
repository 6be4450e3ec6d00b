"""The crude difference of two proportions measured on the same patients, with its interval.

The patients of a rechallenge study are treated at both lines, so the two proportions are
correlated and the interval of their difference must allow for it. Newcombe's method 10 (1998),
the "square-and-add" interval, combines the Wilson score intervals of the two proportions with
the (continuity-corrected) phi correlation of the paired table; it stays inside [-1, 1] and
behaves at 0 and n, unlike the Wald interval.

Newcombe RG. Improved confidence intervals for the difference between binomial proportions
based on paired data. Statistics in Medicine 1998;17:2635-2650.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class PairedDifference:
    """``second - first`` for proportions of the same ``n`` patients, with its interval."""

    difference: float
    lower: float
    upper: float
    n: int
    level: float


def _wilson(events: int, n: int, level: float) -> tuple[float, float]:
    ci = stats.binomtest(events, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe_paired_difference(both: int, first_only: int, second_only: int, neither: int,
                               level: float = 0.95) -> PairedDifference:
    """Newcombe's method 10 interval for the difference of paired proportions.

    Parameters
    ----------
    both, first_only, second_only, neither
        The paired table: patients with the event at both measurements, at the first only, at
        the second only, at neither (Newcombe's a, b, c, d).
    level
        Confidence level.

    Returns
    -------
    PairedDifference
        The difference (second minus first) and its interval.

    Raises
    ------
    ValueError
        A negative count, no patient, or a level outside (0, 1).

    Examples
    --------
    Complete response before and after consolidation therapy (Cavo et al. 2012; Fagerland,
    Lydersen and Laake, Statistical Analysis of Contingency Tables, 2017, chapter 8), where
    R's ``contingencytables::Newcombe_square_and_add_CI_paired_2x2`` gives -0.0621 (-0.1186 to
    -0.0046) for first minus second:

    >>> d = newcombe_paired_difference(59, 6, 16, 80)
    >>> round(d.difference, 4), round(d.lower, 4), round(d.upper, 4)
    (0.0621, 0.0046, 0.1186)
    """
    a, b, c, d = both, first_only, second_only, neither
    if min(a, b, c, d) < 0 or a + b + c + d == 0:
        raise ValueError(f"paired counts must be >= 0 with at least one patient; got {a, b, c, d}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _wilson(a + b, n, level)
    l2, u2 = _wilson(a + c, n, level)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    # Newcombe's phi with his continuity correction: a positive a*d - b*c is reduced by n/2 (to
    # no less than 0); a negative one is kept.
    cross = a * d - b * c
    corrected = cross - n / 2 if cross > n / 2 else 0.0 if cross >= 0 else cross
    phi = corrected / math.sqrt(margins) if margins > 0 else 0.0
    diff = p2 - p1
    # Newcombe's eq. for p1 - p2, written for p2 - p1: the lower limit uses the second
    # proportion's lower and the first's upper distance, and the reverse for the upper limit.
    lower = diff - math.sqrt(max((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2,
                                 0.0))
    upper = diff + math.sqrt(max((u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2,
                                 0.0))
    return PairedDifference(diff, max(lower, -1.0), min(upper, 1.0), n, level)

"""Sample size of a one-sample design: the smallest ``n`` meeting a type I error and a power.

For each ``n`` from ``min_n`` up, the decision boundary and the exact operating characteristics
at the null rate (type I error) and the alternative rate (power) are computed; the search stops
at the first ``n`` whose type I error is at most ``alpha`` and whose power is at least
``power``, or after ``max_n``. Discreteness makes both curves saw-toothed in ``n``, so a larger
``n`` can fail where a smaller one passed; every ``n`` tried is in the returned table.

The boundary is carried from one ``n`` to the next: with one more patient it stays or grows by
one (a non-responder more cannot make ``y`` responders more convincing, and a responder more
cannot make them less: the binomial likelihood's monotone likelihood ratio), so one posterior
probability per ``n`` decides which; the OCs are then binomial tails. The search costs a few
milliseconds per ``n``, whatever ``n``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from rechallenge.analysis.design.beta_mixture import prob_above
from rechallenge.analysis.design.limits import MAX_PATIENTS, check_count
from rechallenge.analysis.design.one_sample import OneSampleDesign, check_probability
from rechallenge.analysis.map_prior.mixtures import BetaMixture

#: Columns of :attr:`SampleSizeResult.table`.
TABLE_COLUMNS = ("n", "boundary", "type_i_error", "power", "meets")


@dataclass(frozen=True)
class SampleSizeResult:
    """Outcome of :func:`find_n`.

    Attributes
    ----------
    n
        The smallest sample size that meets both targets, or ``None`` if none up to ``max_n``.
    table
        One row per sample size tried, columns :data:`TABLE_COLUMNS`: up to ``n`` (the search
        stops there) or up to ``max_n``.
    """

    n: int | None
    table: pd.DataFrame

    def row(self) -> dict[str, float | int | bool] | None:
        """The table row of the chosen ``n`` as a dict (``None`` when no ``n`` qualified)."""
        if self.n is None:
            return None
        row = self.table.loc[self.table["n"] == self.n].iloc[0]
        return {"n": int(row["n"]), "boundary": int(row["boundary"]),
                "type_i_error": float(row["type_i_error"]), "power": float(row["power"])}


def find_n(prior: BetaMixture, *, threshold: float, confidence: float, null_rate: float,
           alt_rate: float, alpha: float, power: float, max_n: int = 200,
           min_n: int = 1) -> SampleSizeResult:
    """Smallest ``n`` whose type I error at ``null_rate`` is <= ``alpha`` and power at
    ``alt_rate`` is >= ``power``.

    Parameters
    ----------
    prior
        Beta mixture prior of the response rate.
    threshold, confidence
        The decision rule: success when ``P(rate > threshold | data) > confidence``.
    null_rate, alt_rate
        True rates at which the type I error and the power are computed; ``alt_rate`` must
        exceed ``null_rate``.
    alpha, power
        Targets, in (0, 1).
    max_n, min_n
        Range of sample sizes searched (inclusive); ``max_n`` at most
        :data:`~rechallenge.analysis.design.limits.MAX_PATIENTS`.

    Returns
    -------
    SampleSizeResult
        The chosen ``n`` and the table of every ``n`` tried (the search stops at the first
        ``n`` that meets both targets).
    """
    for name, value in (("null rate", null_rate), ("alternative rate", alt_rate),
                        ("alpha", alpha), ("power", power)):
        check_probability(name, value)
    if alt_rate <= null_rate:
        raise ValueError(f"the alternative rate ({alt_rate}) must exceed the null rate "
                         f"({null_rate})")
    check_count("max_n", max_n, MAX_PATIENTS)
    if not 1 <= min_n <= max_n:
        raise ValueError(f"need 1 <= min_n <= max_n, got {min_n} and {max_n}")
    rates = np.array([null_rate, alt_rate])
    boundary = OneSampleDesign(prior, min_n, threshold, confidence).boundary()
    rows = []
    found = None
    for n in range(min_n, max_n + 1):
        if n > min_n and not prob_above(prior, n, boundary, threshold) > confidence:
            boundary += 1  # see the module notes: it stays, or grows by one
        type_i, pw = special.bdtrc(boundary - 1, n, rates)  # binomial tails P(Y >= boundary)
        meets = bool(type_i <= alpha and pw >= power)
        rows.append((n, boundary, float(type_i), float(pw), meets))
        if meets:
            found = n
            break
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return SampleSizeResult(n=found, table=table)


def compare_sample_sizes(priors: Mapping[str, BetaMixture], **kwargs: float) -> pd.DataFrame:
    """:func:`find_n` for several priors; one row per prior with its smallest ``n`` and OC.

    ``kwargs`` are passed to :func:`find_n`. Columns: ``prior`` and :data:`TABLE_COLUMNS` less
    ``meets`` (``n`` and the rest are missing where no ``n`` qualified).
    """
    rows = []
    for name, prior in priors.items():
        chosen = find_n(prior, **kwargs).row()  # type: ignore[arg-type]
        missing: dict[str, float | int | None] = {"n": None, "boundary": None,
                                                  "type_i_error": None, "power": None}
        rows.append({"prior": name, **(chosen or missing)})
    return pd.DataFrame(rows, columns=["prior", *TABLE_COLUMNS[:-1]])

"""One-sample binary design: decision rule, decision boundary and exact operating characteristics.

A single-arm trial treats ``n`` patients and counts ``y`` responders. It succeeds when
``P(rate > threshold | y) > confidence`` under the prior (RBesT's
``decision1S(confidence, threshold, lower.tail = FALSE)``). Because the binomial likelihood has
a monotone likelihood ratio, that posterior probability increases with ``y`` for any prior, so
success is ``y >= boundary`` for one integer boundary. The operating characteristic at a true
rate ``p`` is the binomial probability of the success outcomes, a finite sum computed exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from rechallenge.analysis.design.beta_mixture import prob_above
from rechallenge.analysis.design.limits import MAX_PATIENTS, check_count
from rechallenge.analysis.map_prior.mixtures import BetaMixture

#: The grid of true rates of every OC table: 0.00, 0.01, ..., 1.00.
GRID_STEP = 0.01


def rate_grid(extra: Iterable[float] = ()) -> np.ndarray:
    """The rates 0.00, 0.01, ..., 1.00 plus any ``extra`` rates, sorted and without repeats.

    Grid points are rounded to 2 decimals so that 0.07 is 0.07, not 0.07000000000000001.
    """
    extra_arr = np.asarray(list(extra), dtype=float)
    if np.any((extra_arr < 0) | (extra_arr > 1)):
        raise ValueError(f"true rates must be in [0, 1], got {extra_arr.tolist()}")
    grid = np.round(np.arange(0, 101) * GRID_STEP, 2)
    return np.unique(np.concatenate([grid, extra_arr]))


def check_probability(name: str, value: float) -> None:
    """Raise a ValueError unless ``0 < value < 1``."""
    if not 0 < value < 1:
        raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value}")


def rule_number(value: float) -> str:
    """``value`` as a decision rule states it: the shortest text that reads back as ``value``.

    ``0.2`` stays ``0.2`` and ``0`` is ``0``, but ``0.999999999`` is not rounded to ``1``
    (``:g`` would print a rule that cannot be met).
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def binomial_pmf(y: np.ndarray, n: int, rates: np.ndarray) -> np.ndarray:
    """Binomial probabilities of ``y`` responders of ``n`` at ``rates`` (broadcast).

    Through the log pmf: scipy's ``binom.pmf`` fails with an overflow error for rates of about
    1e-307 (a subnormal intermediate), its log pmf does not.
    """
    return np.exp(stats.binom.logpmf(y, n, rates))


def binomial_oc(success: np.ndarray, n: int, rates: np.ndarray | float) -> np.ndarray:
    """``P(success)`` at each true rate: the binomial pmf summed over the success outcomes.

    ``success`` is a boolean array over ``y = 0..n``; nothing assumes it is an upper set.
    """
    p = np.atleast_1d(np.asarray(rates, dtype=float))
    if np.any((p < 0) | (p > 1)):
        raise ValueError("true rates must be in [0, 1]")
    pmf = binomial_pmf(np.arange(n + 1)[None, :], n, p[:, None])
    return np.clip(pmf @ success.astype(float), 0.0, 1.0)


@dataclass(frozen=True)
class OneSampleDesign:
    """A single-arm design: success when ``P(rate > threshold | data) > confidence``.

    Parameters
    ----------
    prior
        Beta mixture prior of the response rate.
    n
        Number of patients, 1 to :data:`~rechallenge.analysis.design.limits.MAX_PATIENTS`.
    threshold
        Rate to beat, in (0, 1).
    confidence
        Posterior probability required, in (0, 1).
    """

    prior: BetaMixture
    n: int
    threshold: float
    confidence: float

    def __post_init__(self) -> None:
        check_count("n", self.n, MAX_PATIENTS)
        check_probability("threshold", self.threshold)
        check_probability("confidence", self.confidence)

    def posterior_probabilities(self) -> np.ndarray:
        """``P(rate > threshold | y)`` for ``y = 0..n``."""
        return prob_above(self.prior, self.n, np.arange(self.n + 1), self.threshold)

    def success(self) -> np.ndarray:
        """Boolean array over ``y = 0..n``: does ``y`` responders give success?"""
        # Strictly greater, as RBesT's decision1S.
        return self.posterior_probabilities() > self.confidence

    def boundary(self) -> int:
        """Smallest number of responders giving success; ``n + 1`` if none does."""
        hits = np.flatnonzero(self.success())
        return int(hits[0]) if hits.size else self.n + 1

    def oc(self, true_rates: np.ndarray | float) -> np.ndarray:
        """Probability of success at each true rate (exact binomial sum)."""
        return binomial_oc(self.success(), self.n, true_rates)


def decision_boundary(prior: BetaMixture, n: int, threshold: float, confidence: float) -> int:
    """Smallest ``y`` with ``P(rate > threshold | y of n) > confidence`` (``n + 1`` if none).

    See :class:`OneSampleDesign`.
    """
    return OneSampleDesign(prior, n, threshold, confidence).boundary()


def oc_one_sample(prior: BetaMixture, n: int, threshold: float, confidence: float,
                  true_rates: np.ndarray | float) -> np.ndarray:
    """Probability of success of the one-sample design at each true rate (exact).

    Parameters
    ----------
    prior, n, threshold, confidence
        As :class:`OneSampleDesign`.
    true_rates
        True response rates in [0, 1].

    Returns
    -------
    numpy.ndarray
        One probability per rate (1-d).
    """
    return OneSampleDesign(prior, n, threshold, confidence).oc(true_rates)

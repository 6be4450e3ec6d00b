"""Conjugate arithmetic of a Beta mixture prior with binomial data.

With ``y`` responders out of ``n`` and prior ``sum_k w_k Beta(a_k, b_k)``, the posterior is
again a Beta mixture: ``sum_k w'_k Beta(a_k + y, b_k + n - y)`` with
``w'_k ∝ w_k B(a_k + y, b_k + n - y) / B(a_k, b_k)`` (the binomial coefficient cancels). The
functions here are vectorised over ``y`` so that a design can update the prior for every
possible outcome ``0..n`` at once. The mixture class itself is the run's
:class:`~rechallenge.analysis.map_prior.mixtures.BetaMixture`; nothing is duplicated here.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from rechallenge.analysis.map_prior.mixtures import BetaMixture

#: Smallest posterior weight kept: a component whose weight underflows stays in the mixture
#: (BetaMixture needs positive weights) but contributes nothing measurable.
_TINY_WEIGHT = 1e-300


def vague_prior() -> BetaMixture:
    """The uniform Beta(1, 1) prior, the ``vague`` choice of the design commands."""
    return BetaMixture(weights=(1.0,), a=(1.0,), b=(1.0,))


def _check_counts(n: int, y: np.ndarray) -> None:
    if n < 0 or np.any(y < 0) or np.any(y > n):
        raise ValueError(f"need 0 <= y <= n, got n={n}, y={y.tolist()}")


def _parameters(prior: BetaMixture) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.asarray(prior.weights), np.asarray(prior.a), np.asarray(prior.b)


def posterior_weights(prior: BetaMixture, n: int, y: np.ndarray | int) -> np.ndarray:
    """Posterior component weights after ``y`` responders out of ``n``.

    Parameters
    ----------
    prior
        Beta mixture prior with ``K`` components.
    n
        Number of patients.
    y
        Number(s) of responders, ``0 <= y <= n``; any shape.

    Returns
    -------
    numpy.ndarray
        Shape ``y.shape + (K,)``; each row sums to 1.
    """
    ys = np.asarray(y, dtype=float)
    _check_counts(n, ys)
    w, a, b = _parameters(prior)
    ys_col = ys[..., None]
    # Log space: with a sharp MAP component and conflicting data the ratio of Beta functions
    # spans hundreds of orders of magnitude.
    logw = np.log(w) + special.betaln(a + ys_col, b + n - ys_col) - special.betaln(a, b)
    # Normalised after shifting by the largest (a log-sum-exp by hand: scipy's logsumexp costs
    # more than the rest of a sample-size search, which calls this once per n).
    weights = np.exp(logw - logw.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def posterior(prior: BetaMixture, n: int, y: int) -> BetaMixture:
    """Posterior Beta mixture after ``y`` responders out of ``n`` (one outcome).

    Component order is kept, so the last component of a robustified prior is still the robust
    one. A weight that underflows is set to 1e-300 (the mixture class needs positive weights).
    """
    weights = np.maximum(posterior_weights(prior, n, int(y)), _TINY_WEIGHT)
    _, a, b = _parameters(prior)
    return BetaMixture(weights=tuple(weights / weights.sum()), a=tuple(a + y), b=tuple(b + n - y))


def prob_above(prior: BetaMixture, n: int, y: np.ndarray | int, threshold: float) -> np.ndarray:
    """Posterior probability ``P(rate > threshold | y of n)``, for every ``y`` given.

    Exact: a weighted sum of regularised incomplete Beta functions (scipy's ``betaincc``, the
    complement computed directly, which keeps full relative precision in the upper tail, where
    a decision at confidence 0.975 or 0.99 is made; the same values as ``beta.sf``, without its
    argument checks, which cost five times the computation). ``n = 0, y = 0`` gives the prior
    probability.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    ys = np.asarray(y, dtype=float)
    weights = posterior_weights(prior, n, ys)
    _, a, b = _parameters(prior)
    ys_col = ys[..., None]
    return np.sum(weights * special.betaincc(a + ys_col, b + n - ys_col, threshold), axis=-1)


def predictive_pmf(prior: BetaMixture, n: int) -> np.ndarray:
    """Prior predictive probabilities of ``0..n`` responders (a Beta-binomial mixture).

    Used to weight outcomes by what the prior expects, e.g. for the probability of success
    before the trial (assurance).
    """
    w, a, b = _parameters(prior)
    y = np.arange(n + 1)[:, None]
    log_pmf = (special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
               + special.betaln(a + y, b + n - y) - special.betaln(a, b))
    return np.exp(log_pmf) @ w

"""Two-sample binary design with the MAP prior on the control arm.

A randomised trial treats ``n_c`` control and ``n_t`` treatment patients and counts ``y_c`` and
``y_t`` responders. It succeeds when ``P(rate_t - rate_c > margin | data) > confidence`` (RBesT's
``decision2S(confidence, margin, lower.tail = FALSE)``), each arm updated from its own Beta
mixture prior.

The posterior probability is one integral over the control rate,
``P = F_c(-margin) + int f_c(x) S_t(x + margin) dx`` over the part of (0, 1) where
``0 < x + margin < 1`` (``F_c``, ``f_c`` the control posterior cdf and density, ``S_t`` the
treatment posterior survival function, all closed-form Beta mixture terms), evaluated by adaptive
Gauss-Kronrod quadrature (QUADPACK via :func:`scipy.integrate.quad`) with absolute and relative
tolerances of 1e-10 and break points at the component means; the tests hold it to 1e-8 against
the same probability integrated in the other order. Only this probability is numerical: the
operating characteristics are then exact binomial sums over ``(y_c, y_t)``. Since each arm's
posterior is stochastically increasing in its count, success is ``y_t >= boundary(y_c)`` with a
boundary that never decreases in ``y_c``; it is found with one sweep over both counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import integrate, special, stats

from rechallenge.analysis.design.beta_mixture import posterior
from rechallenge.analysis.design.limits import MAX_ARM_PATIENTS, check_count
from rechallenge.analysis.design.one_sample import binomial_pmf, check_probability
from rechallenge.analysis.map_prior.mixtures import BetaMixture

#: Tolerances passed to QUADPACK; the design promises 1e-6 on the posterior probability.
QUAD_EPS = 1e-10


def _sf(mix: BetaMixture, u: float) -> float:
    if u <= 0:
        return 1.0
    if u >= 1:
        return 0.0
    return float(np.dot(mix.weights, special.betaincc(mix.a, mix.b, u)))


def _cdf(mix: BetaMixture, u: float) -> float:
    return 1.0 - _sf(mix, u)


def prob_difference_above(treatment: BetaMixture, control: BetaMixture, margin: float) -> float:
    """``P(rate_t - rate_c > margin)`` for independent Beta mixtures (e.g. two posteriors).

    Parameters
    ----------
    treatment, control
        Distributions of the treatment and control rates.
    margin
        In (-1, 1).

    Returns
    -------
    float
        The probability, accurate to about 1e-10 (QUADPACK's tolerance; see the module notes).
    """
    if not -1 < margin < 1:
        raise ValueError(f"margin must be in (-1, 1), got {margin}")
    lo, hi = max(0.0, -margin), min(1.0, 1.0 - margin)

    # The integrand is called hundreds of times per probability: its constants are computed
    # once, and each call is a few NumPy operations on arrays of one entry per component.
    a_c, b_c = np.asarray(control.a) - 1, np.asarray(control.b) - 1
    log_c = np.log(control.weights) - special.betaln(control.a, control.b)
    w_t, a_t, b_t = (np.asarray(v) for v in (treatment.weights, treatment.a, treatment.b))

    def integrand(x: float) -> float:
        if x <= 0 or x >= 1:  # density limits at the ends are handled by quad's extrapolation
            return 0.0
        density = np.exp(log_c + a_c * math.log(x) + b_c * math.log1p(-x)).sum()
        u = x + margin
        survival = 1.0 if u <= 0 else 0.0 if u >= 1 else w_t @ special.betaincc(a_t, b_t, u)
        return float(density * survival)

    # Break points at the component means (and where the treatment components sit, shifted)
    # tell the adaptive rule where a sharp posterior component puts its mass.
    means = np.concatenate([np.asarray(control.a) / (np.add(control.a, control.b)),
                            np.asarray(treatment.a) / np.add(treatment.a, treatment.b) - margin])
    points = sorted({float(p) for p in means if lo < p < hi})
    value, _ = integrate.quad(integrand, lo, hi, points=points or None, limit=400,
                              epsabs=QUAD_EPS, epsrel=QUAD_EPS)
    return float(np.clip(_cdf(control, lo) + value, 0.0, 1.0))


@dataclass(frozen=True)
class TwoSampleDesign:
    """Randomised design: success when ``P(rate_t - rate_c > margin | data) > confidence``.

    Parameters
    ----------
    prior_control
        Beta mixture prior of the control rate (the MAP prior, robust or not).
    prior_treatment
        Beta mixture prior of the treatment rate (typically vague).
    n_control, n_treatment
        Patients per arm, 1 to :data:`~rechallenge.analysis.design.limits.MAX_ARM_PATIENTS`
        each.
    margin
        Difference in rates to exceed, in (-1, 1); 0 for superiority.
    confidence
        Posterior probability required, in (0, 1).
    """

    prior_control: BetaMixture
    prior_treatment: BetaMixture
    n_control: int
    n_treatment: int
    margin: float
    confidence: float

    def __post_init__(self) -> None:
        for name, n in (("control n", self.n_control), ("treatment n", self.n_treatment)):
            check_count(name, n, MAX_ARM_PATIENTS)
        if not -1 < self.margin < 1:
            raise ValueError(f"margin must be in (-1, 1), got {self.margin}")
        check_probability("confidence", self.confidence)

    def posterior_probability(self, y_control: int, y_treatment: int) -> float:
        """``P(rate_t - rate_c > margin | y_c, y_t)``."""
        return prob_difference_above(
            posterior(self.prior_treatment, self.n_treatment, y_treatment),
            posterior(self.prior_control, self.n_control, y_control), self.margin)

    def success(self, y_control: int, y_treatment: int) -> bool:
        """Does the outcome ``(y_c, y_t)`` give success? (Strictly greater, as RBesT.)"""
        return self.posterior_probability(y_control, y_treatment) > self.confidence

    @cached_property
    def boundary(self) -> np.ndarray:
        """Smallest ``y_t`` giving success, for ``y_c = 0..n_c`` (``n_t + 1`` if none).

        One sweep: if ``y_t`` fails with ``y_c`` it fails with every larger ``y_c`` (a larger
        control count only makes the control posterior larger), so the search for ``y_c + 1``
        starts where the one for ``y_c`` stopped.
        """
        out = np.empty(self.n_control + 1, dtype=int)
        y_t = 0
        for y_c in range(self.n_control + 1):
            while y_t <= self.n_treatment and not self.success(y_c, y_t):
                y_t += 1
            out[y_c] = y_t
        return out

    def oc(self, control_rates: np.ndarray | float,
           treatment_rates: np.ndarray | float) -> np.ndarray:
        """Probability of success at pairs of true rates (broadcast against each other).

        ``sum_{y_c} Binom(y_c; n_c, p_c) P(Y_t >= boundary(y_c); n_t, p_t)``: exact given the
        boundary.
        """
        pc, pt = np.broadcast_arrays(np.asarray(control_rates, dtype=float),
                                     np.asarray(treatment_rates, dtype=float))
        if np.any((pc < 0) | (pc > 1) | (pt < 0) | (pt > 1)):
            raise ValueError("true rates must be in [0, 1]")
        y_c = np.arange(self.n_control + 1)
        pmf_c = binomial_pmf(y_c, self.n_control, pc[..., None])
        pass_t = stats.binom.sf(self.boundary - 1, self.n_treatment, pt[..., None])
        return np.clip(np.sum(pmf_c * pass_t, axis=-1), 0.0, 1.0)


def oc_two_sample(prior_control: BetaMixture, prior_treatment: BetaMixture, n_control: int,
                  n_treatment: int, margin: float, confidence: float,
                  control_rates: np.ndarray | float,
                  treatment_rates: np.ndarray | float) -> np.ndarray:
    """Probability of success of a :class:`TwoSampleDesign` at pairs of true rates."""
    design = TwoSampleDesign(prior_control, prior_treatment, n_control, n_treatment, margin,
                             confidence)
    return design.oc(control_rates, treatment_rates)

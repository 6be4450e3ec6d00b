"""The log-normal distribution (AFT).

``log T ~ Normal(loc, sigma)``: ``z = (log t - loc) / sigma``, ``S(t) = Phi(-z)``,
``f(t) = phi(z) / (sigma t)``; median ``exp(loc)``, quantile ``t_s = exp(loc - sigma Phi^-1(s))``
for ``S(t_s) = s``. A change ``d`` in ``loc`` multiplies every quantile by ``exp(d)``; the hazard
rises and then falls, whatever ``sigma``, so it is not a PH family.

Equivalents: SciPy ``lognorm(s=sigma, scale=exp(loc))``; PyMC ``pm.LogNormal(mu=loc,
sigma=sigma)``; flexsurv ``dlnorm(x, meanlog=loc, sdlog=sigma)`` (``flexsurvreg(dist="lnorm")``);
R ``plnorm(q, meanlog, sdlog)``.

The survival function's log, ``log Phi(-z)``, is the numerically delicate part: right-censored
rows far in the tail (``z`` of 10-40 with a small ``sigma``) take ``Phi(-z)`` towards and below
the smallest double. The graph (:func:`log_normal_sf`) uses ``erfc`` up to ``z = 30`` and the
asymptotic series of Mills' ratio beyond; NumPy uses SciPy's ``log_ndtr``. Not ``erfcx`` (what
PyMC's ``pm.logcdf`` of a normal uses): PyTensor's JAX backend has no ``erfcx`` without
``tfp-nightly``, and the ``"jax"`` sampler backend must compile this graph.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Final

import numpy as np
import pytensor.tensor as pt
from scipy import special

from rechallenge.models.priors import PriorDefault
from rechallenge.models.survival.base import ShapeParameter, SurvivalDistribution

#: ``log(2 pi) / 2``, the normal density's constant.
_HALF_LOG_2PI: Final = 0.5 * math.log(2.0 * math.pi)
#: ``1 / sqrt(2)``: ``Phi(x) = erfc(-x / sqrt(2)) / 2``.
_INV_SQRT2: Final = 1.0 / math.sqrt(2.0)
#: Above this ``z`` the upper tail is ``log(erfc(z / sqrt 2) / 2)``; below it ``log1p`` of the
#: lower tail is accurate (PyMC's normal log cdf splits at the same point).
_UPPER: Final = 1.0
#: Above this ``z`` the asymptotic series: ``erfc`` underflows near ``z = 37.5``, and at 30 the
#: series' first omitted term, ``945 / z^10``, is ``2e-12`` of ``Phi(-z)``.
_FAR: Final = 30.0


def log_normal_sf(z: pt.TensorLike) -> pt.TensorVariable:
    """``log Phi(-z)``, the log survival function of a standard normal, as a graph.

    Finite with a finite gradient for every finite ``z`` (|z| of 40 and far beyond), and only
    ``erfc``, ``log``, ``log1p`` inside: every PyTensor backend (C, Numba, JAX) compiles it.

    Parameters
    ----------
    z
        Standardised values.

    Returns
    -------
    pytensor.tensor.TensorVariable
        ``log1p(-Phi(z))`` for ``z <= 1``, ``log(erfc(z / sqrt 2) / 2)`` for ``1 < z <= 30`` and
        ``-z^2 / 2 - log z - log(2 pi) / 2 + log1p(-1/z^2 + 3/z^4 - 15/z^6 + 105/z^8)`` (Mills'
        ratio) above.
    """
    z = pt.as_tensor_variable(z)
    upper = pt.gt(z, _UPPER)
    far = pt.gt(z, _FAR)
    # Each branch gets an argument kept inside its own domain: a switch passes a zero gradient to
    # the branch it does not select, but zero times the inf/nan of ``log(erfc(28))`` or of
    # ``log1p(-1)`` would still be nan (the "double where" problem).
    z_low = pt.switch(upper, _UPPER, z)
    z_mid = pt.switch(upper, pt.switch(far, _FAR, z), 2.0 * _UPPER)
    z_far = pt.switch(far, z, _FAR)
    body = pt.log1p(-pt.erfc(-z_low * _INV_SQRT2) / 2.0)
    tail = pt.log(pt.erfc(z_mid * _INV_SQRT2) / 2.0)
    w = 1.0 / pt.sqr(z_far)
    series = pt.log1p(w * (-1.0 + w * (3.0 + w * (-15.0 + w * 105.0))))
    asymptotic = -pt.sqr(z_far) / 2.0 - pt.log(z_far) - _HALF_LOG_2PI + series
    return pt.switch(far, asymptotic, pt.switch(upper, tail, body))


class LogNormal(SurvivalDistribution):
    """Log-normal with ``log T ~ Normal(loc, sigma)``, ``sigma = exp(log_sigma)``."""

    name = "lognormal"
    label = "log-normal"
    aft = True
    proportional_hazards = False
    location_words = "log median"
    parameters = (ShapeParameter("sigma", "log_sigma", "sigma_log_sd",
                                 words="SD of log time (log-normal \u03c3)"),)
    priors = MappingProxyType({
        "mu_mean": PriorDefault(
            math.log(5.0),
            "mu[line] ~ Normal(mu_mean, mu_sd)  (log median, months)",
            "Centred on a median of 5 months (exp(loc) is the median of a log-normal): median TTP "
            "on ICIs in advanced HCC is typically 3-8 months.",
            positive=False,
        ),
        "mu_sd": PriorDefault(
            1.0,
            "mu[line] ~ Normal(mu_mean, mu_sd)",
            "95% of the prior median lies in 0.7-35 months, so medians from about 1 to 35 months "
            "are all plausible while medians of days or decades are not.",
        ),
        "sigma_log_sd": PriorDefault(
            0.5,
            "log_sigma ~ Normal(0, sigma_log_sd), sigma = exp(log_sigma)",
            "Centred on sigma = 1 (the quartiles of TTP a factor 2 either side of the median, "
            "close to the spread of an exponential, whose log times have sd 1.28) with 95% of the "
            "mass in sigma = 0.38-2.7 (quartiles a factor 1.3 to 6 either side of the median): "
            "rules out the near-deterministic times of sigma < 0.3 that a few similar "
            "progressions could otherwise suggest in small samples, and quartiles more than a "
            "factor 10 from the median (sigma > 3.4).",
        ),
    })

    # ------------------------------------------------------------------- model graph
    def censored_logp(self, value: pt.TensorLike, loc: pt.TensorLike, *params: pt.TensorLike,
                      upper: pt.TensorLike) -> pt.TensorVariable:
        """``log f`` for events, ``log Phi(-z)`` (:func:`log_normal_sf`) at censoring."""
        (sigma,) = params
        log_t = pt.log(value)
        z = (log_t - loc) / sigma
        event = pt.lt(value, upper)
        log_f = -pt.log(sigma) - log_t - _HALF_LOG_2PI - pt.sqr(z) / 2.0
        # A switch rather than the Weibull's 0/1 product: log S and log f are different terms
        # here, and log S is finite for the rows that use log f (and the reverse) anyway.
        return pt.switch(event, log_f, log_normal_sf(z))

    def log_median_tensor(self, loc: pt.TensorLike,
                          *params: pt.TensorLike) -> pt.TensorVariable | None:
        """``loc``: the median of a log-normal is ``exp(loc)`` whatever ``sigma``."""
        return pt.as_tensor_variable(loc)

    # ------------------------------------------------------------------- NumPy
    def log_survival(self, t: np.ndarray, loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log Phi(-z)`` by SciPy's ``log_ndtr``, accurate far in the upper tail."""
        (sigma,) = params
        with np.errstate(divide="ignore"):  # t = 0 gives z = -inf and log S = 0: correct
            z = (np.log(t) - loc) / sigma
        return special.log_ndtr(-z)

    def log_density(self, t: np.ndarray, loc: np.ndarray,
                    params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``-log sigma - log t - log(2 pi) / 2 - z^2 / 2``, ``z = (log t - loc) / sigma``."""
        (sigma,) = params
        log_t = np.log(t)
        z = (log_t - loc) / sigma
        return -np.log(sigma) - log_t - _HALF_LOG_2PI - z**2 / 2.0

    def random(self, loc: np.ndarray, params: tuple[np.ndarray, ...],
               rng: np.random.Generator) -> np.ndarray:
        """``exp(loc + sigma Z)`` with ``Z`` standard normal."""
        (sigma,) = params
        loc, sigma = np.broadcast_arrays(loc, sigma)
        with np.errstate(over="ignore"):  # vague prior predictive scales overflow: inf is honest
            return np.exp(loc + sigma * rng.standard_normal(loc.shape))

    def quantile(self, survival: float, loc: np.ndarray,
                 params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``exp(loc - sigma Phi^-1(s))``."""
        (sigma,) = params
        # S(t) = Phi(-z) = s  <=>  z = -Phi^-1(s).
        return np.exp(loc - sigma * special.ndtri(survival))

    def median(self, loc: np.ndarray, params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``exp(loc)``, broadcast with ``sigma``."""
        (sigma,) = params
        return np.exp(np.broadcast_arrays(loc, sigma)[0])

"""The Gompertz distribution (PH).

Hazard ``h(t) = b exp(a t)``, ``loc = log b`` (the log hazard per month at ``t = 0``), shape ``a``
(per month, any sign: the hazard is multiplied by ``exp(a)`` every month). Cumulative hazard
``H(t) = b (exp(a t) - 1) / a`` (``b t`` at ``a = 0``, the exponential), ``log S = -H``,
``log f = loc + a t - H``. A change ``d`` in ``loc`` multiplies the hazard by ``exp(d)`` at every
time (PH); it is not an AFT family.

With ``a < 0`` the hazard dies away and the curve levels off at ``S(inf) = exp(b / a)``: a
fraction of patients never progresses and the distribution is defective. Quantiles
``t_s = log(1 - a log(s) / b) / a`` exist for ``s > exp(b / a)`` only; below the plateau they are
``inf`` (the median is ``inf`` when the plateau is at or above one half), and so are the random
draws of the never-progressing patients.

Equivalents: SciPy ``gompertz(c=b / a, scale=1 / a)`` for ``a > 0`` only; flexsurv
``dgompertz(x, shape=a, rate=b)`` (``flexsurvreg(dist="gompertz")``, any sign of ``a``);
PyMC has no Gompertz distribution.

``H`` is written as ``b t g(a t)`` with ``g(x) = expm1(x) / x``: ``expm1`` keeps ``exp(a t) - 1``
accurate for small ``a t``, and ``g`` switches to its series ``1 + x / 2 + x^2 / 6`` for
``|x| < 1e-5``, where ``expm1(x) / x`` is 0/0 at ``x = 0`` and its autodiff gradient
``e^x / x - expm1(x) / x^2`` cancels catastrophically. The quantile's ``log1p(y) / y`` is treated
the same way. ``a t`` above 709 overflows to ``H = inf`` (``log S = -inf``, a point the sampler
rejects): that needs a hazard growing by more than a factor 1000 a month at 100 months.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Final

import numpy as np
import pytensor.tensor as pt

from rechallenge.models.priors import PriorDefault
from rechallenge.models.survival.base import ShapeParameter, SurvivalDistribution

#: Below this ``|x|`` the ratios ``expm1(x) / x`` and ``log1p(x) / x`` use their series: the
#: first omitted term, ``x^3 / 24`` or ``x^3 / 4``, is below a double's resolution of 1, while
#: above it the direct forms' rounding error (about ``1e-16 / |x|``) is at most ``1e-11``.
_SERIES: Final = 1e-5
#: ``log(log 2)``: the median solves ``H(t) = log 2``.
_LOG_LOG2: Final = math.log(math.log(2.0))


def _expm1_ratio_tensor(x: pt.TensorVariable) -> pt.TensorVariable:
    """``expm1(x) / x`` (1 at 0) as a graph with a finite, accurate gradient near 0."""
    small = pt.lt(pt.abs(x), _SERIES)
    # The direct branch gets an argument away from 0, or its 0/0 would reach the gradient as nan
    # even where the switch selects the series.
    safe = pt.switch(small, 1.0, x)
    return pt.switch(small, 1.0 + x / 2.0 + pt.sqr(x) / 6.0, pt.expm1(safe) / safe)


def _expm1_ratio(x: np.ndarray) -> np.ndarray:
    """``expm1(x) / x`` (1 at 0) in NumPy."""
    small = np.abs(x) < _SERIES
    safe = np.where(small, 1.0, x)
    with np.errstate(over="ignore"):
        return np.where(small, 1.0 + x / 2.0 + x**2 / 6.0, np.expm1(safe) / safe)


def _log1p_ratio(y: np.ndarray) -> np.ndarray:
    """``log1p(y) / y`` (1 at 0) for ``y > -1`` in NumPy; ``nan`` at and below -1."""
    small = np.abs(y) < _SERIES
    safe = np.where(small | (y <= -1.0), 1.0, y)
    ratio = np.where(small, 1.0 - y / 2.0 + y**2 / 3.0, np.log1p(safe) / safe)
    return np.where(y > -1.0, ratio, np.nan)


def _time_to_cumulative_hazard(target: np.ndarray, loc: np.ndarray,
                               a: np.ndarray) -> np.ndarray:
    """The time ``t`` with ``H(t) = target`` (``inf`` where ``H`` stays below it)."""
    # b (e^{at} - 1) / a = target  <=>  t = log1p(y) / a = (target / b) log1p(y) / y with
    # y = a target / b; no solution (the plateau) where y <= -1.
    rate_time = target * np.exp(-loc)
    y = a * rate_time
    return np.where(y > -1.0, rate_time * _log1p_ratio(y), np.inf)


class Gompertz(SurvivalDistribution):
    """Gompertz with hazard ``exp(loc + a t)``, ``a`` = ``gompertz_shape`` (any sign)."""

    name = "gompertz"
    label = "Gompertz"
    aft = False
    proportional_hazards = True
    location_words = "log baseline hazard"
    parameters = (ShapeParameter("gompertz_shape", "gompertz_shape", "gompertz_shape_sd",
                                 positive=False,
                                 words="Gompertz shape (per month)"),)
    priors = MappingProxyType({
        "mu_mean": PriorDefault(
            math.log(math.log(2.0) / 5.0),
            "mu[line] ~ Normal(mu_mean, mu_sd)  (log hazard at t = 0, per month)",
            "Centred on a starting hazard of 0.14 per month: with a constant hazard (a = 0) a "
            "median of log(2) / 0.14 = 5 months, the middle of the 3-8 months typical of median "
            "TTP on ICIs in advanced HCC.",
            positive=False,
        ),
        "mu_sd": PriorDefault(
            1.0,
            "mu[line] ~ Normal(mu_mean, mu_sd)",
            "95% of the prior starting hazard lies in 0.02-0.98 per month, medians of 0.7-35 "
            "months with a constant hazard: medians from about 1 to 35 months are all "
            "plausible while medians of days or decades are not.",
        ),
        "gompertz_shape_sd": PriorDefault(
            0.1,
            "gompertz_shape ~ Normal(0, gompertz_shape_sd)  (per month)",
            "Centred on a = 0 (constant hazard) with 95% of the mass in a = -0.2 to 0.2 per "
            "month: hazards rising or falling by up to a factor 11 over a year. With the typical "
            "starting hazard of 0.14 per month, a = -0.2 levels the curve off at one half (half "
            "the patients never progressing), so plateaus that high are left to the prior's tail "
            "while plateaus of 10-25% (a of -0.06 to -0.1) stay plausible.",
        ),
    })

    # ------------------------------------------------------------------- model graph
    def censored_logp(self, value: pt.TensorLike, loc: pt.TensorLike, *params: pt.TensorLike,
                      upper: pt.TensorLike) -> pt.TensorVariable:
        """``loc + a t - H(t)`` for events, ``-H(t)`` at censoring."""
        (a,) = params
        t = pt.as_tensor_variable(value)
        at = a * t
        cumulative = pt.exp(loc) * t * _expm1_ratio_tensor(at)
        event = pt.lt(t, upper)
        # log f = log h - H with log h = loc + a t; the 0/1 product keeps one branch (as the
        # Weibull's) since log h is finite for every row.
        return event * (loc + at) - cumulative

    def log_median_tensor(self, loc: pt.TensorLike,
                          *params: pt.TensorLike) -> pt.TensorVariable | None:
        """``log t_0.5 = log(log 2) - loc + log(log1p(y) / y)``, ``y = a log(2) / b``.

        Where the plateau ``exp(b / a)`` is at or above one half (``y <= -1``) the median is
        infinite and this returns ``+inf``: a site reporting a finite median then has likelihood
        zero (``log_median_obs`` gets ``-inf``, with a zero gradient through the switch), so the
        sampler rejects such points rather than seeing ``nan``.
        """
        (a,) = params
        loc = pt.as_tensor_variable(loc)
        y = a * math.log(2.0) * pt.exp(-loc)
        defined = pt.gt(y, -1.0)
        small = pt.lt(pt.abs(y), _SERIES)
        # Arguments kept inside each branch's domain so the unselected branch's nan (log1p of
        # y <= -1, or 0/0 at y = 0) cannot reach the gradient.
        safe = pt.switch(defined & ~small, y, 1.0)
        ratio = pt.switch(small, 1.0 - y / 2.0 + pt.sqr(y) / 3.0, pt.log1p(safe) / safe)
        return pt.switch(defined, _LOG_LOG2 - loc + pt.log(ratio), np.inf)

    # ------------------------------------------------------------------- NumPy
    def log_survival(self, t: np.ndarray, loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``-H(t) = -b t expm1(a t) / (a t)``."""
        (a,) = params
        return -np.exp(loc) * t * _expm1_ratio(a * t)

    def log_density(self, t: np.ndarray, loc: np.ndarray,
                    params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``loc + a t - H(t)``."""
        (a,) = params
        return loc + a * t + self.log_survival(t, loc, params)

    def random(self, loc: np.ndarray, params: tuple[np.ndarray, ...],
               rng: np.random.Generator) -> np.ndarray:
        """By inversion of ``H``; ``inf`` for the patients past the plateau (``a < 0``)."""
        (a,) = params
        loc, a = np.broadcast_arrays(np.asarray(loc, dtype=float), np.asarray(a, dtype=float))
        # Inversion: H(T) is standard exponential; draws past the plateau are inf.
        return _time_to_cumulative_hazard(rng.standard_exponential(loc.shape), loc, a)

    def quantile(self, survival: float, loc: np.ndarray,
                 params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log(1 - a log(s) / b) / a``, ``inf`` where ``s`` is at or below the plateau."""
        (a,) = params
        return _time_to_cumulative_hazard(-np.log(survival), np.asarray(loc, dtype=float),
                                          np.asarray(a, dtype=float))

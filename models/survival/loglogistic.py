"""The log-logistic distribution (AFT and proportional odds).

``S(t) = 1 / (1 + (t / alpha)^beta)``, ``loc = log alpha``: ``log T = loc + L / beta`` with ``L``
standard logistic. On the log scale, ``z = beta (log t - loc)``, ``log S = -softplus(z)`` and
``log f = log beta - log t + z - 2 softplus(z)``; median ``alpha = exp(loc)``, quantile
``t_s = alpha ((1 - s) / s)^(1/beta)`` for ``S(t_s) = s``. A change ``d`` in ``loc`` multiplies
every quantile by ``exp(d)`` (AFT) and, with a common ``beta``, the odds of having progressed by
any time by ``exp(-beta d)`` (proportional odds, not proportional hazards). The hazard falls from
the start for ``beta <= 1`` and rises then falls for ``beta > 1``.

Equivalents: SciPy ``fisk(c=beta, scale=alpha)``; flexsurv ``dllogis(x, shape=beta,
scale=alpha)`` (``flexsurvreg(dist="llogis")``); lifelines ``LogLogisticFitter.beta_ = beta``,
``LogLogisticFitter.alpha_ = alpha``. PyMC has no log-logistic distribution.

``softplus`` (``log(1 + e^z)``) is the one function that needs care: ``log1p(exp(z))`` overflows
for ``z`` above 709 (long censored times with a large ``beta``), ``log(1 + e^z)`` loses all
precision below ``z = -37``. PyTensor's ``softplus`` and NumPy's ``logaddexp(0, z)`` are stable.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pytensor.tensor as pt

from rechallenge.models.priors import PriorDefault
from rechallenge.models.survival.base import ShapeParameter, SurvivalDistribution


class LogLogistic(SurvivalDistribution):
    """Log-logistic with shape ``beta = exp(log_loglogistic_shape)`` and log scale (log median)
    ``loc``.
    """

    name = "loglogistic"
    label = "log-logistic"
    aft = True
    proportional_hazards = False
    location_words = "log scale (the log median)"
    # Names of its own: a config's [priors.ttp] holds every distribution's priors, and the
    # Weibull's shape prior is centred elsewhere.
    parameters = (ShapeParameter("loglogistic_shape", "log_loglogistic_shape",
                                 "loglogistic_shape_log_sd", prior_mean=math.log(1.5),
                                 words="Log-logistic shape"),)
    priors = MappingProxyType({
        "mu_mean": PriorDefault(
            math.log(5.0),
            "mu[line] ~ Normal(mu_mean, mu_sd)  (log scale = log median, months)",
            "Centred on a median of 5 months (the scale of a log-logistic is its median): median "
            "TTP on ICIs in advanced HCC is typically 3-8 months.",
            positive=False,
        ),
        "mu_sd": PriorDefault(
            1.0,
            "mu[line] ~ Normal(mu_mean, mu_sd)",
            "95% of the prior median lies in 0.7-35 months, so medians from about 1 to 35 months "
            "are all plausible while medians of days or decades are not.",
        ),
        "loglogistic_shape_log_sd": PriorDefault(
            0.5,
            "log_loglogistic_shape ~ Normal(log 1.5, loglogistic_shape_log_sd), "
            "loglogistic_shape = exp(log_loglogistic_shape)",
            "Centred on beta = 1.5 (quartiles a factor 2.1 either side of the median, about the "
            "spread of an exponential, and a hazard that rises then falls) with 95% of the mass "
            "in beta = 0.56-4.0 (quartiles a factor 7 to 1.3 from the median): hazards falling "
            "from the start are allowed, the near-deterministic times of beta > 5 that a few "
            "similar progressions could otherwise suggest in small samples are not.",
        ),
    })

    # ------------------------------------------------------------------- model graph
    def censored_logp(self, value: pt.TensorLike, loc: pt.TensorLike, *params: pt.TensorLike,
                      upper: pt.TensorLike) -> pt.TensorVariable:
        """``log f`` for events, ``log S = -softplus(z)`` at censoring, on the log scale."""
        (shape,) = params
        log_t = pt.log(value)
        z = shape * (log_t - loc)
        log_s = -pt.softplus(z)
        event = pt.lt(value, upper)
        # log f = log h + log S with log h = log beta - log t + z + log S; as for the Weibull, a
        # 0/1 product instead of a switch keeps one branch in the gradient (all terms are finite).
        return event * (pt.log(shape) - log_t + z + log_s) + log_s

    def log_median_tensor(self, loc: pt.TensorLike,
                          *params: pt.TensorLike) -> pt.TensorVariable | None:
        """``loc``: ``S(alpha) = 1/2`` whatever ``beta``."""
        return pt.as_tensor_variable(loc)

    # ------------------------------------------------------------------- NumPy
    def log_survival(self, t: np.ndarray, loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``-log(1 + e^z)``, ``z = beta (log t - loc)``."""
        (shape,) = params
        with np.errstate(divide="ignore"):  # t = 0: z = -inf, log S = 0, correct
            z = shape * (np.log(t) - loc)
        return -np.logaddexp(0.0, z)

    def log_density(self, t: np.ndarray, loc: np.ndarray,
                    params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log beta - log t + z - 2 log(1 + e^z)``."""
        (shape,) = params
        log_t = np.log(t)
        z = shape * (log_t - loc)
        return np.log(shape) - log_t + z - 2.0 * np.logaddexp(0.0, z)

    def random(self, loc: np.ndarray, params: tuple[np.ndarray, ...],
               rng: np.random.Generator) -> np.ndarray:
        """``exp(loc + L / beta)`` with ``L`` standard logistic."""
        (shape,) = params
        loc, shape = np.broadcast_arrays(loc, shape)
        with np.errstate(over="ignore"):  # vague prior predictive scales overflow: inf is honest
            return np.exp(loc + rng.logistic(size=loc.shape) / shape)

    def quantile(self, survival: float, loc: np.ndarray,
                 params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``alpha ((1 - s) / s)^(1/beta)``."""
        (shape,) = params
        # 1 / (1 + e^z) = s  <=>  z = log((1 - s) / s).
        return np.exp(loc + (np.log1p(-survival) - np.log(survival)) / shape)

    def median(self, loc: np.ndarray, params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``alpha = exp(loc)``, broadcast with ``beta``."""
        (shape,) = params
        return np.exp(np.broadcast_arrays(loc, shape)[0])

"""The Weibull distribution (AFT and, with a shared shape, PH).

``S(t) = exp(-(t / lambda)^k)``, ``loc = log lambda``; median ``lambda (log 2)^(1/k)``. SciPy:
``weibull_min(c=k, scale=lambda)``; PyMC ``pm.Weibull(alpha=k, beta=lambda)``. The censored log
density is written on the log scale (``z = k (log t - loc)``, ``log f = log k - log t + z -
exp(z)``, ``log S = -exp(z)``): see :mod:`rechallenge.models.weibull_likelihood`.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Final, cast

import numpy as np
import pytensor.tensor as pt

from rechallenge.models.priors import PriorDefault
from rechallenge.models.survival.base import ShapeParameter, SurvivalDistribution
from rechallenge.models.weibull_likelihood import (
    LOG_LOG2,
    Likelihood,
    censored_weibull,
    censored_weibull_logp,
    weibull_log_median,
)


class Weibull(SurvivalDistribution):
    """Weibull with shape ``k = exp(log_shape)`` and log scale ``loc``."""

    name = "weibull"
    label = "Weibull"
    aft = True
    proportional_hazards = True
    location_words = "log scale"
    parameters = (ShapeParameter("shape", "log_shape", "shape_log_sd", words="Weibull shape"),)
    priors = MappingProxyType({
        "shape_log_sd": PriorDefault(
            0.5,
            "log_shape ~ Normal(0, shape_log_sd), shape = exp(log_shape)",
            "Centred on k = 1 (constant hazard) with 95% of the mass in k = 0.38-2.7: falling or "
            "rising hazards of the size seen in oncology, but not the near-deterministic times of "
            "k > 4 that a few early progressions could otherwise suggest in small samples.",
        ),
    })

    def censored_logp(self, value: pt.TensorLike, loc: pt.TensorLike, *params: pt.TensorLike,
                      upper: pt.TensorLike) -> pt.TensorVariable:
        """``log f`` for events, ``log S`` at censoring, on the log scale."""
        (shape,) = params
        return censored_weibull_logp(value, shape, loc, upper)

    def observed(self, name: str, *, loc: pt.TensorVariable, params: Sequence[pt.TensorVariable],
                 upper: pt.TensorVariable, observed: pt.TensorVariable, dims: str,
                 likelihood: str = "logspace") -> pt.TensorVariable:
        """The Weibull's two implementations of the censored likelihood (``"logspace"`` or
        ``"censored"``, see :mod:`rechallenge.models.weibull_likelihood`).
        """
        (shape,) = params
        return censored_weibull(name, shape=shape, log_scale=loc, upper=upper, observed=observed,
                                dims=dims, likelihood=cast(Likelihood, likelihood))

    def log_median_tensor(self, loc: pt.TensorLike,
                          *params: pt.TensorLike) -> pt.TensorVariable | None:
        """``loc + log(log 2) / k``."""
        (shape,) = params
        return weibull_log_median(shape, loc)

    def log_survival(self, t: np.ndarray, loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``-(t / lambda)^k``."""
        (shape,) = params
        with np.errstate(over="ignore", divide="ignore"):
            return -np.exp(shape * (np.log(t) - loc))

    def log_density(self, t: np.ndarray, loc: np.ndarray,
                    params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log k - log t + z - exp(z)``, ``z = k (log t - loc)``."""
        (shape,) = params
        z = shape * (np.log(t) - loc)
        return np.log(shape) - np.log(t) + z - np.exp(z)

    def random(self, loc: np.ndarray, params: tuple[np.ndarray, ...],
               rng: np.random.Generator) -> np.ndarray:
        """``lambda`` times a standard Weibull draw of shape ``k``."""
        (shape,) = params
        loc, shape = np.broadcast_arrays(loc, shape)
        with np.errstate(over="ignore"):  # vague prior predictive scales overflow: inf is honest
            return np.exp(loc) * rng.weibull(shape)

    def quantile(self, survival: float, loc: np.ndarray,
                 params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``lambda (-log s)^(1/k)``."""
        (shape,) = params
        return np.exp(loc + np.log(-np.log(survival)) / shape)

    def median(self, loc: np.ndarray, params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``lambda (log 2)^(1/k)``."""
        (shape,) = params
        return np.exp(loc + LOG_LOG2 / shape)

    def hazard_ratio(self, delta_loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray | None:
        """``exp(-k delta_loc)``: with a shared shape, a change of the log scale multiplies the
        hazard by that much.
        """
        (shape,) = params
        return np.exp(-shape * delta_loc)

    def marginal_survival(self, times: np.ndarray, loc: np.ndarray, sd: np.ndarray,
                          params: tuple[np.ndarray, ...], nodes: np.ndarray,
                          weights: np.ndarray) -> np.ndarray:
        """``E_Z[exp(-(t / exp(loc + sd Z))^shape)]``, shape (..., times)."""
        (shape,) = params
        log_t = np.log(np.maximum(np.asarray(times, dtype=float), 1e-300))
        loc, sd, shape = (np.asarray(a, dtype=float)[..., None, None] for a in (loc, sd, shape))
        z = shape * (log_t[:, None] - loc - sd * nodes)
        surv = np.sum(weights * np.exp(-np.exp(z)), axis=-1)
        return np.where(np.asarray(times) <= 0, 1.0, surv)

    def marginal_median(self, loc: np.ndarray, sd: np.ndarray, params: tuple[np.ndarray, ...],
                        nodes: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Closed form ``exp(loc) (log 2)^(1/shape)`` where ``sd == 0``; otherwise a vectorised
        bisection on log t, bracketed by the medians at the extreme quadrature nodes (the
        averaged curve crosses 0.5 between them), to machine precision.
        """
        (shape,) = params
        loc, sd, shape = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (loc, sd, shape)))
        centre = loc + LOG_LOG2 / shape
        out = np.exp(centre)
        mixed = sd > 0
        if not mixed.any():
            return out
        # Bisect only where there is something to average over.
        loc, sd, shape, centre = loc[mixed], sd[mixed], shape[mixed], centre[mixed]
        half = sd * np.abs(nodes).max() + 1.0
        lo, hi = centre - half, centre + half
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            z = shape[:, None] * (mid[:, None] - loc[:, None] - sd[:, None] * nodes)
            above = np.sum(weights * np.exp(-np.exp(z)), axis=-1) > 0.5
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        out[mixed] = np.exp(0.5 * (lo + hi))
        return out


#: Bisection steps of :meth:`Weibull.marginal_median` (from a bracket a few units wide).
_BISECTION_STEPS: Final = 60

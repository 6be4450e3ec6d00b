"""Right-censored Weibull likelihoods and the aggregate log-median likelihood of the TTP model.

Parameterisation (the one place it is written in code; ``docs/ttp_model.md`` has the full text)
---------------------------------------------------------------------------------------------
``T ~ Weibull(shape k, scale lambda)``, ``S(t) = exp(-(t / lambda)^k)``, with density
``f(t) = (k / lambda) (t / lambda)^(k - 1) S(t)`` and median ``lambda (log 2)^(1/k)``.
PyMC: ``pm.Weibull(alpha=k, beta=lambda)``. lifelines: ``WeibullFitter.rho_ = k``,
``WeibullFitter.lambda_ = lambda``. SciPy: ``weibull_min(c=k, scale=lambda)``.

Two implementations of the same right-censored likelihood are offered, selected by name:

``"censored"``
    ``pm.Censored(pm.Weibull.dist(...), upper=...)``, the library primitive; the reference.
``"logspace"``
    a ``pm.CustomDist`` whose log density is written directly on the log scale,
    ``z = k (log t - log lambda)``, ``log f = log k - log t + z - exp(z)`` for events and
    ``log S = -exp(z)`` for censored rows. It has no parameter checks, no ``switch`` between the
    branches and no ``log1mexp(log1mexp(.))`` for the survival function, which is why its
    gradient is several times cheaper. Its random function draws a Weibull and clips it at the
    censoring bound, exactly as ``pm.Censored`` does, so posterior predictive draws and
    ``log_likelihood`` are the same for both.

Both take the censoring as an upper bound per row: ``upper = t`` for a censored row (the value
is at the bound, so the survival function is used) and ``upper = inf`` for an observed event.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.stats import norm

Likelihood = Literal["censored", "logspace"]
LIKELIHOODS: Final[tuple[str, ...]] = ("censored", "logspace")

#: log(log 2): the median of a Weibull is ``exp(log_scale + LOG_LOG2 / shape)``.
LOG_LOG2: Final[float] = math.log(math.log(2.0))
#: Two-sided 97.5% standard normal quantile used to turn a 95% interval into a standard error.
Z_975: Final[float] = 1.959963984540054


def censored_weibull_logp(
    value: pt.TensorLike, shape: pt.TensorLike, log_scale: pt.TensorLike, upper: pt.TensorLike
) -> pt.TensorVariable:
    """Log density of a right-censored Weibull written on the log scale.

    Parameters
    ----------
    value
        Observed durations ``t`` (> 0).
    shape, log_scale
        Weibull shape ``k`` and log scale ``log lambda``, broadcastable to ``value``.
    upper
        Censoring bound: ``t`` itself for a censored row, ``inf`` for an observed event. Rows with
        ``value < upper`` are events; rows with ``value >= upper`` are censored at ``value``.

    Returns
    -------
    pytensor.tensor.TensorVariable
        Elementwise ``log f(t)`` for events and ``log S(t)`` for censored rows.
    """
    log_t = pt.log(value)
    z = shape * (log_t - log_scale)
    event = pt.lt(value, upper)
    # Multiplying by the 0/1 event indicator instead of switching keeps one branch in the
    # gradient graph; both branches are finite for every row, so nothing is masked.
    return event * (pt.log(shape) - log_t + z) - pt.exp(z)


def censored_weibull_random(
    shape: np.ndarray,
    log_scale: np.ndarray,
    upper: np.ndarray,
    rng: np.random.Generator | None = None,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Draw Weibull times and clip them at the censoring bound (as ``pm.Censored`` does)."""
    rng = np.random.default_rng() if rng is None else rng
    shape, log_scale, upper = np.broadcast_arrays(shape, log_scale, upper)
    if size is None:
        size = shape.shape
    # Prior predictive draws under vague priors reach scales beyond float range; inf is honest.
    with np.errstate(over="ignore"):
        draws = np.exp(log_scale) * rng.weibull(np.broadcast_to(shape, size))
    return np.minimum(draws, np.broadcast_to(upper, size))


def censored_weibull(
    name: str,
    *,
    shape: pt.TensorVariable,
    log_scale: pt.TensorVariable,
    upper: pt.TensorVariable,
    observed: pt.TensorVariable,
    dims: str | tuple[str, ...],
    likelihood: Likelihood,
) -> pt.TensorVariable:
    """Add the right-censored Weibull observed variable ``name`` to the current model.

    Parameters
    ----------
    name
        Name of the observed variable (``"ttp"`` in the TTP model).
    shape, log_scale
        Per-row Weibull shape and log scale.
    upper
        Per-row censoring bound (``t`` when censored, ``inf`` when the event was observed).
    observed
        Per-row durations (a ``pm.Data`` so the model can be refitted on new data).
    dims
        Dims of the rows.
    likelihood
        ``"censored"`` (``pm.Censored``) or ``"logspace"`` (``pm.CustomDist``, faster gradient).
    """
    if likelihood == "censored":
        base = pm.Weibull.dist(alpha=shape, beta=pt.exp(log_scale))
        return pm.Censored(name, base, lower=None, upper=upper, observed=observed, dims=dims)
    if likelihood == "logspace":
        return pm.CustomDist(
            name,
            shape,
            log_scale,
            upper,
            logp=censored_weibull_logp,
            random=censored_weibull_random,
            observed=observed,
            dims=dims,
        )
    raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {LIKELIHOODS}")


def weibull_log_median(shape: pt.TensorLike, log_scale: pt.TensorLike) -> pt.TensorVariable:
    """``log(lambda (log 2)^(1/k)) = log lambda + log(log 2) / k``."""
    return log_scale + LOG_LOG2 / shape


def log_median_se(lower: np.ndarray, upper: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Standard error of a log median from its confidence interval.

    ``se = (log upper - log lower) / (2 z)`` with ``z`` the two-sided normal quantile of
    ``level`` (1.959964 for 95%). Assumes the interval is symmetric on the log scale.
    """
    z = Z_975 if level == 0.95 else float(norm.ppf(0.5 + level / 2))
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    return (np.log(upper) - np.log(lower)) / (2.0 * z)

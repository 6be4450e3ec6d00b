"""Checks every survival distribution of the TTP model must pass (``models/survival``).

A distribution's test module calls :func:`check_distribution` with a SciPy reference of the same
distribution at hand-picked parameters: the NumPy log density and log survival, the PyTensor
censored log density (events and censored rows), its gradient against finite differences, the
median and quantiles, the restricted mean against numerical integration of the reference's
survival function, and the random draws against the survival function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
from scipy import integrate, stats

from rechallenge.models.survival import SurvivalDistribution

#: Times (months) at which densities and survival functions are compared.
TIMES = np.array([0.05, 0.4, 1.0, 2.5, 6.0, 13.0, 31.0])


def check_distribution(dist: SurvivalDistribution, loc: float, params: Sequence[float],
                       reference: Callable[[], stats.rv_continuous], *,
                       rtol: float = 1e-7) -> None:
    """Compare ``dist`` at ``(loc, params)`` with ``reference()`` (a frozen SciPy distribution
    of the same law) in every way listed in the module docstring; raise AssertionError."""
    ref = reference()
    pars = tuple(np.asarray(p, dtype=float) for p in params)
    np.testing.assert_allclose(dist.log_density(TIMES, np.float64(loc), pars), ref.logpdf(TIMES),
                               rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(dist.log_survival(TIMES, np.float64(loc), pars), ref.logsf(TIMES),
                               rtol=rtol, atol=1e-10)
    # The model's graph: events below their bound use the density, rows at their bound the
    # survival function.
    fn, grad = _compiled(dist, tuple(np.shape(p) for p in pars))
    events = fn(TIMES, loc, np.full(TIMES.shape, np.inf), *pars)
    censored = fn(TIMES, loc, TIMES, *pars)
    np.testing.assert_allclose(events, ref.logpdf(TIMES), rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(censored, ref.logsf(TIMES), rtol=rtol, atol=1e-10)
    # Gradient with respect to the location and each parameter, against central differences.
    mixed = np.where(np.arange(TIMES.size) % 2 == 0, np.inf, TIMES)
    analytic = grad(TIMES, loc, mixed, *pars)
    point = [np.float64(loc), *pars]
    for k in range(len(point)):
        flat = np.atleast_1d(np.asarray(point[k], dtype=float))
        numeric = np.zeros_like(flat)
        for j in range(flat.size):
            up, down = flat.copy(), flat.copy()
            up[j] += 1e-6
            down[j] -= 1e-6
            numeric[j] = (fn(TIMES, *_at(point, k, up, mixed)).sum()
                          - fn(TIMES, *_at(point, k, down, mixed)).sum()) / 2e-6
        np.testing.assert_allclose(np.atleast_1d(analytic[k]), numeric, rtol=1e-4, atol=1e-6)
    # Median and quantiles, the closed form or the bisection against the reference.
    np.testing.assert_allclose(dist.median(np.float64(loc), pars), ref.median(), rtol=1e-6)
    for s in (0.9, 0.25):
        np.testing.assert_allclose(dist.quantile(s, np.float64(loc), pars), ref.isf(s), rtol=1e-6)
    # Restricted mean to 12 and 24 months against quad of the reference's survival function.
    for horizon in (12.0, 24.0):
        expected = integrate.quad(ref.sf, 0.0, horizon, limit=200)[0]
        np.testing.assert_allclose(dist.restricted_mean(horizon, np.float64(loc), pars),
                                   expected, rtol=1e-5)
    # Draws follow the survival function (Kolmogorov-Smirnov, seeded).
    draws = dist.random(np.full(4000, loc), tuple(np.broadcast_to(p, (4000, *np.shape(p)))
                                                    for p in pars), np.random.default_rng(1))
    assert stats.kstest(draws, ref.cdf).pvalue > 1e-3


#: Compiled functions by (distribution class, settings, parameter shapes).
_COMPILED: dict[tuple[type, str, tuple[tuple[int, ...], ...]], tuple[Any, Any]] = {}


def _compiled(dist: SurvivalDistribution, shapes: tuple[tuple[int, ...], ...]) -> tuple[Any, Any]:
    """The censored log density of ``dist`` and its gradient (location and parameters) as
    compiled functions of (times, loc, bounds, *parameters): compiled once per distribution
    (its settings) and parameter shapes, since a compilation takes seconds.
    """
    key = (type(dist), repr(dist.settings()), shapes)
    if key not in _COMPILED:
        _COMPILED[key] = _compile(dist, shapes)
    return _COMPILED[key]


def _compile(dist: SurvivalDistribution, shapes: tuple[tuple[int, ...], ...]) -> tuple[Any, Any]:
    value, locs = pt.dvector("t"), pt.dscalar("loc")
    upper = pt.dvector("upper")
    params = [pt.tensor(f"p{i}", shape=shape, dtype="float64") for i, shape in enumerate(shapes)]
    logp = dist.censored_logp(value, locs, *params, upper=upper)
    inputs = [value, locs, upper, *params]
    return (pytensor.function(inputs, logp),
            pytensor.function(inputs, pytensor.grad(logp.sum(), [locs, *params])))


def _at(point: list, k: int, value: np.ndarray, upper: np.ndarray) -> list:
    """Arguments of the compiled log density with the ``k``-th of ``point`` replaced."""
    moved = list(point)
    moved[k] = value.reshape(np.shape(point[k])) if np.ndim(point[k]) else value[0]
    return [moved[0], upper, *moved[1:]]

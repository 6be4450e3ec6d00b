"""The log-normal distribution of the TTP model against SciPy's ``lognorm``."""

from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import special, stats
from survival_checks import check_distribution

from rechallenge.models.survival import survival_distribution
from rechallenge.models.survival.lognormal import log_normal_sf


@pytest.mark.parametrize(("loc", "sigma"), [
    (math.log(5.0), 1.0),
    (math.log(6.0), 0.15),  # small sigma: log S reaches -600 at 31 months, log f -500 at 0.05
    (2.5, 2.6),  # heavy tail: a median of 12 months, the 90% quantile beyond 300
])
def test_lognormal_matches_scipy(loc: float, sigma: float) -> None:
    check_distribution(survival_distribution("lognormal"), loc, [sigma],
                       lambda: stats.lognorm(s=sigma, scale=math.exp(loc)))


@pytest.mark.parametrize("mode", [None, "NUMBA", "JAX"])
def test_the_log_survival_graph_is_right_far_in_both_tails_on_every_backend(mode) -> None:
    # The JAX backend is the "jax" sampler's: it has no erfcx (PyMC's normal log cdf) without
    # tfp-nightly, which is why log_normal_sf uses erfc and an asymptotic series.
    if mode is not None:
        pytest.importorskip(mode.lower())
    z = pt.dvector("z")
    log_s = log_normal_sf(z)
    fn = pytensor.function([z], [log_s, pytensor.grad(log_s.sum(), z)], mode=mode)
    points = np.array([-60.0, -40.0, -38.5, -5.0, -1.0, 0.0, 1.0, 1.0 + 1e-12, 5.0, 29.99, 30.0,
                       30.01, 37.6, 38.5, 40.0, 60.0, 1e3])
    value, grad = fn(points)
    np.testing.assert_allclose(value, special.log_ndtr(-points), rtol=1e-12, atol=1e-300)
    # d log Phi(-z) / dz = -phi(z) / Phi(-z), written through the log densities.
    expected = -np.exp(stats.norm.logpdf(points) - special.log_ndtr(-points))
    np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-300)  # XLA flushes subnormals


def test_the_median_graph_is_the_location() -> None:
    dist = survival_distribution("lognormal")
    loc = np.array([0.3, 1.7])
    graph = dist.log_median_tensor(pt.as_tensor(loc), pt.as_tensor(np.array([0.4, 2.0])))
    assert graph is not None
    np.testing.assert_allclose(graph.eval(), np.log(dist.median(loc, (np.array([0.4, 2.0]),))))

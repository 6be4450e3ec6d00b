"""The log-logistic distribution of the TTP model against SciPy's ``fisk``."""

from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats
from survival_checks import check_distribution

from rechallenge.models.survival import survival_distribution


@pytest.mark.parametrize(("loc", "shape"), [
    (math.log(5.0), 1.5),
    (math.log(4.0), 9.0),  # large shape: near-deterministic times, log S of -180 at 31 months
    (2.0, 0.6),  # heavy tail (beta < 1: no finite mean), a hazard falling from the start
])
def test_loglogistic_matches_scipy(loc: float, shape: float) -> None:
    check_distribution(survival_distribution("loglogistic"), loc, [shape],
                       lambda: stats.fisk(c=shape, scale=math.exp(loc)))


def test_far_censored_rows_stay_finite() -> None:
    # z = beta (log t - loc) of -700 and 800: log(1 + exp(z)) rounds the first to 0 and
    # overflows on the second.
    dist = survival_distribution("loglogistic")
    t, loc, shape = pt.dvector("t"), pt.dscalar("loc"), pt.dscalar("shape")
    logp = dist.censored_logp(t, loc, shape, upper=t)
    fn = pytensor.function([t, loc, shape], [logp, *pytensor.grad(logp.sum(), [loc, shape])])
    value, d_loc, d_shape = fn(np.exp([-70.0, 80.0]), 0.0, 10.0)
    np.testing.assert_allclose(value, [-np.exp(-700.0), -800.0], rtol=1e-12)
    # d log S / d loc = beta sigmoid(z): 0 and 10; d log S / d beta = -sigmoid(z) log t: 0, -80.
    np.testing.assert_allclose([d_loc, d_shape], [10.0, -80.0], rtol=1e-12)


def test_the_median_graph_is_the_location() -> None:
    dist = survival_distribution("loglogistic")
    loc, shape = np.array([0.3, 1.7]), np.array([0.5, 4.0])
    graph = dist.log_median_tensor(pt.as_tensor(loc), pt.as_tensor(shape))
    assert graph is not None
    np.testing.assert_allclose(graph.eval(), np.log(dist.median(loc, (shape,))))

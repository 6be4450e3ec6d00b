"""The Weibull distribution of the TTP model against SciPy's ``weibull_min``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from survival_checks import check_distribution

from rechallenge.models.survival import survival_distribution


@pytest.mark.parametrize(("loc", "shape"), [(math.log(6.0), 1.0), (1.2, 0.6), (2.4, 2.3)])
def test_weibull_matches_scipy(loc: float, shape: float) -> None:
    check_distribution(survival_distribution("weibull"), loc, [shape],
                       lambda: stats.weibull_min(c=shape, scale=math.exp(loc)))


def test_the_bisection_quantile_agrees_with_the_weibull_closed_form() -> None:
    dist = survival_distribution("weibull")
    loc, shape = np.array([0.5, 1.8, 3.0]), (np.array([0.7, 1.0, 1.9]),)
    closed = dist.quantile(0.3, loc, shape)
    bisected = type(dist).__mro__[1].quantile(dist, 0.3, loc, shape)  # the base class's default
    np.testing.assert_allclose(bisected, closed, rtol=1e-9)


def test_an_unknown_name_lists_the_distributions() -> None:
    with pytest.raises(ValueError, match="weibull"):
        survival_distribution("weibul")

"""The Gompertz distribution of the TTP model against SciPy's ``gompertz`` (``a > 0``) and a
hand-written reference of any sign (``a < 0``: a defective distribution with a plateau)."""

from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import integrate, stats
from survival_checks import TIMES, check_distribution

from rechallenge.models.survival import survival_distribution


class _AnySign(stats.rv_continuous):
    """Hazard ``rate exp(accel t)`` for either sign of ``accel`` (not 0), written directly from
    ``H(t) = rate (exp(accel t) - 1) / accel``; for ``accel < 0`` its cdf stops at
    ``1 - exp(rate / accel)``, which SciPy's generic quantiles handle below that level."""

    def _argcheck(self, rate: np.ndarray, accel: np.ndarray) -> np.ndarray:
        return (rate > 0) & (accel != 0) & np.isfinite(accel)

    def _logsf(self, x, rate, accel):
        return -rate * np.expm1(accel * x) / accel

    def _sf(self, x, rate, accel):
        return np.exp(self._logsf(x, rate, accel))

    def _cdf(self, x, rate, accel):
        return -np.expm1(self._logsf(x, rate, accel))

    def _logpdf(self, x, rate, accel):
        return np.log(rate) + accel * x + self._logsf(x, rate, accel)

    def _pdf(self, x, rate, accel):
        return np.exp(self._logpdf(x, rate, accel))


ANY_SIGN = _AnySign(a=0.0, name="gompertz_any_sign")


def _scipy(loc: float, a: float) -> stats.rv_continuous:
    """SciPy's Gompertz, ``S(x) = exp(-c (exp(x / scale) - 1))``: ``c = b / a``, ``scale = 1/a``."""
    return stats.gompertz(c=math.exp(loc) / a, scale=1.0 / a)


@pytest.mark.parametrize(("loc", "a", "reference"), [
    (math.log(0.1), 0.05, _scipy),  # a hazard doubling in 14 months: median 6 months
    (math.log(0.02), 0.3, _scipy),  # steep: log S of -700 at 31 months
    (math.log(0.15), 1e-9, _scipy),  # near exponential; the gradient's differences cross a = 0
    (math.log(0.15), -1e-9, lambda loc, a: ANY_SIGN(math.exp(loc), a)),
    # a < 0 with a plateau of 0.0013 only: check_distribution's KS test cannot handle a mass at
    # infinity (the draws past the plateau are inf), see the plateau test below.
    (math.log(0.2), -0.03, lambda loc, a: ANY_SIGN(math.exp(loc), a)),
])
def test_gompertz_matches_the_reference(loc: float, a: float, reference) -> None:
    check_distribution(survival_distribution("gompertz"), loc, [a], lambda: reference(loc, a))


def test_a_plateau_below_one_half_has_a_median_and_inf_quantiles_beneath_it() -> None:
    dist = survival_distribution("gompertz")
    loc, a = math.log(0.16), np.float64(-0.1)
    plateau = math.exp(0.16 / -0.1)  # 0.20
    ref = ANY_SIGN(0.16, -0.1)
    np.testing.assert_allclose(dist.log_survival(TIMES, np.float64(loc), (a,)), ref.logsf(TIMES),
                               rtol=1e-12)
    np.testing.assert_allclose(dist.log_density(TIMES, np.float64(loc), (a,)), ref.logpdf(TIMES),
                               rtol=1e-12)
    np.testing.assert_allclose(dist.log_survival(np.array([1e4]), np.float64(loc), (a,)),
                               math.log(plateau), rtol=1e-12)
    np.testing.assert_allclose(dist.median(np.float64(loc), (a,)), ref.median(), rtol=1e-9)
    np.testing.assert_allclose(dist.median(np.float64(loc), (a,)), math.log(1 - 0.1 * math.log(2) / 0.16) / -0.1)
    np.testing.assert_allclose(dist.quantile(0.25, np.float64(loc), (a,)), ref.isf(0.25), rtol=1e-9)
    assert dist.quantile(0.2, np.float64(loc), (a,)) == np.inf  # just below the plateau, 0.2019
    assert dist.quantile(0.1, np.float64(loc), (a,)) == np.inf
    for horizon in (12.0, 24.0):
        np.testing.assert_allclose(dist.restricted_mean(horizon, np.float64(loc), (a,)),
                                   integrate.quad(ref.sf, 0.0, horizon)[0], rtol=1e-6)
    # Draws: a fraction ``plateau`` never progresses (inf), the rest follow the conditional law.
    n = 20000
    draws = dist.random(np.full(n, loc), (np.full(n, a),), np.random.default_rng(2))
    never = np.isinf(draws)
    assert abs(never.mean() - plateau) < 4 * math.sqrt(plateau * (1 - plateau) / n)
    assert stats.kstest(draws[~never], lambda t: ref.cdf(t) / (1 - plateau)).pvalue > 1e-3


def test_a_plateau_above_one_half_means_an_infinite_median() -> None:
    dist = survival_distribution("gompertz")
    loc = np.array([math.log(0.05), math.log(0.16), math.log(0.1), math.log(0.1)])
    a = np.array([-0.1, -0.1, 0.1 / math.log(0.51), 0.0])  # plateaus 0.61, 0.20, 0.51, none
    median = dist.median(loc, (a,))
    assert median[0] == np.inf and median[2] == np.inf and np.isfinite(median[[1, 3]]).all()
    np.testing.assert_allclose(median[3], math.log(2) / 0.1)  # a = 0: the exponential's
    # The graph's log median: the same, +inf where the median does not exist, with a finite
    # (zero) gradient there so that the model sees -inf for a reported median, never nan.
    locs, shapes = pt.dvector("loc"), pt.dvector("a")
    log_median = dist.log_median_tensor(locs, shapes)
    assert log_median is not None
    finite = pt.switch(pt.isinf(log_median), 0.0, log_median).sum()
    fn = pytensor.function([locs, shapes], [log_median, *pytensor.grad(finite, [locs, shapes])])
    value, d_loc, d_a = fn(loc, a)
    np.testing.assert_allclose(value, np.log(median), rtol=1e-12)
    assert np.isfinite(d_loc).all() and np.isfinite(d_a).all()
    np.testing.assert_array_equal(d_loc[[0, 2]], 0.0)


@pytest.mark.parametrize("a", [0.0, 1e-9, -1e-9, 3e-7, 1e-6, -1e-6])
def test_the_gradient_in_a_is_finite_and_right_near_zero(a: float) -> None:
    # x = a t crosses the series switch (|x| = 1e-5) for a = +-1e-6. There d/da of
    # H = b t g(a t), g(x) = expm1(x) / x, is b t^2 (1/2 + x/3 + x^2/8 + ...), and
    # d log f / da adds t.
    dist = survival_distribution("gompertz")
    t, loc, shape = pt.dvector("t"), pt.dscalar("loc"), pt.dscalar("a")
    upper = np.where(np.arange(TIMES.size) % 2 == 0, np.inf, TIMES)
    logp = dist.censored_logp(t, loc, shape, upper=pt.as_tensor(upper))
    fn = pytensor.function([t, loc, shape], pytensor.grad(logp.sum(), [loc, shape]))
    b = 0.15
    d_loc, d_a = fn(TIMES, math.log(b), a)
    x = a * TIMES
    event = np.isinf(upper)
    expected_a = np.sum(event * TIMES - b * TIMES**2 * (0.5 + x / 3 + x**2 / 8))
    expected_loc = np.sum(event - b * TIMES * (1 + x / 2 + x**2 / 6))
    np.testing.assert_allclose([d_loc, d_a], [expected_loc, expected_a], rtol=1e-10)

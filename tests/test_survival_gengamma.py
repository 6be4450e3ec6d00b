"""The generalised gamma distribution of the TTP model against SciPy's ``gengamma``.

SciPy: ``gengamma(a = Q^-2, c = Q / sigma, scale = exp(loc) (Q^2)^(sigma / Q))``; ``Q^2`` rather
than the ``Q`` of ``Q^(2 sigma / Q)``, which is NaN for ``Q < 0``. The points cover both sides of
the small-``|Q|`` threshold (0.15), both signs of ``Q``, ``k = Q^-2 = 25`` (where PyTensor's
gradient of ``gammaincc`` is wrong) and ``k = 204`` (where it is NaN).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats
from survival_checks import TIMES, check_distribution

from rechallenge.models.survival import DISTRIBUTIONS, GeneralisedGamma, survival_distribution
from rechallenge.models.survival.gengamma import _H, SMALL_Q, _regimes

# Slow tier: the incomplete-gamma gradient graphs take seconds each to compile (tens of seconds
# under numba), and these checks compile dozens.
pytestmark = pytest.mark.slow


def scipy_gengamma(loc: float, sigma: float, q: float) -> stats.rv_continuous:
    return stats.gengamma(a=q**-2, c=q / sigma, scale=math.exp(loc) * (q * q) ** (sigma / q))


@pytest.mark.parametrize(("loc", "sigma", "q"), [
    (math.log(6.0), 1.0, -1.2),
    (1.2, 0.6, -0.3),
    (2.4, 1.7, -0.151),  # just outside the threshold: gammainc
    (math.log(6.0), 0.8, -0.149),  # just inside: Temme's series
    (1.5, 1.3, 0.07),  # k = 204: gammaincc's gradient would be NaN
    (math.log(6.0), 1.0, 0.149),
    (2.0, 0.7, 0.151),
    (1.0, 1.1, 0.2),  # k = 25: gammaincc's gradient would be 10% off
    (math.log(6.0), 1.0, 0.5),
    (2.4, 0.45, 1.0),
    (1.2, 1.6, 2.0),
])
def test_gengamma_matches_scipy(loc: float, sigma: float, q: float) -> None:
    check_distribution(DISTRIBUTIONS["gengamma"], loc, [sigma, q],
                       lambda: scipy_gengamma(loc, sigma, q))


@pytest.mark.parametrize("q", [0.0, 1e-9, -1e-9])
def test_q_to_zero_is_scipy_lognormal(q: float) -> None:
    loc, sigma = math.log(5.0), 0.9
    check_distribution(GeneralisedGamma(), loc, [sigma, q],
                       lambda: stats.lognorm(s=sigma, scale=math.exp(loc)))


def test_q_one_is_the_weibull_with_shape_one_over_sigma() -> None:
    dist, weibull = GeneralisedGamma(), survival_distribution("weibull")
    loc, sigma = np.array([1.1, 2.0, 2.7]), np.array([0.4, 1.0, 1.8])
    t = np.concatenate([TIMES, [80.0, 200.0]])[:, None]  # far in the tail: log S to -36000
    ours, theirs = (sigma, np.ones(3)), (1.0 / sigma,)
    np.testing.assert_allclose(dist.log_survival(t, loc, ours), weibull.log_survival(t, loc, theirs),
                               rtol=1e-12)
    np.testing.assert_allclose(dist.log_density(t, loc, ours), weibull.log_density(t, loc, theirs),
                               rtol=1e-12)
    for s in (0.9, 0.5, 0.1):
        np.testing.assert_allclose(dist.quantile(s, loc, ours), weibull.quantile(s, loc, theirs),
                                   rtol=1e-12)
    # The graphs and their gradients, for events and censored rows.
    value, locs, upper, sigmas = (pt.dvector(n) for n in ("t", "loc", "upper", "sigma"))
    graphs = [dist.censored_logp(value, locs, sigmas, pt.ones_like(sigmas), upper=upper),
              weibull.censored_logp(value, locs, 1.0 / sigmas, upper=upper)]
    fn = pytensor.function([value, locs, upper, sigmas],
                           [*graphs, *(g for graph in graphs
                                       for g in pytensor.grad(graph.sum(), [locs, sigmas]))])
    rows = np.repeat(t[:, 0], 3)
    bound = np.where(np.arange(rows.size) % 2 == 0, np.inf, rows)
    ours_logp, theirs_logp, *grads = fn(rows, np.tile(loc, t.shape[0]), bound,
                                        np.tile(sigma, t.shape[0]))
    np.testing.assert_allclose(ours_logp, theirs_logp, rtol=1e-10)
    np.testing.assert_allclose(grads[0], grads[2], rtol=1e-8)
    np.testing.assert_allclose(grads[1], grads[3], rtol=1e-8)


@functools.cache
def log_survival_graph():
    """``(t, loc, sigma, Q) -> (log S(t), d/dloc, d/dsigma, d/dQ)`` elementwise (censored rows);
    compiled once for the module's tests (a compilation takes seconds).
    """
    value, locs, sigma, q = (pt.dvector(n) for n in ("t", "loc", "s", "q"))
    log_s = GeneralisedGamma().censored_logp(value, locs, sigma, q, upper=value)
    fn = pytensor.function([value, locs, sigma, q],
                           [log_s, *pytensor.grad(log_s.sum(), [locs, sigma, q])])
    return lambda t, loc, sigma, q: fn(*np.broadcast_arrays(np.asarray(t, dtype=float), loc,
                                                            sigma, q))


def test_the_small_q_series_is_accurate_far_into_both_tails() -> None:
    # |w| <= 10: log S from -1e-23 to -54; the series and gammainc agree with SciPy to 1e-10.
    dist, graph = GeneralisedGamma(), log_survival_graph()
    w = np.linspace(-10.0, 10.0, 81)
    for q in (-0.149, -0.05, -0.02, 0.02, 0.05, 0.149, 0.151):
        t = np.exp(w)  # loc = 0, sigma = 1
        expected = scipy_gengamma(0.0, 1.0, q).logsf(t)
        np.testing.assert_allclose(dist.log_survival(t, 0.0, (1.0, q)), expected, rtol=1e-10,
                                   atol=1e-300)
        np.testing.assert_allclose(graph(t, 0.0, 1.0, q)[0], expected, rtol=1e-10, atol=1e-300)


def test_value_and_gradient_are_continuous_at_the_threshold() -> None:
    graph = log_survival_graph()
    t = np.array([0.05, 0.5, 3.0, 12.0, 60.0, 400.0])
    for q in (SMALL_Q, -SMALL_Q):
        inside, outside = (graph(t, 1.7, 0.9, q * (1 + side * 1e-12)) for side in (-1, 1))
        np.testing.assert_allclose(inside[0], outside[0], rtol=1e-10)
        for a, b in zip(inside[1:], outside[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("q", [-2.0, -0.5, -0.149, -0.01, 0.01, 0.149, 0.3, 0.5, 1.0, 2.0])
def test_the_tail_series_meet_the_middle_smoothly(q: float) -> None:
    # Where the regime of a row changes (the series' error bound crosses 1e-14): value and
    # gradient on both sides.
    graph = log_survival_graph()
    w = np.linspace(-12.0, 12.0, 4801) / abs(q)  # x = Q w from -12 to 12
    upper, lower, _ = _regimes(q * w, np.full(w.shape, q), np)
    regime = upper + 2 * lower
    changes = np.flatnonzero(np.diff(regime))
    assert changes.size >= 2
    for i in changes:
        lo, hi = w[i], w[i + 1]
        for _ in range(60):  # bisect to the boundary
            mid = 0.5 * (lo + hi)
            same = (_regimes(np.array([q * mid]), np.array([q]), np)[0][0] * 1
                    + 2 * _regimes(np.array([q * mid]), np.array([q]), np)[1][0]) == regime[i]
            lo, hi = (mid, hi) if same else (lo, mid)
        value, *grads = graph(np.exp(np.array([lo, hi])), 0.0, 1.0, q)  # loc = 0, sigma = 1
        assert np.all(np.isfinite(value))
        np.testing.assert_allclose(value[0], value[1], rtol=1e-10, atol=1e-12)
        for g in grads:
            np.testing.assert_allclose(g[0], g[1], rtol=1e-6, atol=1e-10)


def test_far_tails_are_finite_with_the_right_gradient() -> None:
    # Censored rows where S is below 1e-300 (a Weibull's log S = -exp(z) to -e^50) or within
    # 1e-300 of 1: finite log S, equal in the graph and NumPy, gradient as finite differences.
    dist, graph = GeneralisedGamma(), log_survival_graph()
    t = np.exp(np.array([-60.0, -25.0, -8.0, 8.0, 25.0, 60.0]))
    for q in (-1.5, -0.05, 0.0, 0.05, 1.0, 2.5):
        value, *grads = graph(t, 0.0, 1.2, q)
        assert np.all(np.isfinite(value)) and all(np.all(np.isfinite(g)) for g in grads)
        np.testing.assert_allclose(value, dist.log_survival(t, 0.0, (1.2, q)), rtol=1e-12)
        for k in range(3):
            step = np.zeros(3)
            step[k] = 1e-6
            up, down = (graph(t, *(np.array([0.0, 1.2, q]) + sign * step))[0] for sign in (1, -1))
            np.testing.assert_allclose(grads[k], (up - down) / 2e-6, rtol=1e-5, atol=1e-8)


def test_the_temme_coefficients_are_the_series_reversion() -> None:
    # x(eta) with eta^2 / 2 = e^x - 1 - x, i.e. eta = x s(x), s = sqrt(2 (e^x - 1 - x) / x^2);
    # h = dx / deta. Exact rationals, by fixed-point iteration x = eta / s(x).
    n = len(_H) + 2

    def mul(a: list[Fraction], b: list[Fraction]) -> list[Fraction]:
        return [sum((a[i] * b[k - i] for i in range(k + 1)), Fraction(0)) for k in range(n)]

    inner = [Fraction(1)] + [Fraction(2, math.factorial(j + 2)) for j in range(1, n)]
    s = [Fraction(1)] + [Fraction(0)] * (n - 1)
    for k in range(1, n):
        s[k] = (inner[k] - sum((s[i] * s[k - i] for i in range(1, k)), Fraction(0))) / 2
    s_inv = [Fraction(1)] + [Fraction(0)] * (n - 1)
    for k in range(1, n):
        s_inv[k] = -sum((s[i] * s_inv[k - i] for i in range(1, k + 1)), Fraction(0))
    x = [Fraction(0), Fraction(1)] + [Fraction(0)] * (n - 2)
    for _ in range(n):
        composed, power = [Fraction(0)] * n, [Fraction(1)] + [Fraction(0)] * (n - 1)
        for coefficient in s_inv:
            composed = [c + coefficient * p for c, p in zip(composed, power)]
            power = mul(power, x)
        x = [Fraction(0)] + composed[:n - 1]
    h = [(m + 1) * x[m + 1] for m in range(1, len(_H) + 1)]
    assert h[:5] == [Fraction(-1, 3), Fraction(1, 12), Fraction(-2, 135), Fraction(1, 864),
                     Fraction(1, 2835)]
    np.testing.assert_allclose(_H, [float(c) for c in h], rtol=1e-15)


def test_quantiles_and_draws_near_zero_q() -> None:
    dist = GeneralisedGamma()
    loc, sigma = np.array([1.0, 1.0, 1.0, 2.0]), np.array([0.7, 0.7, 0.7, 1.2])
    q = np.array([0.0, 0.05, -0.08, 0.6])  # Newton's method for the first three
    for s in (0.99, 0.5, 1e-6):
        t = dist.quantile(s, loc, (sigma, q))
        np.testing.assert_allclose(dist.log_survival(t, loc, (sigma, q)), math.log(s), rtol=1e-10)
    draws = dist.random(np.full((3000, 4), loc), (sigma, q), np.random.default_rng(3))
    for j in range(4):
        ref = (stats.lognorm(s=0.7, scale=math.e) if q[j] == 0
               else scipy_gengamma(loc[j], sigma[j], q[j]))
        assert stats.kstest(draws[:, j], ref.cdf).pvalue > 1e-3


@pytest.mark.parametrize("mode", ["NUMBA", "JAX"])
def test_the_graph_compiles_on_every_backend(mode: str) -> None:
    # nutpie compiles the model with numba and differentiates with PyTensor; the "jax" sampler
    # compiles the log density alone and differentiates it with JAX.
    pytest.importorskip(mode.lower())
    dist = GeneralisedGamma()
    value, locs, upper, sigma, q = (pt.dvector(n) for n in ("t", "loc", "upper", "s", "q"))
    logp = dist.censored_logp(value, locs, sigma, q, upper=upper)
    qs = np.array([-1.2, -0.3, -0.1, -0.05, 0.0, 0.05, 0.0999, 0.1, 0.5, 1.0, 2.0, 1.0])
    t = np.array([0.05, 0.4, 1.0, 2.5, 6.0, 13.0, 31.0, 80.0, 200.0, 3.0, 0.01, 500.0])
    args = (t, np.full(t.size, 1.8), np.where(np.arange(t.size) % 2 == 0, np.inf, t),
            np.full(t.size, 0.8), qs)
    wrt = [locs, sigma, q]
    expected = pytensor.function([value, locs, upper, sigma, q],
                                 [logp, *pytensor.grad(logp.sum(), wrt)])(*args)
    if mode == "NUMBA":
        got = pytensor.function([value, locs, upper, sigma, q],
                                [logp, *pytensor.grad(logp.sum(), wrt)], mode=mode)(*args)
    else:
        import jax
        from pymc.sampling.jax import get_jaxified_graph

        jax.config.update("jax_enable_x64", True)
        fn = get_jaxified_graph(inputs=[value, locs, upper, sigma, q], outputs=[logp])
        total = lambda a, b, c: fn(args[0], a, args[2], b, c)[0].sum()  # noqa: E731
        got = [fn(*args)[0], *jax.grad(total, argnums=(0, 1, 2))(*args[1:2], *args[3:])]
    for a, b in zip(got, expected):
        assert np.all(np.isfinite(np.asarray(a)))
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5)


def test_the_observed_variable_in_a_pymc_model() -> None:
    dist = GeneralisedGamma()
    durations = np.array([0.7, 2.2, 3.1, 5.0, 9.5, 14.0, 1.1, 6.5])
    events = np.array([1, 1, 0, 1, 0, 1, 1, 0])
    lines = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    upper = np.where(events == 1, np.inf, durations)
    priors = {"sigma_log_sd": 0.5, "q_mean": 0.5, "q_sd": 1.0}
    for shared in (False, True):
        with pm.Model(coords={"line": ["ICI-1", "ICI-2"], "obs": np.arange(8)}) as model:
            mu = pm.Normal("mu", 1.5, 1.0, dims="line")
            sigma, q = dist.shape_variables(priors, 2, shared=shared, line_dim="line")
            dist.observed("ttp", loc=mu[lines], params=[sigma[lines], q[lines]],
                          upper=pt.as_tensor(upper), observed=durations, dims="obs")
        assert {"log_sigma", "sigma", "Q"} <= set(model.named_vars)
        point = model.initial_point()
        assert np.all(point["Q"] == 0.5)  # the prior mean is the hyperparameter q_mean
        point["mu"], point["Q"] = np.array([1.4, 2.1]), (np.array(0.3) if shared
                                                         else np.array([-0.05, 1.2]))
        point["log_sigma"] = np.array(-0.2) if shared else np.array([0.1, -0.4])
        logp = model.compile_logp(vars=[model["ttp"]])(point)
        rows = (np.broadcast_to(np.exp(point["log_sigma"]), 2)[lines],
                np.broadcast_to(point["Q"], 2)[lines])
        loc = point["mu"][lines]
        expected = np.where(events == 1, dist.log_density(durations, loc, rows),
                            dist.log_survival(durations, loc, rows)).sum()
        np.testing.assert_allclose(logp, expected, rtol=1e-12)
        draws = pm.draw(model["ttp"], draws=5, random_seed=1)
        assert draws.shape == (5, 8) and np.all((draws > 0) & (draws <= upper))


def test_the_priors_name_their_hyperparameters() -> None:
    priors = GeneralisedGamma.priors
    assert set(priors) == {"mu_mean", "mu_sd", "sigma_log_sd", "q_mean", "q_sd"}
    assert not priors["q_mean"].positive and not priors["mu_mean"].positive
    # At the prior means (sigma = 1, Q = 0.5) the prior scale's median is 5.1 months.
    median = GeneralisedGamma().median(priors["mu_mean"].value, (1.0, priors["q_mean"].value))
    assert 5.0 < median < 5.2


def test_a_model_on_it_is_sampled_with_jax_where_nutpie_is_asked_for() -> None:
    from rechallenge.data.load import example_study
    from rechallenge.models.sampling import backend_for
    from rechallenge.models.ttp import build_ttp_model

    study = example_study()
    gengamma = build_ttp_model(study, distribution="gengamma")
    assert [backend_for(gengamma, b) for b in ("nutpie", "auto", "jax", "pymc")] == [
        "jax", "jax", "jax", "pymc"]
    weibull = build_ttp_model(study)
    assert [backend_for(weibull, b) for b in ("nutpie", "auto")] == ["nutpie", "nutpie"]

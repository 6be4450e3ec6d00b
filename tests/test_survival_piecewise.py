"""The piecewise exponential distribution of the TTP model.

SciPy has no piecewise exponential: the reference is a small ``rv_continuous`` written from first
principles (the hazard of each interval times the time spent in it), and SciPy's ``expon`` when
there is one interval.
"""

from __future__ import annotations

import math

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats
from survival_checks import TIMES, check_distribution

from rechallenge.models.survival import (
    DISTRIBUTIONS,
    PiecewiseExponential,
    SurvivalDistribution,
    survival_distribution,
)
from rechallenge.models.survival.piecewise import STEP_DIM


def reference(cuts: tuple[float, ...], loc: float, steps: list[float]) -> stats.rv_continuous:
    """Hazard ``exp(loc + step_1 + ... + step_j)`` on ``[c_j, c_(j+1))``."""
    starts, ends = (0.0, *cuts), (*cuts, math.inf)
    rates = [math.exp(loc + sum(steps[:j])) for j in range(len(starts))]

    class Piecewise(stats.rv_continuous):
        def _cum_hazard(self, x: np.ndarray) -> np.ndarray:
            total = np.zeros(np.shape(x))
            for start, end, rate in zip(starts, ends, rates):
                total = total + rate * np.clip(np.minimum(x, end) - start, 0.0, None)
            return total

        def _sf(self, x: np.ndarray) -> np.ndarray:
            return np.exp(-self._cum_hazard(x))

        def _cdf(self, x: np.ndarray) -> np.ndarray:
            return -np.expm1(-self._cum_hazard(x))

        def _pdf(self, x: np.ndarray) -> np.ndarray:
            rate = np.select([(x >= s) & (x < e) for s, e in zip(starts, ends)], rates)
            return rate * self._sf(x)

    return Piecewise(a=0.0, name="piecewise_reference")


CASES = [
    # cut at a time of TIMES (1.0): the hazard is right-continuous in both
    ((1.0, 3.0, 8.0, 20.0), -1.2, [-0.5, 0.3, 0.8, -1.0]),
    ((2.0, 5.5), math.log(math.log(2) / 5), [0.4, -0.7]),
    ((4.2,), -2.5, [1.1]),
]


@pytest.mark.parametrize(("cuts", "loc", "steps"), CASES)
def test_piecewise_matches_the_first_principles_reference(cuts, loc, steps) -> None:
    check_distribution(PiecewiseExponential(cuts), loc, [np.array(steps)],
                       lambda: reference(cuts, loc, steps))


def test_without_cut_points_it_is_scipy_exponential() -> None:
    loc = math.log(0.14)
    check_distribution(PiecewiseExponential(), loc, [np.zeros(0)],
                       lambda: stats.expon(scale=math.exp(-loc)))


def test_zero_steps_are_the_exponential() -> None:
    dist = PiecewiseExponential((2.0, 5.0))
    steps = (np.zeros(2),)
    np.testing.assert_allclose(dist.log_survival(TIMES, -1.5, steps), -np.exp(-1.5) * TIMES)
    np.testing.assert_allclose(dist.median(-1.5, steps), math.log(2) / math.exp(-1.5))


def test_the_density_is_minus_the_derivative_of_the_survival_function() -> None:
    dist, loc, steps = PiecewiseExponential((1.5, 4.0, 9.0)), -1.0, (np.array([0.6, -0.4, 0.9]),)
    t = np.array([0.3, 1.2, 2.0, 5.5, 8.0, 12.0, 25.0])  # none at a cut point
    h = 1e-5
    numeric = -(np.exp(dist.log_survival(t + h, loc, steps))
                - np.exp(dist.log_survival(t - h, loc, steps))) / (2 * h)
    np.testing.assert_allclose(np.exp(dist.log_density(t, loc, steps)), numeric, rtol=1e-7)


def test_closed_forms_agree_with_the_base_class_defaults() -> None:
    dist = PiecewiseExponential((1.5, 4.0, 9.0))
    loc = np.array([-2.0, -1.0, -0.3])
    steps = (np.array([[0.6, -0.4, 0.9], [0.0, 0.0, 0.0], [-1.0, 0.5, 0.2]]),)
    base = SurvivalDistribution
    for s in (0.9, 0.5, 0.05):
        np.testing.assert_allclose(dist.quantile(s, loc, steps),
                                   base.quantile(dist, s, loc, steps), rtol=1e-9)
    np.testing.assert_allclose(dist.restricted_mean(24.0, loc, steps),
                               base.restricted_mean(dist, 24.0, loc, steps, points=4001),
                               rtol=1e-6)


def test_cut_points_are_tertiles_of_event_times_rounded_to_a_tenth() -> None:
    durations = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 0.5, 30.0])
    events = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])  # the censored rows do not count
    dist = PiecewiseExponential.from_event_times(durations, events)
    assert dist.cuts == (3.7, 6.3)  # np.quantile(1..9, [1/3, 2/3]) = 3.667, 6.333
    assert PiecewiseExponential.from_event_times(durations, events, intervals=2).cuts == (5.0,)
    # ties: duplicate cuts dropped; no events or one interval: no cuts (the exponential)
    assert PiecewiseExponential.from_event_times([2.0] * 6, [1] * 6).cuts == (2.0,)
    assert PiecewiseExponential.from_event_times([2.0, 3.0], [0, 0]).cuts == ()
    assert PiecewiseExponential.from_event_times(durations, events, intervals=1).cuts == ()
    assert dist.fitted_to(durations, events).cuts == (3.7, 6.3)
    with pytest.raises(ValueError, match="at least 1"):
        PiecewiseExponential.from_event_times(durations, events, intervals=0)


def test_settings_rebuild_the_distribution_and_the_registry_has_no_cuts() -> None:
    assert DISTRIBUTIONS["piecewise"].cuts == ()
    dist = PiecewiseExponential((2.5, 6.0))
    rebuilt = survival_distribution("piecewise", dist.settings())
    assert isinstance(rebuilt, PiecewiseExponential)
    assert rebuilt.cuts == (2.5, 6.0)
    for bad in [(0.0, 2.0), (3.0, 2.0), (2.0, 2.0), (math.inf,), (-1.0,)]:
        with pytest.raises(ValueError, match="increasing"):
            PiecewiseExponential(bad)


DURATIONS = np.array([0.7, 2.2, 3.1, 5.0, 9.5, 14.0, 1.1, 6.5])
EVENTS = np.array([1, 1, 0, 1, 0, 1, 1, 0])
LINES = np.array([0, 1, 0, 1, 0, 1, 1, 0])


def tiny_model(dist: PiecewiseExponential, *, shared: bool) -> pm.Model:
    upper = np.where(EVENTS == 1, np.inf, DURATIONS)
    with pm.Model(coords={"line": ["ICI-1", "ICI-2"], "obs": np.arange(DURATIONS.size)}) as model:
        mu = pm.Normal("mu", -2.0, 1.0, dims="line")
        (steps,) = dist.shape_variables({"hazard_step_sd": 0.5}, 2, shared=shared,
                                        line_dim="line")
        dist.observed("ttp", loc=mu[LINES], params=[steps[LINES]], upper=pt.as_tensor(upper),
                      observed=DURATIONS, dims="obs")
    return model


@pytest.mark.parametrize(("cuts", "shared"), [((2.0, 6.0), False), ((2.0, 6.0), True),
                                               ((), False)])
def test_the_observed_variable_in_a_pymc_model(cuts, shared) -> None:
    dist = PiecewiseExponential(cuts)
    model = tiny_model(dist, shared=shared)
    point = model.initial_point()
    point["mu"] = np.array([-1.7, -2.4])
    steps = np.zeros((2, len(cuts)))
    if cuts:
        assert model.named_vars_to_dims["hazard_step"] == ((STEP_DIM,) if shared
                                                           else ("line", STEP_DIM))
        assert list(model.coords[STEP_DIM]) == ["2", "6"]
        steps = np.array([[0.5, -0.3], [0.5, -0.3]] if shared else [[0.5, -0.3], [-0.2, 0.8]])
        point["hazard_step"] = steps[0] if shared else steps
    else:
        assert "hazard_step" not in model.named_vars
    logp = model.compile_logp(vars=[model["ttp"]])(point)
    loc, rows = point["mu"][LINES], (steps[LINES],)
    expected = np.where(EVENTS == 1, dist.log_density(DURATIONS, loc, rows),
                        dist.log_survival(DURATIONS, loc, rows)).sum()
    np.testing.assert_allclose(logp, expected, rtol=1e-12)
    assert np.isfinite(model.compile_logp()(model.initial_point()))
    draws = pm.draw(model["ttp"], draws=5, random_seed=1)
    assert draws.shape == (5, DURATIONS.size)
    assert np.all((draws > 0) & (draws <= np.where(EVENTS == 1, np.inf, DURATIONS)))
    prior = pm.sample_prior_predictive(draws=5, model=model, random_seed=2)
    assert prior.prior_predictive["ttp"].shape == (1, 5, DURATIONS.size)


@pytest.mark.parametrize("mode", ["NUMBA", "JAX"])
def test_the_graph_compiles_on_every_backend(mode: str) -> None:
    # nutpie compiles the model with numba and differentiates with PyTensor; the "jax" sampler
    # compiles the log density alone and differentiates it with JAX.
    pytest.importorskip(mode.lower())
    dist = PiecewiseExponential((1.0, 3.0, 8.0))
    value, locs, upper = pt.dvector("t"), pt.dvector("loc"), pt.dvector("upper")
    steps = pt.dmatrix("steps")
    logp = dist.censored_logp(value, locs, steps, upper=upper)
    t = np.array([0.3, 1.0, 2.0, 5.0, 9.0, 40.0])
    args = (t, np.linspace(-2.5, -1.0, t.size), np.where(np.arange(t.size) % 2 == 0, np.inf, t),
            np.tile([0.4, -0.6, 1.1], (t.size, 1)))
    inputs = [value, locs, upper, steps]
    expected = pytensor.function(inputs, [logp, *pytensor.grad(logp.sum(), [locs, steps])])(*args)
    if mode == "NUMBA":
        got = pytensor.function(inputs, [logp, *pytensor.grad(logp.sum(), [locs, steps])],
                                mode=mode)(*args)
    else:
        import jax
        from pymc.sampling.jax import get_jaxified_graph

        jax.config.update("jax_enable_x64", True)
        fn = get_jaxified_graph(inputs=inputs, outputs=[logp])
        total = lambda a, b: fn(args[0], a, args[2], b)[0].sum()  # noqa: E731
        got = [fn(*args)[0], *jax.grad(total, argnums=(0, 1))(args[1], args[3])]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-10)


def test_the_averaged_curve_is_the_same_whatever_the_blocks(monkeypatch) -> None:
    from rechallenge.models.survival import Weibull, base

    rng = np.random.default_rng(3)
    times = np.array([0.0, 0.5, 3.0, 9.0, 30.0])
    nodes, weights = np.polynomial.hermite_e.hermegauss(12)
    weights = weights / weights.sum()
    loc, sd = rng.normal(1.5, 0.2, (3, 7)), np.abs(rng.normal(0.4, 0.1, (3, 7)))
    cases = [(Weibull(), (np.exp(rng.normal(0.2, 0.1, (3, 7))),)),
             (PiecewiseExponential((2.0, 6.0)), (rng.normal(0.0, 0.3, (3, 7, 2)),))]
    whole = [d.marginal_survival(times, loc, sd, p, nodes, weights) for d, p in cases]
    monkeypatch.setattr(base, "BLOCK_VALUES", 7)  # blocks of one element of loc
    for (dist, params), expected in zip(cases, whole):
        got = dist.marginal_survival(times, loc, sd, params, nodes, weights)
        assert got.shape == (3, 7, 5)
        np.testing.assert_array_equal(got, expected)
        assert np.all(got[..., 0] == 1.0) and np.all(np.diff(got, axis=-1) <= 0)

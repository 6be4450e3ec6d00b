"""Two-sample design: the posterior probability of a difference, boundary and OC (no sampling
of models; a seeded brute-force simulation checks the exact OC)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SEED
from scipy import integrate, special, stats

from rechallenge.analysis.design.beta_mixture import posterior, vague_prior
from rechallenge.analysis.design.two_sample import TwoSampleDesign, prob_difference_above
from rechallenge.analysis.map_prior import BetaMixture

MAP_AS = BetaMixture(weights=(0.6167463, 0.3832537), a=(19.1916387, 3.5278745),
                     b=(57.7779318, 9.3735980))
ROBUST_AS = MAP_AS.robustify(0.2)
TREAT = BetaMixture(weights=(1.0,), a=(0.5,), b=(1.0,))
N_SIM = 20_000


def _other_order(treatment: BetaMixture, control: BetaMixture, margin: float) -> float:
    """Integral over the treatment rate instead: P = int f_t(u) F_c(u - margin) du."""
    wt, at, bt = (np.asarray(v) for v in (treatment.weights, treatment.a, treatment.b))
    wc, ac, bc = (np.asarray(v) for v in (control.weights, control.a, control.b))

    def integrand(u: float) -> float:
        x = u - margin
        cdf_c = 0.0 if x <= 0 else 1.0 if x >= 1 else float(wc @ special.betainc(ac, bc, x))
        return float(wt @ stats.beta.pdf(u, at, bt)) * cdf_c

    lo, hi = max(0.0, margin), min(1.0, 1.0 + margin)
    total = sum(integrate.quad(integrand, a, b, epsabs=1e-13, epsrel=1e-12, limit=400)[0]
                for a, b in ((lo, (lo + hi) / 2), ((lo + hi) / 2, hi)))
    tail = 0.0 if hi >= 1 else float(wt @ stats.beta.sf(hi, at, bt))  # u > 1 + margin: F_c = 1
    return total + tail


@pytest.mark.parametrize("margin", [0.0, 0.15, -0.1])
@pytest.mark.parametrize(("y_c", "y_t"), [(1, 14), (3, 15), (6, 24), (0, 0)])
def test_probability_agrees_with_the_other_integration_order(margin: float, y_c: int,
                                                            y_t: int) -> None:
    post_t, post_c = posterior(TREAT, 24, y_t), posterior(ROBUST_AS, 6, y_c)
    assert prob_difference_above(post_t, post_c, margin) == pytest.approx(
        _other_order(post_t, post_c, margin), abs=1e-8)


def test_probability_agrees_with_monte_carlo() -> None:
    rng = np.random.default_rng(SEED)
    post_t, post_c = posterior(TREAT, 24, 14), posterior(ROBUST_AS, 6, 1)

    def draws(mix: BetaMixture, size: int) -> np.ndarray:
        k = rng.choice(len(mix.weights), p=mix.weights, size=size)
        return rng.beta(np.asarray(mix.a)[k], np.asarray(mix.b)[k])

    size = 400_000
    diff = draws(post_t, size) - draws(post_c, size)
    for margin in (0.0, 0.2, 0.4):
        p = prob_difference_above(post_t, post_c, margin)
        assert abs(np.mean(diff > margin) - p) < 4 * np.sqrt(p * (1 - p) / size) + 1e-12


@pytest.mark.parametrize(("p_c", "p_t"), [(0.25, 0.25), (0.25, 0.6), (0.5, 0.55)])
def test_oc_matches_brute_force_simulation(p_c: float, p_t: float) -> None:
    """Simulated trials, each decided by its own posterior probability, agree with the OC."""
    design = TwoSampleDesign(ROBUST_AS, TREAT, 6, 24, 0.0, 0.95)
    rng = np.random.default_rng(SEED)
    y_c, y_t = rng.binomial(6, p_c, N_SIM), rng.binomial(24, p_t, N_SIM)
    pairs, counts = np.unique(np.stack([y_c, y_t]), axis=1, return_counts=True)
    wins = sum(c for (a, b), c in zip(pairs.T, counts) if design.success(int(a), int(b)))
    exact = float(design.oc(p_c, p_t))
    assert abs(wins / N_SIM - exact) < 4 * np.sqrt(exact * (1 - exact) / N_SIM) + 1e-12


def test_boundary_is_the_decision_and_monotone() -> None:
    design = TwoSampleDesign(ROBUST_AS, vague_prior(), 8, 12, 0.05, 0.9)
    b = design.boundary
    assert np.all(np.diff(b) >= 0)
    for y_c in range(9):
        for y_t in range(13):
            assert design.success(y_c, y_t) == (y_t >= b[y_c])


def test_oc_non_decreasing_in_treatment_and_non_increasing_in_control() -> None:
    design = TwoSampleDesign(MAP_AS, TREAT, 6, 24, 0.0, 0.95)
    rates = np.linspace(0, 1, 101)
    by_treatment = design.oc(0.25, rates)
    by_control = design.oc(rates, 0.6)
    assert np.all(np.diff(by_treatment) >= -1e-12)
    assert np.all(np.diff(by_control) <= 1e-12)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="margin"):
        TwoSampleDesign(MAP_AS, TREAT, 6, 24, 1.0, 0.95)
    with pytest.raises(ValueError, match="control n"):
        TwoSampleDesign(MAP_AS, TREAT, 0, 24, 0.0, 0.95)
    with pytest.raises(ValueError, match="confidence"):
        TwoSampleDesign(MAP_AS, TREAT, 6, 24, 0.0, 0.0)

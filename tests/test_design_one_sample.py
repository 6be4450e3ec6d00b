"""One-sample design: boundary, exact OC against brute-force simulation and direct scipy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SEED
from scipy import integrate, special, stats

from rechallenge.analysis.design.beta_mixture import vague_prior
from rechallenge.analysis.design.one_sample import (
    OneSampleDesign,
    decision_boundary,
    oc_one_sample,
    rate_grid,
)
from rechallenge.analysis.map_prior import BetaMixture

MAP_AS = BetaMixture(weights=(0.6167463, 0.3832537), a=(19.1916387, 3.5278745),
                     b=(57.7779318, 9.3735980))
ROBUST_AS = MAP_AS.robustify(0.2)
N_SIM = 20_000


def fast_pdf(prior: BetaMixture):
    """The mixture density as a cheap scalar function (quad calls it thousands of times)."""
    w, a, b = (np.asarray(v) for v in (prior.weights, prior.a, prior.b))
    log_c = np.log(w) - special.betaln(a, b)
    return lambda t: float(np.exp(log_c + (a - 1) * np.log(t) + (b - 1) * np.log1p(-t)).sum())


def _posterior_prob_by_quad(prior: BetaMixture, n: int, y: int, threshold: float) -> float:
    """P(rate > threshold | y) by integrating prior x likelihood: no conjugacy used."""
    pdf = fast_pdf(prior)

    def f(t: float) -> float:
        return pdf(t) * t**y * (1 - t) ** (n - y)
    kw = {"epsabs": 1e-14, "epsrel": 1e-11, "limit": 400}
    upper = integrate.quad(f, threshold, 1, **kw)[0]
    return upper / (integrate.quad(f, 0, threshold, **kw)[0] + upper)


@pytest.mark.parametrize("rate", [0.15, 0.3, 0.45])
def test_oc_matches_brute_force_simulation(rate: float) -> None:
    """Simulated trials decided by numerical integration agree with the exact OC."""
    n, threshold, confidence = 30, 0.25, 0.9
    rng = np.random.default_rng(SEED)
    ys = rng.binomial(n, rate, size=N_SIM)
    decide = {y: _posterior_prob_by_quad(ROBUST_AS, n, y, threshold) > confidence
              for y in np.unique(ys)}
    simulated = np.mean([decide[y] for y in ys])
    exact = oc_one_sample(ROBUST_AS, n, threshold, confidence, rate)[0]
    se = np.sqrt(exact * (1 - exact) / N_SIM)
    assert abs(simulated - exact) < 4 * se + 1e-12


def test_two_oc_values_by_direct_scipy() -> None:
    """Vague prior: the posterior is Beta(1 + y, 1 + n - y); OC = binomial tail past it."""
    n, threshold, confidence = 25, 0.2, 0.95
    ys = np.arange(n + 1)
    boundary = int(ys[stats.beta.sf(threshold, 1 + ys, 1 + n - ys) > confidence][0])
    assert decision_boundary(vague_prior(), n, threshold, confidence) == boundary == 9
    for rate, expected in ((0.2, stats.binom.sf(boundary - 1, n, 0.2)),
                           (0.45, stats.binom.sf(boundary - 1, n, 0.45))):
        assert oc_one_sample(vague_prior(), n, threshold, confidence, rate)[0] == pytest.approx(
            expected, abs=1e-14)


@pytest.mark.parametrize("prior", [MAP_AS, ROBUST_AS, vague_prior()],
                         ids=["map", "robust", "vague"])
def test_success_set_is_upper_and_oc_non_decreasing(prior: BetaMixture) -> None:
    for n in (1, 10, 37, 120):
        design = OneSampleDesign(prior, n, 0.3, 0.9)
        success = design.success()
        b = design.boundary()
        np.testing.assert_array_equal(success, np.arange(n + 1) >= b)
        oc = design.oc(rate_grid())
        assert np.all(np.diff(oc) >= -1e-12)
        assert oc[0] == pytest.approx(float(b == 0)) and oc[-1] == pytest.approx(float(b <= n))


def test_boundary_is_monotone() -> None:
    """More patients, a higher threshold or more confidence never lowers the bar."""
    n = 40
    by_threshold = [decision_boundary(ROBUST_AS, n, t, 0.9) for t in np.arange(0.05, 0.95, 0.05)]
    by_confidence = [decision_boundary(ROBUST_AS, n, 0.3, c) for c in (0.5, 0.8, 0.9, 0.95, 0.99)]
    assert np.all(np.diff(by_threshold) >= 0) and np.all(np.diff(by_confidence) >= 0)
    by_n = [decision_boundary(ROBUST_AS, m, 0.3, 0.9) for m in range(1, 80)]
    assert np.all(np.diff(by_n) >= 0)  # the count needed grows with n ...
    fractions = np.array(by_n) / np.arange(1, 80)
    assert fractions[-1] < fractions[10]  # ... while the rate needed falls toward 0.3


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="threshold"):
        OneSampleDesign(MAP_AS, 10, 1.2, 0.9)
    with pytest.raises(ValueError, match="confidence"):
        OneSampleDesign(MAP_AS, 10, 0.2, 1.0)
    with pytest.raises(ValueError, match="positive integer"):
        OneSampleDesign(MAP_AS, 0, 0.2, 0.9)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rate_grid([1.5])


def test_rate_grid() -> None:
    grid = rate_grid([0.125, 0.3])
    assert len(grid) == 102 and grid[0] == 0 and grid[-1] == 1 and 0.125 in grid
    assert 0.07 in grid  # rounded, so exact lookups work

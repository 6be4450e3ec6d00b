"""Conjugate update of a Beta mixture against numerical integration (no sampling)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from rechallenge.analysis.design.beta_mixture import (
    posterior,
    posterior_weights,
    predictive_pmf,
    prob_above,
    vague_prior,
)
from rechallenge.analysis.map_prior import BetaMixture

#: RBesT's ankylosing spondylitis MAP prior (introduction vignette), robustified with 0.2.
MAP_AS = BetaMixture(weights=(0.6167463, 0.3832537), a=(19.1916387, 3.5278745),
                     b=(57.7779318, 9.3735980))
PRIORS = {"map": MAP_AS, "robust": MAP_AS.robustify(0.2),
          "odd": BetaMixture(weights=(0.3, 0.7), a=(0.5, 8.0), b=(2.0, 3.0))}


def fast_pdf(prior: BetaMixture):
    """The mixture density as a cheap scalar function (quad calls it thousands of times)."""
    w, a, b = (np.asarray(v) for v in (prior.weights, prior.a, prior.b))
    log_c = np.log(w) - special.betaln(a, b)
    return lambda t: float(np.exp(log_c + (a - 1) * np.log(t) + (b - 1) * np.log1p(-t)).sum())


def _unnormalised(prior: BetaMixture, n: int, y: int):
    pdf = fast_pdf(prior)
    return lambda t: pdf(t) * t**y * (1 - t) ** (n - y)


def _quad(f, lo: float, hi: float) -> float:
    return integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-11, limit=400)[0]


@pytest.mark.parametrize("name", list(PRIORS))
@pytest.mark.parametrize(("n", "y"), [(6, 0), (6, 1), (24, 14), (40, 40)])
def test_posterior_density_matches_integration(name: str, n: int, y: int) -> None:
    prior = PRIORS[name]
    f = _unnormalised(prior, n, y)
    evidence = _quad(f, 0, 1)
    post = posterior(prior, n, y)
    for t in (0.05, 0.2, 0.35, 0.6, 0.9):
        assert float(post.pdf(t)) == pytest.approx(f(t) / evidence, rel=1e-8)
    assert post.mean() == pytest.approx(_quad(lambda t: t * f(t), 0, 1) / evidence, rel=1e-8)


@pytest.mark.parametrize("name", list(PRIORS))
def test_prob_above_matches_integration(name: str) -> None:
    prior, n = PRIORS[name], 20
    probs = prob_above(prior, n, np.arange(n + 1), 0.3)
    for y in (0, 3, 7, 12, 20):
        f = _unnormalised(prior, n, y)
        expected = _quad(f, 0.3, 1) / (_quad(f, 0, 0.3) + _quad(f, 0.3, 1))
        assert probs[y] == pytest.approx(expected, abs=1e-10)


def test_posterior_weights_and_predictive() -> None:
    prior, n = PRIORS["robust"], 12
    w = posterior_weights(prior, n, np.arange(n + 1))
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-14)
    pmf = predictive_pmf(prior, n)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    # Each count's prior predictive probability is the evidence integral times C(n, y).
    for y in (0, 4, 12):
        expected = stats.binom.pmf(y, n, 0.5) / 0.5**n * _quad(_unnormalised(prior, n, y), 0, 1)
        assert pmf[y] == pytest.approx(expected, rel=1e-8)
    # With the vague prior the predictive is uniform on 0..n.
    np.testing.assert_allclose(predictive_pmf(vague_prior(), n), 1 / (n + 1), rtol=1e-12)


def test_conflicting_data_underflow_keeps_a_valid_mixture() -> None:
    sharp = BetaMixture(weights=(0.9, 0.1), a=(2000.0, 1.0), b=(8000.0, 1.0))
    post = posterior(sharp, 500, 500)  # the sharp component's weight underflows to 0
    assert post.weights[-1] == pytest.approx(1.0)
    assert post.mean() == pytest.approx(501 / 502)
    with pytest.raises(ValueError, match="0 <= y <= n"):
        posterior_weights(sharp, 5, 6)

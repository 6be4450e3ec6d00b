"""Reproduce a published hierarchical binomial analysis: RBesT's ankylosing spondylitis MAP prior.

Source: RBesT (R Bayesian Evidence Synthesis Tools, Novartis; Weber et al. 2021, J Stat Softw
100(19)), the example of its ``gMAP`` help page and the "Getting started with RBesT (binary)"
vignette (github.com/Novartis/RBesT, ``reference/gMAP.md`` and ``articles/introduction.md``).
Data ``AS``: placebo responders (ASAS20 at week 6) in 8 historical trials (Baeten et al., Lancet
2013). The analysis::

    gMAP(cbind(r, n - r) ~ 1 | study, family = binomial, data = AS,
         tau.dist = "HalfNormal", tau.prior = 1, beta.prior = 2)

is ``logit theta_i = beta + eta_i``, ``eta_i ~ N(0, tau^2)``, ``beta ~ N(0, 2^2)``,
``tau ~ HalfNormal(1)``: exactly our one-line partial-pooling model with ``mu_sd = 2`` and
``tau_sd = 1``, so there is no prior difference to allow for. RBesT's ``beta`` is our ``mu``,
``theta_resp`` (inverse logit of ``beta``) our ``probability_typical_site``, ``theta_resp_pred``
(the MAP prior) our ``probability_new_site`` and the shrinkage estimates ``fitted()`` our ``p``.

Tolerance: Monte Carlo error on both sides plus the rounding of the printed figures. Ours is
ArviZ's MCSE of each statistic (mean, sd or quantile). RBesT ran 4 chains x 1000 kept draws and
prints a message when the smallest effective sample size of beta and tau is under 1000; the
published runs show none, so its MCSE is at most ours scaled to an ESS of 1000. The printed
figures have three significant digits, so half a unit of the third digit is added. A statistic
must lie within ``4 * sqrt(mcse_ours^2 + mcse_rbest^2) + rounding`` of the published value.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from scipy.special import expit

from rechallenge.analysis.summaries.binary import quantity_draws
from rechallenge.data import empty_patients
from rechallenge.data.study import Study
from rechallenge.models.binary import build_binary_model
from rechallenge.models.sampling import fit, fit_attrs

AS_DATA = pd.DataFrame({
    "site": [f"Study {i}" for i in range(1, 9)],
    "n": [107, 44, 51, 39, 139, 20, 78, 35],
    "events": [23, 12, 19, 9, 39, 6, 9, 10],
})

#: Published summaries: statistic -> value, per quantity (gMAP help page, RBesT 1.8).
PUBLISHED_TAU_1 = {
    "tau": {"mean": 0.387, "median": 0.359, "sd": 0.215, "q2.5": 0.0399, "q97.5": 0.897},
    "mu": {"mean": -1.11, "median": -1.11, "sd": 0.186, "q2.5": -1.49, "q97.5": -0.746},
    "probability_typical_site": {"mean": 0.25, "median": 0.248, "sd": 0.0344, "q2.5": 0.185,
                                 "q97.5": 0.322},
    "probability_new_site": {"mean": 0.255, "median": 0.247, "sd": 0.0864, "q2.5": 0.106,
                             "q97.5": 0.461},
}
#: ``fitted(map_AS)``: posterior means of the study response rates (printed to 7 digits).
PUBLISHED_FITTED_MEANS = [0.2272763, 0.2614755, 0.3149371, 0.2414853, 0.2705909, 0.2677422,
                          0.1741634, 0.2675219]
#: Vignette sensitivity analysis, ``update(map_mcmc, tau.prior = 1/2)`` (RBesT vignette).
PUBLISHED_TAU_HALF = {
    "tau": {"mean": 0.335, "median": 0.320, "sd": 0.172, "q2.5": 0.0397, "q97.5": 0.718},
    "probability_new_site": {"mean": 0.259, "median": 0.250, "sd": 0.0776, "q2.5": 0.129,
                             "q97.5": 0.442},
}
RBEST_ESS = 1000


def as_study() -> Study:
    aggregates = AS_DATA.assign(line="placebo", endpoint="response")
    return Study(empty_patients(), aggregates, lines=("placebo",))


@pytest.fixture(scope="module")
def as_model():
    return build_binary_model(as_study(), "response", priors={"mu_sd": 2.0, "tau_sd": 1.0})


def _draws(idata: az.InferenceData) -> dict[str, np.ndarray]:
    derived = {q: d for q, line, d in quantity_draws(idata, seed=SEED)}
    post = idata.posterior
    return {
        "tau": post["tau"].sel(line="placebo").transpose("chain", "draw").to_numpy(),
        "mu": post["mu"].sel(line="placebo").transpose("chain", "draw").to_numpy(),
        "probability_typical_site": derived["probability_typical_site"],
        "probability_new_site": derived["probability_new_site"],
    }


def _scalar(value) -> float:
    # ArviZ returns 0-d or length-1 arrays depending on the function.
    return float(np.ravel(value)[0])


def _statistic(draws: np.ndarray, name: str) -> tuple[float, float, float]:
    """Value, MCSE and the ESS behind it, for mean / median / sd / q2.5 / q97.5."""
    if name == "mean":
        return float(draws.mean()), _scalar(az.mcse(draws, method="mean")), _scalar(az.ess(draws, method="bulk"))
    if name == "sd":
        # ArviZ's method="sd" trips over NumPy 2's scalar conversion; the same delta-method
        # formula written out: the MCSE of the variance over 2 sd.
        sq = (draws - draws.mean()) ** 2
        ess = _scalar(az.ess(sq, method="mean"))
        mcse = np.sqrt((np.mean(sq**2) - np.mean(sq) ** 2) / ess) / (2 * draws.std())
        return float(draws.std(ddof=1)), float(mcse), ess
    prob = {"median": 0.5, "q2.5": 0.025, "q97.5": 0.975}[name]
    return (float(np.quantile(draws, prob)), _scalar(az.mcse(draws, method="quantile", prob=prob)),
            _scalar(az.ess(draws, method="quantile", prob=prob)))


def _rounding(value: float) -> float:
    """Half a unit of the third significant digit of a printed value."""
    return 0.5 * 10 ** (np.floor(np.log10(abs(value))) - 2)


def _compare(idata: az.InferenceData, published: dict[str, dict[str, float]]) -> list[str]:
    draws = _draws(idata)
    failures = []
    for quantity, stats_ in published.items():
        for name, target in stats_.items():
            value, mcse, ess = _statistic(draws[quantity], name)
            mcse_rbest = mcse * np.sqrt(ess / RBEST_ESS)
            tolerance = 4 * np.hypot(mcse, mcse_rbest) + _rounding(target)
            if abs(value - target) > tolerance:
                failures.append(f"{quantity} {name}: ours {value:.4f}, RBesT {target} (tol {tolerance:.4f})")
    return failures


@pytest.mark.integration
def test_rbest_as_map_prior_tau_halfnormal_1(as_model) -> None:
    idata = fit(as_model, draws=2500, tune=1000, chains=4, seed=SEED, data={"prior_tau_sd": 1.0})
    assert int(idata.sample_stats["diverging"].sum()) == 0
    assert not _compare(idata, PUBLISHED_TAU_1)
    # Shrinkage estimates of the 8 studies: printed with 7 digits, so Monte Carlo error only.
    p = idata.posterior["p"].sel(line="placebo").transpose("chain", "draw", "site").to_numpy()
    mcse = np.array([_scalar(az.mcse(p[..., i], method="mean")) for i in range(8)])
    sd = p.std(axis=(0, 1))
    tolerance = 4 * np.hypot(mcse, sd / np.sqrt(RBEST_ESS))
    assert np.all(np.abs(p.mean(axis=(0, 1)) - PUBLISHED_FITTED_MEANS) < tolerance)
    # Sanity of the mapping: the typical-site probability is the inverse logit of mu.
    np.testing.assert_allclose(_draws(idata)["probability_typical_site"],
                               expit(_draws(idata)["mu"]), rtol=1e-12)


@pytest.mark.integration
def test_rbest_as_sensitivity_tau_halfnormal_half(as_model) -> None:
    """The vignette's sensitivity analysis, refitted through the prior data (no recompiling)."""
    idata = fit(as_model, draws=2500, tune=1000, chains=4, seed=SEED + 1, data={"prior_tau_sd": 0.5})
    assert int(idata.sample_stats["diverging"].sum()) == 0
    assert fit_attrs(idata)["priors"]["tau_sd"] == 0.5  # the fit records the prior it used
    assert not _compare(idata, PUBLISHED_TAU_HALF)

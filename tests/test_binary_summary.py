"""Binary summaries on hand-made posteriors (``az.from_dict``): no sampling.

Each test builds draws whose derived quantities are known exactly or by brute force, and checks
the tidy tables against them.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from scipy import stats
from scipy.special import expit, logit

from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries import binary
from rechallenge.analysis.summaries.binary import (
    BINARY_QUANTITIES,
    quantity_draws,
    site_estimates,
    summarise_binary,
)
from rechallenge.analysis.summaries.computed_once import computed_count
from rechallenge.analysis.summaries.tidy import SUMMARY_COLUMNS
from rechallenge.data.frequentist import exact_proportion_ci

LINES = ["ICI-1", "ICI-2"]
SITES = ["S1", "S2", "S3"]
CHAINS, DRAWS = 2, 400


def hand_made(
    mu: np.ndarray,
    tau: np.ndarray | None = None,
    corr: float | None = None,
    sigma_patient: np.ndarray | None = None,
    endpoint: str = "response",
    p: np.ndarray | None = None,
) -> az.InferenceData:
    """InferenceData with the variables the summaries read; arrays are (chain, draw, ...)."""
    shape = (CHAINS, DRAWS)
    posterior: dict[str, np.ndarray] = {}
    dims: dict[str, list[str]] = {"p": ["site", "line"]}
    if mu is not None:
        posterior["mu"] = np.broadcast_to(mu, shape + (2,)).copy()
        dims["mu"] = ["line"]
    if tau is not None:
        posterior["tau"] = np.broadcast_to(tau, shape + (2,)).copy()
        dims["tau"] = ["line"]
    if corr is not None:
        matrix = np.array([[1.0, corr], [corr, 1.0]])
        posterior["site_corr"] = np.broadcast_to(matrix, shape + (2, 2)).copy()
        dims["site_corr"] = ["line", "line_b"]
    if sigma_patient is not None:
        posterior["sigma_patient"] = np.broadcast_to(sigma_patient, shape).copy()
    if p is None:
        p = np.broadcast_to(expit(posterior.get("mu", np.zeros(shape + (2,))))[:, :, None, :],
                            shape + (3, 2))
    posterior["p"] = np.asarray(p, dtype=float).copy()
    # Rows: S1 has two rows at ICI-1 (patients and an aggregate), S3 has none at ICI-2.
    site_idx = np.array([0, 0, 0, 1, 1, 2])
    line_idx = np.array([0, 0, 1, 0, 1, 0])
    n = np.array([4, 10, 4, 6, 6, 3])
    y = np.array([1, 3, 2, 0, 6, 3])
    idata = az.from_dict(
        posterior=posterior,
        dims={**dims, "site_idx": ["obs"], "line_idx": ["obs"], "n": ["obs"], "y": ["obs"]},
        coords={"line": LINES, "line_b": LINES, "site": SITES, "obs": list(range(6))},
        constant_data={"site_idx": site_idx, "line_idx": line_idx, "n": n},
        observed_data={"y": y},
    )
    idata.posterior.attrs.update(rechallenge_endpoint=endpoint)
    return idata


def rng_draws(loc: float, scale: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, scale, size=(CHAINS, DRAWS))


def table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index(["quantity", "line"])


def test_columns_vocabulary_and_order() -> None:
    idata = hand_made(np.stack([rng_draws(-1, 0.3, 1), rng_draws(-0.8, 0.3, 2)], -1),
                      tau=np.array([0.5, 0.8]), corr=0.4, sigma_patient=np.full((CHAINS, DRAWS), 0.7))
    out = summarise_binary(idata)
    assert list(out.columns) == list(SUMMARY_COLUMNS)
    assert list(dict.fromkeys(out["quantity"])) == list(BINARY_QUANTITIES)
    assert (out["endpoint"] == "response").all()
    assert (out["interval"] == "95% CrI (ET)").all()
    contrasts = out[out["quantity"].isin(["difference_population", "difference_typical_site",
                                          "odds_ratio_typical_site", "prob_greater_population",
                                          "site_corr"])]
    assert set(contrasts["line"]) == {"ICI-2 vs ICI-1"}
    assert table(out).loc[("sigma_patient", "all"), "mean"] == pytest.approx(0.7)
    assert table(out).loc[("site_corr", "ICI-2 vs ICI-1"), "mean"] == pytest.approx(0.4)


def test_typical_site_and_odds_ratio_are_exact() -> None:
    mu = np.stack([rng_draws(-1.2, 0.4, 3), rng_draws(-0.7, 0.5, 4)], -1)
    out = table(summarise_binary(hand_made(mu, tau=np.array([0.6, 0.9]), corr=0.0)))
    typical = expit(mu)
    for j, line in enumerate(LINES):
        assert out.loc[("probability_typical_site", line), "mean"] == pytest.approx(typical[..., j].mean(), rel=1e-12)
        assert out.loc[("probability_typical_site", line), "median"] == pytest.approx(np.median(typical[..., j]), rel=1e-12)
    odds = np.exp(mu[..., 1] - mu[..., 0])
    row = out.loc[("odds_ratio_typical_site", "ICI-2 vs ICI-1")]
    assert row["mean"] == pytest.approx(odds.mean(), rel=1e-12)
    assert (row["lower"], row["upper"]) == pytest.approx(tuple(np.quantile(odds, [0.025, 0.975])), rel=1e-12)
    diff = typical[..., 1] - typical[..., 0]
    assert out.loc[("difference_typical_site", "ICI-2 vs ICI-1"), "mean"] == pytest.approx(diff.mean(), rel=1e-10)


def test_population_average_against_brute_force_monte_carlo() -> None:
    mu = np.array([-1.5, 0.4])
    tau = np.array([0.8, 1.6])
    out = table(summarise_binary(hand_made(mu, tau=tau, corr=0.3)))
    z = np.random.default_rng(SEED).standard_normal(2_000_000)
    for j, line in enumerate(LINES):
        brute = expit(mu[j] + tau[j] * z)
        mcse = brute.std() / np.sqrt(z.size)
        assert out.loc[("probability_population", line), "mean"] == pytest.approx(brute.mean(), abs=4 * mcse)
        # Averaging over sites pulls the probability toward 1/2 relative to the typical site.
        typical = out.loc[("probability_typical_site", line), "mean"]
        assert abs(out.loc[("probability_population", line), "mean"] - 0.5) < abs(typical - 0.5)


def test_patient_effect_adds_to_the_variance_of_every_average() -> None:
    mu, tau, sigma = np.array([-1.0, -0.5]), np.array([0.6, 0.6]), 1.1
    idata = hand_made(mu, tau=tau, corr=0.0, sigma_patient=np.full((CHAINS, DRAWS), sigma))
    out = table(summarise_binary(idata))
    z = np.random.default_rng(SEED).standard_normal(2_000_000)
    for j, line in enumerate(LINES):
        pop = expit(mu[j] + np.sqrt(tau[j] ** 2 + sigma**2) * z)
        assert out.loc[("probability_population", line), "mean"] == pytest.approx(pop.mean(), abs=4 * pop.std() / 1414)
        typical = expit(mu[j] + sigma * z)
        assert out.loc[("probability_typical_site", line), "mean"] == pytest.approx(typical.mean(), abs=4 * typical.std() / 1414)
    # The odds ratio stays conditional on the patient: exp(mu2 - mu1).
    assert out.loc[("odds_ratio_typical_site", "ICI-2 vs ICI-1"), "mean"] == pytest.approx(np.exp(0.5))


def test_prob_greater_is_the_share_of_draws_with_later_above_first() -> None:
    # mu for ICI-2 is above ICI-1 in exactly the first 300 of every 400 draws of each chain.
    first = np.full((CHAINS, DRAWS), -1.0)
    second = np.where(np.arange(DRAWS) < 300, -0.5, -1.5)[None, :].repeat(CHAINS, 0)
    out = table(summarise_binary(hand_made(np.stack([first, second], -1), tau=np.array([0.5, 0.5]), corr=0.0)))
    row = out.loc[("prob_greater_population", "ICI-2 vs ICI-1")]
    assert row["mean"] == pytest.approx(0.75)
    assert row["median"] in (0.0, 1.0)
    diff = out.loc[("difference_population", "ICI-2 vs ICI-1"), "mean"]
    assert -0.2 < diff < 0.2


def test_new_site_predictive_is_logit_normal() -> None:
    mu, tau = np.array([-1.0, 0.5]), np.array([0.7, 1.2])
    out = table(summarise_binary(hand_made(mu, tau=tau, corr=0.5), seed=SEED))
    for j, line in enumerate(LINES):
        row = out.loc[("probability_new_site", line)]
        q = expit(mu[j] + tau[j] * stats.norm.ppf([0.025, 0.5, 0.975]))
        # 800 draws: quantiles within a few Monte Carlo standard errors on the logit scale.
        assert logit(row["median"]) == pytest.approx(logit(q[1]), abs=4 * tau[j] * 1.25 / np.sqrt(800))
        assert logit(row["lower"]) == pytest.approx(logit(q[0]), abs=0.35 * tau[j])
        assert logit(row["upper"]) == pytest.approx(logit(q[2]), abs=0.35 * tau[j])
    same = summarise_binary(hand_made(mu, tau=tau, corr=0.5), seed=SEED)
    pd.testing.assert_frame_equal(same, summarise_binary(hand_made(mu, tau=tau, corr=0.5), seed=SEED))


def test_complete_pooling_has_one_reading_and_no_heterogeneity() -> None:
    mu = np.stack([rng_draws(-1.2, 0.3, 5), rng_draws(-1.0, 0.3, 6)], -1)
    out = table(summarise_binary(hand_made(mu)))
    for line in LINES:
        values = [out.loc[(q, line), "mean"] for q in
                  ("probability_typical_site", "probability_population", "probability_new_site")]
        assert values == pytest.approx([values[0]] * 3, rel=1e-12)
    assert "tau" not in out.index.get_level_values("quantity")


def test_no_pooling_reports_no_population_quantities() -> None:
    idata = hand_made(None, p=np.full((CHAINS, DRAWS, 3, 2), 0.3))
    assert summarise_binary(idata).empty
    assert quantity_draws(idata) == []


def test_interval_setting_reaches_every_row() -> None:
    ninety = Interval(0.9, "equal-tailed")
    idata = hand_made(np.array([-1.0, -0.5]), tau=np.array([0.5, 0.5]), corr=0.0)
    out = summarise_binary(idata, interval=ninety)
    assert (out["interval"] == "90% CrI (ET)").all()
    hdi = summarise_binary(idata, interval=Interval(0.95, "hdi"))
    assert (hdi["interval"] == "95% CrI (HDI)").all()


def test_site_estimates_counts_exact_intervals_and_shrunken_p() -> None:
    p = np.random.default_rng(SEED).beta(2, 5, size=(CHAINS, DRAWS, 3, 2))
    idata = hand_made(np.array([-1.0, -0.5]), tau=np.array([0.5, 0.5]), corr=0.0, p=p)
    out = site_estimates(idata).set_index(["site", "line"])
    assert len(out) == 6 and (out["quantity"] == "probability_site").all()
    expected = {("S1", "ICI-1"): (14, 4), ("S1", "ICI-2"): (4, 2), ("S2", "ICI-1"): (6, 0),
                ("S2", "ICI-2"): (6, 6), ("S3", "ICI-1"): (3, 3), ("S3", "ICI-2"): (0, 0)}
    for key, (n, events) in expected.items():
        row = out.loc[key]
        assert (row["n"], row["events"]) == (n, events)
        ci = exact_proportion_ci(events, n)
        if n:
            assert (row["proportion"], row["proportion_lower"], row["proportion_upper"]) == pytest.approx(
                (ci.proportion, ci.lower, ci.upper))
        else:
            assert np.isnan(row["proportion"])
        i, j = SITES.index(key[0]), LINES.index(key[1])
        assert row["mean"] == pytest.approx(p[:, :, i, j].mean())
        assert row["lower"] == pytest.approx(np.quantile(p[:, :, i, j], 0.025))
    assert {"r_hat", "ess_bulk", "ess_tail", "mcse_mean"} <= set(out.columns)


def test_site_estimates_average_over_patients() -> None:
    p = np.full((CHAINS, DRAWS, 3, 2), 0.2)
    idata = hand_made(np.array([-1.0, -0.5]), tau=np.array([0.5, 0.5]), corr=0.0, p=p,
                      sigma_patient=np.full((CHAINS, DRAWS), 1.0))
    out = site_estimates(idata)
    z = np.random.default_rng(SEED).standard_normal(1_000_000)
    assert out["mean"].to_numpy() == pytest.approx(expit(logit(0.2) + z).mean(), abs=2e-3)


def test_summaries_need_only_the_saved_file(tmp_path) -> None:
    idata = hand_made(np.stack([rng_draws(-1, 0.3, 7), rng_draws(-0.6, 0.3, 8)], -1),
                      tau=np.array([0.4, 0.9]), corr=-0.2, endpoint="toxicity")
    path = tmp_path / "fit.nc"
    idata.to_netcdf(str(path))
    loaded = az.from_netcdf(str(path))
    pd.testing.assert_frame_equal(summarise_binary(loaded), summarise_binary(idata))
    pd.testing.assert_frame_equal(site_estimates(loaded), site_estimates(idata))
    assert (summarise_binary(loaded)["endpoint"] == "toxicity").all()


def test_the_summary_and_the_draws_share_one_computation() -> None:
    idata = hand_made(np.array([-0.5, 0.2]), tau=np.array([0.5, 0.8]), corr=0.3)
    draws = binary.quantity_draws(idata, seed=SEED)
    summary = binary.summarise_binary(idata, seed=SEED)
    again = binary.quantity_draws(idata, seed=SEED)
    # The same draws, computed once (one value kept for the fit), in arrays of the caller's own.
    assert computed_count(idata) == 1
    assert all(np.array_equal(a[2], b[2]) and a[2] is not b[2] for a, b in zip(draws, again))
    draws[0][2][:] = np.nan  # a caller that writes into its arrays changes no other caller's
    assert np.isfinite(binary.quantity_draws(idata, seed=SEED)[0][2]).all()
    pooled = summary[summary["quantity"] == "probability_population"]["median"].to_numpy()
    expected = [np.median(v) for q, _, v in draws if q == "probability_population"]
    assert np.allclose(pooled, expected)

"""TTP summaries on hand-made posteriors (``az.from_dict``): no sampling."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from lifelines import KaplanMeierFitter
from scipy import integrate, stats

from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.tidy import SUMMARY_COLUMNS
from rechallenge.analysis.summaries.ttp import (
    TTP_QUANTITIES,
    marginal_weibull_median,
    marginal_weibull_survival,
    site_medians,
    summarise_ttp,
)
from rechallenge.analysis.summaries.ttp_curves import (
    kaplan_meier,
    predictive_survival_band,
    survival_curves,
)

LINES = ["ICI-1", "ICI-2"]
SITES = ["S01", "S02", "S03"]
CHAINS, DRAWS = 2, 200
# Patient rows: site, line, duration, progressed.
ROWS = pd.DataFrame({
    "site": [0, 0, 0, 0, 1, 1, 1, 1],
    "line": [0, 1, 0, 1, 0, 1, 0, 1],
    "t": [2.0, 5.0, 7.5, 3.0, 4.0, 9.0, 12.0, 1.5],
    "progressed": [1, 1, 0, 1, 1, 0, 1, 1],
})


def make_idata(*, shared_shape=False, tau=(0.3, 0.5), patient_sd=None, pooling="partial",
               aggregate=True, seed=SEED) -> az.InferenceData:
    """A posterior of the TTP model's shape with known values and small noise."""
    rng = np.random.default_rng(seed)
    size = (CHAINS, DRAWS)
    mu = np.stack([1.7 + 0.1 * rng.standard_normal(size),
                     1.9 + 0.1 * rng.standard_normal(size)], -1)
    shape = (1.2 + 0.05 * rng.standard_normal(size) if shared_shape
             else np.stack([1.3 + 0.05 * rng.standard_normal(size),
                            1.1 + 0.05 * rng.standard_normal(size)], -1))
    posterior = {"mu": mu, "shape": shape}
    dims = {"mu": ["line"], "shape": [] if shared_shape else ["line"], "u_site": ["site", "line"],
            "tau": ["line"], "site_corr": ["line", "line_b"], "ttp": ["obs"],
            "log_median_obs": ["agg_obs"], "censor_upper": ["obs"], "site_idx": ["obs"],
            "line_idx": ["obs"], "agg_site_idx": ["agg_obs"], "agg_line_idx": ["agg_obs"]}
    if pooling == "partial":
        tau_draws = np.abs(np.asarray(tau) + 0.05 * rng.standard_normal(size + (2,)))
        posterior["tau"] = tau_draws if max(tau) > 0 else np.zeros(size + (2,))
        r = np.tanh(0.3 + 0.2 * rng.standard_normal(size))
        posterior["site_corr"] = np.stack([np.stack([np.ones(size), r], -1),
                                           np.stack([r, np.ones(size)], -1)], -2)
    if pooling != "complete":
        posterior["u_site"] = 0.2 * rng.standard_normal(size + (len(SITES), 2))
    if patient_sd is not None:
        posterior["sigma_patient"] = np.full(size, patient_sd)
    t = ROWS["t"].to_numpy()
    upper = np.where(ROWS["progressed"] == 1, np.inf, t)
    observed = {"ttp": t}
    constant = {"censor_upper": upper, "site_idx": ROWS["site"].to_numpy(),
                "line_idx": ROWS["line"].to_numpy()}
    if aggregate:
        observed["log_median_obs"] = np.log([4.4])
        constant.update(agg_site_idx=np.array([2]), agg_line_idx=np.array([1]))
    reps = np.minimum(np.exp(mu[..., ROWS["line"]]) * rng.weibull(1.2, size + (len(t),)), upper)
    idata = az.from_dict(
        posterior=posterior, observed_data=observed, constant_data=constant,
        posterior_predictive={"ttp": reps},
        coords={"line": LINES, "line_b": LINES, "site": SITES, "obs": np.arange(len(t)),
                "agg_obs": [0]},
        dims=dims,
    )
    idata.posterior.attrs.update({
        "rechallenge_model": f"ttp_weibull_{pooling}", "rechallenge_endpoint": "ttp",
        "rechallenge_data_hash": "0" * 64,
        "rechallenge_options": json.dumps({"pooling": pooling, "shared_shape": shared_shape}),
    })
    return idata


def rows_of(table: pd.DataFrame, quantity: str) -> pd.DataFrame:
    return table[table["quantity"] == quantity].set_index("line")


def test_table_has_the_fixed_columns_and_vocabulary():
    table = summarise_ttp(make_idata())
    assert list(table.columns) == list(SUMMARY_COLUMNS)
    assert set(table["quantity"]) <= set(TTP_QUANTITIES)
    assert (table["endpoint"] == "ttp").all() and (table["interval"] == "95% CrI (ET)").all()
    assert list(rows_of(table, "median_population").index) == LINES
    for quantity in ("median_ratio_population", "median_ratio_typical_site", "site_corr",
                     "prob_greater_population"):
        assert list(rows_of(table, quantity).index) == ["ICI-2 vs ICI-1"], quantity
    assert "hazard_ratio" not in set(table["quantity"])  # shapes per line: hazards not proportional


def test_typical_site_median_is_the_closed_form():
    idata = make_idata()
    post = idata.posterior
    expected = np.exp(post["mu"]) * np.log(2.0) ** (1.0 / post["shape"])
    table = rows_of(summarise_ttp(idata), "median_typical_site")
    for line in LINES:
        assert table.loc[line, "mean"] == pytest.approx(float(expected.sel(line=line).mean()))


def test_population_median_solves_the_site_averaged_curve():
    """Check S_pop(median) = 0.5 by adaptive quadrature, independent of the Gauss-Hermite nodes."""
    loc, sd, k = np.array([1.7, 2.2]), np.array([0.4, 1.1]), np.array([1.3, 0.7])
    medians = marginal_weibull_median(loc, sd, k)
    for m, mu, s, kk in zip(medians, loc, sd, k):
        s_pop, _ = integrate.quad(
            lambda u: stats.norm.pdf(u) * np.exp(-((m / np.exp(mu + s * u)) ** kk)), -12, 12)
        assert s_pop == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_allclose(marginal_weibull_median(loc, 0.0 * sd, k),
                               np.exp(loc) * np.log(2) ** (1 / k))
    for m, mu, s, kk in zip(medians, loc, sd, k):
        surv = marginal_weibull_survival(np.array([0.0, m]), mu, s, kk)
        np.testing.assert_allclose(surv, [1.0, 0.5], atol=1e-10)


def test_population_equals_typical_site_without_heterogeneity():
    table = summarise_ttp(make_idata(tau=(0.0, 0.0)))
    pop, typ = rows_of(table, "median_population"), rows_of(table, "median_typical_site")
    np.testing.assert_allclose(pop["mean"], typ["mean"])
    new = rows_of(table, "median_new_site")
    np.testing.assert_allclose(new["mean"], typ["mean"])


def test_hazard_ratio_and_probability_with_a_shared_shape():
    idata = make_idata(shared_shape=True)
    table = summarise_ttp(idata)
    post = idata.posterior
    mu = post["mu"]
    hr = np.exp(-post["shape"] * (mu.sel(line="ICI-2") - mu.sel(line="ICI-1")))
    assert rows_of(table, "hazard_ratio").loc["ICI-2 vs ICI-1", "mean"] == pytest.approx(
        float(hr.mean()))
    assert list(rows_of(table, "shape").index) == ["all"]
    prob = rows_of(table, "prob_greater_population").loc["ICI-2 vs ICI-1"]
    assert 0 < prob["mean"] < 1 and {prob["lower"], prob["upper"]} <= {0.0, 1.0}
    ratio = rows_of(table, "median_ratio_population").loc["ICI-2 vs ICI-1"]
    # P(ratio > 1) is the same event as prob_greater_population.
    assert (ratio["median"] > 1) == (prob["mean"] > 0.5)


def test_a_patient_effect_widens_the_population_curve_and_is_reported():
    table = summarise_ttp(make_idata(patient_sd=0.6))
    assert rows_of(table, "sigma_patient").loc["all", "mean"] == pytest.approx(0.6)
    plain = summarise_ttp(make_idata())
    # With k > 1 averaging over more spread moves the median down (log-time is left-skewed).
    assert (rows_of(table, "median_population")["mean"]
            < rows_of(plain, "median_population")["mean"]).all()


def test_no_pooling_reports_only_the_shape_and_complete_pooling_has_no_tau():
    none = summarise_ttp(make_idata(pooling="none"))
    assert set(none["quantity"]) == {"shape"}
    complete = summarise_ttp(make_idata(pooling="complete"))
    assert "tau" not in set(complete["quantity"])
    assert "median_population" in set(complete["quantity"])


def test_new_site_draws_follow_the_seed():
    idata = make_idata()
    a, b = summarise_ttp(idata, seed=1), summarise_ttp(idata, seed=1)
    pd.testing.assert_frame_equal(a, b)
    c = summarise_ttp(idata, seed=2)
    assert not np.allclose(rows_of(a, "median_new_site")["mean"],
                           rows_of(c, "median_new_site")["mean"])


def test_summaries_survive_a_netcdf_round_trip(tmp_path):
    idata = make_idata()
    path = tmp_path / "fit.nc"
    idata.to_netcdf(path)
    loaded = az.from_netcdf(path)
    pd.testing.assert_frame_equal(summarise_ttp(idata), summarise_ttp(loaded))
    pd.testing.assert_frame_equal(site_medians(idata), site_medians(loaded))
    pd.testing.assert_frame_equal(survival_curves(idata), survival_curves(loaded))


def test_a_fit_of_another_endpoint_is_refused():
    idata = make_idata()
    idata.posterior.attrs["rechallenge_endpoint"] = "response"
    with pytest.raises(ValueError, match="not a TTP fit"):
        summarise_ttp(idata)
    del idata.posterior.attrs["rechallenge_model"]
    with pytest.raises(ValueError, match="not a rechallenge fit"):
        summarise_ttp(idata)


def test_site_medians_sit_beside_raw_kaplan_meier_and_reported_medians():
    idata = make_idata()
    table = site_medians(idata)
    assert list(table.columns[:4]) == ["endpoint", "quantity", "line", "site"]
    assert len(table) == len(SITES) * len(LINES) and set(table["quantity"]) == {"median_site"}
    row = table[(table["site"] == "S01") & (table["line"] == "ICI-1")].iloc[0]
    kmf = KaplanMeierFitter().fit([2.0, 7.5], [1, 0])
    assert row["raw_median"] == kmf.median_survival_time_ and row["raw_source"] == "Kaplan-Meier"
    assert (row["n"], row["events"]) == (2, 1)
    reported = table[(table["site"] == "S03") & (table["line"] == "ICI-2")].iloc[0]
    assert reported["raw_median"] == pytest.approx(4.4) and reported["raw_source"] == "reported"
    empty = table[(table["site"] == "S03") & (table["line"] == "ICI-1")].iloc[0]
    assert np.isnan(empty["raw_median"]) and empty["raw_source"] == ""
    post = idata.posterior
    expected = np.exp(post["mu"] + post["u_site"]) * np.log(2) ** (1 / post["shape"])
    assert row["mean"] == pytest.approx(float(expected.sel(site="S01", line="ICI-1").mean()))


@pytest.mark.parametrize("kind", ["population", "typical_site"])
def test_survival_curves_are_monotone_bands(kind):
    times = np.array([0.0, 1.0, 3.0, 6.0, 12.0, 24.0])
    curves = survival_curves(make_idata(), times=times, kind=kind,
                             interval=Interval(0.9, "hdi"))
    assert list(curves.columns) == ["line", "time", "mean", "median", "lower", "upper", "interval"]
    assert (curves["interval"] == "90% CrI (HDI)").all()
    for _, curve in curves.groupby("line"):
        assert curve["mean"].iloc[0] == 1.0
        assert (np.diff(curve["mean"]) <= 0).all()
        assert (curve["lower"] <= curve["mean"] + 1e-12).all()
        assert (curve["mean"] <= curve["upper"] + 1e-12).all()
    default = survival_curves(make_idata(), kind=kind)
    assert default["time"].max() == ROWS["t"].max() and len(default) == 2 * 101


def test_typical_site_curve_crosses_one_half_at_the_median():
    idata = make_idata(tau=(0.0, 0.0))
    table = rows_of(summarise_ttp(idata), "median_typical_site")
    post = idata.posterior
    typical = np.exp(post["mu"]) * np.log(2) ** (1 / post["shape"])
    # Pointwise means of S at the posterior-median median are near but not exactly 0.5.
    m = table.loc["ICI-1", "median"]
    curve = survival_curves(idata, times=np.array([m]), kind="typical_site")
    assert curve.iloc[0]["median"] == pytest.approx(0.5, abs=0.03)
    assert float(typical.sel(line="ICI-1").median()) == pytest.approx(m)


def test_kaplan_meier_matches_lifelines_with_ties():
    t = np.array([3.0, 3.0, 3.0, 5.0, 7.0, 7.0, 8.0, 10.0, 12.0])
    e = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1])
    grid = np.array([0.0, 2.9, 3.0, 4.0, 7.0, 7.5, 9.0, 12.0, 13.0])
    expected = KaplanMeierFitter().fit(t, e).predict(list(grid)).to_numpy()
    np.testing.assert_allclose(kaplan_meier(t, e, grid), expected)


def test_predictive_band_of_replicates_equal_to_the_data_is_the_data():
    idata = make_idata()
    t = idata.observed_data["ttp"].to_numpy()
    idata.posterior_predictive["ttp"].values[:] = t
    band = predictive_survival_band(idata, max_draws=50)
    assert list(band.columns) == ["line", "time", "observed", "mean", "median", "lower", "upper",
                                  "interval"]
    np.testing.assert_allclose(band["mean"], band["observed"])
    np.testing.assert_allclose(band["lower"], band["upper"])
    live = predictive_survival_band(make_idata(), max_draws=50, seed=SEED)
    assert (live["lower"] <= live["upper"]).all() and set(live["line"]) == set(LINES)


def test_restricted_means_are_reported_at_the_horizons_the_fit_recorded():
    default = rows_of(summarise_ttp(make_idata(), seed=1), "rmst_population")["median"]
    idata = make_idata()  # another object: summaries are computed once per fit in a process
    options = json.loads(idata.posterior.attrs["rechallenge_options"])
    idata.posterior.attrs["rechallenge_options"] = json.dumps({**options, "horizons": [6.0]})
    six = rows_of(summarise_ttp(idata, seed=1), "rmst_population")["median"]
    assert sorted(default.index) == ["ICI-1, 12 months", "ICI-1, 24 months", "ICI-2, 12 months",
                                     "ICI-2, 24 months"]
    assert sorted(six.index) == ["ICI-1, 6 months", "ICI-2, 6 months"]
    for line in LINES:  # the area under a survival curve grows with the horizon, below it
        assert 0 < six[f"{line}, 6 months"] < 6.0
        assert six[f"{line}, 6 months"] < default[f"{line}, 12 months"]

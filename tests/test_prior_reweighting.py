"""Prior-sensitivity variants by Pareto-smoothed importance sampling of the main fit.

* Fast: the closed-form log ratio of the heterogeneity priors equals PyMC's log density of the
  models the run builds (``pm.logp`` of ``tau`` and the whole model's joint density under both
  ``prior_tau_sd`` values); weighted quantiles, intervals and moments of hand-made weighted draws.
* ``integration``: on the shipped data (objective response, 4 chains x 1000 draws as in the
  default run) the reweighted halved and doubled variants agree with actual refits within Monte
  Carlo error; a variant whose Pareto k is too high is refitted by the fitting stage, the table
  says so, and a run record that does not match the saved fits is refused.
"""

from __future__ import annotations

from dataclasses import replace

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from conftest import SEED
from scipy import stats

from rechallenge.analysis.run.fitting import (
    FitGroup,
    build_model,
    check_sensitivity_record,
    fit_group,
    sensitivity_records,
)
from rechallenge.analysis.run.manifest import RunDirectoryError
from rechallenge.analysis.settings.config import AnalysisConfig, RunConfig
from rechallenge.analysis.settings.families import family_of
from rechallenge.analysis.settings.fit_names import SENSITIVITY_SCALES, fit_key
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.endpoint_results import (
    endpoint_results,
    quantity_draws,
)
from rechallenge.analysis.summaries.prior_reweighting import (
    MAX_PARETO_K,
    REFITTED,
    REWEIGHTED,
    Reweighting,
    pareto_k_threshold,
    reweight_prior_scale,
    summarise_weighted,
    tau_log_ratio,
    weighted_hdi,
    weighted_interval,
    weighted_quantile,
    weighted_quantile_mcse,
)
from rechallenge.data import example_study
from rechallenge.data.study import Study
from rechallenge.models.sampling import fit


@pytest.fixture(scope="module")
def study() -> Study:
    return example_study()


# --------------------------------------------------------------------------- fast: log ratio


@pytest.mark.parametrize("endpoint", ["response", "ttp"])
def test_closed_form_log_ratio_equals_the_models_log_density(study: Study, endpoint: str) -> None:
    # The model the run builds for the main fit (nested, as on the shipped study).
    model = build_model(study, endpoint, RunConfig(), "partial")
    tau_sd = float(model["prior_tau_sd"].get_value())
    values = np.array([[0.01, 0.3], [0.8, 1.7], [2.5, 0.05]])  # draws x line
    point = model.initial_point()
    logp = model.compile_logp()

    def densities(sd: float) -> tuple[np.ndarray, np.ndarray]:
        pm.set_data({"prior_tau_sd": sd}, model=model)
        of_tau = np.array([pm.logp(model["tau"], v).eval().sum() for v in values])
        joint = np.array([logp({**point, "tau_log__": np.log(v)}) for v in values])
        return of_tau, joint

    base_tau, base_joint = densities(tau_sd)
    for factor in (*SENSITIVITY_SCALES.values(), 7.0):
        variant_tau, variant_joint = densities(tau_sd * factor)
        expected = tau_log_ratio(values, tau_sd, factor)
        np.testing.assert_allclose(expected, variant_tau - base_tau, rtol=1e-9, atol=1e-9)
        # The prior scale enters the model nowhere else: the joint density moves by as much.
        np.testing.assert_allclose(expected, variant_joint - base_joint, rtol=1e-7, atol=1e-7)
    pm.set_data({"prior_tau_sd": tau_sd}, model=model)


def test_log_ratio_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="> 0"):
        tau_log_ratio(np.ones((2, 2)), 1.0, 0.0)
    # Halving the scale: the ratio is bounded by 2 per line (at tau = 0).
    assert np.isclose(tau_log_ratio(np.zeros((1, 2)), 1.0, 0.5)[0], 2 * np.log(2))


def test_pareto_k_threshold_follows_the_sample_size() -> None:
    assert pareto_k_threshold(4000) == MAX_PARETO_K == 0.7
    assert pareto_k_threshold(300) == pytest.approx(1 - 1 / np.log10(300))
    assert pareto_k_threshold(300) < 0.7


# --------------------------------------------------------------------------- fast: weighted draws


def test_weighted_quantile_of_hand_made_weights() -> None:
    x = np.array([4.0, 1.0, 3.0, 2.0])
    w = np.array([0.4, 0.1, 0.3, 0.2])
    # Sorted draws 1, 2, 3, 4 stand at cumulative mid-weights 0.05, 0.2, 0.45, 0.8.
    np.testing.assert_allclose(weighted_quantile(x, w, [0.05, 0.2, 0.5, 0.8]),
                               [1.0, 2.0, 3 + 0.05 / 0.35, 4.0])
    np.testing.assert_allclose(weighted_quantile(x, w, [0.0, 0.01, 0.99, 1.0]), [1, 1, 4, 4])
    # Weights need not be normalised; a draw of weight 0 does not count.
    np.testing.assert_allclose(weighted_quantile([*x, 100.0], [*(10 * w), 0.0], 0.5), 3 + 0.05 / 0.35)
    lower, upper = weighted_interval(x, w, Interval(0.5))
    np.testing.assert_allclose([lower, upper], weighted_quantile(x, w, [0.25, 0.75]))
    with pytest.raises(ValueError, match=">= 0"):
        weighted_quantile(x, -w, 0.5)


def test_equal_weights_give_the_ordinary_quantiles() -> None:
    x = np.random.default_rng(SEED).gamma(2.0, size=501)
    probs = [0.025, 0.3, 0.5, 0.975]
    np.testing.assert_allclose(weighted_quantile(x, np.ones_like(x), probs),
                               np.quantile(x, probs, method="hazen"))
    lo, hi = weighted_hdi(x, np.ones_like(x), 0.9)
    ref_lo, ref_hi = az.hdi(x, hdi_prob=0.9)
    assert abs(lo - ref_lo) < 0.05 and abs(hi - ref_hi) < 0.05
    assert np.mean((x >= lo) & (x <= hi)) >= 0.9


def test_weights_tilting_a_normal_give_the_tilted_normal() -> None:
    # N(0, 1) draws weighted by exp(x) are a sample of N(1, 1).
    x = np.random.default_rng(SEED).normal(size=(4, 20000))
    log_w = x - 0.5
    weights = Reweighting(factor=1.0, tau_sd=1.0, log_weights=log_w - np.log(np.exp(log_w).sum()),
                          pareto_k=0.0, reff=1.0)
    probs = np.array([0.025, 0.5, 0.975])
    np.testing.assert_allclose(weighted_quantile(x, weights.weights, probs),
                               1 + stats.norm.ppf(probs), atol=0.06)
    row = summarise_weighted(x, weights, interval=Interval(0.95, "hdi"), quantity="q", line="a")
    assert row["mean"] == pytest.approx(1, abs=0.03) and row["sd"] == pytest.approx(1, abs=0.03)
    assert row["median"] == pytest.approx(1, abs=0.04)
    assert row["lower"] == pytest.approx(1 - 1.96, abs=0.08)
    assert row["upper"] == pytest.approx(1 + 1.96, abs=0.08)
    # The effective sample size of these weights is n / e (variance of exp(x) under N(0, 1)).
    assert weights.ess == pytest.approx(x.size / np.e, rel=0.1)
    assert 0 < row["mcse_mean"] < 0.03 and 0 < row["mcse_median"] < 0.03


# --------------------------------------------------------------------------- integration

@pytest.mark.parametrize("methods, says", [
    (["reweighted"] * 4, "Pareto k at most 0.70 for all 4 variants (a variant above it would "
                         "have been refitted)"),
    (["reweighted", "refitted", "reweighted", "reweighted"],
     "for the 3 of 4 variants with Pareto k at most 0.70 and by refits for the 1 above it"),
    (["refitted"] * 2, "by refits under halved and doubled heterogeneity prior scales (the "
                       "Pareto k of importance reweighting exceeded 0.70 for all 2 variants)"),
])
def test_the_methods_paragraph_says_how_the_variants_were_obtained(methods, says) -> None:
    from rechallenge.analysis.reporting.prose import methods_paragraph
    from rechallenge.analysis.summaries.diagnostics import Thresholds
    from rechallenge.models.binary import BINARY_PRIORS
    from rechallenge.models.priors import Priors

    attrs = {"sampler": {"backend": "nutpie", "chains": 4, "draws": 1000, "tune": 1000,
                         "target_accept": 0.9, "seed": SEED},
             "versions": {}, "priors": Priors(BINARY_PRIORS, model="binary").to_dict()}
    text = methods_paragraph(fit_attrs={"response": attrs}, interval=Interval(),
                             thresholds=Thresholds(), n_patients=58, n_sites=14,
                             lines=("ICI-1", "ICI-2"), synthetic=True, sensitivity=True,
                             comparators=False, sensitivity_methods=methods)
    assert says in text, text


ENDPOINT = "response"


@pytest.fixture(scope="module")
def config() -> RunConfig:
    """The shipped data's response endpoint with the default run's draws (4 chains x 1000)."""
    analysis = replace(AnalysisConfig(), endpoints=(ENDPOINT,), comparators=False)
    return RunConfig(analysis=analysis).with_sampler(draws=1000, tune=1000, chains=4, seed=SEED)


@pytest.fixture(scope="module")
def refitted(study: Study, config: RunConfig) -> dict:
    """The main fit and both variants actually refitted (as the run used to make them)."""
    s = config.sampler
    model = build_model(study, ENDPOINT, config, "partial")
    tau_sd = float(model["prior_tau_sd"].get_value())
    settings = {"draws": s.draws, "tune": s.tune, "chains": s.chains, "seed": s.seed}
    fits = {fit_key(ENDPOINT): fit(model, groups=("log_likelihood",), **settings)}
    for variant, factor in SENSITIVITY_SCALES.items():
        fits[fit_key(ENDPOINT, variant)] = fit(
            model, groups=(), data={"prior_tau_sd": tau_sd * factor}, **settings)
    return fits


@pytest.mark.integration
def test_reweighted_variants_agree_with_refits(refitted: dict, config: RunConfig) -> None:
    main = refitted[fit_key(ENDPOINT)]
    reweighted = endpoint_results(ENDPOINT, {fit_key(ENDPOINT): main}, config)
    refit = endpoint_results(ENDPOINT, refitted, config)
    shown = family_of("response").sensitivity_quantities
    default = reweighted.variant_summaries["default"].set_index(["quantity", "line"])
    main_draws = {(q, line): d for q, line, d in quantity_draws(main, ENDPOINT, config)}
    for variant in SENSITIVITY_SCALES:
        method, k = reweighted.variant_methods[variant]
        assert method == REWEIGHTED and k <= MAX_PARETO_K
        assert refit.variant_methods[variant] == (REFITTED, k)
        rw = reweighted.variant_summaries[variant].set_index(["quantity", "line"])
        rf = refit.variant_summaries[variant].set_index(["quantity", "line"])
        weights = reweight_prior_scale(main, SENSITIVITY_SCALES[variant])
        refit_draws = {(q, line): d for q, line, d in quantity_draws(
            refitted[fit_key(ENDPOINT, variant)], ENDPOINT, config) if q in shown}
        assert set(rw.index) == set(refit_draws) and len(rw) == 5
        moved = 0
        for key, draws in refit_draws.items():
            mcse_refit = float(np.ravel(az.mcse(draws, method="median"))[0])
            error = np.hypot(rw.loc[key, "mcse_median"], mcse_refit)
            difference = abs(rw.loc[key, "median"] - rf.loc[key, "median"])
            assert difference <= 4 * error, (variant, key, difference, error)
            # The interval bounds too, within their own (larger) Monte Carlo errors.
            for bound, prob in (("lower", 0.025), ("upper", 0.975)):
                error_bound = np.hypot(
                    weighted_quantile_mcse(main_draws[key], weights, prob),
                    float(np.ravel(az.mcse(draws, method="quantile", prob=prob))[0]))
                assert abs(rw.loc[key, bound] - rf.loc[key, bound]) <= 4 * error_bound, (
                    variant, key, bound, rw.loc[key, bound], rf.loc[key, bound], error_bound)
            # The test can fail: the variant moves some median from the default's by more than
            # the tolerance, so leaving the draws unweighted would fail.
            moved += abs(rf.loc[key, "median"] - default.loc[key, "median"]) > 4 * error
        assert moved >= 1, variant
    # The table shows both kinds the same way, and says how each variant was obtained.
    columns = [c for c in refit.sensitivity.columns if not c.endswith(("_method", "_pareto_k"))]
    assert columns == [c for c in reweighted.sensitivity.columns
                       if not c.endswith(("_method", "_pareto_k"))]
    assert set(reweighted.sensitivity["tau_half_method"]) == {REWEIGHTED}
    assert set(refit.sensitivity["tau_double_method"]) == {REFITTED}


@pytest.mark.integration
def test_a_variant_with_a_high_pareto_k_is_refitted(
    study: Study, config: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = fit_group(study, config, FitGroup("main", "partial", (ENDPOINT,)))
    # A prior scale 50 times smaller: the main posterior's draws are far from the variant's.
    monkeypatch.setitem(SENSITIVITY_SCALES, "tau_half", 0.02)
    stage = fit_group(study, config, FitGroup("main", "partial", (ENDPOINT,)))
    # Refitting a variant instead of reweighting it changes no other fit (fitting.py says so):
    # the main fit is drawn with the run's seed whatever else the group makes.
    assert not any(r["method"] == REFITTED for r in plain.sensitivity.values())
    main = fit_key(ENDPOINT)
    for name in plain.fits[main].posterior.data_vars:
        np.testing.assert_array_equal(stage.fits[main].posterior[name].to_numpy(),
                                      plain.fits[main].posterior[name].to_numpy(), err_msg=name)
    half, double = fit_key(ENDPOINT, "tau_half"), fit_key(ENDPOINT, "tau_double")
    assert stage.sensitivity[half]["method"] == REFITTED
    assert stage.sensitivity[half]["pareto_k"] > MAX_PARETO_K
    assert stage.sensitivity[double]["method"] == REWEIGHTED
    assert set(stage.fits) == {fit_key(ENDPOINT), half}
    # Run as a task, the lines travel back with the stage for the client to show.
    assert any(m.startswith(f"{ENDPOINT}: sensitivity refit, tau prior scale x0.02 (Pareto k")
               for m in stage.messages), stage.messages
    assert any(m.startswith(f"{ENDPOINT}: tau prior scale x2 reweighted") for m in stage.messages)
    assert stage.fits[half].posterior.attrs["rechallenge_priors"] != stage.fits[
        fit_key(ENDPOINT)].posterior.attrs["rechallenge_priors"]
    result = endpoint_results(ENDPOINT, stage.fits, config)
    table = result.sensitivity
    assert set(table["tau_half_method"]) == {REFITTED}
    assert set(table["tau_double_method"]) == {REWEIGHTED}
    assert set(table["tau_half_pareto_k"]) == {stage.sensitivity[half]["pareto_k"]}
    assert isinstance(table, pd.DataFrame) and table["tau_half_median"].notna().all()
    # The record is what recomputing from the saved fits gives; a wrong one is refused.
    assert sensitivity_records(stage.fits, config) == stage.sensitivity
    check_sensitivity_record(stage.sensitivity, stage.fits, config)
    with pytest.raises(RunDirectoryError, match="response__tau_half"):
        check_sensitivity_record(stage.sensitivity, {fit_key(ENDPOINT): stage.fits[fit_key(
            ENDPOINT)]}, config)
    wrong = {**stage.sensitivity, double: {**stage.sensitivity[double], "pareto_k": 0.1}}
    with pytest.raises(RunDirectoryError, match="response__tau_double"):
        check_sensitivity_record(wrong, stage.fits, config)

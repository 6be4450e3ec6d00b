"""Weibull TTP model: structure, log densities against closed forms, priors, and the shipped fit.

Fast tests (no sampling) build models and evaluate log densities; the ``integration`` tests fit
the shipped synthetic dataset once (module-scoped) with each likelihood form.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from conftest import SEED
from scipy import stats

from rechallenge.analysis.summaries.tidy import convergence
from rechallenge.analysis.summaries.ttp import site_medians, summarise_ttp
from rechallenge.data import example_study
from rechallenge.data.study import Study
from rechallenge.models.binary import BINARY_PRIORS, build_binary_model
from rechallenge.models.info import model_info
from rechallenge.models.priors import UnknownPriorError
from rechallenge.models.sampling import fit
from rechallenge.models.ttp import DEFAULT_LIKELIHOOD, TTP_PRIORS, build_ttp_model
from rechallenge.models.weibull_likelihood import (
    LOG_LOG2,
    censored_weibull_random,
    log_median_se,
)

LINES = ("ICI-1", "ICI-2")


def shipped_study() -> Study:
    frame = pd.read_csv(resources.files("rechallenge.data") / "synthetic_scheiner2023.csv")
    return Study(frame, lines=LINES, synthetic=True)


def small_study(aggregates: pd.DataFrame | None = None) -> Study:
    """Two sites, both lines, events and censored rows, an event and a censoring at one time."""
    rows = pd.DataFrame({
        "site": ["A", "A", "A", "A", "B", "B", "B", "B"],
        "patient_id": ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2"],
        "line": list(LINES) * 4,
        "ttp_months": [2.5, 7.0, 12.0, 0.4, 5.0, 5.0, 30.0, 1.2],
        "progressed": [1, 0, 1, 1, 0, 1, 0, 1],
        "regimen_class": ["ici_alone", "dual_ici", "ici_targeted", "ici_alone"] * 2,
        "age": [60.0, 60.0, 71.0, 71.0, 55.0, 55.0, 66.0, 66.0],
    })
    if aggregates is None:
        return Study(rows, lines=LINES)
    return Study(rows, aggregates, lines=LINES)


def ttp_aggregate(site: str = "C", line: str = "ICI-2", median=4.0, lower=2.5, upper=6.5):
    return pd.DataFrame([{"site": site, "line": line, "endpoint": "ttp", "n": 20, "events": 17,
                          "median_months": median, "median_lower": lower,
                          "median_upper": upper}])


def elementwise_logp(model: pm.Model, name: str, point: dict) -> np.ndarray:
    fn = model.compile_fn(model.logp(vars=[model[name]], sum=False)[0], inputs=model.value_vars,
                          on_unused_input="ignore")
    return np.asarray(fn(point))


# --------------------------------------------------------------------------------------------
# Log densities against closed forms (no sampling)


@pytest.mark.parametrize("likelihood", ["censored", "logspace"])
def test_censored_log_density_matches_scipy(likelihood):
    study = small_study()
    model = build_ttp_model(study, pooling="complete", likelihood=likelihood)
    mu, log_k = np.array([1.6, 2.1]), np.array([0.3, -0.2])
    got = elementwise_logp(model, "ttp", {"mu": mu, "log_shape": log_k})
    rows = study.patients
    line = pd.Categorical(rows["line"], categories=LINES).codes
    k, lam = np.exp(log_k)[line], np.exp(mu)[line]
    t, event = rows["ttp_months"].to_numpy(), rows["progressed"].to_numpy() == 1
    dist = stats.weibull_min(c=k, scale=lam)
    expected = np.where(event, dist.logpdf(t), dist.logsf(t))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert (~event).sum() == 3 and event.sum() == 5


def test_two_likelihood_forms_give_the_same_log_density_and_gradient():
    study = shipped_study()
    models = [build_ttp_model(study, likelihood=lik) for lik in ("censored", "logspace")]
    logps = [m.compile_logp() for m in models]
    dlogps = [m.compile_dlogp() for m in models]
    rng = np.random.default_rng(SEED)
    start = models[0].initial_point()
    for _ in range(5):
        point = {k: v + rng.normal(0, 0.3, size=np.shape(v)) for k, v in start.items()}
        assert np.isfinite(logps[0](point))
        assert logps[0](point) == pytest.approx(logps[1](point), rel=1e-10)
        np.testing.assert_allclose(dlogps[0](point), dlogps[1](point), rtol=1e-8, atol=1e-8)


def test_log_space_survival_stays_finite_where_pm_censored_underflows():
    """log S = -(t/lambda)^k exactly; pm.Censored's log1mexp(log1mexp(-a)) is -inf once e^-a < eps.

    Such points are far outside any posterior (here log S = -1e6), but the sampler may visit them
    during warm-up, where a finite log density and gradient are better than an error.
    """
    study = Study(pd.DataFrame({"site": ["A"], "patient_id": ["a"], "line": ["ICI-1"],
                                "ttp_months": [1000.0], "progressed": [0]}), lines=("ICI-1",))
    point = {"mu": np.array([0.0]), "log_shape": np.array([np.log(2.0)])}
    logspace = build_ttp_model(study, pooling="complete", likelihood="logspace")
    censored = build_ttp_model(study, pooling="complete", likelihood="censored")
    np.testing.assert_allclose(elementwise_logp(logspace, "ttp", point), [-1e6])
    assert np.isneginf(elementwise_logp(censored, "ttp", point)).all()


def test_random_draws_clip_at_the_censoring_time_like_pm_censored():
    """Both forms draw Weibull times and clip them at the censoring bound (4-sigma binomial/CLT)."""
    shape, scale, n = 1.4, 6.0, 40_000
    upper = np.array([np.inf, 3.0])
    ours = censored_weibull_random(np.full((n, 2), shape), np.full((n, 2), np.log(scale)),
                                   np.broadcast_to(upper, (n, 2)), np.random.default_rng(SEED))
    ref = pm.draw(pm.Censored.dist(pm.Weibull.dist(alpha=shape, beta=scale), lower=None,
                                   upper=upper, shape=(n, 2)), random_seed=SEED)
    s3 = stats.weibull_min(c=shape, scale=scale).sf(3.0)
    mean, var = (float(v) for v in stats.weibull_min(c=shape, scale=scale).stats("mv"))
    for draws in (ours, ref):
        assert draws[:, 1].max() == 3.0
        assert abs(np.mean(draws[:, 1] == 3.0) - s3) < 4 * np.sqrt(s3 * (1 - s3) / n)
        assert abs(draws[:, 0].mean() - mean) < 4 * np.sqrt(var / n)
    assert stats.ks_2samp(ours[:, 0], ref[:, 0]).pvalue > 1e-3


def test_aggregate_median_log_density_matches_normal_on_log_median():
    agg = ttp_aggregate()
    study = small_study(agg)
    model = build_ttp_model(study, pooling="complete")
    assert model.coords["site"] == ("A", "B", "C")
    assert model.named_vars_to_dims["log_median_obs"] == ("agg_obs",)
    mu, log_k = np.array([1.6, 2.1]), np.array([0.3, -0.2])
    got = elementwise_logp(model, "log_median_obs", {"mu": mu, "log_shape": log_k})
    se = (np.log(6.5) - np.log(2.5)) / (2 * stats.norm.ppf(0.975))
    log_median = mu[1] + LOG_LOG2 / np.exp(log_k[1])
    np.testing.assert_allclose(got, stats.norm(log_median, se).logpdf(np.log(4.0)), rtol=1e-9)
    assert log_median_se(np.array([2.5]), np.array([6.5]))[0] == pytest.approx(se, rel=1e-6)


# --------------------------------------------------------------------------------------------
# Structure, options and priors (no sampling)


@pytest.mark.parametrize("pooling", ["partial", "complete", "none"])
@pytest.mark.parametrize("shared_shape", [False, True])
def test_every_variable_has_dims_and_logp_is_finite(pooling, shared_shape):
    model = build_ttp_model(shipped_study(), pooling=pooling, shared_shape=shared_shape)
    dims = model.named_vars_to_dims
    for name, var in model.named_vars.items():
        if var.ndim > 0:
            assert name in dims and all(dims[name]), name
    assert {"site", "line", "line_b", "obs"} <= set(model.coords)
    assert dims["ttp"] == ("obs",)
    assert ("shape" in dims) is (not shared_shape)
    assert ("u_site" in model.named_vars) is (pooling != "complete")
    assert ("tau" in model.named_vars) is (pooling == "partial")
    assert np.isfinite(model.compile_logp()(model.initial_point()))
    info = model_info(model)
    names = {"partial": "partial_pooling", "complete": "complete_pooling", "none": "no_pooling"}
    assert info.name == f"ttp_weibull_{names[pooling]}"
    assert info.endpoint == "ttp" and info.lines == LINES and len(info.sites) == 14
    assert info.options["shared_shape"] is shared_shape
    assert info.data_hash == shipped_study().data_hash()


def test_data_containers_and_indices_come_from_the_coords():
    study = shipped_study()
    model = build_ttp_model(study)
    data = {d.name for d in model.data_vars}
    assert {"duration", "censor_upper", "site_idx", "line_idx", "prior_tau_sd"} <= data
    assert "prior_lkj_eta" not in data  # LKJ needs a constant eta
    rows = study.patients
    sites = model["site_idx"].get_value()
    assert [model.coords["site"][i] for i in sites] == rows["site"].tolist()
    upper = model["censor_upper"].get_value()
    assert np.array_equal(np.isinf(upper), rows["progressed"].to_numpy() == 1)
    assert np.array_equal(upper[~np.isinf(upper)], rows["ttp_months"][rows["progressed"] == 0])


def test_patient_effect_and_covariates():
    study = small_study()
    model = build_ttp_model(study, patient_effect=True, covariates=("regimen_class", "age"),
                            covariate_effects="per_line")
    dims = model.named_vars_to_dims
    assert model.coords["patient"] == ("a1", "a2", "b1", "b2")
    assert dims["u_patient"] == ("patient",) and dims["z_patient"] == ("patient",)
    assert "sigma_patient" in model.named_vars and "prior_sigma_patient_sd" in model.named_vars
    assert model.coords["covariate"] == (
        "regimen_class[dual_ici]", "regimen_class[ici_targeted]", "age")
    assert dims["beta"] == ("covariate", "line") and dims["mu"] == ("line",)
    assert np.isfinite(model.compile_logp()(model.initial_point()))
    shared = build_ttp_model(study, covariates=("age",))
    assert shared.named_vars_to_dims["beta"] == ("covariate",)


def test_aggregate_rows_use_the_covariate_mix_of_their_line():
    model = build_ttp_model(small_study(ttp_aggregate()), covariates=("age",))
    # age is centred on its mean over all rows; both lines have the same patients, so 0.
    np.testing.assert_allclose(model["agg_covariate_x"].get_value(), [[0.0]])


def test_builder_is_pure():
    study = small_study(ttp_aggregate())
    before = (study.patients.copy(), study.aggregates.copy())
    first = build_ttp_model(study)
    second = build_ttp_model(study)
    pd.testing.assert_frame_equal(study.patients, before[0])
    pd.testing.assert_frame_equal(study.aggregates, before[1])
    point = first.initial_point()
    assert first.compile_logp()(point) == second.compile_logp()(point)


def test_priors_override_by_name_and_unknown_names_raise():
    model = build_ttp_model(small_study(), priors={"tau_sd": 0.25, "mu_mean": 0.0})
    assert model["prior_tau_sd"].get_value() == 0.25
    assert model["prior_mu_mean"].get_value() == 0.0
    assert model_info(model).priors.overridden == ("mu_mean", "tau_sd")
    with pytest.raises(UnknownPriorError, match="tau_scale"):
        build_ttp_model(small_study(), priors={"tau_scale": 1.0})
    with pytest.raises(ValueError, match="must be"):
        build_ttp_model(small_study(), priors={"tau_sd": -1.0})
    for name, default in TTP_PRIORS.items():
        assert default.reason and default.distribution, name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pooling": "hierarchical"}, "unknown pooling"),
        ({"likelihood": "exact"}, "unknown likelihood"),
        ({"covariate_effects": "mixed"}, "unknown covariate_effects"),
        ({"covariates": ("bmi",)}, "bmi"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_ttp_model(small_study(), **kwargs)


def test_bad_aggregates_and_a_patient_effect_with_aggregates_raise():
    with pytest.raises(ValueError, match="median_lower"):
        build_ttp_model(small_study(ttp_aggregate(lower=-0.5)))
    with pytest.raises(ValueError, match="median_lower"):
        build_ttp_model(small_study(ttp_aggregate(upper=np.nan)))
    with pytest.raises(ValueError, match="patient_effect cannot be combined"):
        build_ttp_model(small_study(ttp_aggregate()), patient_effect=True)


def test_site_effect_prior_has_the_stated_scales():
    """tau ~ HalfNormal(0.5), corr ~ LKJ(2) (variance 1/5 for two lines), u_site sd = rms tau."""
    model = build_ttp_model(shipped_study())
    tau, corr, u = pm.draw([model["tau"], model["site_corr"], model["u_site"]], draws=20_000,
                           random_seed=SEED)
    assert np.quantile(tau, 0.95) == pytest.approx(0.5 * 1.959964, rel=0.03)
    assert corr[:, 0, 1].var() == pytest.approx(0.2, rel=0.05)
    np.testing.assert_allclose(u.std(axis=(0, 1)), np.sqrt((tau**2).mean(axis=0)), rtol=0.03)


def test_default_likelihood_is_the_log_space_form():
    assert DEFAULT_LIKELIHOOD == "logspace"
    assert model_info(build_ttp_model(small_study())).options["likelihood"] == "logspace"


# --------------------------------------------------------------------------------------------
# The shipped dataset (seeded fits)


@pytest.fixture(scope="module")
def shipped_models():
    study = shipped_study()
    return {lik: build_ttp_model(study, likelihood=lik) for lik in ("logspace", "censored")}


@pytest.fixture(scope="module")
def shipped_fits(shipped_models):
    return {lik: fit(model, seed=SEED) for lik, model in shipped_models.items()}


def _scalar_draws(posterior):
    for name, da in posterior.data_vars.items():
        other = [d for d in da.dims if d not in ("chain", "draw")]
        flat = da.stack(element=other) if other else da.expand_dims(element=[0])
        for i in range(flat.sizes["element"]):
            yield f"{name}[{i}]", flat.isel(element=i).transpose("chain", "draw").to_numpy()


@pytest.mark.integration
def test_shipped_fit_converges_for_every_parameter_and_derived_quantity(shipped_fits):
    idata = shipped_fits["logspace"]
    assert int(idata.sample_stats["diverging"].sum()) == 0
    failures = []
    for name, draws in _scalar_draws(idata.posterior):
        diag = convergence(draws)
        if diag["r_hat"] > 1.01 or min(diag["ess_bulk"], diag["ess_tail"]) < 400:
            failures.append((name, diag))
    derived = pd.concat([summarise_ttp(idata, seed=SEED), site_medians(idata)])
    bad = derived[(derived["r_hat"] > 1.01) | (derived[["ess_bulk", "ess_tail"]].min(axis=1) < 400)]
    assert not failures, failures
    assert bad.empty, bad[["quantity", "line", "r_hat", "ess_bulk", "ess_tail"]]


@pytest.mark.integration
def test_both_likelihood_forms_give_the_same_posterior(shipped_fits):
    """Posterior means agree within 4 combined Monte Carlo standard errors (35 comparisons)."""
    import arviz as az

    a, b = (shipped_fits[k].posterior for k in ("logspace", "censored"))
    for name in ("mu", "shape", "tau", "site_corr_pairs", "u_site"):
        for (label, x), (_, y) in zip(_scalar_draws(a[[name]]), _scalar_draws(b[[name]])):
            mcse = np.hypot(float(np.ravel(az.mcse(x))[0]), float(np.ravel(az.mcse(y))[0]))
            assert abs(x.mean() - y.mean()) < 4 * mcse, (label, x.mean(), y.mean(), mcse)


@pytest.mark.integration
def test_refit_on_new_data_of_the_same_shape_reuses_the_model(shipped_models, shipped_fits):
    """Doubling every time (censoring bounds too) shifts each log scale by log 2 (an AFT model)."""
    model = shipped_models["logspace"]
    duration = model["duration"].get_value()
    upper = model["censor_upper"].get_value()
    refit = fit(model, data={"duration": 2 * duration, "censor_upper": 2 * upper}, seed=SEED)
    np.testing.assert_allclose(refit.observed_data["ttp"], 2 * duration)
    np.testing.assert_array_equal(model["duration"].get_value(), duration)  # restored
    before = shipped_fits["logspace"].posterior["mu"].mean(("chain", "draw"))
    after = refit.posterior["mu"].mean(("chain", "draw"))
    # Exactly log 2 but for the prior on mu (sd 1 against a posterior sd ~0.15): ~0.02 shrinkage.
    np.testing.assert_allclose(after - before, np.log(2), atol=0.05)


def test_the_two_builders_use_one_vocabulary():
    """One name per concept in both models (issue 23): line intercept ``mu``, covariate
    coefficients ``beta``, site effects, patient effect, and the priors and options behind them;
    the TTP model adds only its shape (and the mean of its intercepts' prior)."""
    study = example_study()
    options = {"patient_effect": True, "covariates": ("age",)}
    binary = build_binary_model(study.for_endpoint("response"), "response", **options)
    ttp = build_ttp_model(study.for_endpoint("ttp"), **options)
    names = {family: {v.name for v in model.free_RVs + model.deterministics}
             for family, model in (("binary", binary), ("ttp", ttp))}
    shared = {"mu", "beta", "tau", "z_site", "u_site", "site_corr", "site_corr_pairs",
              "sigma_patient", "z_patient", "u_patient"}
    assert names["binary"] - {"p"} == shared
    assert names["ttp"] - {"log_shape", "shape"} == shared
    for model in (binary, ttp):
        assert model.named_vars_to_dims["mu"] == ("line",)
        assert model.named_vars_to_dims["beta"] == ("covariate",)
        assert model_info(model).options["patient_effect"] is True
    assert set(TTP_PRIORS) - {"mu_mean", "shape_log_sd"} == set(BINARY_PRIORS)

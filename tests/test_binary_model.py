"""Binary hierarchical model: structure, log densities against closed forms, input errors, fits.

Fast tests (no sampling) build models and evaluate log densities. The ``integration`` tests fit
the shipped synthetic dataset (one compiled model per endpoint, module-scoped) and check
convergence of every parameter and derived quantity, collapsed against uncollapsed rows, and
nutpie against PyMC.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from conftest import SEED, assert_posteriors_agree
from scipy import integrate, stats
from scipy.special import expit, gammaln

from rechallenge.analysis.summaries.binary import site_estimates, summarise_binary
from rechallenge.analysis.summaries.tidy import convergence
from rechallenge.data import example_study
from rechallenge.data.study import Study
from rechallenge.models.binary import (
    BINARY_PRIORS,
    MODEL_NAMES,
    build_binary_model,
    logit_binomial,
)
from rechallenge.models.binary_rows import binary_rows
from rechallenge.models.effects import small_cholesky
from rechallenge.models.info import model_info
from rechallenge.models.priors import UnknownPriorError
from rechallenge.models.sampling import fit

LINES = ("ICI-1", "ICI-2")


def small_study(aggregates: pd.DataFrame | None = None) -> Study:
    """Three sites, four patients, both lines; site C has a patient with one line only."""
    rows = pd.DataFrame({
        "site": ["A", "A", "A", "A", "B", "B", "B", "B", "C"],
        "patient_id": ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2", "c1"],
        "line": list(LINES) * 4 + ["ICI-1"],
        "best_response": ["PR", "PD", "SD", "CR", "PD", "PD", "NE", "PR", "CR"],
        "trae_grade_3_4": [0, 1, 0, 0, 1, 0, 0, 0, 1],
        "regimen_class": ["ici_alone", "dual_ici", "ici_targeted", "ici_alone"] * 2 + ["dual_ici"],
        "age": [60.0, 60.0, 71.0, 71.0, 55.0, 55.0, 66.0, 66.0, 49.0],
    })
    if aggregates is None:
        return Study(rows, lines=LINES)
    return Study(rows, aggregates, lines=LINES)


def counts(site="D", n=(12, 10), events=(3, 5), endpoint="response") -> pd.DataFrame:
    return pd.DataFrame({"site": site, "line": list(LINES), "endpoint": endpoint,
                         "n": list(n), "events": list(events)})


def check_all_dims(model: pm.Model) -> None:
    """Every free RV, Deterministic, Data and observed variable has dims, or is a scalar."""
    named = list(model.free_RVs) + list(model.deterministics) + list(model.observed_RVs)
    named += [model[name] for name in model.named_vars if name in {d.name for d in model.data_vars}]
    for var in named:
        dims = model.named_vars_to_dims.get(var.name)
        if var.ndim == 0:
            assert dims is None, var.name
            continue
        assert dims is not None and len(dims) == var.ndim, f"{var.name} lacks dims"
        shape = tuple(model.dim_lengths[d].eval() for d in dims)
        assert shape == tuple(var.shape.eval()), var.name


# Compiled functions per model: a test that evaluates one model at several points compiles it
# once (compiling, not evaluating, is what takes the time).
_VALUE_FNS: weakref.WeakKeyDictionary[pm.Model, dict[tuple[str, ...], Callable]] = (
    weakref.WeakKeyDictionary())
_LOGP_FNS: weakref.WeakKeyDictionary[pm.Model, Callable] = weakref.WeakKeyDictionary()
_STARTS: weakref.WeakKeyDictionary[pm.Model, dict] = weakref.WeakKeyDictionary()


def point_values(model: pm.Model, names: list[str], seed: int = SEED) -> tuple[dict, list]:
    """A random point of the unconstrained space and the model's values there."""
    rng = np.random.default_rng(seed)
    if model not in _STARTS:  # initial_point() compiles a function too
        _STARTS[model] = model.initial_point()
    point = {k: v + rng.normal(0, 0.7, size=np.shape(v)) for k, v in _STARTS[model].items()}
    fns = _VALUE_FNS.setdefault(model, {})
    if tuple(names) not in fns:
        # Random variables must be replaced by their value variables, or compiling draws from them.
        outs = model.replace_rvs_by_values([model[n] for n in names])
        fns[tuple(names)] = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    return point, fns[tuple(names)](point)


def logp_at(model: pm.Model, point: dict) -> float:
    if model not in _LOGP_FNS:
        _LOGP_FNS[model] = model.compile_logp(jacobian=False)
    return float(_LOGP_FNS[model](point))


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("options", [
    {},
    {"pooling": "complete"},
    {"pooling": "none"},
    {"patient_effect": True},
    {"covariates": ["regimen_class", "age"]},
    {"covariates": ["regimen_class"], "covariate_effects": "per_line", "collapse": False},
])
def test_every_variable_has_dims_and_shapes_match(options: dict) -> None:
    model = build_binary_model(small_study(), "response", **options)
    check_all_dims(model)
    assert model.coords["site"] == ("A", "B", "C")
    assert model.coords["line"] == LINES
    assert model.named_vars_to_dims["p"] == ("site", "line")
    assert model.named_vars_to_dims["y"] == ("obs",)
    for name in ("n", "events", "site_idx", "line_idx"):
        assert model.named_vars_to_dims[name] == ("obs",)


def test_aggregate_rows_and_patient_effect_have_dims() -> None:
    model = build_binary_model(small_study(counts()), "response", patient_effect=True)
    check_all_dims(model)
    assert model.coords["site"] == ("A", "B", "C", "D")
    assert len(model.coords["patient"]) == 5
    assert len(model.coords["obs"]) == 9 + 2


def test_partial_pooling_variables() -> None:
    model = build_binary_model(small_study(), "response")
    assert {v.name for v in model.free_RVs} == {"mu", "tau", "z_site", "site_corr_pairs"}
    assert {v.name for v in model.deterministics} == {"site_corr", "u_site", "p"}
    assert model.named_vars_to_dims["site_corr"] == ("line", "line_b")
    info = model_info(model)
    assert info.name == "binary_partial_pooling"
    assert info.endpoint == "response"
    assert info.lines == LINES and info.sites == ("A", "B", "C")
    assert info.data_hash == small_study().data_hash()
    json.dumps(dict(info.options))  # JSON-able
    assert info.options["collapse"] is True


def test_comparators_variable_sets() -> None:
    complete = build_binary_model(small_study(), "response", pooling="complete")
    assert {v.name for v in complete.free_RVs} == {"mu"}
    assert {v.name for v in complete.deterministics} == {"p"}
    none = build_binary_model(small_study(), "response", pooling="none")
    assert {v.name for v in none.free_RVs} == {"u_site"}
    assert "mu" not in none.named_vars and "tau" not in none.named_vars
    assert model_info(complete).name == MODEL_NAMES["complete"] == "binary_complete_pooling"
    assert model_info(none).name == "binary_no_pooling"
    patient = build_binary_model(small_study(), "response", patient_effect=True)
    assert {"sigma_patient", "z_patient"} <= {v.name for v in patient.free_RVs}
    assert model_info(patient).options["collapse"] is False
    shared = build_binary_model(small_study(), "response", covariates=["regimen_class"])
    per_line = build_binary_model(small_study(), "response", covariates=["regimen_class"],
                                  covariate_effects="per_line")
    assert shared.named_vars_to_dims["beta"] == ("covariate",)
    assert per_line.named_vars_to_dims["beta"] == ("covariate", "line")
    assert shared.coords["covariate"] == ("regimen_class[dual_ici]", "regimen_class[ici_targeted]")


def test_one_line_is_plain_hierarchical_binomial() -> None:
    study = example_study()
    one = Study(study.patients[study.patients["line"] == "ICI-1"], lines=("ICI-1",))
    model = build_binary_model(one, "response")
    check_all_dims(model)
    assert {v.name for v in model.free_RVs} == {"mu", "tau", "z_site"}
    assert "site_corr" not in model.named_vars and "line_b" not in model.coords
    assert len(model.coords["obs"]) == 14


def test_builder_is_pure() -> None:
    study = small_study(counts())
    before = (study.patients.copy(), study.aggregates.copy(), study.data_hash())
    first = build_binary_model(study, "response")
    second = build_binary_model(study, "response")
    pd.testing.assert_frame_equal(study.patients, before[0])
    pd.testing.assert_frame_equal(study.aggregates, before[1])
    assert study.data_hash() == before[2]
    assert first is not second and model_info(first) == model_info(second)


def test_priors_are_data_with_reasons_and_overrides() -> None:
    for name, default in BINARY_PRIORS.items():
        assert default.reason and default.distribution and default.value > 0, name
    model = build_binary_model(small_study(), "response", priors={"tau_sd": 0.5})
    assert float(model["prior_tau_sd"].get_value()) == 0.5
    assert float(model["prior_mu_sd"].get_value()) == BINARY_PRIORS["mu_sd"].value
    assert model_info(model).priors["tau_sd"] == 0.5


def test_small_cholesky_matches_numpy() -> None:
    matrix = pt.dmatrix("m")
    for n in (2, 3, 4):
        a = np.random.default_rng(n).standard_normal((n, n))
        spd = a @ a.T + n * np.eye(n)
        fn = pytensor.function([matrix], small_cholesky(matrix, n))
        np.testing.assert_allclose(fn(spd), np.linalg.cholesky(spd), rtol=1e-12)


# --------------------------------------------------------------------------- rows


def test_collapsing_keeps_sufficient_statistics() -> None:
    study = example_study()
    for endpoint in ("response", "disease_control", "toxicity"):
        wide = binary_rows(study, endpoint, collapse=False).frame
        narrow = binary_rows(study, endpoint).frame
        assert len(wide) == 116 and len(narrow) == 28
        assert (wide["n"] == 1).all()
        a = wide.groupby(["site", "line"])[["n", "events"]].sum()
        b = narrow.groupby(["site", "line"])[["n", "events"]].sum()
        pd.testing.assert_frame_equal(a, b)
    resp = binary_rows(study, "response").frame.groupby("line")["events"].sum()
    assert resp.to_dict() == {"ICI-1": 13, "ICI-2": 15}


def test_collapsed_and_uncollapsed_log_densities_differ_by_a_constant() -> None:
    study = small_study(counts())
    collapsed = build_binary_model(study, "response", collapse=True)
    uncollapsed = build_binary_model(study, "response", collapse=False)
    assert len(collapsed.coords["obs"]) == 5 + 2 and len(uncollapsed.coords["obs"]) == 9 + 2
    # Binomial(n, k) of a collapsed row = sum of Bernoulli log densities + log C(n, k).
    # Aggregate rows are the same in both; the collapsed patient rows here give 3 log 2.
    rows = binary_rows(study, "response").frame.query("source == 'patients'")
    constant = float(np.sum(stats.binom.logpmf(rows["events"], rows["n"], 0.5) - rows["n"] * np.log(0.5)))
    assert constant == pytest.approx(3 * np.log(2))
    for seed in range(3):
        point, _ = point_values(collapsed, ["mu"], seed=seed)
        assert logp_at(collapsed, point) - logp_at(uncollapsed, point) == pytest.approx(constant, abs=1e-9)


def test_collapsing_with_covariates_groups_by_pattern() -> None:
    study = example_study()
    rows = binary_rows(study, "response", covariates=["regimen_class"])
    patients = study.patients.assign(y=study.patients["best_response"].isin(["CR", "PR"]))
    cells = patients.groupby(["site", "line", "regimen_class"])["y"].agg(["size", "sum"])
    assert len(rows.frame) == len(cells) < 116
    assert rows.frame["n"].sum() == 116 and rows.frame["events"].sum() == 28
    # Each row's design row is its regimen's dummy coding; counts match the cell.
    levels = ["ici_alone", "dual_ici", "ici_targeted"]
    for (_, row), x in zip(rows.frame.iterrows(), rows.X):
        regimen = levels[int(np.argmax(x)) + 1] if x.any() else levels[0]
        assert tuple(cells.loc[(row["site"], row["line"], regimen)]) == (row["n"], row["events"])


# --------------------------------------------------------------------------- log densities


def test_log_density_one_line_against_closed_form() -> None:
    agg = pd.DataFrame({"site": ["A", "B", "C"], "line": "L", "endpoint": "response",
                        "n": [10, 20, 7], "events": [2, 9, 0]})
    study = Study(pd.DataFrame(columns=["site", "patient_id", "line", "best_response"]), agg,
                  lines=("L",))
    model = build_binary_model(study, "response", priors={"mu_sd": 2.0, "tau_sd": 0.7})
    point, (mu, tau, z) = point_values(model, ["mu", "tau", "z_site"])
    p = expit(mu[0] + tau[0] * z[:, 0])
    expected = (stats.norm.logpdf(mu[0], 0, 2.0) + stats.halfnorm.logpdf(tau[0], scale=0.7)
                + stats.norm.logpdf(z).sum() + stats.binom.logpmf([2, 9, 0], [10, 20, 7], p).sum())
    assert logp_at(model, point) == pytest.approx(expected, rel=1e-10)


def test_log_density_two_lines_with_lkj_against_closed_form() -> None:
    model = build_binary_model(small_study(counts()), "response", priors={"lkj_eta": 3.0})
    rows = binary_rows(small_study(counts()), "response").frame
    site = pd.Categorical(rows["site"], categories=["A", "B", "C", "D"]).codes
    line = pd.Categorical(rows["line"], categories=list(LINES)).codes
    for seed in range(3):
        point, (mu, tau, z, corr, p) = point_values(model, ["mu", "tau", "z_site", "site_corr", "p"], seed)
        r = corr[0, 1]
        chol = np.array([[1.0, 0.0], [r, np.sqrt(1 - r**2)]])
        np.testing.assert_allclose(expit(mu + (z @ chol.T) * tau), p, rtol=1e-12)
        # For two lines LKJ(eta) is (r + 1) / 2 ~ Beta(eta, eta).
        lkj = stats.beta.logpdf((r + 1) / 2, 3.0, 3.0) - np.log(2)
        expected = (stats.norm.logpdf(mu, 0, 1.5).sum() + stats.halfnorm.logpdf(tau, scale=1.0).sum()
                    + stats.norm.logpdf(z).sum() + lkj
                    + stats.binom.logpmf(rows["events"], rows["n"], p[site, line]).sum())
        # rel 1e-8: PyMC's Beta log density sits 5e-8 above SciPy's (its log-Beta constant).
        assert logp_at(model, point) == pytest.approx(expected, rel=1e-8)


def test_log_density_patient_effect_with_aggregate_rows() -> None:
    study = small_study(counts())
    model = build_binary_model(study, "response", pooling="complete", patient_effect=True,
                               priors={"sigma_patient_sd": 0.8})
    point, (mu, sigma, z_pat) = point_values(model, ["mu", "sigma_patient", "z_patient"])
    rows = binary_rows(study, "response", patient_effect=True).frame
    patients = list(dict.fromkeys(rows.loc[rows["patient"] != "", "patient"]))
    total = (stats.norm.logpdf(mu, 0, 1.5).sum() + stats.halfnorm.logpdf(sigma, scale=0.8)
             + stats.norm.logpdf(z_pat).sum())
    for _, row in rows.iterrows():
        eta = mu[LINES.index(row["line"])]
        if row["source"] == "patients":
            prob = expit(eta + sigma * z_pat[patients.index(row["patient"])])
        else:  # aggregate rows: the probability averaged over patients, by adaptive quadrature
            prob = integrate.quad(lambda u: expit(eta + sigma * u) * stats.norm.pdf(u), -12, 12)[0]
        total += stats.binom.logpmf(row["events"], row["n"], prob)
    assert logp_at(model, point) == pytest.approx(total, rel=1e-8)


def test_log_density_covariates_per_line() -> None:
    study = small_study()
    model = build_binary_model(study, "response", pooling="complete", covariates=["age"],
                               covariate_effects="per_line", collapse=False, priors={"beta_sd": 0.3})
    point, (mu, beta) = point_values(model, ["mu", "beta"])
    rows = binary_rows(study, "response", covariates=["age"], collapse=False)
    age = study.patients["age"].to_numpy()
    x = age - age.mean()
    np.testing.assert_allclose(rows.X[:, 0], x)
    line = rows.codes("line")
    prob = expit(mu[line] + x * beta[0, line])
    expected = (stats.norm.logpdf(mu, 0, 1.5).sum() + stats.norm.logpdf(beta, 0, 0.3).sum()
                + stats.binom.logpmf(rows.frame["events"], 1, prob).sum())
    assert logp_at(model, point) == pytest.approx(expected, rel=1e-10)


def test_log_density_no_pooling() -> None:
    model = build_binary_model(small_study(), "toxicity", pooling="none", priors={"site_effect_sd": 2.5})
    point, (u, p) = point_values(model, ["u_site", "p"])
    np.testing.assert_allclose(p, expit(u))
    rows = binary_rows(small_study(), "toxicity").frame
    site, line = (pd.Categorical(rows[c], categories=cats).codes
                  for c, cats in (("site", ["A", "B", "C"]), ("line", list(LINES))))
    expected = stats.norm.logpdf(u, 0, 2.5).sum() + stats.binom.logpmf(
        rows["events"], rows["n"], p[site, line]).sum()
    assert logp_at(model, point) == pytest.approx(expected, rel=1e-10)


# --------------------------------------------------------------------------- input errors


def test_unknown_prior_name_raises() -> None:
    with pytest.raises(UnknownPriorError, match="tau_scale"):
        build_binary_model(small_study(), "response", priors={"tau_scale": 1.0})


def test_unknown_endpoint_raises() -> None:
    with pytest.raises(ValueError, match="'ttp' is not a binary endpoint"):
        build_binary_model(small_study(), "ttp")
    with pytest.raises(ValueError, match="unknown endpoint 'grade_2_4'"):
        build_binary_model(small_study(), "grade_2_4")


def test_line_without_rows_raises() -> None:
    study = Study(small_study().patients, lines=("ICI-1", "ICI-2", "ICI-3"))
    with pytest.raises(ValueError, match=r"line\(s\) \['ICI-3'\].*no rows"):
        build_binary_model(study, "response")


def test_line_label_not_in_study_lines_raises() -> None:
    study = Study(small_study().patients, lines=("ICI-1",))
    with pytest.raises(ValueError, match=r"\['ICI-2'\] are not in the study's lines"):
        build_binary_model(study, "response")


def test_site_without_rows_for_the_endpoint_raises() -> None:
    ttp_only = pd.DataFrame([{"site": "Z", "line": "ICI-1", "endpoint": "ttp", "n": 20,
                              "events": 15, "median_months": 4.0, "median_lower": 2.0,
                              "median_upper": 6.0}])
    with pytest.raises(ValueError, match=r"site\(s\) \['Z'\] have no rows for 'response'"):
        build_binary_model(small_study(ttp_only), "response")


def test_missing_covariate_raises() -> None:
    with pytest.raises(ValueError, match="covariate 'sex' is not a column"):
        build_binary_model(small_study(), "response", covariates=["sex"])


def test_missing_endpoint_column_raises() -> None:
    study = Study(small_study().patients.drop(columns="trae_grade_3_4"), lines=LINES)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['trae_grade_3_4'\]"):
        build_binary_model(study, "toxicity")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pooling": "partly"}, "unknown pooling"),
    ({"covariate_effects": "both"}, "unknown covariate_effects"),
    ({"patient_effect": True, "collapse": True}, "collapse=True cannot be combined"),
])
def test_bad_options_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_binary_model(small_study(), "response", **kwargs)


def test_covariates_with_aggregate_rows_raise() -> None:
    with pytest.raises(ValueError, match="aggregate row"):
        build_binary_model(small_study(counts()), "response", covariates=["age"])


def test_duplicate_patient_line_rows_raise() -> None:
    rows = small_study().patients
    study = Study(pd.concat([rows, rows.iloc[[0]]], ignore_index=True), lines=LINES)
    with pytest.raises(ValueError, match="more than once"):
        build_binary_model(study, "response", patient_effect=True)


def test_bad_aggregate_counts_raise() -> None:
    with pytest.raises(ValueError, match="0 <= events <= n"):
        build_binary_model(small_study(counts(events=(13, 2))), "response")


# --------------------------------------------------------------------------- fits (integration)

ENDPOINTS = ("response", "disease_control", "toxicity")


@pytest.fixture(scope="module")
def shipped_fits() -> dict[str, az.InferenceData]:
    study = example_study()
    return {ep: fit(build_binary_model(study, ep), seed=SEED) for ep in ENDPOINTS}


@pytest.mark.integration
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_shipped_fit_converges_for_every_parameter_and_quantity(
    shipped_fits: dict[str, az.InferenceData], endpoint: str
) -> None:
    idata = shipped_fits[endpoint]
    assert int(idata.sample_stats["diverging"].sum()) == 0
    post = idata.posterior
    lines = list(post.coords["line"].to_numpy())
    failures = []
    for name, da in post.data_vars.items():
        stacked = da.stack(cell=[d for d in da.dims if d not in ("chain", "draw")]) if da.ndim > 2 else da
        cells = [stacked.isel(cell=i) for i in range(stacked.sizes["cell"])] if "cell" in stacked.dims else [stacked]
        for cell in cells:
            values = cell.transpose("chain", "draw").to_numpy()
            if name == "site_corr" and np.allclose(values, 1.0):
                continue  # the diagonal: constant
            diag = convergence(values)
            if diag["r_hat"] > 1.01 or min(diag["ess_bulk"], diag["ess_tail"]) < 400:
                failures.append((name, diag))
    summary = summarise_binary(idata)
    sites = site_estimates(idata)
    for table in (summary, sites):
        bad = table[(table["r_hat"] > 1.01) | (table["ess_bulk"] < 400) | (table["ess_tail"] < 400)]
        failures += bad[["quantity", "line"]].to_dict("records")
    assert not failures
    assert set(summary["line"]) == set(lines) | {"ICI-2 vs ICI-1"}
    assert (summary["endpoint"] == endpoint).all()


@pytest.mark.integration
def test_shipped_response_posterior_is_sensible(shipped_fits: dict[str, az.InferenceData]) -> None:
    summary = summarise_binary(shipped_fits["response"]).set_index(["quantity", "line"])
    # Crude rates 13/58 and 15/58; the population average must sit near them.
    assert summary.loc[("probability_population", "ICI-1"), "mean"] == pytest.approx(13 / 58, abs=0.04)
    assert summary.loc[("probability_population", "ICI-2"), "mean"] == pytest.approx(15 / 58, abs=0.04)
    sites = site_estimates(shipped_fits["response"])
    assert sites.groupby("line")["events"].sum().to_dict() == {"ICI-1": 13, "ICI-2": 15}
    assert sites.groupby("line")["n"].sum().to_dict() == {"ICI-1": 58, "ICI-2": 58}
    # Shrinkage: every site estimate lies between its raw proportion and the population mean.
    pop = summary.xs("probability_population", level="quantity")["mean"]
    for _, row in sites.iterrows():
        lo, hi = sorted((row["proportion"], pop[row["line"]]))
        assert lo - 0.03 <= row["mean"] <= hi + 0.03


@pytest.mark.integration
def test_summaries_survive_a_netcdf_round_trip(shipped_fits, tmp_path) -> None:
    idata = shipped_fits["toxicity"]
    path = tmp_path / "toxicity.nc"
    idata.to_netcdf(str(path))
    loaded = az.from_netcdf(str(path))
    pd.testing.assert_frame_equal(summarise_binary(loaded, seed=1), summarise_binary(idata, seed=1))
    pd.testing.assert_frame_equal(site_estimates(loaded), site_estimates(idata))
    assert {"posterior", "prior", "posterior_predictive", "log_likelihood", "observed_data",
            "constant_data"} <= set(loaded.groups())
    assert loaded.log_likelihood["y"].shape[-1] == 28


@pytest.mark.integration
def test_collapsed_and_uncollapsed_give_the_same_posterior(shipped_fits) -> None:
    study = example_study()
    uncollapsed = fit(build_binary_model(study, "response", collapse=False), seed=SEED + 1)
    assert uncollapsed.posterior.sizes["site"] == 14
    assert uncollapsed.log_likelihood["y"].shape[-1] == 116
    assert_posteriors_agree(shipped_fits["response"], uncollapsed, ["mu", "tau", "p"])


@pytest.mark.integration
def test_nutpie_and_pymc_agree_on_a_small_model() -> None:
    study = example_study()
    one = Study(study.patients[study.patients["line"] == "ICI-1"], lines=("ICI-1",))
    model = build_binary_model(one, "disease_control")
    a = fit(model, seed=SEED, backend="nutpie")
    b = fit(model, seed=SEED, backend="pymc")
    assert int(b.sample_stats["diverging"].sum()) == 0
    assert_posteriors_agree(a, b, ["mu", "tau", "p"])
    # Spread too: posterior SDs of mu within 10% (a 4000-draw SD has ~2-3% Monte Carlo error).
    sd_a, sd_b = float(a.posterior["mu"].std()), float(b.posterior["mu"].std())
    assert sd_a == pytest.approx(sd_b, rel=0.10)


@pytest.mark.parametrize("table", [True, False])
def test_logit_binomial_has_the_log_density_and_gradient_of_pm_binomial(table: bool) -> None:
    from rechallenge.models import binary

    logp = binary._logit_binomial_logp if table else binary._logit_binomial_logp_gammaln
    rng = np.random.default_rng(SEED)
    n = np.concatenate([[0, 1, 1, 2, 200, 3, 3], rng.integers(0, 60, size=200)])
    k = np.concatenate([[0, 0, 1, 2, 17, 4, -1], [rng.integers(0, m + 1) for m in n[7:]]])
    eta = pt.dvector("eta")
    ours = logp(pt.as_tensor(k), pt.as_tensor(n), eta)
    ref = pm.logp(pm.Binomial.dist(n=n, logit_p=eta), k)
    fn = pytensor.function([eta], [ours, ref, pt.grad(pt.sum(pt.switch(pt.isinf(ours), 0, ours)),
                                                      eta),
                                   pt.grad(pt.sum(pt.switch(pt.isinf(ref), 0, ref)), eta)])
    values = np.concatenate([[-40.0, 40.0, -3.0, 0.0, 1.5, 0.2, 0.2], rng.normal(0, 3, size=200)])
    got, expected, grad_got, grad_expected = fn(values)
    # Counts outside [0, n] (two fixed rows) get -inf, as in pm.Binomial.
    assert np.isneginf(got[5:7]).all() and np.isneginf(expected[5:7]).all()
    inside = np.ones(len(n), bool)
    inside[5:7] = False
    # The closed form, exactly; pm.Binomial underflows to -inf at logit 40 (p rounds to 1).
    exact = (gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0) + k * values
             - n * np.logaddexp(0.0, values))
    np.testing.assert_allclose(got[inside], exact[inside], rtol=1e-12, atol=1e-12)
    finite = inside & np.isfinite(expected)
    assert finite.sum() == len(n) - 3
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grad_got[finite], grad_expected[finite], rtol=1e-10, atol=1e-10)


def test_logit_binomial_draws_are_binomial() -> None:
    with pm.Model():
        y = logit_binomial("y", n=pt.as_tensor(np.array([10, 40])), logit_p=pt.as_tensor(
            np.array([-1.0, 0.5])), observed=None, dims=None)
    draws = pm.draw(y, draws=20_000, random_seed=SEED)
    p = 1 / (1 + np.exp(-np.array([-1.0, 0.5])))
    mean, sd = np.array([10, 40]) * p, np.sqrt(np.array([10, 40]) * p * (1 - p))
    assert draws.dtype.kind == "i"
    assert (np.abs(draws.mean(axis=0) - mean) < 4 * sd / np.sqrt(20_000)).all()

"""The sampler front-end's speed-ups change no number.

* Fast (no sampling): which models count as the same structure, and the ``groups`` argument.
* ``integration``: a compilation shared between models (other endpoint, other prior values) gives
  the same draws as a fresh one, sensitivity refits do not recompile, leaving groups out changes
  no other group, and the fitting stage gives the same fits in one process and in two.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import xarray as xr
from scipy.special import gammaln

from conftest import SEED
from rechallenge.analysis.config import AnalysisConfig, RunConfig
from rechallenge.analysis.fitting import FIT_GROUPS, fit_all, fit_groups
from rechallenge.data import example_study
from rechallenge.data.study import Study
from rechallenge.models import nutpie_cache
from rechallenge.models.binary import build_binary_model, logit_binomial
from rechallenge.models.sampling import OPTIONAL_GROUPS, clear_compiled_cache, fit, is_compiled
from rechallenge.models.ttp import build_ttp_model

SHORT = {"draws": 150, "tune": 150, "chains": 2, "seed": SEED}
#: Every group of a complete fit whose draws are reproducible (sample_stats hold timings).
ALL_GROUPS = ("posterior", "prior", "prior_predictive", "posterior_predictive", "log_likelihood",
              "observed_data", "constant_data")


@pytest.fixture(scope="module")
def study() -> Study:
    return example_study()


def same_structure(a: pm.Model, b: pm.Model) -> bool:
    if nutpie_cache._structure_signature(a) != nutpie_cache._structure_signature(b):
        return False
    outputs_a, inputs_a = nutpie_cache._structure_graph(a)
    outputs_b, inputs_b = nutpie_cache._structure_graph(b)
    return nutpie_cache.same_computation(outputs_a, outputs_b, inputs_a, inputs_b)


def assert_same_draws(a, b, groups=("posterior",)) -> None:
    for group in groups:
        assert set(a[group].data_vars) == set(b[group].data_vars), group
        for name in a[group].data_vars:
            np.testing.assert_array_equal(a[group][name].to_numpy(), b[group][name].to_numpy(),
                                          err_msg=f"{group}.{name}")


# --------------------------------------------------------------------------- fast


def test_binary_endpoints_of_one_study_share_a_structure(study: Study) -> None:
    response = build_binary_model(study, "response")
    assert same_structure(response, build_binary_model(study, "disease_control"))
    assert same_structure(response, build_binary_model(study, "toxicity"))
    # Other prior values are data too.
    assert same_structure(response, build_binary_model(study, "response", priors={"tau_sd": 0.3}))


def test_different_structures_are_told_apart(study: Study) -> None:
    response = build_binary_model(study, "response")
    assert not same_structure(response, build_binary_model(study, "response", pooling="complete"))
    assert not same_structure(response, build_binary_model(study, "response", pooling="none"))
    # Fewer sites: same graph, other shapes.
    fewer = Study(study.patients[study.patients["site"] != "S01"], lines=study.lines)
    assert not same_structure(response, build_binary_model(fewer, "response"))
    # A constant (the LKJ concentration is not data) is part of the structure.
    assert not same_structure(response, build_binary_model(study, "response",
                                                           priors={"lkj_eta": 3.0}))
    ttp = build_ttp_model(study)
    assert not same_structure(ttp, build_ttp_model(study, likelihood="censored"))
    assert not same_structure(ttp, build_ttp_model(study, shared_shape=True))


def test_unknown_groups_are_rejected(study: Study) -> None:
    with pytest.raises(ValueError, match="unknown groups"):
        fit(build_binary_model(study, "response"), groups=("prior", "posterior_predictve"))


def test_fit_groups_of_the_default_analysis_cover_every_fit() -> None:
    config = RunConfig()
    groups = fit_groups(config)
    assert sum(g.n_fits(config) for g in groups) == 20
    assert {(g.kind, g.pooling, g.endpoints) for g in groups} == {
        (kind, pooling, endpoints)
        for endpoints in (("response", "disease_control", "toxicity"), ("ttp",))
        for kind, pooling in (("main", "partial"), ("comparator", "complete"),
                              ("comparator", "none"))
    }
    assert FIT_GROUPS["main"] == OPTIONAL_GROUPS


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


# --------------------------------------------------------------------------- fits


@pytest.mark.integration
def test_a_shared_compilation_gives_the_same_fit_as_a_fresh_one(study: Study) -> None:
    clear_compiled_cache()
    fit(build_binary_model(study, "response"), **SHORT)
    control = build_binary_model(study, "disease_control")
    assert is_compiled(control)
    shared = fit(control, **SHORT)
    clear_compiled_cache()
    fresh = fit(build_binary_model(study, "disease_control"), **SHORT)
    assert_same_draws(shared, fresh, ALL_GROUPS)


@pytest.mark.integration
def test_sensitivity_refit_does_not_recompile_and_equals_a_model_built_with_that_prior(
    study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nutpie

    clear_compiled_cache()
    calls = []
    original = nutpie.compile_pymc_model

    def counting(model, **kwargs):
        calls.append(model)
        return original(model, **kwargs)

    monkeypatch.setattr(nutpie, "compile_pymc_model", counting)
    model = build_ttp_model(study)
    fit(model, groups=(), **SHORT)
    refit = fit(model, data={"prior_tau_sd": 0.25}, **SHORT)
    assert len(calls) == 1
    assert float(model["prior_tau_sd"].get_value()) == 0.5  # restored
    clear_compiled_cache()
    built = fit(build_ttp_model(study, priors={"tau_sd": 0.25}), **SHORT)
    assert len(calls) == 2
    assert_same_draws(refit, built, ALL_GROUPS)
    priors = "rechallenge_priors"
    assert refit.posterior.attrs[priors] == built.posterior.attrs[priors]


@pytest.mark.integration
def test_leaving_groups_out_changes_no_other_number(study: Study) -> None:
    model = build_binary_model(study, "toxicity")
    full = fit(model, **SHORT)
    posterior_only = fit(model, groups=(), **SHORT)
    loglik_only = fit(model, groups=("log_likelihood",), **SHORT)
    assert set(posterior_only.groups()) == {"posterior", "sample_stats", "observed_data",
                                            "constant_data"}
    assert set(loglik_only.groups()) == set(posterior_only.groups()) | {"log_likelihood"}
    assert_same_draws(full, posterior_only, ("posterior",))
    assert_same_draws(full, loglik_only, ("posterior", "log_likelihood"))
    for group in ("observed_data", "constant_data"):
        xr.testing.assert_equal(full[group], posterior_only[group])


@pytest.mark.integration
def test_two_processes_give_the_same_fits_as_one(study: Study) -> None:
    analysis = replace(AnalysisConfig(), endpoints=("response", "ttp"), comparators=False)
    config = RunConfig(analysis=analysis).with_sampler(draws=100, tune=100, chains=2, seed=SEED)
    quiet = lambda _message: None  # noqa: E731
    clear_compiled_cache()
    two = fit_all(study, config, progress=quiet, workers=2)
    clear_compiled_cache()
    one = fit_all(study, config, progress=quiet, workers=1)
    assert list(two.fits) == list(one.fits) == [
        "response", "response__tau_half", "response__tau_double", "ttp", "ttp__tau_half",
        "ttp__tau_double"]
    for key in one.fits:
        assert set(two.fits[key].groups()) == set(one.fits[key].groups()), key
        assert_same_draws(two.fits[key], one.fits[key],
                          [g for g in one.fits[key].groups() if g != "sample_stats"])

"""The sampler front-end's speed-ups change no number.

* Fast (no sampling): which models count as the same structure, and the ``groups`` argument.
* ``integration``: a compilation shared between models (other endpoint, other prior values) gives
  the same draws as a fresh one, sensitivity refits do not recompile, leaving groups out changes
  no other group, and the fitting stage gives the same fits on one Dask worker and on two.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from conftest import SEED

from rechallenge.analysis.run.engine import EngineSettings, open_client
from rechallenge.analysis.run.fit_tasks import fit_all
from rechallenge.analysis.run.fitting import FIT_GROUPS, fit_groups
from rechallenge.analysis.settings.config import AnalysisConfig, RunConfig
from rechallenge.data import example_study
from rechallenge.data.study import Study
from rechallenge.models.binary import build_binary_model
from rechallenge.models.info import model_info
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
    return model_info(a).structure == model_info(b).structure


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


FAMILIES = (("response", "disease_control", "toxicity"), ("ttp",))


def test_fit_groups_of_the_default_analysis_cover_every_fit(study: Study) -> None:
    # The shipped study is small: comparators are nested in the partial-pooling structure, one
    # group (one compilation) per model family.
    config = RunConfig()
    groups = fit_groups(study, config)
    # 4 main fits and 8 comparators; sensitivity variants are refitted only where needed.
    assert sum(g.n_fits(config) for g in groups) == 12
    assert {(g.kind, g.pooling, g.endpoints) for g in groups} == {
        ("nested", "partial", endpoints) for endpoints in FAMILIES}
    assert FIT_GROUPS["main"] == OPTIONAL_GROUPS


def test_fit_groups_with_pymc_keep_comparators_as_their_own_models(study: Study) -> None:
    config = RunConfig().with_sampler(backend="pymc")
    groups = fit_groups(study, config)
    assert sum(g.n_fits(config) for g in groups) == 12
    assert {(g.kind, g.pooling, g.endpoints) for g in groups} == {
        (kind, pooling, endpoints)
        for endpoints in FAMILIES
        for kind, pooling in (("main", "partial"), ("comparator", "complete"),
                              ("comparator", "none"))
    }


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
def test_two_workers_give_the_same_fits_as_one(study: Study, engine) -> None:
    analysis = replace(AnalysisConfig(), endpoints=("response", "ttp"), comparators=False)
    config = RunConfig(analysis=analysis).with_sampler(draws=100, tune=100, chains=2, seed=SEED)
    quiet = lambda _message: None  # noqa: E731
    two = fit_all(study, config, client=engine, progress=quiet)  # the session's two workers
    with open_client(EngineSettings(workers=1)) as client:
        one = fit_all(study, config, client=client, progress=quiet)
    # Each structure is one task: here two tasks, and with two workers each ran one.
    assert len({record["worker"] for record in two.tasks}) == 2
    assert len({record["worker"] for record in one.tasks}) == 1
    # The same sensitivity decisions; only the variants with a high Pareto k were refitted.
    assert two.sensitivity == one.sensitivity
    assert list(one.sensitivity) == [f"{e}__{v}" for e in ("response", "ttp")
                                     for v in ("tau_half", "tau_double")]
    assert list(two.fits) == list(one.fits) == [
        key for e in ("response", "ttp") for key in (e, f"{e}__tau_half", f"{e}__tau_double")
        if key == e or one.sensitivity[key]["method"] == "refitted"]
    for key in one.fits:
        assert set(two.fits[key].groups()) == set(one.fits[key].groups()), key
        assert_same_draws(two.fits[key], one.fits[key],
                          [g for g in one.fits[key].groups() if g != "sample_stats"])


@pytest.mark.integration
def test_models_that_share_a_structure_key_have_the_same_log_density(study: Study) -> None:
    # What makes sharing one compilation safe: the template model, given another model's data
    # (pm.set_data, as the cache does), computes that model's log density.
    from rechallenge.models.nutpie_cache import data_values

    def nested(endpoint: str, **options) -> pm.Model:
        return build_binary_model(study.for_endpoint(endpoint), endpoint, nested=True, **options)

    template = nested("response")
    for other in (nested("toxicity", pooling="none"), nested("disease_control", pooling="complete"),
                  nested("response", priors={"tau_sd": 0.3})):
        assert same_structure(template, other)
        point = other.initial_point(random_seed=SEED)
        expected = other.compile_logp()(point)
        pm.set_data(data_values(other), model=template)
        assert template.compile_logp()(point) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.integration
def test_prior_and_predictive_draws_log_no_sampling_lines(
    study: Study, caplog: pytest.LogCaptureFixture
) -> None:
    # PyMC logs "Sampling: [...]" at INFO for every draw; a run prints its own progress.
    import logging

    with caplog.at_level(logging.INFO, logger="pymc"):
        fit(build_binary_model(study, "toxicity"), **SHORT)
    assert not [r for r in caplog.records if r.getMessage().startswith("Sampling:")]


@pytest.mark.integration
def test_the_first_fit_of_a_process_records_no_warning_of_the_machine() -> None:
    """PyTensor looks for BLAS once per process and warns then if there is none; that warning
    was recorded with whichever fit came first on a worker, so the same run's fit files and
    report differed with the order of tasks. The first and a later fit record the same."""
    import json
    import subprocess
    import sys

    script = (
        "import json\n"
        "from rechallenge.data import example_study\n"
        "from rechallenge.models.binary import build_binary_model\n"
        "from rechallenge.models.sampling import fit, fit_attrs\n"
        "model = build_binary_model(example_study(), 'response')\n"
        f"runs = [fit(model, draws=50, tune=50, chains=1, seed={SEED}, groups=()) for _ in 'ab']\n"
        "print(json.dumps([fit_attrs(r)['warnings'] for r in runs]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, check=True)
    first, later = json.loads(done.stdout.strip().splitlines()[-1])
    assert first == later

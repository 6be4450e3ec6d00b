"""The ``"jax"`` backend (:mod:`rechallenge.models.jax_backend`).

* Fast: where JAX's compilation cache goes, the ``"auto"`` rule, the words of the methods.
* ``integration``: one compiled program per structure, reused with each model's data, gives the
  same draws as a fresh one; the same seed gives the same draws; the posterior agrees with
  nutpie's within Monte Carlo error (binary; the TTP model is in ``tests/test_backends.py``);
  the default analysis at reduced draws agrees with nutpie's on the reported quantities, and
  two JAX runs with one seed give identical tables.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SEED, assert_posteriors_agree, small_config

from rechallenge.data import example_study
from rechallenge.models import jax_backend
from rechallenge.models.binary import build_binary_model
from rechallenge.models.fit_settings import (
    AUTO_JAX_MIN_ROWS,
    choose_backend,
    describe_sampler,
    fit_attrs,
)
from rechallenge.models.sampling import fit

SHORT = {"draws": 150, "tune": 150, "chains": 2, "seed": SEED, "backend": "jax"}


def test_the_cache_folder_is_the_users_choice_then_jaxs_then_the_cache_home() -> None:
    own = {"RECHALLENGE_JAX_CACHE_DIR": "/a", "JAX_COMPILATION_CACHE_DIR": "/b",
           "XDG_CACHE_HOME": "/c"}
    assert jax_backend.cache_dir(own) == Path("/a")
    assert jax_backend.cache_dir({**own, "RECHALLENGE_JAX_CACHE_DIR": ""}) == Path("/b")
    assert jax_backend.cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/rechallenge/jax")


def test_an_unwritable_jax_cache_folder_is_redirected(tmp_path: Path) -> None:
    from rechallenge.analysis.cli.environment import redirect_unwritable_caches

    blocker = tmp_path / "file"
    blocker.write_text("")
    environ = {"HOME": str(tmp_path), "RECHALLENGE_JAX_CACHE_DIR": str(blocker / "jax")}
    setup = redirect_unwritable_caches(environ)
    moved = Path(environ["RECHALLENGE_JAX_CACHE_DIR"])
    assert moved != blocker / "jax" and moved.is_dir()
    assert setup.redirected["RECHALLENGE_JAX_CACHE_DIR"] == str(moved)


def test_auto_picks_nutpie_for_small_models_and_jax_for_large_ones() -> None:
    assert choose_backend(58) == "nutpie"
    assert choose_backend(AUTO_JAX_MIN_ROWS - 1) == "nutpie"
    assert choose_backend(AUTO_JAX_MIN_ROWS) == "jax"


def test_the_methods_name_the_sampler_that_ran() -> None:
    assert "BlackJAX" in describe_sampler({"backend": "jax"})
    assert "nutpie" in describe_sampler({"backend": "nutpie"})
    assert describe_sampler({"backend": "other"}) == "other"


@pytest.mark.integration
def test_one_program_per_structure_gives_the_same_fit_as_a_fresh_one() -> None:
    study = example_study()
    jax_backend.clear_jax_cache()
    fit(build_binary_model(study, "response"), groups=(), **SHORT)
    shared = fit(build_binary_model(study, "disease_control"), **SHORT)
    assert jax_backend.compiled_jax_structures() == 1  # the second endpoint reused the program
    jax_backend.clear_jax_cache()
    fresh = fit(build_binary_model(study, "disease_control"), **SHORT)
    for group in ("posterior", "sample_stats", "posterior_predictive", "log_likelihood"):
        for name in fresh[group].data_vars:
            np.testing.assert_array_equal(shared[group][name].to_numpy(),
                                          fresh[group][name].to_numpy(), err_msg=name)
    assert fit_attrs(shared)["sampler"]["backend"] == "jax"
    # Another seed, other draws.
    other = fit(build_binary_model(study, "disease_control"), groups=(),
                **{**SHORT, "seed": SEED + 1})
    assert not np.array_equal(other.posterior["mu"], fresh.posterior["mu"])


@pytest.mark.integration
def test_auto_records_the_backend_that_ran() -> None:
    idata = fit(build_binary_model(example_study(), "response"), groups=(),
                **{**SHORT, "backend": "auto"})
    assert fit_attrs(idata)["sampler"]["backend"] == "nutpie"  # 28 rows: small


@pytest.mark.integration
def test_jax_and_nutpie_agree_on_the_binary_model() -> None:
    model = build_binary_model(example_study(), "response")
    a = fit(model, seed=SEED, backend="nutpie", groups=())
    b = fit(model, seed=SEED, backend="jax", groups=())
    assert int(b.sample_stats["diverging"].sum()) == 0
    assert_posteriors_agree(a, b, ["mu", "tau", "p"])


@pytest.mark.slow
def test_the_default_run_under_jax_agrees_with_nutpie_and_repeats_exactly(
    tmp_path: Path, engine
) -> None:
    from rechallenge.analysis.run.pipeline import analyze

    config = small_config().with_sampler(draws=400, tune=400, chains=4)
    runs = {}
    for name, backend in (("nutpie", "nutpie"), ("jax", "jax"), ("jax_again", "jax")):
        runs[name] = analyze(config.with_sampler(backend=backend), tmp_path / name,
                             allow_unconverged=True, progress=lambda _: None, engine=engine)
    # Same backend and seed: identical tables.
    tables = tmp_path / "jax" / "tables"
    names = sorted(p.name for p in tables.glob("*.csv"))
    assert names
    _, mismatch, errors = filecmp.cmpfiles(tables, tmp_path / "jax_again" / "tables", names,
                                           shallow=False)
    assert not mismatch and not errors, mismatch + errors
    # Against nutpie: every reported site quantity (the sites tables carry their Monte Carlo
    # standard errors) and the posterior of the hyperparameters, within Monte Carlo error.
    for endpoint in ("response", "ttp"):
        a = pd.read_csv(tmp_path / "nutpie" / "tables" / f"sites_{endpoint}.csv")
        b = pd.read_csv(tables / f"sites_{endpoint}.csv")
        keys = ["quantity", "line", "site"]
        both = a.merge(b, on=keys, suffixes=("_a", "_b"), validate="one_to_one")
        assert len(both) == len(a) == len(b) > 0
        z = (both["mean_a"] - both["mean_b"]).abs() / np.hypot(both["mcse_mean_a"],
                                                               both["mcse_mean_b"])
        assert float(z.max()) < 4.5, both.loc[z.idxmax(), keys].tolist()
        names = ["mu", "tau"] if endpoint == "response" else ["mu", "tau", "shape"]
        assert_posteriors_agree(runs["nutpie"].fits[endpoint], runs["jax"].fits[endpoint], names)

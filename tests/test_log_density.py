"""Pointwise log densities compiled once per structure equal PyMC's, for every model sharing it."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from conftest import SEED

from rechallenge.data import example_study
from rechallenge.models.binary import build_binary_model
from rechallenge.models.info import PRIOR_ONLY, model_info
from rechallenge.models.log_density import pointwise_log_density
from rechallenge.models.nutpie_cache import per_structure
from rechallenge.models.sampling import clear_compiled_cache, fit
from rechallenge.models.ttp import build_ttp_model

STUDY = example_study()
BUILDERS = {
    "binary": lambda pooling: build_binary_model(
        STUDY.for_endpoint("response"), "response", pooling=pooling, nested=True),
    "ttp": lambda pooling: build_ttp_model(STUDY.for_endpoint("ttp"), pooling=pooling, nested=True),
    # A scalar free variable (one shape for both lines).
    "ttp_shared_shape": lambda pooling: build_ttp_model(
        STUDY.for_endpoint("ttp"), pooling=pooling, nested=True, shared_shape=True),
}


def _assert_equal_to_pymc(model: pm.Model, idata, kind: str) -> None:
    ours = pointwise_log_density(model, idata, kind)
    compute = pm.compute_log_likelihood if kind == "likelihood" else pm.compute_log_prior
    theirs = compute(idata, model=model, extend_inferencedata=False, progressbar=False)
    assert set(ours.data_vars) == set(theirs.data_vars)
    for name in theirs.data_vars:
        assert ours[name].dims == theirs[name].dims
        np.testing.assert_array_equal(ours[name].values, theirs[name].values)


@pytest.mark.integration
@pytest.mark.parametrize("family", list(BUILDERS))
def test_one_function_per_structure_gives_pymcs_values_for_each_model(family: str) -> None:
    models = {pooling: BUILDERS[family](pooling) for pooling in ("partial", "complete", "none")}
    fits = {}
    for pooling, model in models.items():
        # Keep the switched-off variables in the posterior: PyMC's functions need every value.
        model_info(model).extra[PRIOR_ONLY] = []
        fits[pooling] = fit(model, draws=50, tune=50, chains=2, seed=SEED, groups=())
    for pooling, model in models.items():
        _assert_equal_to_pymc(model, fits[pooling], "likelihood")
        _assert_equal_to_pymc(model, fits[pooling], "prior")
    # The comparators reused the partial-pooling model's function (their data as inputs).
    shared = {per_structure(m, "pointwise_log_likelihood", lambda _m: None) for m in models.values()}
    assert len(shared) == 1 and None not in shared
    # ... and their log-likelihoods differ from it where their pooling differs.
    partial = pointwise_log_density(models["partial"], fits["partial"], "likelihood")
    complete = pointwise_log_density(models["complete"], fits["partial"], "likelihood")
    observed = next(iter(partial.data_vars))
    assert not np.array_equal(partial[observed].values, complete[observed].values)


def test_a_model_without_a_nutpie_compilation_has_nothing_to_share() -> None:
    # The cache is per structure: forget those the tests above compiled in this process.
    clear_compiled_cache()
    model = BUILDERS["binary"]("partial")
    assert per_structure(model, "anything", lambda _m: pytest.fail("built")) is None

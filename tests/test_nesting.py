"""Comparators nested in the partial-pooling structure (models/nesting.py).

A nested model must be the comparator itself plus independent prior-only variables: its log
density is checked against the separately written model's at random points, and short fits of
both are checked to give the same posterior.
"""

from __future__ import annotations

import weakref

import numpy as np
import pymc as pm
import pytest
from conftest import SEED, assert_posteriors_agree

from rechallenge.data import example_study
from rechallenge.data.study import Study
from rechallenge.models.binary import build_binary_model
from rechallenge.models.info import PRIOR_ONLY, model_info
from rechallenge.models.nesting import prior_only_variables
from rechallenge.models.sampling import fit
from rechallenge.models.ttp import build_ttp_model

SHORT = {"draws": 300, "tune": 300, "chains": 2, "seed": SEED}


@pytest.fixture(scope="module")
def study() -> Study:
    return example_study()


def _build(study: Study, family: str, pooling: str, nested: bool) -> pm.Model:
    if family == "binary":
        return build_binary_model(study.for_endpoint("response"), "response", pooling=pooling,
                                  nested=nested)
    return build_ttp_model(study.for_endpoint("ttp"), pooling=pooling, nested=nested)


#: Each model's initial point (``initial_point()`` compiles a function: once per model).
_STARTS: weakref.WeakKeyDictionary[pm.Model, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()


def _random_point(model: pm.Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random values of every (transformed) free variable, moderate in size."""
    if model not in _STARTS:
        _STARTS[model] = model.initial_point()
    return {name: rng.normal(0.0, 0.7, size=np.shape(value))
            for name, value in _STARTS[model].items()}


def _no_pooling_sd(model: pm.Model) -> float:
    return float(model["prior_site_effect_sd"].get_value())  # the same name in every model


@pytest.mark.parametrize("family", ["binary", "ttp"])
def test_nested_partial_pooling_is_the_partial_pooling_model(study: Study, family: str) -> None:
    classic, nested = (_build(study, family, "partial", n) for n in (False, True))
    assert model_info(nested).extra[PRIOR_ONLY] == []
    rng = np.random.default_rng(SEED)
    logp_classic, logp_nested = classic.compile_logp(), nested.compile_logp()
    for _ in range(5):
        point = _random_point(nested, rng)
        assert logp_nested(point) == pytest.approx(logp_classic(point), rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("family", ["binary", "ttp"])
@pytest.mark.parametrize("pooling", ["complete", "none"])
def test_nested_comparator_is_the_comparator_plus_independent_prior_terms(
    study: Study, family: str, pooling: str
) -> None:
    """log p_nested = log p_comparator + log p_prior(switched-off variables) (+ a constant).

    The constant is the log Jacobian N log(sd) of ``u_site = sd * z_site`` for no pooling (N
    effects), where the nested model samples ``z_site`` and the comparator ``u_site``. Equality at
    random points (the switched-off variables drawn freely too) shows that the posterior of the
    comparator's variables is the comparator's and that the others follow their prior,
    independently.
    """
    classic, nested = (_build(study, family, pooling, n) for n in (False, True))
    off = prior_only_variables(nested, pooling,
                               line_intercept="mu" if family == "binary" else None)
    assert model_info(nested).extra[PRIOR_ONLY] == list(off)
    off_free = [nested[name] for name in off if nested[name] in nested.free_RVs]
    if pooling == "none":
        off_free = [rv for rv in off_free if rv.name != "z_site"]
    logp_classic, logp_nested = classic.compile_logp(), nested.compile_logp()
    logp_off = nested.compile_logp(vars=off_free)
    sd = _no_pooling_sd(nested)
    n_effects = nested["z_site"].eval().size
    classic_names = set(classic.initial_point())
    rng = np.random.default_rng(SEED)
    for _ in range(5):
        point = _random_point(nested, rng)
        mapped = {name: value for name, value in point.items() if name in classic_names}
        constant = 0.0
        if pooling == "none":
            mapped["u_site"] = sd * point["z_site"]
            constant = n_effects * np.log(sd)
        expected = logp_classic(mapped) + logp_off(point) + constant
        assert logp_nested(point) == pytest.approx(expected, rel=1e-12, abs=1e-9)


@pytest.mark.integration
@pytest.mark.parametrize(("family", "pooling"), [("binary", "none"), ("ttp", "complete")])
def test_nested_comparator_fits_like_the_comparator(
    study: Study, family: str, pooling: str
) -> None:
    classic, nested = (_build(study, family, pooling, n) for n in (False, True))
    fits = [fit(model, groups=("log_likelihood",), **SHORT) for model in (classic, nested)]
    # The fit holds the comparator's variables only, and the same log-likelihood rows.
    assert set(fits[1].posterior.data_vars) == set(fits[0].posterior.data_vars)
    assert set(fits[1].log_likelihood.data_vars) == set(fits[0].log_likelihood.data_vars)
    assert_posteriors_agree(fits[0], fits[1], list(fits[0].posterior.data_vars))
    assert model_info(nested).options["nested"] is True

"""Every offered backend samples the same posterior (within Monte Carlo error).

The binary model's check is ``test_binary_model.py::test_nutpie_and_pymc_agree_on_a_small_model``;
this file adds the TTP model, whose censored Weibull is where samplers have differed (PyMC's
NumPyro bridge left chains stuck on it, DESIGN section 6).
"""

from __future__ import annotations

import pytest
from conftest import SEED, assert_posteriors_agree

from rechallenge.data import example_study
from rechallenge.data.study import Study
from rechallenge.models.sampling import BACKENDS, DEFAULT_BACKEND, SamplerSettings, fit
from rechallenge.models.ttp import DEFAULT_LIKELIHOOD, build_ttp_model


def test_the_default_backend_is_nutpie_and_the_default_likelihood_log_space() -> None:
    # Both measured faster for the same posterior (docs/performance.md).
    assert DEFAULT_BACKEND == "nutpie" == SamplerSettings().backend
    assert set(BACKENDS) == {"nutpie", "jax", "pymc", "auto"}
    assert DEFAULT_LIKELIHOOD == "logspace"


@pytest.mark.integration
def test_nutpie_jax_and_pymc_agree_on_a_small_ttp_model() -> None:
    study = example_study()
    one = Study(study.patients[study.patients["line"] == "ICI-1"], lines=("ICI-1",))
    model = build_ttp_model(one)
    fits = {backend: fit(model, seed=SEED, backend=backend, groups=())
            for backend in ("nutpie", "jax", "pymc")}
    for idata in fits.values():
        assert int(idata.sample_stats["diverging"].sum()) == 0
    for other in ("pymc", "jax"):
        assert_posteriors_agree(fits["nutpie"], fits[other], ["mu", "shape", "tau"])
        # Spread too: posterior SDs within 10% (a 4000-draw SD has ~2-3% Monte Carlo error).
        for name in ("mu", "shape"):
            sd_a = float(fits["nutpie"].posterior[name].std())
            sd_b = float(fits[other].posterior[name].std())
            assert sd_a == pytest.approx(sd_b, rel=0.10), (other, name)

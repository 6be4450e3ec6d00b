"""Simulation studies on a survival distribution other than the Weibull (no fitting): parameters
drawn with the shapes true values must have, times from the distribution, true medians, the
config's distribution chosen with its piecewise cut points fixed for every refit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from rechallenge.analysis.families import family_of
from rechallenge.analysis.families.survival_simulation import SurvivalSimulator
from rechallenge.analysis.families.weibull_simulation import WeibullSimulator
from rechallenge.analysis.settings.config import AnalysisConfig, RunConfig, TtpConfig
from rechallenge.analysis.simulation.design import SimulationDesign
from rechallenge.data.load import example_study
from rechallenge.models.info import model_info
from rechallenge.models.survival import DISTRIBUTIONS, LogNormal, PiecewiseExponential
from rechallenge.models.ttp import ttp_priors

LINES = ("ICI-1", "ICI-2")
OTHERS = [name for name in DISTRIBUTIONS if name != "weibull"]


def _simulator(name: str) -> SurvivalSimulator:
    dist = DISTRIBUTIONS[name]
    if name == "piecewise":
        dist = PiecewiseExponential((3.0, 7.0))
    return SurvivalSimulator(dist)


@pytest.mark.parametrize("name", OTHERS)
@pytest.mark.parametrize("shared", [False, True])
def test_drawn_parameters_have_the_shapes_true_values_must_have(name: str, shared: bool) -> None:
    simulator = _simulator(name)
    priors = {k: v.value for k, v in ttp_priors(name).items()}
    drawn = simulator.draw_line_parameters(priors, shared, 2, np.random.default_rng(1))
    expected = simulator.expected_line_parameters(shared, 2, "2 numbers")
    assert set(drawn) == set(expected)
    for key, (shape, _) in expected.items():
        assert np.shape(drawn[key]) == shape, key
    quantities = simulator.line_quantities({k: np.asarray(v)[None] for k, v in drawn.items()},
                                           LINES)
    assert all(np.all(np.isfinite(v)) for v in quantities.values())


def test_times_follow_the_distribution_and_the_median_is_its_own() -> None:
    simulator = SurvivalSimulator(LogNormal())
    hyper = {"mu": [1.5, 2.0], "log_sigma": [np.log(0.8), np.log(1.1)]}
    line = np.repeat([0, 1], 4000)
    predictor = np.asarray(hyper["mu"])[line]
    times = simulator.outcomes(predictor, line, hyper, 2, np.random.default_rng(2))
    for j, (mu, sigma) in enumerate(((1.5, 0.8), (2.0, 1.1))):
        assert stats.kstest(times[line == j], stats.lognorm(sigma, scale=np.exp(mu)).cdf).pvalue > 1e-3
    params = {k: np.asarray(v)[None] for k, v in hyper.items()}
    no_spread = np.zeros((1, 2))
    medians = simulator.derived_quantities(params, LINES, np.zeros(1), no_spread)
    np.testing.assert_allclose(medians[("median_population", "ICI-1")], np.exp(1.5), rtol=1e-6)
    np.testing.assert_allclose(medians[("median_ratio_population", "ICI-2 vs ICI-1")],
                               np.exp(0.5), rtol=1e-6)


def test_a_prior_mean_that_is_a_hyperparameter_is_drawn_from() -> None:
    simulator = _simulator("gengamma")
    priors = {k: v.value for k, v in ttp_priors("gengamma").items()}
    drawn = [simulator.draw_line_parameters({**priors, "q_mean": 3.0, "q_sd": 0.01}, True, 2,
                                            np.random.default_rng(k))["Q"][0] for k in range(20)]
    np.testing.assert_allclose(np.mean(drawn), 3.0, atol=0.01)


def test_the_config_chooses_the_distribution_and_fixes_the_cut_points() -> None:
    study = example_study()
    family = family_of("ttp")
    config = RunConfig(analysis=replace(AnalysisConfig(), endpoints=("ttp",)))
    assert isinstance(family.simulator_for(config, study), WeibullSimulator)
    piecewise = replace(config, ttp=TtpConfig(families=("piecewise",)))
    simulator = family.simulator_for(piecewise, study)
    assert isinstance(simulator, SurvivalSimulator)
    cuts = simulator.distribution.cuts  # type: ignore[attr-defined]
    assert len(cuts) == 2 and simulator.prior_options == {"distribution": "piecewise",
                                                          "cuts": list(cuts)}
    # A refit of a simulated study keeps those cut points, whatever its event times.
    design = SimulationDesign.from_study(study, "ttp")
    simulated = simulator.study(design, np.full(len(design.rows), 0.5))
    priors = {k: v.value for k, v in ttp_priors("piecewise").items()}
    model = simulator.build_model(simulated, "ttp", "partial", False, False, priors)
    assert model_info(model).options["cuts"] == list(cuts)

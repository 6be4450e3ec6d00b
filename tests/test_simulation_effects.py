"""A precision study's assumed ICI-2 effect: the one given, else the simulated model's own."""

from __future__ import annotations

from rechallenge.analysis.families.survival_simulation import SurvivalSimulator
from rechallenge.analysis.simulation.study import default_effects, resolved_effects
from rechallenge.models.survival import survival_distribution


def test_an_effect_not_given_is_the_simulated_distributions_own() -> None:
    recorded = default_effects()
    gompertz = SurvivalSimulator(survival_distribution("gompertz"))
    weibull = SurvivalSimulator(survival_distribution("weibull"))
    # A longer TTP at ICI-2 is a smaller log hazard (proportional hazards) ...
    assert resolved_effects(recorded, {}, {"ttp": gompertz})["ttp"] == -0.4
    # ... and a larger log time scale (accelerated failure time).
    assert resolved_effects(recorded, {}, {"ttp": weibull})["ttp"] == 0.4
    # An effect the user gave is kept, and families not simulated keep the recorded default.
    both = resolved_effects(recorded, {"ttp": 0.25}, {"ttp": gompertz})
    assert both == {**recorded, "ttp": 0.25}

"""The joint efficacy-toxicity model in simulation studies: not available through the family's
simulator yet.

A :class:`~rechallenge.analysis.settings.families.FamilySimulator` draws one outcome per design
row from one linear predictor; the joint model draws two correlated outcomes per patient and
line (:func:`rechallenge.models.joint_simulate.simulate_joint_study` does so for its recovery
tests). Until simulation studies take a model of that shape, the benefit-risk family declares
this simulator: its key is :data:`~rechallenge.analysis.settings.families.NO_SIMULATION`, so
``simulators()`` leaves it out and simulation studies never offer it, and every method says why
it cannot run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NoReturn

import numpy as np
import pymc as pm

from rechallenge.analysis.settings.families import NO_SIMULATION
from rechallenge.data import Study
from rechallenge.models.dims import Pooling

WHY: str = ("the joint model of efficacy and toxicity has no simulation study through "
            "`rechallenge simulate` (its recovery is checked by tests/test_joint_model.py)")


def _unavailable() -> NoReturn:
    raise NotImplementedError(WHY)


class JointSimulator:
    """The benefit-risk family's simulator: declares that there is none (:data:`WHY`)."""

    key = NO_SIMULATION
    location = "mu_eff"
    patient_sd = "sigma_patient"
    patient_prior = "sigma_patient_sd"
    headline: tuple[str, str, float] = ("net_benefit_population",
                                        "difference_net_benefit_population", 0.0)
    default_effect = 0.0
    bounds: Mapping[str, tuple[float, float, str]] = MappingProxyType({})
    open_bounds: frozenset[str] = frozenset()
    prior_options: Mapping[str, Any] = MappingProxyType({})

    def draw_line_parameters(self, priors: Mapping[str, float], shared_shape: bool,
                             n_lines: int, rng: np.random.Generator) -> dict[str, Any]:
        """Not available (:data:`WHY`)."""
        _unavailable()

    def expected_line_parameters(self, shared_shape: bool, n_lines: int,
                                 per_line: str) -> dict[str, tuple[tuple[int, ...], str]]:
        """Not available (:data:`WHY`)."""
        _unavailable()

    def outcomes(self, predictor: np.ndarray, line: np.ndarray, hyper: Mapping[str, Any],
                 n_lines: int, rng: np.random.Generator) -> np.ndarray:
        """Not available (:data:`WHY`)."""
        _unavailable()

    def study(self, design: Any, outcomes: np.ndarray) -> Study:
        """Not available (:data:`WHY`)."""
        _unavailable()

    def line_quantities(self, params: Mapping[str, np.ndarray],
                        lines: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
        """Not available (:data:`WHY`)."""
        _unavailable()

    def derived_quantities(self, params: Mapping[str, np.ndarray], lines: Sequence[str],
                           patient_sd: np.ndarray,
                           population_sd: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        """Not available (:data:`WHY`)."""
        _unavailable()

    def posterior_line_parameters(self, posterior: Any, by_line: Any) -> dict[str, np.ndarray]:
        """Not available (:data:`WHY`)."""
        _unavailable()

    def build_model(self, study: Study, endpoint: str, pooling: Pooling, patient_effect: bool,
                    shared_shape: bool, priors: Mapping[str, float]) -> pm.Model:
        """Not available (:data:`WHY`)."""
        _unavailable()

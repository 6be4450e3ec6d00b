"""What simulation studies need of the binary family: its line parameters drawn from the prior,
its outcomes given the linear predictor, its true quantities, and its model refitted.

Written in NumPy from :mod:`rechallenge.models.binary`'s definition; that the two agree is what
simulation-based calibration tests. The generic parts (site effects, patient effects, the
between-site SDs and correlation) are the simulation layer's
(:mod:`rechallenge.analysis.simulation.generators`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pymc as pm
from scipy.special import expit

from rechallenge.analysis.summaries.site_effects import population_average
from rechallenge.data import Study
from rechallenge.models.binary import build_binary_model
from rechallenge.models.dims import Pooling


class BinarySimulator:
    """Simulation of one binary endpoint: 0/1 outcomes from the hierarchical logistic model."""

    #: The model's key in simulation studies (``--family binary``, true values, records).
    key = "binary"
    #: The line intercept (one per line), and the patient SD with its prior scale.
    location = "mu"
    patient_sd = "sigma_patient"
    patient_prior = "sigma_patient_sd"
    #: The pooled quantity per line and the contrast, with its no-effect value, that coverage
    #: and precision studies report.
    #: The options of the family's ``prior_defaults`` for this model (none: the default).
    prior_options: Mapping[str, Any] = MappingProxyType({})
    headline: tuple[str, str, float] = ("probability_population", "difference_population", 0.0)
    #: Precision studies: the assumed later-line effect (log odds ratio of the typical site).
    default_effect = 0.8
    #: Plausible true values of the line parameters: (low, high, words).
    bounds: Mapping[str, tuple[float, float, str]] = {
        "mu": (-10.0, 10.0, "a logit-scale mean from -10 to 10 (a probability from 4.5e-05 to "
                            "0.99995)"),
    }
    open_bounds: frozenset[str] = frozenset()

    def draw_line_parameters(self, priors: Mapping[str, float], shared_shape: bool,
                             n_lines: int, rng: np.random.Generator) -> dict[str, Any]:
        """The line intercepts from their prior."""
        return {"mu": rng.normal(0.0, priors["mu_sd"], n_lines).tolist()}

    def expected_line_parameters(self, shared_shape: bool, n_lines: int,
                                 per_line: str) -> dict[str, tuple[tuple[int, ...], str]]:
        """Name -> (shape, words) of the line parameters a true-value set must give."""
        return {"mu": ((n_lines,), per_line)}

    def outcomes(self, predictor: np.ndarray, line: np.ndarray, hyper: Mapping[str, Any],
                 n_lines: int, rng: np.random.Generator) -> np.ndarray:
        """0/1 events with ``logit p = predictor``."""
        return (rng.uniform(size=len(predictor)) < 1.0 / (1.0 + np.exp(-predictor))).astype(int)

    def study(self, design: Any, outcomes: np.ndarray) -> Study:
        """The study of the simulated events (every binary endpoint equal to them)."""
        return design.binary_study(outcomes)

    def line_quantities(self, params: Mapping[str, np.ndarray],
                        lines: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
        """The line parameters per line label (``{(name, label): array}``)."""
        loc = np.asarray(params["mu"], dtype=float)
        return {("mu", line): loc[..., j] for j, line in enumerate(lines)}

    def derived_quantities(self, params: Mapping[str, np.ndarray], lines: Sequence[str],
                           patient_sd: np.ndarray,
                           population_sd: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        """Population-averaged probabilities, their differences and the typical odds ratios."""
        loc = np.asarray(params["mu"], dtype=float)
        population = population_average(expit, loc, population_sd)
        out = {("probability_population", line): population[..., j]
               for j, line in enumerate(lines)}
        for j in range(1, len(lines)):
            label = f"{lines[j]} vs {lines[0]}"
            out[("difference_population", label)] = population[..., j] - population[..., 0]
            out[("odds_ratio_typical_site", label)] = np.exp(loc[..., j] - loc[..., 0])
        return out

    def posterior_line_parameters(self, posterior: Any,
                                  by_line: Any) -> dict[str, np.ndarray]:
        """The line parameters of a fit as arrays (chain, draw, line)."""
        return {"mu": by_line("mu")}

    def build_model(self, study: Study, endpoint: str, pooling: Pooling, patient_effect: bool,
                    shared_shape: bool, priors: Mapping[str, float]) -> pm.Model:
        """The model refitted to one simulated study."""
        return build_binary_model(study.for_endpoint(endpoint), endpoint, pooling=pooling,
                                  patient_effect=patient_effect, priors=dict(priors))


"""What simulation studies need of the Weibull family: its line parameters (log-scale
locations and log shapes) drawn from the prior, Weibull times given the linear predictor, its
true medians and their ratios, and its model refitted.

Written in NumPy from :mod:`rechallenge.models.ttp`'s definition; that the two agree is what
simulation-based calibration tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pymc as pm

from rechallenge.analysis.summaries.ttp import marginal_weibull_median
from rechallenge.data import Study, schema
from rechallenge.models.dims import Pooling
from rechallenge.models.ttp import build_ttp_model


class WeibullSimulator:
    """Simulation of time to progression: Weibull times, censored at the design's times."""

    key = "ttp"
    location = "mu"
    patient_sd = "sigma_patient"
    patient_prior = "sigma_patient_sd"
    #: The options of the family's ``prior_defaults`` for this model (none: the default).
    prior_options: Mapping[str, Any] = MappingProxyType({})
    headline: tuple[str, str, float] = ("median_population", "median_ratio_population", 1.0)
    #: Precision studies: the assumed later-line effect (log time ratio of the typical site).
    default_effect = 0.4
    bounds: Mapping[str, tuple[float, float, str]] = {
        "mu": (math.log(0.01), math.log(1_200.0),
                 "a log-scale TTP location from log(0.01) to log(1200) (a Weibull scale from "
                 "0.01 to 1,200 months)"),
        "log_shape": (math.log(0.05), math.log(20.0),
                      "a log Weibull shape strictly between log(0.05) and log(20) (a shape in "
                      "(0.05, 20))"),
    }
    #: A Weibull shape of exactly 0.05 or 20 is refused.
    open_bounds: frozenset[str] = frozenset({"log_shape"})

    def draw_line_parameters(self, priors: Mapping[str, float], shared_shape: bool,
                             n_lines: int, rng: np.random.Generator) -> dict[str, Any]:
        """Log-scale locations and log shapes (one when shared) from their priors."""
        out = {"mu": rng.normal(priors["mu_mean"], priors["mu_sd"], n_lines).tolist()}
        n_shapes = 1 if shared_shape else n_lines
        out["log_shape"] = rng.normal(0.0, priors["shape_log_sd"], n_shapes).tolist()
        return out

    def expected_line_parameters(self, shared_shape: bool, n_lines: int,
                                 per_line: str) -> dict[str, tuple[tuple[int, ...], str]]:
        """Name -> (shape, words) of the line parameters a true-value set must give."""
        shapes = ((1,), "1 number (shared shape)") if shared_shape else ((n_lines,), per_line)
        return {"mu": ((n_lines,), per_line), "log_shape": shapes}

    def outcomes(self, predictor: np.ndarray, line: np.ndarray, hyper: Mapping[str, Any],
                 n_lines: int, rng: np.random.Generator) -> np.ndarray:
        """Weibull times in months before censoring, log scale = ``predictor``."""
        shape = np.exp(np.broadcast_to(np.asarray(hyper["log_shape"], dtype=float), (n_lines,)))
        # T = scale * E^(1/k), E ~ Exp(1): S(t) = exp(-(t / scale)^k), the models' Weibull.
        e = rng.standard_exponential(len(predictor))
        return np.exp(predictor + np.log(e) / shape[line])

    def study(self, design: Any, outcomes: np.ndarray) -> Study:
        """The study of the simulated times, censored at the design's censoring times."""
        return design.ttp_study(outcomes)

    def line_quantities(self, params: Mapping[str, np.ndarray],
                        lines: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
        """Locations per line, and shapes per line (or one, ``"all"``, when shared)."""
        loc = np.asarray(params["mu"], dtype=float)
        out = {("mu", line): loc[..., j] for j, line in enumerate(lines)}
        log_shape = np.asarray(params["log_shape"], dtype=float)
        shared = log_shape.shape[-1:] == (1,) and len(lines) > 1
        shape = np.broadcast_to(np.exp(log_shape), loc.shape)
        for j, line in enumerate(["all"] if shared else lines):
            out[("shape", line)] = shape[..., j]
        return out

    def derived_quantities(self, params: Mapping[str, np.ndarray], lines: Sequence[str],
                           patient_sd: np.ndarray,
                           population_sd: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        """Population medians per line, and the ratios of population and typical medians."""
        loc = np.asarray(params["mu"], dtype=float)
        shape = np.broadcast_to(np.exp(np.asarray(params["log_shape"], dtype=float)), loc.shape)
        population = marginal_weibull_median(loc, population_sd, shape)
        typical = marginal_weibull_median(loc, patient_sd[..., None] * np.ones_like(loc), shape)
        out = {("median_population", line): population[..., j] for j, line in enumerate(lines)}
        for j in range(1, len(lines)):
            label = f"{lines[j]} vs {lines[0]}"
            out[("median_ratio_population", label)] = population[..., j] / population[..., 0]
            out[("median_ratio_typical_site", label)] = typical[..., j] / typical[..., 0]
        return out

    def posterior_line_parameters(self, posterior: Any,
                                  by_line: Any) -> dict[str, np.ndarray]:
        """The line parameters of a fit as arrays (chain, draw, line or 1)."""
        log_shape = posterior["log_shape"]
        return {"mu": by_line("mu"),
                "log_shape": (by_line("log_shape") if "line" in log_shape.dims
                              else log_shape.transpose("chain", "draw").to_numpy()[..., None])}

    def build_model(self, study: Study, endpoint: str, pooling: Pooling, patient_effect: bool,
                    shared_shape: bool, priors: Mapping[str, float]) -> pm.Model:
        """The model refitted to one simulated study."""
        return build_ttp_model(study.for_endpoint(endpoint or schema.TTP_ENDPOINT),
                               pooling=pooling, patient_effect=patient_effect,
                               shared_shape=shared_shape, priors=dict(priors))

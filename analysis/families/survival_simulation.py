"""What simulation studies need of a time-to-progression model on any survival distribution of
:mod:`rechallenge.models.survival`: its line parameters drawn from the prior, times drawn given
the linear predictor, its true medians and their ratios, and its model refitted.

The Weibull keeps its own simulator (:mod:`.weibull_simulation`, whose draws earlier studies
recorded); the others are simulated here from the distribution's NumPy methods
(``SurvivalDistribution.random`` and ``marginal_median``), which are checked against SciPy in
their own tests. That the draws and the PyMC model agree is what simulation-based calibration
tests. The distribution is fixed for the whole study: a piecewise exponential keeps the cut
points chosen from the data the study's design comes from, in every simulated study and refit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pymc as pm

from rechallenge.analysis.summaries.site_effects import standard_normal_quadrature
from rechallenge.data import Study
from rechallenge.models.dims import Pooling
from rechallenge.models.survival import ShapeParameter, SurvivalDistribution
from rechallenge.models.ttp import build_ttp_model

#: Plausible true values of a parameter sampled on the log scale (a positive shape) and of one
#: sampled as it is (a step of the log hazard, Q, a Gompertz shape), for coverage studies.
LOG_SHAPE_BOUNDS = (math.log(0.05), math.log(20.0))
PLAIN_SHAPE_BOUNDS = (-5.0, 5.0)


class SurvivalSimulator:
    """Simulation of time to progression on one survival distribution.

    Parameters
    ----------
    distribution
        The distribution, with its settings fixed (a piecewise exponential's cut points).
    """

    key = "ttp"
    location = "mu"
    patient_sd = "sigma_patient"
    patient_prior = "sigma_patient_sd"
    headline: tuple[str, str, float] = ("median_population", "median_ratio_population", 1.0)
    open_bounds: frozenset[str] = frozenset()

    def __init__(self, distribution: SurvivalDistribution) -> None:
        self.distribution = distribution
        # Precision studies assume a longer TTP at the later line: a larger log time scale
        # (AFT), or a smaller log hazard (proportional hazards).
        self.default_effect = 0.4 if distribution.aft else -0.4
        bounds: dict[str, tuple[float, float, str]] = {
            "mu": (-15.0, 15.0, f"a {distribution.location_words} from -15 to 15"),
        }
        for par in distribution.parameters:
            low, high = LOG_SHAPE_BOUNDS if par.positive else PLAIN_SHAPE_BOUNDS
            bounds[par.sampled] = (low, high, f"{par.words or par.name} on its sampled scale, "
                                              f"from {low:.3g} to {high:.3g}")
        self.bounds: Mapping[str, tuple[float, float, str]] = bounds
        self.prior_options: Mapping[str, Any] = {"distribution": distribution.name,
                                                 **distribution.settings()}

    def __repr__(self) -> str:
        return f"SurvivalSimulator({self.distribution!r})"

    # ----------------------------------------------------------------------- parameters
    def _event_shape(self, par: ShapeParameter) -> tuple[int, ...]:
        """The shape of one line's value of ``par`` (the piecewise steps: one per cut)."""
        k = self.distribution.parameters.index(par)
        dims = self.distribution.event_dims or (0,) * len(self.distribution.parameters)
        return (len(getattr(self.distribution, "cuts", ())),) if dims[k] else ()

    def draw_line_parameters(self, priors: Mapping[str, float], shared_shape: bool,
                             n_lines: int, rng: np.random.Generator) -> dict[str, Any]:
        """Locations and shape parameters (on their sampled scales) from their priors."""
        out = {"mu": rng.normal(priors["mu_mean"], priors["mu_sd"], n_lines).tolist()}
        n_shapes = 1 if shared_shape else n_lines
        for par in self.distribution.parameters:
            size = (n_shapes, *self._event_shape(par))
            out[par.sampled] = rng.normal(par.prior_mean_in(priors), priors[par.prior_sd],
                                          size).tolist()
        return out

    def expected_line_parameters(self, shared_shape: bool, n_lines: int,
                                 per_line: str) -> dict[str, tuple[tuple[int, ...], str]]:
        """Name -> (shape, words) of the line parameters a true-value set must give."""
        out: dict[str, tuple[tuple[int, ...], str]] = {"mu": ((n_lines,), per_line)}
        for par in self.distribution.parameters:
            rows = 1 if shared_shape else n_lines
            shape = (rows, *self._event_shape(par))
            out[par.sampled] = (shape, f"an array of shape {list(shape)}")
        return out

    def _natural(self, params: Mapping[str, Any], n_lines: int,
                 lead: tuple[int, ...] = ()) -> tuple[np.ndarray, ...]:
        """Each shape parameter on its natural scale, shape (*lead, line, *event)."""
        out = []
        for par in self.distribution.parameters:
            value = np.asarray(params[par.sampled], dtype=float)
            value = np.exp(value) if par.positive else value
            out.append(np.broadcast_to(value, (*lead, n_lines, *self._event_shape(par))))
        return tuple(out)

    # ----------------------------------------------------------------------- data
    def outcomes(self, predictor: np.ndarray, line: np.ndarray, hyper: Mapping[str, Any],
                 n_lines: int, rng: np.random.Generator) -> np.ndarray:
        """Times in months before censoring, the location of each row = ``predictor``."""
        params = tuple(p[line] for p in self._natural(hyper, n_lines))
        with np.errstate(over="ignore"):  # vague prior draws overflow: inf is censored anyway
            return np.asarray(self.distribution.random(predictor, params, rng), dtype=float)

    def study(self, design: Any, outcomes: np.ndarray) -> Study:
        """The study of the simulated times, censored at the design's censoring times."""
        return design.ttp_study(outcomes)

    # ----------------------------------------------------------------------- quantities
    def line_quantities(self, params: Mapping[str, np.ndarray],
                        lines: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
        """Locations per line, and each shape parameter per line (``"all"`` when shared; a
        piecewise step per line and cut, ``"ICI-1, 2.3"``).
        """
        loc = np.asarray(params["mu"], dtype=float)
        out = {("mu", line): loc[..., j] for j, line in enumerate(lines)}
        for par in self.distribution.parameters:
            value = np.asarray(params[par.sampled], dtype=float)
            value = np.exp(value) if par.positive else value
            event = self._event_shape(par)
            rows = value.shape[value.ndim - len(event) - 1]
            labels = ["all"] if rows == 1 and len(lines) > 1 else list(lines)
            cuts = self.distribution.step_labels() if event else [""]  # type: ignore[attr-defined]
            for j, line in enumerate(labels):
                for c, cut in enumerate(cuts):
                    picked = value[..., j, c] if event else value[..., j]
                    out[(par.name, f"{line}, {cut}" if event else line)] = picked
        return out

    def derived_quantities(self, params: Mapping[str, np.ndarray], lines: Sequence[str],
                           patient_sd: np.ndarray,
                           population_sd: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        """Population medians per line, and the ratios of population and typical medians."""
        loc = np.asarray(params["mu"], dtype=float)
        natural = self._natural(params, len(lines), loc.shape[:-1])
        nodes, weights = standard_normal_quadrature()
        dist = self.distribution
        population = dist.marginal_median(loc, population_sd, natural, nodes, weights)
        typical = dist.marginal_median(loc, patient_sd[..., None] * np.ones_like(loc), natural,
                                       nodes, weights)
        out = {("median_population", line): population[..., j] for j, line in enumerate(lines)}
        for j in range(1, len(lines)):
            label = f"{lines[j]} vs {lines[0]}"
            with np.errstate(invalid="ignore", divide="ignore"):  # medians never reached
                out[("median_ratio_population", label)] = population[..., j] / population[..., 0]
                out[("median_ratio_typical_site", label)] = typical[..., j] / typical[..., 0]
        return out

    def posterior_line_parameters(self, posterior: Any, by_line: Any) -> dict[str, np.ndarray]:
        """The line parameters of a fit as arrays (chain, draw, line or 1, *event)."""
        lines = list(posterior.coords["line"].to_numpy())
        out = {"mu": by_line("mu")}
        for par in self.distribution.parameters:
            value = posterior[par.sampled]
            if "line" in value.dims:
                value = value.sel(line=lines).transpose("chain", "draw", "line", ...).to_numpy()
            else:
                value = value.transpose("chain", "draw", ...).to_numpy()[:, :, None]
            out[par.sampled] = value
        return out

    # ----------------------------------------------------------------------- refit
    def build_model(self, study: Study, endpoint: str, pooling: Pooling, patient_effect: bool,
                    shared_shape: bool, priors: Mapping[str, float]) -> pm.Model:
        """The model refitted to one simulated study, on the fixed distribution."""
        return build_ttp_model(study.for_endpoint(endpoint), pooling=pooling,
                               patient_effect=patient_effect, shared_shape=shared_shape,
                               priors=dict(priors), distribution=self.distribution)

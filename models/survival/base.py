"""What a survival distribution of the time-to-progression model declares, once.

The hierarchical structure of the TTP model (line intercepts, site effects correlated across
lines, covariates, a patient effect, the nested comparators, right censoring) is the same for
every distribution: each patient row gets a *location* ``loc = mu[line] + u_site[site, line]
(+ x'beta + u_patient)``. What the location means and what else the distribution needs (its
*shape parameters*, one set per line or shared by the lines) is the distribution's own:

* accelerated-failure-time (AFT) families (Weibull, log-normal, log-logistic, generalised
  gamma): ``loc`` is the log of a time scale, so a change ``d`` multiplies every quantile of T
  by ``exp(d)``;
* proportional-hazards (PH) families (Gompertz, piecewise exponential): ``loc`` is the log of a
  baseline hazard rate, so a change ``d`` multiplies the hazard by ``exp(d)``.

A distribution supplies the censored log density as a PyTensor graph (the model) and the same
quantities in NumPy (the summaries: survival curves, medians, restricted means), a random
generator (posterior predictive checks, simulation studies) and, where a closed form exists, the
log median as a graph (sites that report only a median). The tests compare each with SciPy's
closed forms.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from rechallenge.models.priors import PriorDefault

#: Log survivals :meth:`SurvivalDistribution.marginal_survival` evaluates at a time (bounds its
#: memory: a block's arrays take a few MB per term of a series).
BLOCK_VALUES: Final = 2**18

#: Bisection steps of :meth:`SurvivalDistribution.quantile` on log times in [-30, 30]: 60 / 2^50
#: is below a double's resolution of a log time.
_BISECTIONS: Final = 50


@dataclass(frozen=True)
class ShapeParameter:
    """A shape parameter sampled on an unconstrained scale.

    Parameters
    ----------
    name
        Its name in the fit, on the natural scale (``"shape"``, ``"sigma"``).
    sampled
        The sampled variable (``"log_shape"``); equal to ``name`` when no transform is used.
    prior_sd
        The prior hyperparameter holding the normal prior's SD on the sampled scale.
    prior_mean
        The normal prior's mean on the sampled scale (when ``prior_mean_name`` is None).
    positive
        The natural value is ``exp(sampled)``.
    words
        What it is, for a reader (figure titles, tables): ``"Weibull shape"``.
    prior_mean_name
        The prior hyperparameter holding the mean, where it is one (the generalised gamma's
        ``q_mean``); None: ``prior_mean``.
    """

    name: str
    sampled: str
    prior_sd: str
    prior_mean: float = 0.0
    positive: bool = True
    words: str = ""
    prior_mean_name: str | None = None

    def prior_mean_in(self, priors: Mapping[str, float]) -> float:
        """The prior mean on the sampled scale, given the model's prior values."""
        return float(priors[self.prior_mean_name]) if self.prior_mean_name else self.prior_mean


def restricted_mean_of(survival_at: Callable[[np.ndarray], np.ndarray], horizon: float, *,
                       points: int = 401) -> np.ndarray:
    """``integral_0^horizon S(t) dt`` of the survival curve(s) ``survival_at(grid)`` (times on the
    last axis), by Simpson's rule on ``points`` after the substitution ``t = horizon u^3``.

    Survival curves with a falling hazard (a Weibull shape below 1) are steep at zero, where a
    grid even in ``t`` would miss the drop; in ``u`` the integrand ``3 horizon u^2 S(horizon
    u^3)`` is smooth. The first time is ``horizon 1e-12`` rather than 0 (``S(0) = 1`` for every
    distribution, and its weight is 0), which spares the log of zero.
    """
    from scipy.integrate import simpson

    u = np.linspace(0.0, 1.0, points)
    grid = horizon * u**3
    grid[0] = horizon * 1e-12
    return np.asarray(simpson(3.0 * horizon * u**2 * survival_at(grid), x=u, axis=-1))


class SurvivalDistribution(ABC):
    """A parametric survival distribution of the TTP model (see the module docstring).

    Shape parameters reach the methods as a tuple of arrays (NumPy) or tensors (PyTensor) in the
    order of :attr:`parameters`, each broadcastable to the location (a trailing axis for
    parameters with ``event_dims``, such as the piecewise hazards).
    """

    #: Name in configs, fits and tables (``"weibull"``).
    name: ClassVar[str]
    #: Name in reader text (``"Weibull"``).
    label: ClassVar[str]
    #: The location is a log time scale (AFT) rather than a log hazard rate (PH).
    aft: ClassVar[bool]
    #: With the shape parameters shared by the lines, hazards at the two lines are proportional.
    proportional_hazards: ClassVar[bool]
    #: The shape parameters, in the order the methods take them.
    parameters: ClassVar[tuple[ShapeParameter, ...]]
    #: Prior hyperparameters of the shape parameters (merged with the model's own).
    priors: ClassVar[Mapping[str, PriorDefault]]
    #: What the location is, in the docs' words.
    location_words: ClassVar[str]
    #: Names of the settings :meth:`settings` records with a fit (the piecewise cut points).
    setting_names: ClassVar[tuple[str, ...]] = ()
    #: The sampler a model on this distribution needs instead of nutpie, when numba cannot
    #: compile its gradient in practical time (None: nutpie compiles it).
    needs_backend: ClassVar[str | None] = None

    # ----------------------------------------------------------------------- model graph
    def shape_variables(self, p: Mapping[str, pt.TensorVariable], n_lines: int, *,
                        shared: bool, line_dim: str) -> tuple[pt.TensorVariable, ...]:
        """Add the shape parameters to the current PyMC model; return each with the lines on
        its first axis (length ``n_lines``), in the order of :attr:`parameters`.

        Parameters
        ----------
        p
            The model's prior hyperparameters (``prior_data``).
        n_lines
            Number of treatment lines.
        shared
            One value for all lines (a scalar variable broadcast to the lines).
        line_dim
            The name of the line dimension.
        """
        out = []
        for par in self.parameters:
            dims = None if shared else line_dim
            sampled = pm.Normal(par.sampled, par.prior_mean, p[par.prior_sd], dims=dims)
            value = pt.exp(sampled) if par.positive else sampled
            if par.positive:
                value = pm.Deterministic(par.name, value, dims=dims)
            out.append(pt.ones(n_lines) * value if shared else value)
        return tuple(out)

    @abstractmethod
    def censored_logp(self, value: pt.TensorLike, loc: pt.TensorLike,
                      *params: pt.TensorLike, upper: pt.TensorLike) -> pt.TensorVariable:
        """Elementwise ``log f(t)`` for events (``value < upper``) and ``log S(t)`` for rows
        censored at ``value`` (``value >= upper``).
        """

    def log_median_tensor(self, loc: pt.TensorLike,
                          *params: pt.TensorLike) -> pt.TensorVariable | None:
        """The log median as a graph, for sites reporting only a median; None where the
        distribution has no closed form (such sites then cannot be used with it).
        """
        return None

    #: Event dimensions of each shape parameter (0: one value per row).
    event_dims: ClassVar[tuple[int, ...]] = ()

    def fitted_to(self, durations: np.ndarray, events: np.ndarray) -> SurvivalDistribution:
        """The distribution for data with these times and event indicators: itself, unless it
        has settings chosen from the data (the piecewise exponential's cut points).
        """
        return self

    def settings(self) -> dict[str, Any]:
        """The settings that rebuild this distribution from its name (recorded with the fit;
        see :func:`rechallenge.models.survival.survival_distribution`).
        """
        return {}

    def observed(self, name: str, *, loc: pt.TensorVariable, params: Sequence[pt.TensorVariable],
                 upper: pt.TensorVariable, observed: pt.TensorVariable, dims: str,
                 likelihood: str = "logspace") -> pt.TensorVariable:
        """Add the right-censored observed variable ``name`` to the current model.

        ``likelihood`` names the implementation where a distribution has two (the Weibull:
        ``"censored"``, PyMC's ``pm.Censored``, as a reference); others accept only
        ``"logspace"``, their own log density.
        """
        if likelihood != "logspace":
            raise ValueError(f"the {self.label} distribution has only the 'logspace' likelihood, "
                             f"not {likelihood!r}")
        dims_of = self.event_dims or (0,) * len(params)
        signature = ",".join(["()"] + [f"(e{i})" if d else "()" for i, d in enumerate(dims_of)]
                             + ["()"]) + "->()"

        def random(loc: np.ndarray, *rest: np.ndarray, rng: np.random.Generator | None = None,
                   size: tuple[int, ...] | None = None) -> np.ndarray:
            *shape_params, bound = rest
            rng = np.random.default_rng() if rng is None else rng
            draws = self.random(np.broadcast_to(loc, size) if size else loc, tuple(shape_params),
                                rng)
            return np.minimum(draws, bound)

        def logp(value: pt.TensorVariable, loc: pt.TensorVariable,
                 *rest: pt.TensorVariable) -> pt.TensorVariable:
            *shape_params, bound = rest
            return self.censored_logp(value, loc, *shape_params, upper=bound)

        return pm.CustomDist(name, loc, *params, upper, logp=logp, random=random,
                             signature=signature, observed=observed, dims=dims)

    # ----------------------------------------------------------------------- NumPy
    @abstractmethod
    def log_survival(self, t: np.ndarray, loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log S(t)``, broadcast over ``t``, ``loc`` and the parameters."""

    @abstractmethod
    def log_density(self, t: np.ndarray, loc: np.ndarray,
                    params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log f(t)``, broadcast over ``t``, ``loc`` and the parameters."""

    @abstractmethod
    def random(self, loc: np.ndarray, params: tuple[np.ndarray, ...],
               rng: np.random.Generator) -> np.ndarray:
        """One time per element of ``loc`` (broadcast with the parameters)."""

    def quantile(self, survival: float, loc: np.ndarray,
                 params: tuple[np.ndarray, ...]) -> np.ndarray:
        """The time ``t`` with ``S(t) = survival`` (``inf`` where the curve never falls that
        low). This default bisects on the log time; families with a closed form override it.
        """
        loc = np.asarray(loc, dtype=float)
        shape = np.broadcast_shapes(loc.shape, *(np.shape(q)[:np.ndim(q) - d] for q, d in
                                                 zip(params, self.event_dims or (0,) * len(params))))
        lo = np.full(shape, -30.0)
        hi = np.full(shape, 30.0)
        target = np.log(survival)
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            below = self.log_survival(np.exp(mid), loc, params) < target
            hi = np.where(below, mid, hi)
            lo = np.where(below, lo, mid)
        never = self.log_survival(np.exp(30.0), loc, params) >= target
        return np.where(never, np.inf, np.exp((lo + hi) / 2))

    def median(self, loc: np.ndarray, params: tuple[np.ndarray, ...]) -> np.ndarray:
        """The median time (``inf`` where the survival curve stays above one half)."""
        return self.quantile(0.5, loc, params)

    def restricted_mean(self, horizon: float, loc: np.ndarray, params: tuple[np.ndarray, ...],
                        *, points: int = 401) -> np.ndarray:
        """The restricted mean ``integral_0^horizon S(t) dt`` (:func:`restricted_mean_of`)."""
        loc = np.asarray(loc, dtype=float)[..., None]
        expanded = tuple(np.asarray(q)[..., None] if d == 0 else np.expand_dims(q, -2)
                         for q, d in zip(params, self.event_dims or (0,) * len(params)))
        return restricted_mean_of(lambda grid: np.exp(self.log_survival(grid, loc, expanded)),
                                  horizon, points=points)

    # ----------------------------------------------------------------------- averaged curves
    def hazard_ratio(self, delta_loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray | None:
        """The hazard ratio of a location change ``delta_loc`` with the shape parameters shared
        (``params`` of the reference line), or None where hazards are not proportional. For a PH
        family the location is a log hazard rate, so the ratio is ``exp(delta_loc)``.
        """
        if self.aft or not self.proportional_hazards:
            return None
        return np.exp(delta_loc)

    def marginal_survival(self, times: np.ndarray, loc: np.ndarray, sd: np.ndarray,
                          params: tuple[np.ndarray, ...], nodes: np.ndarray,
                          weights: np.ndarray) -> np.ndarray:
        """``E_Z[S(t | loc + sd Z)]`` with ``Z ~ N(0, 1)`` by the quadrature ``nodes, weights``;
        shape ``(..., times)`` for ``loc`` and ``sd`` of shape ``(...)``.

        Evaluated in blocks of elements of ``loc`` (about :data:`BLOCK_VALUES` log survivals at
        a time): 4,000 draws x 201 times x 20 nodes are 16 million values, and a distribution
        whose log survival is a series (the generalised gamma's 36 tail terms) would otherwise
        hold several of them times its terms in memory at once.
        """
        times = np.asarray(times, dtype=float)
        t = np.maximum(times, 1e-300)[:, None]
        dims = self.event_dims or (0,) * len(params)
        lead = np.broadcast_shapes(np.shape(loc), np.shape(sd), *(
            np.shape(q)[:np.ndim(q) - d] for q, d in zip(params, dims)))
        loc = np.broadcast_to(np.asarray(loc, dtype=float), lead)
        sd = np.broadcast_to(np.asarray(sd, dtype=float), lead).reshape(-1)
        flat = []
        for q, d in zip(params, dims):
            event = np.shape(q)[np.ndim(q) - d:] if d else ()
            flat.append(np.broadcast_to(np.asarray(q, dtype=float), loc.shape + event)
                        .reshape((loc.size, *event)))
        at = loc.reshape(-1)
        out = np.empty((at.size, times.size))
        step = max(1, BLOCK_VALUES // max(times.size * np.size(nodes), 1))
        for start in range(0, at.size, step):
            block = slice(start, start + step)
            shifted = at[block, None, None] + sd[block, None, None] * nodes
            expanded = tuple(q[block, None, None] if d == 0 else q[block, None, None, :]
                             for q, d in zip(flat, dims))
            with np.errstate(over="ignore", under="ignore"):
                out[block] = np.sum(weights * np.exp(self.log_survival(t, shifted, expanded)),
                                    axis=-1)
        return np.where(times <= 0, 1.0, out.reshape((*loc.shape, times.size)))

    def marginal_median(self, loc: np.ndarray, sd: np.ndarray, params: tuple[np.ndarray, ...],
                        nodes: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The median of :meth:`marginal_survival` (``inf`` where the averaged curve stays above
        one half up to 10^6 months): the closed-form median where ``sd == 0``, else a bisection
        on log t between the medians at the extreme quadrature nodes.
        """
        loc = np.asarray(loc, dtype=float)
        sd = np.broadcast_to(np.asarray(sd, dtype=float), loc.shape)
        out = np.asarray(self.median(loc, params), dtype=float) * np.ones(loc.shape)
        mixed = sd > 0
        if not mixed.any():
            return out
        dims = self.event_dims or (0,) * len(params)
        picked = tuple(np.broadcast_to(q, loc.shape + np.shape(q)[np.ndim(q) - d:] if d else
                                       loc.shape)[mixed] for q, d in zip(params, dims))
        at = loc[mixed]
        spread = sd[mixed]
        with np.errstate(divide="ignore"):
            ends = np.log([self.median(at + spread * z, picked) for z in (nodes.min(), nodes.max())])
        ceiling = math.log(1e6)
        lo = np.clip(np.nanmin(ends, axis=0) - 1.0, -30.0, ceiling)
        hi = np.clip(np.nanmax(ends, axis=0) + 1.0, -30.0, ceiling)
        for _ in range(_BISECTIONS + 10):
            mid = 0.5 * (lo + hi)
            above = self._marginal_at(np.exp(mid), at, spread, picked, nodes, weights) > 0.5
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        never = self._marginal_at(np.full(at.shape, 1e6), at, spread, picked, nodes,
                                  weights) > 0.5
        out[mixed] = np.where(never, np.inf, np.exp(0.5 * (lo + hi)))
        return out

    def _marginal_at(self, t: np.ndarray, loc: np.ndarray, sd: np.ndarray,
                     params: tuple[np.ndarray, ...], nodes: np.ndarray,
                     weights: np.ndarray) -> np.ndarray:
        """The averaged survival at one time per element (``t``, ``loc``, ``sd``: shape (n,))."""
        dims = self.event_dims or (0,) * len(params)
        expanded = tuple(q[:, None] if d == 0 else q[:, None, :] for q, d in zip(params, dims))
        with np.errstate(over="ignore", under="ignore"):
            return np.sum(weights * np.exp(self.log_survival(
                t[:, None], loc[:, None] + sd[:, None] * nodes, expanded)), axis=-1)

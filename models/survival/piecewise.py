"""The piecewise exponential distribution (PH), with cut points chosen from the data.

Parameterisation
----------------
Cut points ``0 = c_0 < c_1 < ... < c_J`` (months; ``c_(J+1) = inf``) split follow-up into
``J + 1`` intervals with a constant hazard in each::

    log h_j = loc + sum_{i=1}^{j} step_i          (interval j = [c_j, c_(j+1)), j = 0..J)

so ``loc`` is the log hazard per month of the first interval and ``step_i`` the change of the log
hazard at ``c_i``: a random walk on the log hazard, ``step_i ~ Normal(0, hazard_step_sd)``. The
cumulative hazard is piecewise linear, ``H(t) = sum_j h_j |[c_j, c_(j+1)) n [0, t)|``, with
``S(t) = exp(-H(t))``, ``f(t) = h_(j(t)) S(t)`` and closed-form quantiles and restricted means.

A change ``d`` of ``loc`` multiplies the hazard of every interval by ``exp(d)``; with one step
vector for all lines (``shared``) the lines' hazards are proportional. With no cut points it is
the exponential with rate ``exp(loc)``: SciPy ``expon(scale = exp(-loc))``. SciPy has no
piecewise exponential; R: ``msm::ppexp(q, rate = h, t = c(0, cuts))`` (``t`` the interval
starts), ``eha::ppch(q, cuts, levels = h)``; flexsurv has none built in.

The cut points belong to the instance: :meth:`PiecewiseExponential.from_event_times` puts them at
quantiles of the observed event times. The registered instance has none (the exponential); the
model builder makes its own from the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from rechallenge.models.priors import PriorDefault
from rechallenge.models.survival.base import ShapeParameter, SurvivalDistribution

#: The model dimension of the steps (one per cut point), labelled by the cut in months.
STEP_DIM: Final = "interval_step"
#: Cut points are rounded to this many decimals of a month (0.1 month, about 3 days).
CUT_DECIMALS: Final = 1


class PiecewiseExponential(SurvivalDistribution):
    """Piecewise exponential with first-interval log hazard ``loc`` and steps ``hazard_step``.

    Parameters
    ----------
    cuts
        Interval boundaries in months, positive, finite and increasing; ``()`` is the
        exponential.
    """

    name = "piecewise"
    label = "piecewise exponential"
    aft = False
    proportional_hazards = True
    location_words = "log hazard per month in the first interval"
    parameters = (ShapeParameter("hazard_step", "hazard_step", "hazard_step_sd", positive=False,
                                 words="change of the log hazard at a cut point"),)
    event_dims = (1,)
    priors = MappingProxyType({
        "mu_mean": PriorDefault(
            math.log(math.log(2.0) / 5.0),
            "mu[line] ~ Normal(mu_mean, mu_sd)  (log hazard per month, first interval)",
            "Centred on a hazard of log(2) / 5 = 0.14 per month, the constant hazard of a median "
            "TTP of 5 months: median TTP on ICIs in advanced HCC is typically 3-8 months.",
            positive=False,
        ),
        "mu_sd": PriorDefault(
            1.0,
            "mu[line] ~ Normal(mu_mean, mu_sd)",
            "95% of the prior hazard lies in 0.02-0.98 per month, the constant hazards of medians "
            "from 0.7 to 36 months: all plausible medians, but not days or decades.",
        ),
        "hazard_step_sd": PriorDefault(
            0.5,
            "hazard_step[line, interval_step] ~ Normal(0, hazard_step_sd), log h_j = mu + sum of "
            "the steps up to j",
            "At each cut point the hazard changes by a factor within 0.38-2.7 (95%): hazards that "
            "rise or fall over follow-up, as after the early progressions on ICIs, but not the "
            "tenfold jumps the few events of one interval could otherwise suggest. Zero steps "
            "give the exponential.",
        ),
    })

    def __init__(self, cuts: Sequence[float] | None = None) -> None:
        # None: the cut points are chosen from the data the model is built on (fitted_to);
        # given (even empty, the exponential), they are kept, as a refit of simulated data needs.
        self.chosen_from_data = cuts is None
        values = tuple(float(c) for c in (cuts or ()))
        if not all(math.isfinite(c) and c > 0 for c in values) or any(
                b <= a for a, b in zip(values, values[1:])):
            raise ValueError(f"cut points must be positive, finite and increasing: {values}")
        self.cuts: tuple[float, ...] = values
        self._starts = np.array((0.0, *values))
        self._ends = np.array((*values, np.inf))
        self._widths = self._ends - self._starts

    @classmethod
    def from_event_times(cls, durations: Sequence[float] | np.ndarray,
                         events: Sequence[bool] | np.ndarray, intervals: int = 3,
                         ) -> PiecewiseExponential:
        """Cut points at quantiles of the observed event times.

        The rule: the ``j / intervals`` quantiles (``j = 1 .. intervals - 1``; tertiles by
        default) of the times of the rows with an observed event (NumPy's default, linear
        interpolation), rounded to 0.1 month; cuts at 0 and duplicates are dropped, so tied or
        few events give fewer intervals, and no events none (the exponential). Each interval
        then holds about the same number of events, so that every hazard is informed.

        Parameters
        ----------
        durations
            Times in months, one per row.
        events
            True (1) where the row's event was observed, False (0) where it is censored.
        intervals
            The number of intervals wanted (at least 1).
        """
        if intervals < 1:
            raise ValueError(f"intervals must be at least 1, not {intervals}")
        times = np.asarray(durations, dtype=float)[np.asarray(events, dtype=bool)]
        times = times[np.isfinite(times) & (times > 0)]
        if times.size == 0 or intervals == 1:
            return cls(())
        cuts = np.round(np.quantile(times, np.arange(1, intervals) / intervals), CUT_DECIMALS)
        return cls(tuple(float(c) for c in np.unique(cuts[cuts > 0])))

    def fitted_to(self, durations: np.ndarray, events: np.ndarray) -> PiecewiseExponential:
        """A piecewise exponential with cut points at tertiles of these data's event times
        (:meth:`from_event_times`); itself when its cut points were given.
        """
        return self.from_event_times(durations, events) if self.chosen_from_data else self

    setting_names = ("cuts",)

    def settings(self) -> dict[str, Any]:
        """``{"cuts": [...]}``: ``PiecewiseExponential(**settings)`` rebuilds it."""
        return {"cuts": list(self.cuts)}

    def __repr__(self) -> str:
        return f"PiecewiseExponential(cuts={self.cuts})"

    def step_labels(self) -> list[str]:
        """The labels of :data:`STEP_DIM`: each step's cut point in months (``"2.3"``)."""
        return [f"{c:g}" for c in self.cuts]

    # ----------------------------------------------------------------------- model graph
    def shape_variables(self, p: Mapping[str, pt.TensorVariable], n_lines: int, *,
                        shared: bool, line_dim: str) -> tuple[pt.TensorVariable, ...]:
        """``hazard_step`` with dims (line, :data:`STEP_DIM`), or (:data:`STEP_DIM`,) when
        ``shared``; the coordinate is added to the model when it lacks it. Without cut points
        there is no variable (a ``(n_lines, 0)`` array of steps).
        """
        if not self.cuts:
            return (pt.zeros((n_lines, 0)),)
        model = pm.modelcontext(None)
        labels = self.step_labels()
        if STEP_DIM not in model.coords:
            model.add_coord(STEP_DIM, labels)
        elif list(model.coords[STEP_DIM]) != labels:
            raise ValueError(f"the model's {STEP_DIM} coordinate {list(model.coords[STEP_DIM])} "
                             f"does not match the cut points {labels}")
        dims = (STEP_DIM,) if shared else (line_dim, STEP_DIM)
        step = pm.Normal("hazard_step", 0.0, p["hazard_step_sd"], dims=dims)
        return (pt.ones((n_lines, 1)) * step if shared else step,)

    def censored_logp(self, value: pt.TensorLike, loc: pt.TensorLike, *params: pt.TensorLike,
                      upper: pt.TensorLike) -> pt.TensorVariable:
        """``log h(t) - H(t)`` for events, ``-H(t)`` for censored rows; ``steps`` with the
        cut points on its last axis.
        """
        (steps,) = params
        value, loc = pt.as_tensor_variable(value), pt.as_tensor_variable(loc)
        after_first = pt.cumsum(steps, axis=-1)  # log h_j - loc, j = 1..J
        t = value[..., None]
        exposure = pt.clip(t - self._starts, 0.0, self._widths)
        inside = pt.ge(t, self._starts[1:]) * pt.lt(t, self._ends[1:])
        # H = exp(loc) (exposure_0 + sum_j exp(log h_j - loc) exposure_j): no concatenation of
        # loc with the steps, whose batch shapes may differ (a scalar loc in the tests).
        cum_hazard = pt.exp(loc) * (exposure[..., 0]
                                    + (pt.exp(after_first) * exposure[..., 1:]).sum(axis=-1))
        log_hazard = loc + (after_first * inside).sum(axis=-1)
        # Both terms are finite for every row, so the 0/1 event indicator replaces a switch.
        return pt.lt(value, upper) * log_hazard - cum_hazard

    # ----------------------------------------------------------------------- NumPy
    def _log_hazards(self, loc: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """``log h_j``, ``j = 0..J``, on a trailing axis."""
        steps = np.asarray(steps, dtype=float)
        relative = np.concatenate([np.zeros((*steps.shape[:-1], 1)), np.cumsum(steps, axis=-1)],
                                  axis=-1)
        return np.asarray(loc, dtype=float)[..., None] + relative

    def _cum_hazard(self, t: np.ndarray, log_h: np.ndarray) -> np.ndarray:
        exposure = np.clip(np.asarray(t, dtype=float)[..., None] - self._starts, 0.0,
                           self._widths)
        return (np.exp(log_h) * exposure).sum(axis=-1)

    def log_survival(self, t: np.ndarray, loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``-H(t)``, the cumulative hazard piecewise linear in ``t``."""
        (steps,) = params
        return -self._cum_hazard(t, self._log_hazards(loc, steps))

    def log_density(self, t: np.ndarray, loc: np.ndarray,
                    params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log h(t) - H(t)``."""
        (steps,) = params
        log_h = self._log_hazards(loc, steps)
        t_ = np.asarray(t, dtype=float)[..., None]
        inside = (t_ >= self._starts) & (t_ < self._ends)  # hazard right-continuous at a cut
        return (log_h * inside).sum(axis=-1) - self._cum_hazard(t, log_h)

    def _invert(self, cum_hazard: np.ndarray, loc: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """The time ``t`` with ``H(t) = cum_hazard``: on the interval where ``H`` passes it,
        ``t = c_j + (cum_hazard - H(c_j)) / h_j``.
        """
        hazard = np.exp(self._log_hazards(loc, steps))
        at_starts = np.concatenate(
            [np.zeros((*hazard.shape[:-1], 1)),
             np.cumsum(hazard[..., :-1] * self._widths[:-1], axis=-1)], axis=-1)
        target = np.asarray(cum_hazard, dtype=float)[..., None]
        candidates = self._starts + (target - at_starts) / hazard
        interval = (at_starts <= target).sum(axis=-1, keepdims=True) - 1
        return np.take_along_axis(candidates, interval, axis=-1)[..., 0]

    def random(self, loc: np.ndarray, params: tuple[np.ndarray, ...],
               rng: np.random.Generator) -> np.ndarray:
        """By inversion: ``H(T)`` is a standard exponential."""
        (steps,) = params
        shape = np.broadcast_shapes(np.shape(loc), np.shape(steps)[:-1])
        return self._invert(rng.standard_exponential(shape), loc, steps)

    def quantile(self, survival: float, loc: np.ndarray,
                 params: tuple[np.ndarray, ...]) -> np.ndarray:
        """Closed form: ``H(t) = -log(survival)`` solved on the interval where it falls."""
        (steps,) = params
        return self._invert(-np.log(survival), loc, steps)

    def restricted_mean(self, horizon: float, loc: np.ndarray, params: tuple[np.ndarray, ...],
                        *, points: int = 401) -> np.ndarray:
        """``integral_0^horizon S(t) dt`` in closed form (``points`` is not used): on interval
        ``j`` the integral is ``S(c_j) (1 - exp(-h_j e_j)) / h_j`` with ``e_j`` the part of the
        interval before the horizon. Simpson's rule would blur the kinks of ``S`` at the cuts.
        """
        (steps,) = params
        log_h = self._log_hazards(loc, steps)
        hazard = np.exp(log_h)
        at_starts = np.concatenate(
            [np.zeros((*hazard.shape[:-1], 1)),
             np.cumsum(hazard[..., :-1] * self._widths[:-1], axis=-1)], axis=-1)
        exposure = np.clip(horizon - self._starts, 0.0, self._widths)
        return (np.exp(-at_starts) * -np.expm1(-hazard * exposure) / hazard).sum(axis=-1)

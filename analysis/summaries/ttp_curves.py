"""Survival curves of a TTP fit for figures: the population-averaged or typical-site curve per
line with its credible band, and the posterior predictive band of Kaplan-Meier curves
(:mod:`rechallenge.analysis.summaries.ttp` holds the fit's quantities and tables).
"""

from __future__ import annotations

from typing import Final, Literal

import arviz as az
import numpy as np
import pandas as pd

from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.analysis.summaries.site_effects import standard_normal_quadrature
from rechallenge.analysis.summaries.ttp import TTPDraws, patient_arrays
from rechallenge.models.fit_settings import DEFAULT_SEED

#: Points of the default time grid of a curve.
CURVE_POINTS: Final = 101


def survival_curves(
    idata: az.InferenceData,
    *,
    times: np.ndarray | None = None,
    interval: Interval = DEFAULT_INTERVAL,
    kind: Literal["population", "typical_site"] = "population",
) -> pd.DataFrame:
    """Posterior survival curve per line with its credible band, for plots.

    Parameters
    ----------
    times
        Months at which to evaluate S(t); default 101 points from 0 to the longest observed time
        (or three times the largest typical-site median when there are no patient rows).
    kind
        ``"population"`` (averaged over sites) or ``"typical_site"`` (``u = 0``).

    Returns
    -------
    pandas.DataFrame
        Columns line, time, mean, median, lower, upper, interval.
    """
    if kind not in ("population", "typical_site"):
        raise ValueError(f"kind must be 'population' or 'typical_site', got {kind!r}")
    d = TTPDraws.from_idata(idata)
    grid = _time_grid(idata, d) if times is None else np.asarray(times, dtype=float)
    sd = d.population_sd if kind == "population" else np.broadcast_to(
        d.patient_sd[..., None], d.mu.shape)
    frames = []
    for j, line in enumerate(d.lines):
        surv = d.distribution.marginal_survival(grid, d.mu[..., j], sd[..., j],
                                                d.line_params(j), *standard_normal_quadrature())
        flat = surv.reshape(-1, grid.size)
        frames.append(_band_frame(line, grid, flat, interval))
    return pd.concat(frames, ignore_index=True)


def predictive_survival_band(
    idata: az.InferenceData,
    *,
    times: np.ndarray | None = None,
    interval: Interval = DEFAULT_INTERVAL,
    max_draws: int = 400,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Kaplan-Meier curves of replicated data beside the Kaplan-Meier curve of the data, per line.

    Each posterior predictive draw of ``ttp`` is a replicated dataset with the observed censoring
    times (a draw beyond a row's censoring time is censored there, as in the data); its
    Kaplan-Meier curve is evaluated on ``times``. The band is the interval of those curves.

    Returns
    -------
    pandas.DataFrame
        Columns line, time, observed (Kaplan-Meier of the data), mean, median, lower, upper,
        interval.
    """
    if "posterior_predictive" not in idata.groups() or "ttp" not in idata.posterior_predictive:
        raise ValueError("the fit has no posterior predictive 'ttp' (no patient rows?)")
    d = TTPDraws.from_idata(idata)
    t_obs, upper, line_idx = patient_arrays(idata)
    grid = _time_grid(idata, d) if times is None else np.asarray(times, dtype=float)
    reps = idata.posterior_predictive["ttp"].transpose("chain", "draw", "obs").to_numpy()
    reps = reps.reshape(-1, reps.shape[-1])
    if reps.shape[0] > max_draws:
        pick = np.random.default_rng(seed).choice(reps.shape[0], max_draws, replace=False)
        reps = reps[np.sort(pick)]
    frames = []
    for j, line in enumerate(d.lines):
        rows = line_idx == j
        if not rows.any():
            continue
        curves = np.stack([kaplan_meier(r[rows], r[rows] < upper[rows], grid) for r in reps])
        frame = _band_frame(line, grid, curves, interval)
        frame.insert(2, "observed", kaplan_meier(t_obs[rows], t_obs[rows] < upper[rows], grid))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def kaplan_meier(durations: np.ndarray, events: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Kaplan-Meier estimate at ``times`` (right-continuous; events before censorings at ties)."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    order = np.lexsort((~e, t))
    t, e = t[order], e[order]
    at_risk = t.size - np.arange(t.size)
    surv = np.cumprod(1.0 - e / at_risk)
    idx = np.searchsorted(t, np.asarray(times, dtype=float), side="right") - 1
    return np.where(idx < 0, 1.0, surv[np.maximum(idx, 0)])


def _time_grid(idata: az.InferenceData, d: TTPDraws) -> np.ndarray:
    t_obs, _, _ = patient_arrays(idata)
    if t_obs.size:
        t_max = float(t_obs.max())
    else:
        medians = d.distribution.median(d.mu, d.params)  # inf where a curve plateaus above 1/2
        per_line = np.nanmedian(np.where(np.isfinite(medians), medians, np.nan), axis=(0, 1))
        t_max = 3.0 * float(np.nanmax(per_line))
    return np.linspace(0.0, t_max, CURVE_POINTS)


def _band_frame(
    line: str, grid: np.ndarray, curves: np.ndarray, interval: Interval
) -> pd.DataFrame:
    """Pointwise summary of curves with shape (draws, times)."""
    bounds = np.array([interval.bounds(curves[:, k]) for k in range(grid.size)])
    return pd.DataFrame({
        "line": line, "time": grid, "mean": curves.mean(axis=0),
        "median": np.median(curves, axis=0), "lower": bounds[:, 0], "upper": bounds[:, 1],
        "interval": interval.short,
    })

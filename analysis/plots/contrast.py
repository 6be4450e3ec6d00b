"""Posterior distribution of a contrast (ICI-2 versus ICI-1) from its draws.

Summary tables hold only summaries, so the plot takes the draws themselves (a 1-D array, e.g. the
population-averaged difference in response probability, or the ratio of median TTP).
:func:`contrast_data` is the data behind the plot: the point estimate, the interval and the
posterior probability above the reference value, computed with the one interval setting.
"""

from __future__ import annotations

import textwrap
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from scipy import stats

from rechallenge.analysis.plots.style import NEUTRAL, REFERENCE, figure_style, new_axes
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval

#: Columns of :func:`contrast_data`.
CONTRAST_COLUMNS: Final[tuple[str, ...]] = (
    "label", "median", "lower", "upper", "interval", "reference", "prob_greater", "draws",
)
_GRID_POINTS: Final = 512
#: Draws used for the density estimate (the summary uses all of them).
_KDE_DRAWS: Final = 4000
_KDE_SEED: Final = 0
_FILL: Final = "#7F7F7F"
#: Characters of an x-axis label line: what a single-column figure holds at its label size.
_LABEL_CHARS: Final = 55
#: y-axis top as a multiple of the highest density: room for the text and legend.
_HEADROOM: Final = 1.75


def contrast_data(
    draws: np.ndarray,
    *,
    label: str,
    reference: float = 0.0,
    interval: Interval = DEFAULT_INTERVAL,
) -> pd.DataFrame:
    """Summary of a contrast's draws as one row.

    Parameters
    ----------
    draws
        Posterior draws of the contrast, any shape (flattened); non-finite draws are ignored.
    label
        What the contrast is, e.g. ``"Difference in response, ICI-2 minus ICI-1"``.
    reference
        Value of no difference (0 for a difference, 1 for a ratio).
    interval
        Credible-interval setting.

    Returns
    -------
    pandas.DataFrame
        :data:`CONTRAST_COLUMNS`: posterior median, interval bounds and label,
        ``prob_greater = P(contrast > reference)`` and the number of draws.
    """
    flat = _finite(draws)
    lower, upper = interval.bounds(flat)
    return pd.DataFrame([{
        "label": label, "median": float(np.median(flat)), "lower": lower, "upper": upper,
        "interval": interval.short, "reference": float(reference),
        "prob_greater": float(np.mean(flat > reference)), "draws": int(flat.size),
    }], columns=list(CONTRAST_COLUMNS))


def plot_contrast(
    draws: np.ndarray,
    *,
    ax: Axes | None = None,
    interval: Interval = DEFAULT_INTERVAL,
    label: str,
    reference: float = 0.0,
    log_scale: bool = False,
) -> Axes:
    """Posterior density of a contrast with its interval shaded and P(> reference) stated.

    Parameters
    ----------
    draws
        Posterior draws of the contrast (see :func:`contrast_data`).
    ax
        Axes to draw on; a new single-column figure when ``None``.
    interval
        Credible-interval setting (shaded region and legend text).
    label
        x-axis label, with units (e.g. percentage points).
    reference
        Value of no difference, drawn as a vertical line.
    log_scale
        Draw a ratio on a log axis (the density is estimated on the log scale); all draws and
        the reference must be positive.

    Returns
    -------
    matplotlib.axes.Axes
    """
    flat = _finite(draws)
    if log_scale and (np.any(flat <= 0) or reference <= 0):
        raise ValueError("log_scale needs positive draws and a positive reference")
    summary = contrast_data(flat, label=label, reference=reference, interval=interval).iloc[0]
    x, density = _density(np.log(flat) if log_scale else flat)
    if log_scale:
        # Density per unit of log(contrast), which is what a log axis shows.
        x = np.exp(x)
    inside = (x >= summary["lower"]) & (x <= summary["upper"])
    top = float(density.max())
    with figure_style():
        ax = new_axes(height=2.5) if ax is None else ax
        if log_scale:
            ax.set_xscale("log")
            # Plain ratios (0.2, 0.5, 1, 2, 5) rather than powers of ten with crowded minor labels.
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _fmt(v, None)))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.fill_between(x, 0, density, where=inside, color=_FILL, alpha=0.35, linewidth=0,
                        label=interval.label)
        ax.plot(x, density, color=NEUTRAL, linewidth=1.2)
        ax.vlines(summary["median"], 0, np.interp(summary["median"], x, density),
                  color=NEUTRAL, linewidth=1.0, label="Posterior median")
        # Lines stop at the top of the density, leaving the headroom to the text and legend.
        ax.vlines(reference, 0, top * 1.05, color=REFERENCE, linestyle="--", linewidth=0.9,
                  label=f"Reference ({_fmt(reference, None)})")
        ax.set_ylim(0, top * _HEADROOM)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        # A long label (endpoint, contrast and unit) wraps rather than running past the figure.
        ax.set_xlabel(textwrap.fill(label, _LABEL_CHARS))
        ax.set_ylabel("Posterior density")
        digits = _decimals(summary["median"], summary["lower"], summary["upper"])
        ax.text(0.01, 0.98,
                f"P(> {_fmt(reference, None)}) = {summary['prob_greater']:.2f}\n"
                f"Median {_fmt(summary['median'], digits)}\n"
                f"({_fmt(summary['lower'], digits)} to {_fmt(summary['upper'], digits)})",
                transform=ax.transAxes, va="top", ha="left")
        ax.legend(loc="upper right", borderaxespad=0.2)
    return ax


def _finite(draws: np.ndarray) -> np.ndarray:
    flat = np.asarray(draws, dtype=float).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size < 2:
        raise ValueError("need at least two finite draws")
    return flat


def _density(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian KDE on a grid spanning the draws (a thinned, seeded subset when there are many)."""
    if values.size > _KDE_DRAWS:
        values = np.random.default_rng(_KDE_SEED).choice(values, _KDE_DRAWS, replace=False)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 0:
        pad = max(abs(lo) * 0.01, 1e-6)
        return np.array([lo - pad, lo, lo + pad]), np.array([0.0, 1.0, 0.0])
    kde = stats.gaussian_kde(values)
    grid = np.linspace(lo, hi, _GRID_POINTS)
    return grid, kde(grid)


def _decimals(*values: float) -> int:
    """Decimals that give the largest of ``values`` three significant digits (at most 2)."""
    largest = max(abs(v) for v in values)
    return 2 if largest < 10 else 1 if largest < 100 else 0


def _fmt(value: float, digits: int | None) -> str:
    """``digits`` decimals (``None``: shortest form), with a true minus sign as on the axis."""
    text = f"{value:g}" if digits is None else f"{value:.{digits}f}"
    return text.replace("-", "\u2212")

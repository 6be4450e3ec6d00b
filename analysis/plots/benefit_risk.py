"""The benefit-risk plane: the joint posterior of the difference in efficacy (x) and the
difference in toxicity (y) between two lines, with the probability of each quadrant.

The draws are shown as points (the first reading, thinned) and as highest-density regions
(HDR) of each reading: the smallest regions holding 50% and 90% of the posterior, from a kernel
density estimate. HDR contours follow a skewed or curved posterior where a normal ellipse would
not (differences of probabilities near 0 or 1 are bounded and skewed). The lower right quadrant,
more efficacy without more toxicity, is shaded; with the net benefit's weights, the line where
the net benefit is 0 is drawn (the net benefit is positive below it).

Plot functions take draws in the unit they show (percentage points) and the words they print;
they compute nothing but the density regions (:func:`hdr_levels`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import stats

from rechallenge.analysis.plots.style import (
    DOUBLE_WIDTH,
    HIGHLIGHT,
    NEUTRAL,
    REFERENCE,
    SINGLE_WIDTH,
    SMALL_PT,
    TEXT_PT,
    figure_style,
    new_figure,
)

#: HDR probabilities drawn (solid: population; dashed: a new site).
HDR_LEVELS: Final[tuple[float, float]] = (0.5, 0.9)
#: Colours of the readings, in order (Okabe-Ito: black, reddish purple, sky blue).
READING_COLOURS: Final[tuple[str, ...]] = (NEUTRAL, "#CC79A7", "#56B4E9")
#: Shade of the quadrant of benefit without harm (Okabe-Ito bluish green, faint).
GOOD_QUADRANT: Final = "#009E73"
#: Draws used for the density estimate and for the points (thinned evenly: deterministic).
_KDE_DRAWS: Final = 2000
_POINTS: Final = 1500
_SITE_POINTS: Final = 300
_GRID: Final = 120
#: Characters of an axis label line in one journal column at the label size.
_LABEL_CHARS: Final = 44
#: Quadrant corners: (x, y) in axes fraction, alignment, and the quadrant's name.
_CORNERS: Final[tuple[tuple[float, float, str, str, str], ...]] = (
    (0.98, 0.02, "right", "bottom", "benefit_without_harm"),
    (0.98, 0.98, "right", "top", "benefit_with_harm"),
    (0.02, 0.02, "left", "bottom", "no_benefit_no_harm"),
    (0.02, 0.98, "left", "top", "harm_without_benefit"),
)


def thinned(values: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` of ``values``, evenly spaced (the same ones every time)."""
    flat = np.asarray(values, dtype=float).ravel()
    return flat if flat.size <= n else flat[np.linspace(0, flat.size - 1, n).astype(int)]


def hdr_levels(x: np.ndarray, y: np.ndarray, levels: Sequence[float] = HDR_LEVELS,
               limits: tuple[float, float] = (-1.0, 1.0)) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray, list[float]] | None:
    """A kernel density of the draws on a grid and the density above which each ``level`` of
    the draws lies (the HDR's boundary), in increasing order of density.

    Returns
    -------
    tuple or None
        ``(grid_x, grid_y, density, thresholds)``; ``None`` when the draws have no spread in
        one direction (no density to draw).
    """
    x, y = thinned(x, _KDE_DRAWS), thinned(y, _KDE_DRAWS)
    if min(np.std(x), np.std(y)) <= 1e-12 * max(1.0, np.abs(x).max(), np.abs(y).max()):
        return None
    try:
        kde = stats.gaussian_kde(np.vstack([x, y]))
    except np.linalg.LinAlgError:  # perfectly correlated draws: a line, no area
        return None
    grid = np.linspace(limits[0], limits[1], _GRID)
    gx, gy = np.meshgrid(grid, grid)
    density = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    at_draws = kde(np.vstack([x, y]))
    thresholds = sorted(float(np.quantile(at_draws, 1.0 - level)) for level in levels)
    return gx, gy, density, thresholds


def _limit(readings: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> float:
    """Half-width of the square window: every reading's central 99% and 0, padded."""
    ends = [np.abs(np.quantile(v, [0.005, 0.995])).max() for xy in readings.values() for v in xy]
    return 1.1 * max(max(ends, default=1.0), 1.0)


def _frame(ax: Axes, limit: float, weights: tuple[float, float] | None) -> None:
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal", adjustable="box")
    ax.fill_between([0, limit], -limit, 0, color=GOOD_QUADRANT, alpha=0.08, linewidth=0)
    ax.axhline(0, color=REFERENCE, linewidth=0.7)
    ax.axvline(0, color=REFERENCE, linewidth=0.7)
    if weights is not None and weights[1] > 0:
        # Net benefit 0: w_eff x = w_safety y.
        ax.plot([-limit, limit], [-limit * weights[0] / weights[1], limit * weights[0] / weights[1]],
                color=REFERENCE, linewidth=0.7, linestyle=":")


def plot_benefit_risk_plane(
    readings: Mapping[str, tuple[np.ndarray, np.ndarray]],
    quadrant_text: Mapping[str, str],
    *,
    x_label: str,
    y_label: str,
    weights: tuple[float, float] | None = None,
) -> Figure:
    """The benefit-risk plane of one contrast, one journal column wide.

    Parameters
    ----------
    readings
        ``{reader label: (difference in efficacy, difference in toxicity)}`` in percentage
        points, e.g. the population average and a new site; the first is drawn as points too.
    quadrant_text
        Text printed in each quadrant's corner, keyed by the names of
        :data:`~rechallenge.analysis.summaries.benefit_risk.QUADRANTS` (its probabilities).
    x_label, y_label
        Axis labels.
    weights
        ``(w_eff, w_safety)``: draws the line where the net benefit is 0; ``None``: not drawn.
    """
    if not readings:
        raise ValueError("no draws to plot")
    limit = _limit(readings)
    with figure_style():
        fig = new_figure(SINGLE_WIDTH, SINGLE_WIDTH + 0.55)
        ax = fig.add_subplot()
        _frame(ax, limit, weights)
        handles = []
        for k, (label, (x, y)) in enumerate(readings.items()):
            colour = READING_COLOURS[k % len(READING_COLOURS)]
            style: Literal["solid", "dashed"] = "solid" if k == 0 else "dashed"
            if k == 0:
                ax.scatter(thinned(x, _POINTS), thinned(y, _POINTS), s=1.2, color=colour,
                           alpha=0.25, linewidths=0, rasterized=True)
            region = hdr_levels(x, y, limits=(-limit, limit))
            if region is not None:
                gx, gy, density, thresholds = region
                ax.contour(gx, gy, density, levels=thresholds, colors=colour,
                           linestyles=style, linewidths=[0.8, 1.3][: len(thresholds)])
            handles.append(Line2D([], [], color=colour, linestyle=style, label=label))
        for x0, y0, ha, va, name in _CORNERS:
            if name in quadrant_text:
                ax.text(x0, y0, quadrant_text[name], transform=ax.transAxes, ha=ha, va=va,
                        fontsize=SMALL_PT, bbox={"facecolor": "white", "alpha": 0.75,
                                                 "edgecolor": "none", "pad": 1.0})
        ax.set_xlabel(textwrap.fill(x_label, _LABEL_CHARS))
        ax.set_ylabel(textwrap.fill(y_label, _LABEL_CHARS))
        if weights is not None and weights[1] > 0:
            # The mark as _frame draws it, so the legend names the line it shows.
            handles.append(Line2D([], [], color=REFERENCE, linewidth=0.7, linestyle=":",
                                  label="Net benefit 0"))
        levels = " and ".join(f"{100 * level:.0f}%" for level in HDR_LEVELS)
        # Below the axes, inside the figure: constrained layout makes room for it.
        fig.legend(handles=handles, loc="outside lower center", ncol=2,
                   title=f"Highest-density regions ({levels})", title_fontsize=SMALL_PT)
    return fig


def plot_site_planes(
    sites: Mapping[str, tuple[np.ndarray, np.ndarray]],
    probabilities: Mapping[str, float],
    *,
    x_label: str,
    y_label: str,
    highlight: Sequence[str] = (),
) -> Figure:
    """Small multiples of the plane, one panel per site, two journal columns wide.

    Parameters
    ----------
    sites
        ``{site: (difference in efficacy, difference in toxicity)}`` in percentage points.
    probabilities
        Per site, the probability of more efficacy without more toxicity (printed in the panel).
    x_label, y_label
        The figure's axis labels.
    highlight
        Sites whose panel title is marked (the new sites of an update).
    """
    if not sites:
        raise ValueError("no sites to plot")
    limit = _limit(sites)
    n = len(sites)
    cols = min(n, 5)
    rows = int(np.ceil(n / cols))
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 1.45 * rows + 0.45)
        axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
        for ax, (site, (x, y)) in zip(axes.ravel(), sites.items()):
            _frame(ax, limit, None)
            ax.scatter(thinned(x, _SITE_POINTS), thinned(y, _SITE_POINTS), s=0.8, color=NEUTRAL,
                       alpha=0.3, linewidths=0, rasterized=True)
            marked = site in highlight
            ax.set_title(site + (" (new)" if marked else ""), fontsize=TEXT_PT,
                         color=HIGHLIGHT if marked else NEUTRAL)
            if site in probabilities:
                ax.text(0.97, 0.03, f"P = {probabilities[site]:.2f}", transform=ax.transAxes,
                        ha="right", va="bottom", fontsize=SMALL_PT)
            ax.tick_params(labelsize=SMALL_PT)
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        fig.supxlabel(x_label, fontsize=TEXT_PT)
        fig.supylabel(y_label, fontsize=TEXT_PT)
    return fig

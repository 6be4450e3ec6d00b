"""The MAP prior against the draws it was fitted to, as RBesT's ``plot(mix)`` shows it.

A meta-analytic-predictive (MAP) prior is a parametric mixture fitted to the MCMC draws of the
predictive distribution for a new site. The figure a reader checks it with is the histogram of
those draws with the mixture's density over it (and the robustified mixture, which adds a vague
component, dashed): where the line leaves the bars, the mixture misrepresents the draws.

Mixtures come as they are recorded in ``map_prior.json`` (``family`` ``"beta"`` with ``a`` and
``b``, or ``"normal"`` with ``loc`` and ``scale`` on the log scale of the median time to
progression, and ``weights``). A normal mixture on the log scale is drawn in months (its
density transformed by the Jacobian ``1 / x``), as the tables give medians.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MultipleLocator, PercentFormatter
from scipy import stats

from rechallenge.analysis.plots.style import (
    DOUBLE_WIDTH,
    NEUTRAL,
    SINGLE_WIDTH,
    figure_style,
    line_colour,
    new_figure,
)
from rechallenge.analysis.plots.survival import month_step

#: Points of the density curves.
_GRID: Final = 400
#: Histogram bins of the draws.
_BINS: Final = 40


def mixture_density(mixture: Mapping[str, Any], x: np.ndarray, *, months: bool = False) -> np.ndarray:
    """Density of a recorded mixture at ``x``.

    Parameters
    ----------
    mixture
        ``{"family": "beta", "weights", "a", "b"}`` or ``{"family": "normal", "weights",
        "loc", "scale"}`` (as in ``map_prior.json``).
    x
        Points: probabilities for a beta mixture; for a normal mixture, log months, or
        months with ``months``.
    months
        For a normal mixture on the log scale: the density of ``exp`` of it, in months.
    """
    weights = np.asarray(mixture["weights"], dtype=float)
    x = np.asarray(x, dtype=float)
    if mixture["family"] == "beta":
        parts = [stats.beta.pdf(x, a, b) for a, b in zip(mixture["a"], mixture["b"])]
    elif mixture["family"] == "normal":
        at = np.log(x) if months else x
        parts = [stats.norm.pdf(at, m, s) / (x if months else 1.0)
                 for m, s in zip(mixture["loc"], mixture["scale"])]
    else:
        raise ValueError(f"unknown mixture family {mixture['family']!r}")
    return np.sum([w * p for w, p in zip(weights, parts)], axis=0)


def plot_map_prior(
    draws: np.ndarray,
    mixture: Mapping[str, Any],
    *,
    robust: Mapping[str, Any] | None = None,
    ax: Axes | None = None,
    colour: str = NEUTRAL,
    title: str | None = None,
) -> Axes:
    """Histogram of the predictive draws with the MAP mixture's density (and the robust one).

    Parameters
    ----------
    draws
        MCMC draws of the new-site quantity the mixture was fitted to: probabilities (beta
        mixture) or medians in months (normal mixture on the log scale).
    mixture
        The fitted mixture (see :func:`mixture_density`).
    robust
        The robustified mixture, drawn dashed; none when ``None``.
    ax
        Axes to draw on; a new single-column figure when ``None``.
    colour
        Colour of the bars and the mixture line (the treatment line's colour).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    values = np.asarray(draws, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise ValueError("need at least two finite draws")
    months = mixture["family"] == "normal"
    if months and np.any(values <= 0):
        raise ValueError("medians in months must be positive")
    if months:
        hi = float(np.quantile(values, 0.995)) * 1.1
        x = np.linspace(hi / _GRID, hi, _GRID)
    else:
        x = np.linspace(0.0005, 0.9995, _GRID)
    with figure_style():
        ax = new_figure(SINGLE_WIDTH, 2.4).add_subplot() if ax is None else ax
        ax.hist(values[values <= x[-1]], bins=_BINS, range=(0.0, float(x[-1])), density=True,
                color=colour, alpha=0.3, linewidth=0)
        ax.plot(x, mixture_density(mixture, x, months=months), color=colour, linewidth=1.4)
        if robust is not None:
            ax.plot(x, mixture_density(robust, x, months=months), color=colour, linewidth=1.0,
                    linestyle="--")
        ax.set_xlim(0, float(x[-1]))
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_ylabel("Density")
        if months:
            ax.set_xlabel("Median time to progression at a new site, months")
            ax.xaxis.set_major_locator(MultipleLocator(month_step(float(x[-1]))))
        else:
            ax.set_xlabel("Probability at a new site")
            ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        if title:
            ax.set_title(title)
    return ax


def map_prior_handles(*, robust: bool) -> list[Any]:
    """Legend entries of the MAP-prior figure (neutral colour: lines are told by panel)."""
    handles: list[Any] = [Patch(facecolor=NEUTRAL, alpha=0.3, linewidth=0,
                                label="MCMC draws (new site)"),
                          Line2D([], [], color=NEUTRAL, linewidth=1.4, label="MAP prior (mixture)")]
    if robust:
        handles.append(Line2D([], [], color=NEUTRAL, linewidth=1.0, linestyle="--",
                              label="Robust MAP prior"))
    return handles


def plot_map_prior_lines(
    panels: Sequence[tuple[str, np.ndarray, Mapping[str, Any], Mapping[str, Any] | None]],
    *,
    title: str | None = None,
) -> Figure:
    """One MAP-prior panel per treatment line, side by side, one legend below.

    Parameters
    ----------
    panels
        Per line, left to right: ``(line, draws, mixture, robust mixture or None)``.
    title
        Figure title (e.g. the endpoint).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not panels:
        raise ValueError("no panels to draw")
    with figure_style():
        width = SINGLE_WIDTH if len(panels) == 1 else DOUBLE_WIDTH
        fig = new_figure(width, 2.6)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (line, draws, mixture, robust) in zip(axes, panels):
            plot_map_prior(draws, mixture, robust=robust, ax=ax, colour=line_colour(line),
                           title=line)
        fig.legend(handles=map_prior_handles(robust=any(p[3] is not None for p in panels)),
                   loc="outside lower center", ncol=3)
        if title:
            fig.suptitle(title)
    return fig

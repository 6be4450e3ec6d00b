"""The rows of a forest plot, shared by the binary and the time-to-progression forest plots.

Both plots (:mod:`rechallenge.analysis.plots.forest` and
:mod:`rechallenge.analysis.plots.forest_ttp`) show, per site, a raw estimate (open marker, with
its interval where there is one) just above the partially pooled posterior median with its
credible interval (filled marker), then, one row further down, the pooled rows: population,
typical site and the predictive for a new site (dashed and hollow). :func:`draw_forest_rows`
draws those rows and the y axis; each plot adds its own x axis and annotations.
:func:`forest_panels` lays one panel per line side by side with one legend below, and
:func:`forest_legend` gives the legend entries common to both. Beside each panel a text column
gives every row's posterior median and interval (:func:`draw_estimate_column`), and under it
the between-site SD and the prediction interval for a new site (:func:`heterogeneity_note`), as
readers of ``meta::forest`` and ``forestplot`` figures expect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rechallenge.analysis.plots.style import DOUBLE_WIDTH, NEUTRAL, REFERENCE, SMALL_PT, new_figure
from rechallenge.analysis.settings.intervals import Interval

#: Columns :func:`draw_forest_rows` reads (``forest_data`` and ``ttp_forest_data`` have them).
ROW_COLUMNS: Final[tuple[str, ...]] = (
    "row", "kind", "label", "raw", "raw_lower", "raw_upper", "median", "lower", "upper",
)
#: Points from the axes' right edge to the estimate column (past the count column).
ESTIMATE_OFFSET: Final = 30.0
#: How far the raw marker sits above, and a site's posterior below, the centre of its row.
RAW_OFFSET: Final = 0.17


def row_positions(data: pd.DataFrame) -> np.ndarray:
    """Vertical position of each row: sites at their row number, pooled rows one row lower.

    Parameters
    ----------
    data
        Rows of a forest plot (``row`` and ``kind``, sites first).

    Returns
    -------
    numpy.ndarray
        One float per row of ``data``, in its order (the y axis is inverted: first row on top).
    """
    # A gap of one row between the sites and the pooled rows.
    return np.where(data["kind"] == "site", data["row"], data["row"] + 1).astype(float)


def draw_forest_rows(ax: Axes, data: pd.DataFrame, colour: str) -> np.ndarray:
    """Draw the raw and posterior estimates of every row and the y axis of a forest plot.

    Parameters
    ----------
    ax
        Axes to draw on (inside :func:`rechallenge.analysis.plots.style.figure_style`).
    data
        One line's rows (:data:`ROW_COLUMNS`): sites (``kind = "site"``) first, then pooled
        rows (``population``, ``typical_site``, ``new_site``). A raw estimate is drawn where
        ``raw`` is finite, with its interval where ``raw_lower`` is finite too.
    colour
        Colour of the line.

    Returns
    -------
    numpy.ndarray
        The y of each row (:func:`row_positions`), for the caller's annotations.

    Notes
    -----
    Sets the y ticks (labels of the pooled rows in bold), the y limits and a dashed vertical
    line at the population median; the x axis, the title and the legend are the caller's.
    """
    y = row_positions(data)
    kind = data["kind"].astype(str).to_numpy()
    site = kind == "site"
    raw, raw_lower, raw_upper = (data[c].to_numpy(float) for c in ("raw", "raw_lower", "raw_upper"))
    median, lower, upper = (data[c].to_numpy(float) for c in ("median", "lower", "upper"))
    shown = np.isfinite(raw)  # an unreached TTP median (inf) is the caller's to mark
    with_ci = shown & np.isfinite(raw_lower)
    ax.hlines(y[with_ci] - RAW_OFFSET, raw_lower[with_ci], raw_upper[with_ci], color=colour,
              linewidth=0.8)
    ax.plot(raw[shown], y[shown] - RAW_OFFSET, linestyle="none", marker="o", markersize=4,
            markerfacecolor="white", markeredgecolor=colour, markeredgewidth=1.0)
    ax.hlines(y[site] + RAW_OFFSET, lower[site], upper[site], color=colour, linewidth=1.8)
    ax.plot(median[site], y[site] + RAW_OFFSET, linestyle="none", marker="o", markersize=4.5,
            color=colour)
    for k in np.flatnonzero(~site):
        # The population row has a raw value above it; the other pooled rows are centred.
        yy = y[k] + (RAW_OFFSET if kind[k] == "population" else 0.0)
        predictive = kind[k] == "new_site"
        ax.hlines(yy, lower[k], upper[k], color=colour, linewidth=1.8,
                  alpha=0.5 if predictive else 1.0,
                  linestyle=(0, (2, 1)) if predictive else "solid")
        ax.plot(median[k], yy, linestyle="none", marker="D", markersize=5,
                color="white" if predictive else colour, markeredgecolor=colour)
    population = kind == "population"
    if population.any():
        ax.axvline(float(median[population][0]), color=REFERENCE, linestyle="--", linewidth=0.8,
                   zorder=0)
    ax.axhline(int(site.sum()), color=REFERENCE, linewidth=0.5)
    ax.set_yticks(y)
    ax.set_yticklabels([str(v) for v in data["label"]])
    for tick, pooled in zip(ax.get_yticklabels(), ~site):
        if pooled:
            tick.set_fontweight("bold")
    ax.set_ylim(y.max() + 0.7, -0.7)
    ax.tick_params(axis="y", length=0)
    return y


def forest_legend(interval: Interval, *, raw_label: str, reference_label: str) -> list[Line2D]:
    """Legend entries of a forest plot, in the neutral colour (lines are told by panel).

    Parameters
    ----------
    interval
        The interval of the posterior rows (stated in the site entry).
    raw_label
        Label of the raw estimate (open marker).
    reference_label
        Label of the dashed vertical line at the population median.

    Returns
    -------
    list of matplotlib.lines.Line2D
        Raw, site posterior, pooled posterior, new-site predictive, reference line.
    """
    return [
        Line2D([], [], color=NEUTRAL, linewidth=0.8, marker="o", markersize=4,
               markerfacecolor="white", label=raw_label),
        Line2D([], [], color=NEUTRAL, linewidth=1.8, marker="o", markersize=4.5,
               label=f"Site posterior median, {interval.label}"),
        Line2D([], [], color=NEUTRAL, linewidth=1.8, marker="D", markersize=5,
               label="Pooled posterior median"),
        Line2D([], [], color=NEUTRAL, alpha=0.5, linewidth=1.8, linestyle=(0, (2, 1)),
               marker="D", markersize=5, markerfacecolor="white", label="New-site predictive"),
        Line2D([], [], color=REFERENCE, linestyle="--", linewidth=0.8, label=reference_label),
    ]


def forest_panels(
    frames: Sequence[pd.DataFrame],
    draw_panel: Callable[[pd.DataFrame, Axes], None],
    handles: list[Any],
    *,
    title: str | None = None,
    sharex: bool = False,
) -> Figure:
    """One forest panel per frame, side by side on a shared y axis, with one legend below.

    Call inside :func:`rechallenge.analysis.plots.style.figure_style`.

    Parameters
    ----------
    frames
        The rows of each panel, left to right (one line each).
    draw_panel
        Draws one frame on one axes (and removes any legend of its own).
    handles
        Entries of the figure's legend.
    title
        Figure title; none when ``None`` or empty.
    sharex
        Whether the panels share their x axis too.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_rows = max(len(f) for f in frames)
    # Height grows with the rows of the longest panel (plus the gap before the pooled rows).
    fig = new_figure(DOUBLE_WIDTH, 2.1 + 0.21 * (n_rows + 1))
    axes = fig.subplots(1, len(frames), sharey=True, sharex=sharex, squeeze=False)[0]
    for k, (frame, ax) in enumerate(zip(frames, axes)):
        draw_panel(frame, ax)
        if k > 0:
            ax.tick_params(labelleft=False)
    fig.legend(handles=handles, loc="outside lower center", ncol=2)
    if title:
        fig.suptitle(title)
    return fig


def interval_text(median: float, lower: float, upper: float, *, percent: bool = False,
                  digits: int = 1) -> str:
    """``"24.5% (10.9 to 53.2)"`` (``percent``) or ``"7.1 (4.4 to 11.6)"``, with a true minus
    sign: the style of the report's tables; ``""`` when the median is missing.
    """
    if not np.isfinite(median):
        return ""
    scale, unit = (100.0, "%") if percent else (1.0, "")

    def num(v: float) -> str:
        return "not reached" if np.isinf(v) else f"{scale * v:.{digits}f}".replace("-", "\u2212")

    bounds = f" ({num(lower)} to {num(upper)})" if np.isfinite(lower) else ""
    return f"{num(median)}{unit}{bounds}"


def draw_count_column(ax: Axes, data: pd.DataFrame, y: np.ndarray, *, header: str) -> None:
    """``events/n`` of every row that has patients, right of the axes (before the estimates)."""
    for yy, events, n in zip(y, data["events"], data["n"]):
        if pd.notna(n) and n > 0:
            ax.annotate(f"{int(events)}/{int(n)}", xy=(1, yy), xycoords=("axes fraction", "data"),
                        xytext=(4, 0), textcoords="offset points", ha="left", va="center",
                        fontsize=SMALL_PT)
    ax.annotate(header, xy=(1, 1), xycoords="axes fraction", xytext=(4, 2),
                textcoords="offset points", ha="left", va="bottom", fontsize=SMALL_PT,
                fontstyle="italic")


def draw_estimate_column(ax: Axes, data: pd.DataFrame, y: np.ndarray, *, header: str,
                         percent: bool, offset_pt: float) -> None:
    """The posterior median and interval of every row as text right of the axes (a forest
    plot's text column, as ``meta::forest`` prints it), ``offset_pt`` points from its edge.
    """
    for yy, kind, m, lo, hi in zip(y, data["kind"], data["median"], data["lower"], data["upper"]):
        # Beside the posterior marker: below the centre for sites and the population row.
        shift = RAW_OFFSET if kind in ("site", "population") else 0.0
        ax.annotate(interval_text(float(m), float(lo), float(hi), percent=percent),
                    xy=(1, yy + shift), xycoords=("axes fraction", "data"),
                    xytext=(offset_pt, 0), textcoords="offset points", ha="left",
                    va="center", fontsize=SMALL_PT,
                    fontweight="normal" if kind == "site" else "bold")
    ax.annotate(header, xy=(1, 1), xycoords="axes fraction", xytext=(offset_pt, 2),
                textcoords="offset points", ha="left", va="bottom", fontsize=SMALL_PT,
                fontstyle="italic")


def heterogeneity_note(summary: pd.DataFrame, data: pd.DataFrame, *, scale: str,
                       percent: bool) -> list[str]:
    """The lines printed under a forest panel: the between-site SD (``tau`` of ``summary``, on
    the model's ``scale``) and the prediction interval for a new site (its row of ``data``).
    """
    line = str(data["line"].iloc[0])
    notes = []
    tau = summary[(summary["quantity"] == "tau") & (summary["line"].astype(str) == line)]
    if len(tau):
        t = tau.iloc[0]
        notes.append(f"Between-site SD ({scale}): "
                     f"{interval_text(float(t['median']), float(t['lower']), float(t['upper']), digits=2)}")
    new = data[data["kind"] == "new_site"]
    if len(new):
        n = new.iloc[0]
        notes.append("Prediction interval for a new site: " + interval_text(
            float(n["median"]), float(n["lower"]), float(n["upper"]), percent=percent))
    return notes


def draw_panel_note(ax: Axes, notes: Sequence[str]) -> None:
    """Lines of text under a panel's x axis label (the heterogeneity of :func:`heterogeneity_note`)."""
    if notes:
        ax.annotate("\n".join(notes), xy=(0, 0), xycoords="axes fraction", xytext=(0, -30),
                    textcoords="offset points", ha="left", va="top", fontsize=SMALL_PT)

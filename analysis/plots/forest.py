"""Forest plot of a binary endpoint: sites raw and shrunken, then pooled and predictive rows.

Per site: the raw proportion with its exact (Clopper-Pearson) interval (open marker) and the
partially pooled posterior of that site (filled marker). Below the sites: the population average
over sites (with the crude proportion of all patients beside it), the typical site and the
predictive for a new site. :func:`forest_data` is the data behind the plot, one row per row of
the figure; the rows themselves are drawn by :mod:`rechallenge.analysis.plots.forest_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter
from matplotlib.transforms import offset_copy

from rechallenge.analysis.plots.forest_rows import (
    ESTIMATE_OFFSET,
    draw_count_column,
    draw_estimate_column,
    draw_forest_rows,
    draw_panel_note,
    forest_legend,
    forest_panels,
    heterogeneity_note,
)
from rechallenge.analysis.plots.style import (
    DOUBLE_WIDTH,
    HIGHLIGHT,
    check_columns,
    check_interval,
    figure_style,
    line_colour,
    new_axes,
)
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.data.frequentist import exact_proportion_ci

#: Columns of :func:`forest_data`.
FOREST_COLUMNS: Final[tuple[str, ...]] = (
    "row", "kind", "label", "site", "line", "n", "events", "raw", "raw_lower", "raw_upper",
    "median", "lower", "upper", "interval",
)
#: Row kinds below the sites, in order, with their labels and summary quantities.
POOLED_ROWS: Final[tuple[tuple[str, str, str], ...]] = (
    ("population", "Population average", "probability_population"),
    ("typical_site", "Typical site", "probability_typical_site"),
    ("new_site", "New site (predictive)", "probability_new_site"),
)
#: Columns needed in the per-site table (posterior summary of each site plus its counts).
SITE_COLUMNS: Final[tuple[str, ...]] = ("site", "line", "n", "events", "median", "lower", "upper")
#: Raw proportion and exact interval as ``site_estimates`` gives them (computed when absent).
_RAW_COLUMNS: Final[tuple[str, ...]] = ("proportion", "proportion_lower", "proportion_upper")


def forest_data(
    site_table: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    line: str,
    interval: Interval = DEFAULT_INTERVAL,
) -> pd.DataFrame:
    """Rows of the forest plot of one line.

    Parameters
    ----------
    site_table
        Per-site posterior summaries with counts, as
        :func:`rechallenge.analysis.summaries.binary.site_estimates` returns them
        (:data:`SITE_COLUMNS`, one row per site and line). Its ``proportion``,
        ``proportion_lower`` and ``proportion_upper`` are used when present; otherwise the exact
        interval is computed here at the level of ``interval``.
    summary
        :func:`rechallenge.analysis.summaries.binary.summarise_binary` of the same fit; its
        ``probability_population``, ``probability_typical_site`` and ``probability_new_site`` rows
        of ``line`` give the pooled and predictive rows.
    line
        Treatment line to show.
    interval
        The interval of both tables; the raw exact intervals use its level too.

    Returns
    -------
    pandas.DataFrame
        :data:`FOREST_COLUMNS`, top to bottom: the sites (``kind = "site"``) in table order, then
        the rows of :data:`POOLED_ROWS` present in ``summary``. ``raw*`` are NaN where there is no
        raw proportion (typical and new site, and a site without patients at this line); the
        population row carries the crude proportion of all patients of the line.
    """
    check_columns(site_table, SITE_COLUMNS, "site_table")
    check_columns(summary, ("quantity", "line", "median", "lower", "upper"), "summary")
    check_interval(site_table, interval)
    check_interval(summary, interval)
    sites = site_table[site_table["line"].astype(str) == line]
    if not len(sites):
        raise ValueError(f"site_table has no rows of line {line!r}")
    rows: list[dict[str, Any]] = []
    given = all(c in sites.columns for c in _RAW_COLUMNS)
    for _, s in sites.iterrows():
        if given:
            raw = tuple(float(s[c]) for c in _RAW_COLUMNS)
        else:
            ci = exact_proportion_ci(int(s["events"]), int(s["n"]), level=interval.level)
            raw = (ci.proportion, ci.lower, ci.upper)
        rows.append({"kind": "site", "label": str(s["site"]), "site": str(s["site"]),
                     "n": int(s["n"]), "events": int(s["events"]), "raw": raw[0],
                     "raw_lower": raw[1], "raw_upper": raw[2], "median": s["median"],
                     "lower": s["lower"], "upper": s["upper"]})
    total_n, total_events = int(sites["n"].sum()), int(sites["events"].sum())
    for kind, label, quantity in POOLED_ROWS:
        match = summary[(summary["quantity"] == quantity) & (summary["line"].astype(str) == line)]
        if not len(match):
            continue
        r = match.iloc[0]
        row: dict[str, Any] = {"kind": kind, "label": label, "site": "", "n": np.nan,
                               "events": np.nan, "raw": np.nan, "raw_lower": np.nan,
                               "raw_upper": np.nan, "median": r["median"], "lower": r["lower"],
                               "upper": r["upper"]}
        if kind == "population":
            crude = exact_proportion_ci(total_events, total_n, level=interval.level)
            row.update(n=total_n, events=total_events, raw=crude.proportion,
                       raw_lower=crude.lower, raw_upper=crude.upper)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.insert(0, "row", np.arange(len(frame)))
    frame["line"] = line
    frame["interval"] = interval.short
    return frame[list(FOREST_COLUMNS)]


def plot_forest(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    interval: Interval = DEFAULT_INTERVAL,
    title: str | None = None,
    highlight_sites: Sequence[str] = (),
) -> Axes:
    """Forest plot of one line from :func:`forest_data`.

    Parameters
    ----------
    data
        From :func:`forest_data` (one line).
    ax
        Axes to draw on; a new figure when ``None``.
    interval
        The interval of ``data`` (stated in the legend).
    title
        Axes title; the line label when ``None``.
    highlight_sites
        Sites to mark as new (e.g. added in an update): label in bold and colour.

    Notes
    -----
    Rows carry ``events/n`` of the line at the right edge (header ``r/n``). The legend goes
    below the figure when the function makes the figure, else to the right of ``ax``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_columns(data, FOREST_COLUMNS, "data")
    check_interval(data, interval)
    lines = sorted(set(data["line"].astype(str)))
    if len(lines) != 1:
        raise ValueError(f"forest data must hold one line, got {lines}")
    line = lines[0]
    unknown = sorted(set(highlight_sites) - set(data["site"]))
    if unknown:
        raise ValueError(f"highlight_sites not in the data: {unknown}")
    with figure_style():
        created = ax is None
        if ax is None:
            ax = new_axes(width=DOUBLE_WIDTH, height=1.4 + 0.21 * (len(data) + 1))
        y = draw_forest_rows(ax, data, line_colour(line))
        # Events/patients of this line beside each row, then the posterior as text.
        draw_count_column(ax, data, y, header="r/n")
        draw_estimate_column(ax, data, y, header=f"Median ({interval.percent} CrI)",
                             percent=True, offset_pt=ESTIMATE_OFFSET)
        # Pooled rows are already bold (draw_forest_rows); new sites are bold and coloured.
        for tick, (_, r) in zip(ax.get_yticklabels(), data.iterrows()):
            if r["kind"] == "site" and r["site"] in highlight_sites:
                tick.set_color(HIGHLIGHT)
                tick.set_fontweight("bold")
        # A margin, so that markers at 0% and 100% are not cut in half by the axes edge.
        ax.set_xlim(-0.02, 1.02)
        ax.set_xticks(np.linspace(0, 1, 5))
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        ax.set_xlabel("Probability")
        ax.set_title(line if title is None else title)
        handles = forest_handles(interval, highlight=bool(highlight_sites))
        if created:
            ax.figure.legend(handles=handles, loc="outside lower center", ncol=2)
        else:
            # Right of the axes, past the r/n and estimate columns.
            placement: dict[str, Any] = {  # matplotlib's stubs have no overload for this call
                "loc": "upper left", "bbox_to_anchor": (1.0, 1.0),
                "bbox_transform": offset_copy(ax.transAxes, fig=cast(Figure, ax.figure),
                                              x=ESTIMATE_OFFSET + 100, units="points")}
            ax.legend(handles=handles, **placement)
    return ax


def plot_forest_lines(
    site_table: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    lines: Sequence[str],
    interval: Interval = DEFAULT_INTERVAL,
    title: str | None = None,
    highlight_sites: Sequence[str] = (),
) -> Figure:
    """One forest panel per line, side by side, with one legend below.

    Parameters
    ----------
    site_table, summary
        As for :func:`forest_data`.
    lines
        Lines to show, one panel each, left to right.
    interval
        Interval of both tables.
    title
        Figure title (e.g. the endpoint label).
    highlight_sites
        Sites to mark as new in every panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    frames = [forest_data(site_table, summary, line=line, interval=interval) for line in lines]

    def draw(frame: pd.DataFrame, ax: Axes) -> None:
        plot_forest(frame, ax=ax, interval=interval, highlight_sites=highlight_sites)
        legend = ax.get_legend()
        if legend is not None:  # one legend for the whole figure, from forest_panels
            legend.remove()
        draw_panel_note(ax, heterogeneity_note(summary, frame, scale="log-odds", percent=True))

    with figure_style():
        return forest_panels(frames, draw, forest_handles(interval, highlight=bool(highlight_sites)),
                             title=title)


def forest_handles(interval: Interval, *, highlight: bool = False) -> list[Any]:
    """Legend entries of the forest plot (in the neutral colour: lines are told by panel).

    Parameters
    ----------
    interval
        The interval of the plot (stated in the observed and site entries).
    highlight
        Add the entry of sites marked as new.

    Returns
    -------
    list
        Matplotlib legend handles.
    """
    handles: list[Any] = forest_legend(
        interval, raw_label=f"Observed, exact {interval.percent} confidence interval",
        reference_label="Population average (posterior median)")
    if highlight:
        handles.append(Line2D([], [], linestyle="none", marker="s", color=HIGHLIGHT,
                              label="Site added in the update (bold)"))
    return handles


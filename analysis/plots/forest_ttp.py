"""Forest plot of time to progression: site medians raw and shrunken, then pooled and predictive.

The companion of :mod:`forest` for the TTP endpoint. Per site: the raw Kaplan-Meier median of
its patients (open marker; a reported median for an aggregate row) beside the partially pooled
posterior median with its credible interval (filled marker). Below the sites: the population
median (with the Kaplan-Meier median of all patients of the line and its CI beside it), the
typical site and the predictive for a new site. :func:`ttp_forest_data` is the data behind it;
the rows are drawn as in the binary plot, by :mod:`rechallenge.analysis.plots.forest_rows`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MultipleLocator

from rechallenge.analysis.plots.forest_rows import (
    ESTIMATE_OFFSET,
    RAW_OFFSET,
    draw_count_column,
    draw_estimate_column,
    draw_forest_rows,
    draw_panel_note,
    forest_legend,
    forest_panels,
    heterogeneity_note,
)
from rechallenge.analysis.plots.style import (
    SMALL_PT,
    check_columns,
    check_interval,
    figure_style,
    line_colour,
)
from rechallenge.analysis.plots.survival import month_step
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval

#: Columns of :func:`ttp_forest_data`.
TTP_FOREST_COLUMNS: Final[tuple[str, ...]] = (
    "row", "kind", "label", "line", "n", "events", "raw", "raw_lower", "raw_upper", "median",
    "lower", "upper", "interval",
)
#: Rows below the sites: kind, label, summary quantity.
POOLED_ROWS: Final[tuple[tuple[str, str, str], ...]] = (
    ("population", "Population average", "median_population"),
    ("typical_site", "Typical site", "median_typical_site"),
    ("new_site", "New site (predictive)", "median_new_site"),
)


def ttp_forest_data(
    site_table: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    line: str,
    interval: Interval = DEFAULT_INTERVAL,
    pooled_raw: tuple[float, float, float] | None = None,
) -> pd.DataFrame:
    """Rows of the TTP forest plot of one line.

    Parameters
    ----------
    site_table
        :func:`rechallenge.analysis.summaries.ttp.site_medians` (``site, line, n, events,
        raw_median, median, lower, upper``).
    summary
        :func:`rechallenge.analysis.summaries.ttp.summarise_ttp` of the same fit.
    line
        Treatment line to show.
    interval
        The interval of both tables.
    pooled_raw
        Kaplan-Meier median of all patients of the line with its CI (shown beside the
        population row); ``None``: no raw value there.

    Returns
    -------
    pandas.DataFrame
        :data:`TTP_FOREST_COLUMNS`; ``raw`` is ``inf`` where the median was not reached.
    """
    check_columns(site_table, ("site", "line", "n", "events", "raw_median", "median", "lower",
                               "upper"), "site_table")
    check_interval(site_table, interval)
    check_interval(summary, interval)
    sites = site_table[site_table["line"].astype(str) == line]
    if not len(sites):
        raise ValueError(f"site_table has no rows of line {line!r}")
    rows: list[dict[str, Any]] = [
        {"kind": "site", "label": str(s["site"]), "n": int(s["n"]), "events": int(s["events"]),
         "raw": float(s["raw_median"]), "raw_lower": np.nan, "raw_upper": np.nan,
         "median": s["median"], "lower": s["lower"], "upper": s["upper"]}
        for _, s in sites.iterrows()]
    for kind, label, quantity in POOLED_ROWS:
        hit = summary[(summary["quantity"] == quantity) & (summary["line"].astype(str) == line)]
        if hit.empty:
            continue
        r = hit.iloc[0]
        raw = pooled_raw if kind == "population" and pooled_raw is not None else (np.nan,) * 3
        rows.append({"kind": kind, "label": label, "n": int(sites["n"].sum())
                     if kind == "population" else np.nan,
                     "events": int(sites["events"].sum()) if kind == "population" else np.nan,
                     "raw": raw[0], "raw_lower": raw[1], "raw_upper": raw[2],
                     "median": r["median"], "lower": r["lower"], "upper": r["upper"]})
    frame = pd.DataFrame(rows)
    frame.insert(0, "row", np.arange(len(frame)))
    frame["line"], frame["interval"] = line, interval.short
    return frame[list(TTP_FOREST_COLUMNS)]


def plot_ttp_forest_lines(
    site_table: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    lines: Sequence[str],
    interval: Interval = DEFAULT_INTERVAL,
    pooled_raw: Mapping[str, tuple[float, float, float]] | None = None,
    title: str | None = None,
) -> Figure:
    """One TTP forest panel per line, side by side, sharing the months axis, one legend below.

    Parameters
    ----------
    site_table, summary
        As for :func:`ttp_forest_data`.
    lines
        Lines to show, left to right.
    interval
        Interval of both tables.
    pooled_raw
        Per line, the Kaplan-Meier median of all its patients with its CI.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    frames = [ttp_forest_data(site_table, summary, line=line, interval=interval,
                              pooled_raw=(pooled_raw or {}).get(line)) for line in lines]
    finite = np.concatenate([f[c].to_numpy(float) for f in frames
                             for c in ("raw", "raw_upper", "upper")])
    right = float(np.nanmax(finite[np.isfinite(finite)])) * 1.05
    with figure_style():
        handles = forest_legend(
            interval, raw_label=f"Kaplan-Meier median (pooled row: with {interval.percent} CI)",
            reference_label="Population median (posterior median)")
        return forest_panels(frames, lambda frame, ax: _panel(ax, frame, right, summary, interval),
                             handles, title=title, sharex=True)


def _panel(ax: Axes, data: pd.DataFrame, right: float, summary: pd.DataFrame,
           interval: Interval) -> None:
    colour = line_colour(str(data["line"].iloc[0]))
    y = draw_forest_rows(ax, data, colour)
    # Progressions/patients of the line beside each row, then the posterior as text.
    draw_count_column(ax, data, y, header="e/n")
    draw_estimate_column(ax, data, y, header=f"Months ({interval.percent} CrI)",
                         percent=False, offset_pt=ESTIMATE_OFFSET)
    draw_panel_note(ax, heterogeneity_note(summary, data, scale="log time scale", percent=False))
    # A median not reached is marked at the right edge rather than left out.
    unreached = np.isinf(data["raw"].to_numpy(float))
    for yy in y[unreached]:
        ax.annotate("not reached", xy=(right, yy - RAW_OFFSET), ha="right", va="center",
                    fontsize=SMALL_PT, color=colour)
    ax.set_xlim(0, right)
    ax.xaxis.set_major_locator(MultipleLocator(month_step(right)))
    ax.set_xlabel("Median time to progression, months")
    ax.set_title(str(data["line"].iloc[0]))

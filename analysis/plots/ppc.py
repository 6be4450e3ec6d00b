"""Posterior predictive checks: site counts of a binary endpoint, Kaplan-Meier curves of TTP.

Binary endpoints: the events observed at each site and line against the counts replicated from
the posterior predictive (:func:`site_count_ppc_data`), with the posterior predictive p-value
``P(y_rep >= y_obs)``: values near 0 or 1 flag a site the model does not reproduce.

Time to progression: the Kaplan-Meier curve of the data per line against the band of
Kaplan-Meier curves of replicated data sets, from
:func:`rechallenge.analysis.summaries.ttp_curves.predictive_survival_band`.

Nothing here samples: the replicated data are the fit's ``posterior_predictive`` group.
"""

from __future__ import annotations

from typing import Any, Final, cast

import arviz as az
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import offset_copy

from rechallenge.analysis.plots.style import (
    DOUBLE_WIDTH,
    NEUTRAL,
    SMALL_PT,
    TEXT_PT,
    check_columns,
    check_interval,
    figure_style,
    line_colour,
    new_axes,
    new_figure,
    ordered_lines,
)
from rechallenge.analysis.plots.survival import KM_COLUMNS, SURVIVAL_WIDTH, draw_km, finish_survival_axes
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.models.dims import LINE, SITE

#: Columns of :func:`site_count_ppc_data`.
SITE_PPC_COLUMNS: Final[tuple[str, ...]] = (
    "site", "line", "n", "observed", "rep_mean", "rep_median", "lower", "upper", "interval",
    "p_value", "p_value_below",
)
#: Columns :func:`plot_km_ppc` needs in ``band`` (as ``predictive_survival_band`` returns them).
BAND_COLUMNS: Final[tuple[str, ...]] = ("line", "time", "median", "lower", "upper", "interval")


def site_count_ppc_data(
    idata: az.InferenceData, *, interval: Interval = DEFAULT_INTERVAL
) -> pd.DataFrame:
    """Observed and replicated events per site and line of a binary fit.

    Rows of the same site and line (patient rows, or aggregate rows) are summed, in the data and
    in every posterior predictive draw of ``y``.

    Parameters
    ----------
    idata
        A fit of :func:`rechallenge.models.build_binary_model`: ``observed_data.y``,
        ``posterior_predictive.y`` and ``constant_data`` ``site_idx``, ``line_idx``, ``n`` on
        dim ``obs``; site and line labels from the posterior coords.
    interval
        Interval of the replicated counts (computed from integer draws, so an equal-tailed bound
        may fall between two counts).

    Returns
    -------
    pandas.DataFrame
        :data:`SITE_PPC_COLUMNS`, one row per site and line with data, sites in coordinate order
        within lines. ``p_value`` is ``P(y_rep >= y_obs)`` over the draws (near 0: more events
        than the model expects) and ``p_value_below`` is ``P(y_rep <= y_obs)`` (near 0: fewer).
        Counts are discrete, so both are 1 at the edges (``p_value`` for 0 events): a site is
        only surprising when one of them is small.
    """
    for group, name in (("observed_data", "y"), ("posterior_predictive", "y"),
                        ("constant_data", "site_idx"), ("constant_data", "line_idx"),
                        ("constant_data", "n")):
        if group not in idata.groups() or name not in idata[group]:
            raise ValueError(f"the fit has no {group}.{name}; is it a binary fit?")
    const = idata.constant_data
    site_idx = const["site_idx"].to_numpy().astype(int)
    line_idx = const["line_idx"].to_numpy().astype(int)
    n = const["n"].to_numpy().astype(int)
    observed = idata.observed_data["y"].to_numpy().astype(int)
    reps = idata.posterior_predictive["y"].transpose("chain", "draw", "obs").to_numpy()
    reps = reps.reshape(-1, reps.shape[-1])
    sites = [str(s) for s in idata.posterior.coords[SITE].to_numpy()]
    lines = [str(v) for v in idata.posterior.coords[LINE].to_numpy()]
    rows = []
    for j, line in enumerate(lines):
        for i, site in enumerate(sites):
            pick = (site_idx == i) & (line_idx == j)
            if not pick.any():
                continue
            y_obs = int(observed[pick].sum())
            y_rep = reps[:, pick].sum(axis=1)
            lower, upper = interval.bounds(y_rep)
            rows.append({
                "site": site, "line": line, "n": int(n[pick].sum()), "observed": y_obs,
                "rep_mean": float(y_rep.mean()), "rep_median": float(np.median(y_rep)),
                "lower": lower, "upper": upper, "interval": interval.short,
                "p_value": float(np.mean(y_rep >= y_obs)),
                "p_value_below": float(np.mean(y_rep <= y_obs)),
            })
    return pd.DataFrame(rows, columns=list(SITE_PPC_COLUMNS))


def plot_site_count_ppc(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    interval: Interval = DEFAULT_INTERVAL,
    title: str | None = None,
) -> Axes:
    """Observed events per site over the replicated interval, one row per site.

    With several lines in ``data`` they are drawn side by side within each site's row, in their
    colours; :func:`plot_site_count_ppc_lines` gives one panel per line instead.

    Parameters
    ----------
    data
        From :func:`site_count_ppc_data` with the same ``interval``.
    ax
        Axes to draw on; a new figure when ``None``.
    interval
        The interval the bars show.
    title
        Axes title (none by default).

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_columns(data, SITE_PPC_COLUMNS, "data")
    check_interval(data, interval)
    sites = list(dict.fromkeys(data["site"].astype(str)))
    lines = ordered_lines(data)
    with figure_style():
        if ax is None:
            ax = new_axes(width=DOUBLE_WIDTH, height=0.6 + 0.2 * max(len(sites), 3))
        offsets = _dodge(len(lines))
        for line, offset in zip(lines, offsets):
            part = data[data["line"] == line]
            y = np.array([sites.index(s) for s in part["site"].astype(str)]) + offset
            colour = line_colour(line)
            ax.hlines(y, part["lower"], part["upper"], color=colour, alpha=0.45, linewidth=3.5)
            ax.plot(part["rep_median"], y, linestyle="none", marker="|", markersize=7,
                    color=colour)
            ax.plot(part["observed"], y, linestyle="none", marker="o", markersize=4,
                    markerfacecolor="white", markeredgecolor=NEUTRAL, markeredgewidth=1.0)
            for _, row in surprising(part, interval).iterrows():
                tail = min(row["p_value"], row["p_value_below"])
                ax.annotate(f"p={tail:.3f}", (row["observed"], sites.index(row["site"]) + offset),
                            xytext=(5, 0), textcoords="offset points", va="center", fontsize=SMALL_PT)
            # Patients of each site and line (the largest possible count) beside its row.
            for yy, n in zip(y, part["n"].astype(int)):
                ax.annotate(str(n), xy=(1, yy), xycoords=("axes fraction", "data"),
                            xytext=(4, 0), textcoords="offset points", ha="left", va="center",
                            fontsize=SMALL_PT, color=colour)
        ax.annotate("n", xy=(1, 1), xycoords="axes fraction", xytext=(4, 2),
                    textcoords="offset points", ha="left", va="bottom", fontsize=TEXT_PT,
                    fontstyle="italic")
        ax.set_yticks(range(len(sites)))
        ax.set_yticklabels(sites)
        ax.set_ylim(len(sites) - 0.5, -0.5)
        ax.set_xlim(-0.3, _count_axis_max(data))
        cast(Any, ax.xaxis.get_major_locator()).set_params(integer=True)  # a MaxNLocator
        ax.set_xlabel("Events per site")
        if title:
            ax.set_title(title)
        placement: dict[str, Any] = {  # matplotlib's stubs have no overload for this call
            "loc": "upper left", "bbox_to_anchor": (1.0, 1.0),
            "bbox_transform": offset_copy(ax.transAxes, fig=cast(Figure, ax.figure), x=22,
                                          units="points")}
        ax.legend(handles=_count_handles(lines if len(lines) > 1 else [], interval,
                                         flagged=not surprising(data, interval).empty),
                  **placement)
    return ax


def surprising(data: pd.DataFrame, interval: Interval) -> pd.DataFrame:
    """Rows of :func:`site_count_ppc_data` whose observed count lies in a tail beyond the interval.

    A count is flagged when ``P(y_rep >= y_obs)`` or ``P(y_rep <= y_obs)`` is below
    ``(1 - level) / 2``, i.e. by the same level as every interval of the report.
    """
    tail = (1 - interval.level) / 2
    return data[(data["p_value"] < tail) | (data["p_value_below"] < tail)]


def _count_handles(lines: list[str], interval: Interval, *, flagged: bool) -> list[Any]:
    handles: list[Any] = [Patch(color=line_colour(v), alpha=0.6, label=v) for v in lines]
    handles += [
        Line2D([], [], marker="o", linestyle="none", markersize=4, markerfacecolor="white",
               markeredgecolor=NEUTRAL, label="Observed"),
        Line2D([], [], color=NEUTRAL, alpha=0.45, linewidth=3.5,
               label=f"Replicated, {interval.label}"),
        Line2D([], [], color=NEUTRAL, marker="|", linestyle="none", markersize=7,
               label="Replicated median"),
    ]
    if flagged:
        handles.append(Line2D([], [], linestyle="none",
                              label=f"p: tail probability < {(1 - interval.level) / 2:g}"))
    return handles


def _count_axis_max(data: pd.DataFrame) -> float:
    """Right end of the count axis: past the largest observed or replicated count."""
    top = np.nanmax(data[["observed", "upper", "rep_median"]].to_numpy(float), initial=1.0)
    return float(top) + 0.6


def plot_site_count_ppc_lines(
    data: pd.DataFrame, *, interval: Interval = DEFAULT_INTERVAL, title: str | None = None
) -> Figure:
    """:func:`plot_site_count_ppc` with one panel per line, side by side (shared site axis)."""
    lines = ordered_lines(data)
    n_sites = data["site"].nunique()
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 1.2 + 0.2 * max(n_sites, 3))
        axes = fig.subplots(1, max(len(lines), 1), sharex=True, sharey=True, squeeze=False)[0]
        for k, (line, ax) in enumerate(zip(lines, axes)):
            plot_site_count_ppc(data[data["line"] == line], ax=ax, interval=interval, title=line)
            ax.get_legend().remove()
            if k > 0:
                ax.tick_params(labelleft=False)
        axes[0].set_xlim(-0.3, _count_axis_max(data))  # shared: one scale for every line
        fig.legend(handles=_count_handles([], interval,
                                          flagged=not surprising(data, interval).empty),
                   loc="outside lower center", ncol=4)
        if title:
            fig.suptitle(title)
    return fig


def plot_km_ppc(
    band: pd.DataFrame,
    km: pd.DataFrame,
    *,
    ax: Axes | None = None,
    interval: Interval = DEFAULT_INTERVAL,
) -> Axes:
    """Kaplan-Meier curve of the data against the posterior predictive Kaplan-Meier band.

    Parameters
    ----------
    band
        From :func:`rechallenge.analysis.summaries.ttp_curves.predictive_survival_band` with the same
        ``interval`` (:data:`BAND_COLUMNS`).
    km
        From :func:`rechallenge.analysis.plots.survival.km_data` (the data's step curves).
    ax
        Axes to draw on (legend to its right); when ``None``, a new figure with the legend
        below. All lines in the inputs are drawn on it; :func:`plot_km_ppc_lines` gives one
        panel per line.
    interval
        The interval the band shows.

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_columns(band, BAND_COLUMNS, "band")
    check_columns(km, KM_COLUMNS, "km")
    check_interval(band, interval)
    lines = ordered_lines(band, km)
    with figure_style():
        created = ax is None
        ax = new_axes(width=SURVIVAL_WIDTH, height=3.4) if ax is None else ax
        for line in lines:
            colour = line_colour(line)
            b = band[band["line"] == line].sort_values("time")
            # Replicated Kaplan-Meier curves are step functions too: draw the band as steps.
            ax.fill_between(b["time"], b["lower"], b["upper"], step="post", color=colour,
                            alpha=0.2, linewidth=0)
            ax.step(b["time"], b["median"], where="post", color=colour, linewidth=0.9,
                    linestyle="--")
            draw_km(ax, km[km["line"] == line], colour)
        finish_survival_axes(ax, band, km)
        if created:
            ax.figure.legend(handles=_km_handles(lines, interval), loc="outside lower center",
                             ncol=3)
        else:
            ax.legend(handles=_km_handles(lines, interval), loc="upper left",
                      bbox_to_anchor=(1.02, 1.0))
    return ax


def plot_km_ppc_lines(
    band: pd.DataFrame, km: pd.DataFrame, *, interval: Interval = DEFAULT_INTERVAL
) -> Figure:
    """:func:`plot_km_ppc` with one panel per line, side by side."""
    lines = ordered_lines(band, km)
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 3.1)
        axes = fig.subplots(1, max(len(lines), 1), sharex=True, sharey=True, squeeze=False)[0]
        for k, (line, ax) in enumerate(zip(lines, axes)):
            plot_km_ppc(band[band["line"] == line], km[km["line"] == line], ax=ax,
                        interval=interval)
            ax.get_legend().remove()
            ax.set_title(line)
            if k > 0:
                ax.set_ylabel("")
        fig.legend(handles=_km_handles([], interval), loc="outside lower center", ncol=4)
    return fig


def _km_handles(lines: list[str], interval: Interval) -> list[Any]:
    handles: list[Any] = [Line2D([], [], color=line_colour(v), linewidth=2, label=v)
                          for v in lines]
    return handles + [
        Line2D([], [], color=NEUTRAL, linewidth=0.9, label="Kaplan-Meier (data)"),
        Line2D([], [], color=NEUTRAL, marker="|", linestyle="none", markersize=5,
               label="Censored"),
        Line2D([], [], color=NEUTRAL, linewidth=0.9, linestyle="--", label="Replicated, median"),
        Patch(facecolor=NEUTRAL, alpha=0.2, label=f"Replicated, {interval.label}"),
    ]


def _dodge(k: int) -> np.ndarray:
    """Vertical offsets of ``k`` lines within a site's row."""
    return np.zeros(1) if k <= 1 else np.linspace(-0.18, 0.18, k)


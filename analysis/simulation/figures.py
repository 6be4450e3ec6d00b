"""Figures of simulation studies, in the package's figure style.

Each function takes the tables of :mod:`rechallenge.analysis.simulation.calibration` and returns
a matplotlib figure (saved with :func:`rechallenge.analysis.plots.style.save_figure`); none of
them samples or reads files.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rechallenge.analysis.plots.style import (
    DOUBLE_WIDTH,
    NEUTRAL,
    REFERENCE,
    figure_style,
    line_colour,
    new_figure,
)
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.simulation.calibration import ecdf_band, ecdf_difference

#: Panels per row of a grid of quantities.
COLUMNS = 4


def cp_bars(table: pd.DataFrame, share: str) -> list[pd.Series]:
    """Error-bar lengths below and above ``table[share]`` to its Clopper-Pearson bounds
    (``cp_lower``, ``cp_upper``), as matplotlib's ``errorbar`` takes them.
    """
    return [table[share] - table["cp_lower"], table["cp_upper"] - table[share]]


def sbc_ecdf_figure(
    ranks: pd.DataFrame, tests: pd.DataFrame, *, family: str, max_rank: int, alpha: float = 0.05,
) -> Figure:
    """ECDF difference of the SBC ranks per quantity, with the simultaneous band.

    Parameters
    ----------
    ranks
        Columns ``family``, ``quantity``, ``rank``.
    tests
        :func:`~rechallenge.analysis.simulation.calibration.sbc_table` (titles carry the
        p-value; a panel outside its band is drawn in the warning colour).
    family
        Which family to draw.
    max_rank
        Largest possible rank ``L``.
    alpha
        1 - level of the simultaneous band.
    """
    ranks = ranks[ranks["family"] == family]
    quantities = list(dict.fromkeys(ranks["quantity"]))
    verdicts = tests[tests["family"] == family].set_index("quantity")
    rows = max(1, math.ceil(len(quantities) / COLUMNS))
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 1.55 * rows + 0.3)
        axes = fig.subplots(rows, COLUMNS, squeeze=False, sharex=True)
        for ax, quantity in zip(axes.ravel(), quantities):
            r = ranks.loc[ranks["quantity"] == quantity, "rank"].to_numpy()
            band = ecdf_band(len(r), max_rank, alpha)
            curve = ecdf_difference(r, max_rank)
            ax.fill_between(band["z"], band["lower"] - band["z"], band["upper"] - band["z"],
                            color=REFERENCE, alpha=0.25, linewidth=0, step="mid")
            inside = bool(verdicts.loc[quantity, "in_band"]) if quantity in verdicts.index else True
            ax.plot(curve["z"], curve["difference"], color=NEUTRAL if inside else "#D55E00",
                    drawstyle="steps-mid", linewidth=1.0)
            ax.axhline(0.0, color=REFERENCE, linewidth=0.6)
            p = verdicts.loc[quantity, "ecdf_p"] if quantity in verdicts.index else np.nan
            name, _, label = quantity.partition("[")
            ax.set_title(f"{name}\n{label[:-1]}, p = {p:.2f}", fontsize=6.5)
            ax.tick_params(labelsize=6.5)
        for ax in axes.ravel()[len(quantities):]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("fractional rank")
        for ax in axes[:, 0]:
            ax.set_ylabel("ECDF - uniform")
        fig.suptitle(f"SBC, {family} model: rank ECDF minus uniform, "
                     f"{1 - alpha:.0%} simultaneous band ({len(ranks) // max(len(quantities), 1)}"
                     " simulations)")
    return fig


def coverage_figure(table: pd.DataFrame, *, interval: Interval) -> Figure:
    """Coverage per quantity with Clopper-Pearson bars and the nominal level.

    Parameters
    ----------
    table
        :func:`~rechallenge.analysis.simulation.calibration.coverage_table`.
    interval
        The interval whose coverage was measured (stated on the axis).
    """
    labels = [f"{f}: {q}" for f, q in zip(table["family"], table["quantity"])]
    y = np.arange(len(table))[::-1]
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 0.22 * len(table) + 0.9)
        ax = fig.add_subplot()
        ax.errorbar(table["coverage"], y,
                    xerr=cp_bars(table, "coverage"),
                    fmt="o", color=NEUTRAL, markersize=3, linewidth=0.9)
        ax.axvline(interval.level, color=line_colour("ICI-2"), linewidth=0.9)
        ax.set_yticks(y, labels)
        ax.set_xlabel(f"share of simulations whose {interval.label} contains the truth "
                      f"(exact {interval.percent} CI)")
    return fig


def coverage_profile_figure(
    table: pd.DataFrame, *, family: str, pooled: str, contrast: str, interval: Interval,
) -> Figure:
    """Coverage of the headline quantities against the true between-site SD (a coverage profile).

    Parameters
    ----------
    table
        :func:`~rechallenge.analysis.simulation.calibration.coverage_table` of a study with a
        tau grid (column ``tau``).
    family
        Which family to draw.
    pooled, contrast
        Quantity names (without the label) of the pooled quantity per line (drawn in the line's
        colour) and of the contrast.
    interval
        The interval whose coverage was measured (the nominal line, the axis label).
    """
    rows = table[(table["family"] == family)
                 & table["quantity"].map(lambda q: q.partition("[")[0] in (pooled, contrast))]
    series = list(dict.fromkeys(rows["quantity"]))
    taus = sorted(rows["tau"].unique())
    # Series sit side by side at each tau, a small share of the smallest gap apart.
    step = 0.08 * (min(np.diff(taus)) if len(taus) > 1 else 1.0)
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 2.9)
        ax = fig.add_subplot()
        for i, quantity in enumerate(series):
            group = rows[rows["quantity"] == quantity]
            name, _, label = quantity.partition("[")
            colour = line_colour(label[:-1]) if name == pooled else NEUTRAL
            x = group["tau"] + (i - (len(series) - 1) / 2) * step
            ax.errorbar(x, group["coverage"],
                        yerr=cp_bars(group, "coverage"),
                        fmt="o-", color=colour, markersize=3, linewidth=0.9, label=quantity)
        ax.axhline(interval.level, color=REFERENCE, linewidth=0.9, linestyle="--")
        ax.set_xticks(taus)
        ax.set_xlabel("true between-site SD tau (every line)")
        ax.set_ylabel("coverage")
        # Below the axes: coverage can fall to the lower right as tau grows, where a legend
        # inside would cover the points.
        fig.legend(loc="outside lower center", ncol=2, fontsize=6)
        n = int(rows["n"].max()) if len(rows) else 0
        fig.suptitle(f"Coverage of the {interval.label}, {family} model\n"
                     f"{n} simulations per tau, exact {interval.percent} bounds; dashed: nominal")
    return fig


def precision_figure(table: pd.DataFrame, *, family: str, pooled: str, contrast: str) -> Figure:
    """Expected interval width and P(contrast interval excludes no effect) by added sites.

    Parameters
    ----------
    table
        :func:`~rechallenge.analysis.simulation.calibration.precision_table`.
    family
        Which family to draw.
    pooled, contrast
        Quantity names (without the label) of the pooled and contrast rows.
    """
    rows = table[table["family"] == family]
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 2.5)
        width_ax, power_ax = fig.subplots(1, 2)
        styles = ["-", "--", ":", "-."]
        for i, (n, by_n) in enumerate(rows.groupby("n_patients")):
            ls = styles[i % len(styles)]
            for quantity, group in by_n.groupby("quantity", sort=False):
                name = quantity.partition("[")[0]
                label = quantity.partition("[")[2][:-1]
                if name not in (pooled, contrast):
                    continue
                colour = line_colour(label) if name == pooled else NEUTRAL
                width_ax.plot(group["k_sites"], group["mean_width"], ls, marker="o",
                              markersize=3, color=colour, label=f"{quantity}, n = {n}")
                if name == contrast and "p_excludes_null" in group:
                    power_ax.errorbar(group["k_sites"], group["p_excludes_null"],
                                      yerr=cp_bars(group, "p_excludes_null"),
                                      fmt=ls, marker="o", markersize=3, color=colour,
                                      label=f"n = {n} per site")
        width_ax.set_xlabel("new sites added (K)")
        width_ax.set_ylabel("expected interval width")
        # Widths fall with K, so headroom above the largest keeps the legend off the lines.
        width_ax.set_ylim(0, 1.5 * float(np.nanmax(rows["mean_width"])))
        width_ax.legend(fontsize=6, loc="upper right")
        power_ax.set_xlabel("new sites added (K)")
        power_ax.set_ylabel("P(interval excludes no effect)")
        power_ax.set_title(contrast, fontsize=7.5)
        width_ax.set_title("pooled per line and contrast", fontsize=7.5)
        for ax in (width_ax, power_ax):
            ax.set_xticks(sorted(rows["k_sites"].unique()))
        power_ax.set_ylim(0, 1)
        power_ax.legend(fontsize=6)
        fig.suptitle(f"Precision, {family} model")
    return fig

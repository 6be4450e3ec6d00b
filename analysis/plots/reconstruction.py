"""The Kaplan-Meier curve of reconstructed pseudo patients over the digitised points it follows.

:func:`reconstruction_km` is the data behind the step curve (lifelines' Kaplan-Meier estimate of
the pseudo patients); :func:`plot_reconstruction` draws it over the cleaned digitised points with
the published and reconstructed numbers at risk under the axis. It never reads files.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from rechallenge.analysis.plots.style import (
    NEUTRAL,
    SINGLE_WIDTH,
    SMALL_PT,
    TEXT_PT,
    figure_style,
    line_colour,
    new_axes,
)
from rechallenge.data.frequentist import fit_km
from rechallenge.data.reconstruct import Reconstruction

#: Columns of :func:`reconstruction_km`.
KM_COLUMNS: Final[tuple[str, ...]] = ("time", "survival", "at_risk", "events", "censored")
#: Colour of the reconstructed curve (the package's colour of a second line).
_CURVE_COLOUR: Final = line_colour("ICI-2")


def reconstruction_km(result: Reconstruction) -> pd.DataFrame:
    """Kaplan-Meier step table of the reconstructed pseudo patients (lifelines).

    Parameters
    ----------
    result
        From :func:`rechallenge.data.reconstruct.reconstruct`.

    Returns
    -------
    pandas.DataFrame
        :data:`KM_COLUMNS`: a row at time 0 and one per distinct time, with the survival just
        after it, the number at risk just before it, and the events and censorings at it (time in
        the curve's unit).
    """
    kmf = fit_km(result.patients["time"].to_numpy(float), result.patients["event"].to_numpy(int),
                 label="reconstructed")
    table = kmf.event_table
    table = table[table.index > 0]
    times = table.index.to_numpy(float)
    return pd.DataFrame({
        "time": np.concatenate([[0.0], times]),
        # survival_function_at_times keeps one value per time even for a single time (predict
        # returns a bare number then).
        "survival": np.concatenate([[1.0], np.asarray(kmf.survival_function_at_times(times),
                                                      float)]),
        "at_risk": np.concatenate([[result.n], table["at_risk"].to_numpy(int)]),
        "events": np.concatenate([[0], table["observed"].to_numpy(int)]),
        "censored": np.concatenate([[0], table["censored"].to_numpy(int)]),
    })[list(KM_COLUMNS)]


def plot_reconstruction(
    result: Reconstruction,
    *,
    ax: Axes | None = None,
    time_label: str = "Time",
    title: str | None = None,
) -> Axes:
    """Reconstructed Kaplan-Meier curve over the digitised points, numbers at risk below.

    Parameters
    ----------
    result
        From :func:`rechallenge.data.reconstruct.reconstruct`.
    ax
        Axes to draw on; a new figure when ``None``.
    time_label
        Label of the x axis (say the unit, e.g. ``"Months"``).
    title
        Axes title, e.g. the site and line; none when ``None``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    km = reconstruction_km(result)
    with figure_style():
        created = ax is None
        ax = new_axes(width=SINGLE_WIDTH, height=3.6) if ax is None else ax
        ax.plot(result.curve["time"], result.curve["survival"], linestyle="none", marker="o",
                markersize=2.5, color=NEUTRAL, alpha=0.7)
        ax.step(km["time"], km["survival"], where="post", color=_CURVE_COLOUR, linewidth=1.1)
        cens = km[km["censored"] > 0]
        ax.plot(cens["time"], cens["survival"], linestyle="none", marker="|", markersize=5,
                markeredgewidth=0.9, color=_CURVE_COLOUR)
        t_max = max(float(km["time"].max()), float(result.curve["time"].max()))
        ax.set_xlim(0, t_max * 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_yticklabels([f"{v:.0%}" for v in np.linspace(0, 1, 6)])
        ax.set_xlabel(time_label)
        ax.set_ylabel("Proportion without event")
        if title:
            ax.set_title(title)
        _draw_at_risk(ax, result.at_risk)
        handles = [
            Line2D([], [], color=NEUTRAL, marker="o", linestyle="none", markersize=3,
                   label="Digitised points (cleaned)"),
            Line2D([], [], color=_CURVE_COLOUR, linewidth=1.1, drawstyle="steps-post",
                   label=f"Reconstructed Kaplan-Meier (n = {result.n}, {result.events} events)"),
            Line2D([], [], color=_CURVE_COLOUR, marker="|", linestyle="none", markersize=5,
                   label="Censored (reconstructed)"),
        ]
        if created:  # below the figure: a single-column axes has no room for it inside
            ax.figure.legend(handles=handles, loc="outside lower center", fontsize=SMALL_PT)
        else:
            ax.legend(handles=handles, loc="upper right", fontsize=SMALL_PT)
    return ax


def _draw_at_risk(ax: Axes, at_risk: pd.DataFrame) -> None:
    """Published and reconstructed numbers at risk under the axis, at the at-risk times."""
    rows = (("Published", "published", NEUTRAL), ("Reconstructed", "reconstructed", _CURVE_COLOUR))
    first = -34.0
    ax.annotate("No. at risk", xy=(0, 0), xycoords="axes fraction", xytext=(-14, first),
                textcoords="offset points", ha="right", va="top", fontsize=TEXT_PT, fontweight="bold")
    for k, (label, column, colour) in enumerate(rows):
        y = first - 10.0 * (k + 1)
        ax.annotate(label, xy=(0, 0), xycoords="axes fraction", xytext=(-14, y),
                    textcoords="offset points", ha="right", va="top", fontsize=TEXT_PT, color=colour)
        for time, value in zip(at_risk["time"], at_risk[column]):
            ax.annotate(str(int(value)), xy=(float(time), 0), xycoords=("data", "axes fraction"),
                        xytext=(0, y), textcoords="offset points", ha="center", va="top",
                        fontsize=TEXT_PT, color=colour)

"""Posterior survival curves of time to progression over the Kaplan-Meier curves of the data.

:func:`km_data` is the data behind the step curves (computed with lifelines); the posterior curves
come from :func:`rechallenge.analysis.summaries.ttp_curves.survival_curves`. :func:`plot_survival` draws
both; it never samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MultipleLocator

from rechallenge.analysis.plots.style import (
    NEUTRAL,
    SINGLE_WIDTH,
    TEXT_PT,
    check_columns,
    check_interval,
    figure_style,
    line_colour,
    new_axes,
    ordered_lines,
)
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.data import schema
from rechallenge.data.frequentist import fit_km

#: Width of a standalone survival plot in inches.
SURVIVAL_WIDTH: Final = SINGLE_WIDTH

#: Columns of :func:`km_data`.
KM_COLUMNS: Final[tuple[str, ...]] = ("line", "time", "survival", "at_risk", "events", "censored")
#: Columns :func:`plot_survival` needs in ``curves`` (as :func:`survival_curves` returns them).
CURVE_COLUMNS: Final[tuple[str, ...]] = ("line", "time", "median", "lower", "upper", "interval")

TIME_LABEL: Final = "Months since start of line"
SURVIVAL_LABEL: Final = "Proportion without progression"


def km_data(patients: pd.DataFrame, lines: Sequence[str]) -> pd.DataFrame:
    """Kaplan-Meier step table of time to progression per line, from the patient rows.

    Parameters
    ----------
    patients
        Validated patient table (``line``, ``ttp_months``, ``progressed``).
    lines
        Line labels in order; a line without patient rows is left out.

    Returns
    -------
    pandas.DataFrame
        :data:`KM_COLUMNS`: per line a row at time 0 (survival 1, everyone at risk) and one per
        distinct observed time, with the survival just after it (right-continuous), the number at
        risk just before it, and the numbers of progressions and censorings at it.
    """
    missing = [c for c in (schema.LINE, schema.TTP_MONTHS, schema.PROGRESSED)
               if c not in patients.columns]
    if missing:
        raise ValueError(f"patient table lacks columns {missing}")
    frames = []
    for line in lines:
        rows = patients[patients[schema.LINE] == line]
        if not len(rows):
            continue
        kmf = fit_km(rows[schema.TTP_MONTHS].to_numpy(float),
                     rows[schema.PROGRESSED].to_numpy(int), label=str(line))
        table = kmf.event_table
        table = table[table.index > 0]
        times = table.index.to_numpy(float)
        frame = pd.DataFrame({
            "line": str(line),
            "time": np.concatenate([[0.0], times]),
            # survival_function_at_times, not predict: predict gives a scalar for one time.
            "survival": np.concatenate([[1.0], kmf.survival_function_at_times(times).to_numpy(float)]),
            "at_risk": np.concatenate([[len(rows)], table["at_risk"].to_numpy(int)]),
            "events": np.concatenate([[0], table["observed"].to_numpy(int)]),
            "censored": np.concatenate([[0], table["censored"].to_numpy(int)]),
        })
        frames.append(frame)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in KM_COLUMNS})
    return pd.concat(frames, ignore_index=True)[list(KM_COLUMNS)]


def plot_survival(
    curves: pd.DataFrame,
    km: pd.DataFrame,
    *,
    ax: Axes | None = None,
    interval: Interval = DEFAULT_INTERVAL,
) -> Axes:
    """Posterior survival curve with its credible band per line, over the data's Kaplan-Meier.

    Parameters
    ----------
    curves
        From :func:`rechallenge.analysis.summaries.ttp_curves.survival_curves` (:data:`CURVE_COLUMNS`),
        computed with the same ``interval``.
    km
        From :func:`km_data`.
    ax
        Axes to draw on (legend to its right); when ``None``, a new figure with the legend
        below.
    interval
        The interval the band shows; must match ``curves["interval"]``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_columns(curves, CURVE_COLUMNS, "curves")
    check_columns(km, KM_COLUMNS, "km")
    check_interval(curves, interval)
    with figure_style():
        created = ax is None
        ax = new_axes(width=SURVIVAL_WIDTH, height=3.6) if ax is None else ax
        lines = ordered_lines(curves, km)
        for line in lines:
            colour = line_colour(line)
            c = curves[curves["line"] == line].sort_values("time")
            if len(c):
                ax.fill_between(c["time"], c["lower"], c["upper"], color=colour, alpha=0.2,
                                linewidth=0)
                ax.plot(c["time"], c["median"], color=colour, linewidth=1.6)
            draw_km(ax, km[km["line"] == line], colour)
        finish_survival_axes(ax, curves, km)
        draw_at_risk(ax, km)
        handles: list[Artist] = [Line2D([], [], color=line_colour(line), linewidth=2, label=line)
                             for line in lines]
        handles += [
            Line2D([], [], color=NEUTRAL, linewidth=1.6, label="Posterior median"),
            Patch(facecolor=NEUTRAL, alpha=0.2, label=interval.label),
            Line2D([], [], color=NEUTRAL, linewidth=0.9, drawstyle="steps-post",
                   label="Kaplan-Meier (data)"),
            Line2D([], [], color=NEUTRAL, marker="|", linestyle="none", markersize=5,
                   label="Censored"),
        ]
        if created:
            ax.figure.legend(handles=handles, loc="outside lower center", ncol=2)
        else:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax


def number_at_risk(km: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
    """Number of patients at risk (time to event or censoring >= t) per line at ``times``.

    Parameters
    ----------
    km
        From :func:`km_data`.
    times
        Times in months.

    Returns
    -------
    pandas.DataFrame
        Columns line, time, at_risk.
    """
    rows = []
    for line in ordered_lines(km):
        part = km[km["line"] == line].sort_values("time")
        t = part["time"].to_numpy(float)
        at_risk = part["at_risk"].to_numpy(int)
        for x in times:
            # at_risk of a row counts those still at risk just before its time; no times lie
            # between x and the next row, so that count is the number at risk at x.
            later = np.nonzero(t >= x)[0]
            rows.append({"line": line, "time": float(x),
                         "at_risk": int(at_risk[later[0]]) if later.size else 0})
    return pd.DataFrame(rows, columns=["line", "time", "at_risk"])


def draw_at_risk(ax: Axes, km: pd.DataFrame) -> None:
    """Numbers at risk per line under the x axis, at the major ticks inside the axis limits."""
    lo, hi = ax.get_xlim()
    ticks = [float(t) for t in ax.get_xticks() if lo <= t <= hi]
    table = number_at_risk(km, ticks)
    lines = ordered_lines(table)
    if not lines:
        return
    # Below the tick labels and the axis label; offsets in points scale with the font.
    first = -34.0
    # Row labels start at the figure's left edge, so they stay inside a narrow figure.
    left = ("figure fraction", "axes fraction")
    ax.annotate("No. at risk", xy=(0, 0), xycoords=left, xytext=(2, first),
                textcoords="offset points", ha="left", va="top", fontsize=TEXT_PT,
                fontweight="bold")
    for k, line in enumerate(lines):
        y = first - 10.0 * (k + 1)
        ax.annotate(line, xy=(0, 0), xycoords=left, xytext=(2, y),
                    textcoords="offset points", ha="left", va="top", fontsize=TEXT_PT,
                    color=line_colour(line))
        for _, row in table[table["line"] == line].iterrows():
            ax.annotate(str(row["at_risk"]), xy=(row["time"], 0),
                        xycoords=("data", "axes fraction"), xytext=(0, y),
                        textcoords="offset points", ha="center", va="top", fontsize=TEXT_PT,
                        color=line_colour(line))


def draw_km(ax: Axes, km: pd.DataFrame, colour: str) -> None:
    """Kaplan-Meier step curve of one line with tick marks at censoring times."""
    km = km.sort_values("time")
    if not len(km):
        return
    ax.step(km["time"], km["survival"], where="post", color=colour, linewidth=0.9)
    cens = km[km["censored"] > 0]
    ax.plot(cens["time"], cens["survival"], linestyle="none", marker="|", markersize=5,
            markeredgewidth=0.9, color=colour)


def month_step(t_max: float) -> int:
    """Months between ticks: 3 up to two years (0, 3, 6, 9, 12 ...), 6 up to four, else 12."""
    return 3 if t_max <= 24 else 6 if t_max <= 48 else 12


def finish_survival_axes(ax: Axes, *frames: pd.DataFrame) -> None:
    """Axis limits, labels and percent ticks shared by survival plots."""
    t_max = max((float(f["time"].max()) for f in frames if len(f)), default=1.0)
    ax.set_xlim(0, t_max * 1.02)
    ax.xaxis.set_major_locator(MultipleLocator(month_step(t_max)))
    ax.set_ylim(0, 1.02)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_yticklabels([f"{v:.0%}" for v in np.linspace(0, 1, 6)])
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(SURVIVAL_LABEL)

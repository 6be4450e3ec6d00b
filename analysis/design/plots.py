"""Figures of a design: the OC curve with its boundary, and the two-sample OC with conflict.

Plots take result tables and return a matplotlib Figure (made with the package's
:func:`~rechallenge.analysis.plots.style.new_figure`, never through pyplot); writing them is left
to :mod:`.outputs`.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from rechallenge.analysis.design.one_sample import rule_number
from rechallenge.analysis.plots.style import (
    DOUBLE_WIDTH,
    NEUTRAL,
    REFERENCE,
    SINGLE_WIDTH,
    figure_style,
    new_figure,
)

#: One colour per prior choice, from the Okabe-Ito set the package uses.
PRIOR_COLOURS = {"robust": "#D55E00", "map": "#0072B2", "vague": "#009E73"}


def plot_oc_one_sample(oc: pd.DataFrame, *, n: int, boundary: int, threshold: float,
                       confidence: float, prior: str) -> Figure:
    """OC curve ``P(success)`` against the true rate, with the decision rule in the title.

    Parameters
    ----------
    oc
        Columns ``true_rate`` and ``prob_success``.
    n, boundary, threshold, confidence, prior
        The design, stated on the figure.
    """
    with figure_style():
        fig = new_figure(SINGLE_WIDTH, 2.8)
        ax = fig.add_subplot()
        ax.plot(oc["true_rate"], oc["prob_success"], color=PRIOR_COLOURS.get(prior, NEUTRAL))
        ax.axvline(threshold, color=REFERENCE, linestyle="--", linewidth=0.8)
        ax.axvline(boundary / n, color=NEUTRAL, linestyle=":", linewidth=0.8)
        # Right of the line, or left of it near the right edge: text past the axes would
        # leave the layout no room (matplotlib then warns and collapses the axes).
        right = boundary / n <= 0.6
        ax.text(boundary / n, 0.5, f" success at >= {boundary}/{n} " if right else
                f"success at >= {boundary}/{n} ", fontsize=7, color=NEUTRAL, va="center",
                ha="left" if right else "right")
        ax.set_xlabel("true response rate")
        ax.set_ylabel("probability of success")
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"n = {n}: success if P(rate > {rule_number(threshold)}) > "
                     f"{rule_number(confidence)}\n"
                     f"({prior} prior; dashed: threshold, dotted: boundary / n)")
    return fig


def plot_two_sample(conflict: pd.DataFrame, power: pd.DataFrame, *, n_control: int,
                    n_treatment: int, margin: float, confidence: float) -> Figure:
    """Two panels: type I error against the true control rate, and power against the difference.

    Parameters
    ----------
    conflict
        :func:`~.conflict.conflict_two_sample` output.
    power
        Columns ``difference`` and ``prob_success_<prior>`` for robust, map and vague, at a
        control rate equal to the MAP prior mean.
    n_control, n_treatment, margin, confidence
        The design, stated on the figure.
    """
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 2.9)
        left, right = fig.subplots(1, 2)
        for prior, colour in PRIOR_COLOURS.items():
            left.plot(conflict["control_rate"], conflict[f"prob_success_{prior}"],
                      color=colour, label=prior)
            right.plot(power["difference"], power[f"prob_success_{prior}"], color=colour,
                       label=prior)
        left.plot(conflict["control_rate"], conflict["prob_robust_dominates"], color=NEUTRAL,
                  linestyle=":", label="P(robust component dominates)")
        left.set_xlabel("true control rate (treatment = control + margin)")
        left.set_ylabel("probability of success (type I error)")
        left.set_title("Prior-data conflict: type I error")
        right.set_xlabel("true treatment - control difference (control at the MAP mean)")
        right.set_ylabel("probability of success (power)")
        right.set_title("Power")
        for ax in (left, right):
            ax.set_ylim(-0.02, 1.02)
        left.legend(loc="upper left")
        fig.suptitle(f"{n_control} control vs {n_treatment} treatment patients: success if "
                     f"P(rate_t - rate_c > {rule_number(margin)}) > {rule_number(confidence)}")
    return fig

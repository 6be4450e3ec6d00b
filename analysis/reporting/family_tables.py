"""The survival distributions compared, for a reader: the supplement's table and the sentence of
the results (:mod:`rechallenge.analysis.summaries.family_comparison` computes the numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from rechallenge.analysis.reporting.estimates import interval_cell, probability_cell, signed
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.data.frequentist import MedianCI

#: The machine table's name and caption.
FAMILIES_NAME = "ttp_distributions"


def families_machine_table(frames: Sequence[pd.DataFrame | None]) -> Table | None:
    """The comparison of every time-to-event endpoint as one machine table (None: none)."""
    present = [f for f in frames if f is not None and len(f)]
    if not present:
        return None
    return Table(FAMILIES_NAME, "Survival distributions of time to progression compared: "
                 "PSIS-LOO (ELPD: higher is better), stacking weights, and per distribution the "
                 "population median per line and the contrasts of the later lines.",
                 pd.concat(present, ignore_index=True))


def families_reader_table(machine: Table, lines: Sequence[str], interval: Interval,
                          observed: Mapping[str, MedianCI] | None = None) -> Table:
    """The comparison in words: one row per distribution, best first, after a row of the
    ``observed`` Kaplan-Meier median of each line (with its confidence interval), so that each
    distribution's medians can be read against the data's.
    """
    first = lines[0]
    rows: list[dict[str, object]] = []
    if observed:
        rows.append({"Distribution": "Kaplan-Meier (data)", **{
            f"Median TTP {line}, months": interval_cell(km.median, km.lower, km.upper, "months")
            for line, km in observed.items()}})
    for r in machine.frame.to_dict("records"):
        row = {"Distribution": str(r["label"]) + (" (main model)" if r["main"] else ""),
               "Rank": int(r["rank"]),
               "ELPD difference (SE)": (
                   "0 (best)" if r["rank"] == 1
                   else signed(f"{-float(r['elpd_diff']):.1f}") + f" ({float(r['dse']):.1f})"),
               "Stacking weight": f"{float(r['weight']):.2f}",
               "Rows with k > 0.7": int(r["n_pareto_k_high"])}
        for line in lines:
            row[f"Median TTP {line}, months"] = _cell(r, f"median_population[{line}]", "months")
        for later in lines[1:]:
            label = f"{later} vs {first}"
            row[f"Ratio of medians {later} / {first}"] = _cell(
                r, f"median_ratio_population[{label}]", "ratio")
            row[f"P(median {later} > median {first})"] = probability_cell(
                r.get(f"prob_greater_population[{label}]", float("nan")))
            rmst = next((k for k in r if k.startswith(f"rmst_difference_population[{label}")
                         and not k.endswith(("_lower", "_upper"))), None)
            if rmst is not None:
                horizon = rmst.split(", ")[-1].rstrip("]")
                row[f"Restricted mean difference to {horizon}"] = _cell(r, rmst, "months")
        rows.append(row)
    return Table(FAMILIES_NAME, (
        f"Survival distributions of time to progression, each fitted with the same hierarchical "
        f"structure, compared by PSIS-LOO: the difference in expected log predictive density "
        f"from the best (with its SE; differences within about two SEs do not separate the "
        f"distributions), the stacking weight, and the rows whose Pareto k exceeds 0.7. "
        f"Population medians and contrasts are posterior medians with {interval.label}s"
        + (f"; the first row is the Kaplan-Meier median of all patients of each line with its "
           f"{interval.percent} confidence interval." if observed else ".")),
        pd.DataFrame(rows).fillna(""))


def families_sentence(machine: Table, lines: Sequence[str], interval: Interval) -> str:
    """Which distributions the data favour and whether the headline conclusion changes."""
    frame = machine.frame
    if len(lines) < 2 or not len(frame):
        return ""
    first, later = lines[0], lines[1]
    label = f"{later} vs {first}"
    ratio = f"median_ratio_population[{label}]"
    best = frame.iloc[0]
    # arviz's elpd_diff is the best's ELPD minus this one's (>= 0).
    close = frame[(frame["rank"] > 1) & (frame["elpd_diff"] <= 2 * frame["dse"].fillna(0))]
    others = ", ".join(str(x) for x in close["label"])
    main = frame[frame["main"]].iloc[0]
    prob = f"prob_greater_population[{label}]"
    favoured = (f"{others} {'are' if len(close) > 1 else 'is'} within two standard errors of it"
                if len(close) else "every other is more than two standard errors below it")
    main_cell = interval_cell(main[ratio], main[ratio + "_lower"], main[ratio + "_upper"],
                              "ratio")
    spread = f"{frame[ratio].min():.2f} to {frame[ratio].max():.2f}"
    probs = f"{frame[prob].min():.2f} to {frame[prob].max():.2f}"
    return (f"Of {len(frame)} survival distributions of time to progression, the data favour "
            f"the {best['label']} by PSIS-LOO (stacking weight {float(best['weight']):.2f}); "
            f"{favoured}. The ratio of population median TTP, {later} / {first}, is {main_cell} "
            f"under the main model ({main['label']}) and {spread} across the distributions "
            f"(posterior medians), and the probability that {later} has the longer median is "
            f"{probs} across them: the headline conclusion "
            f"{'does not change' if _same_side(frame[prob]) else 'changes'} with the "
            f"distribution.")


def _same_side(probabilities: pd.Series) -> bool:
    """Whether every distribution leads to the same side of one half."""
    return bool((probabilities > 0.5).all() or (probabilities < 0.5).all())


def _cell(row: dict, key: str, scale: str) -> str:
    if key not in row:
        return ""
    return interval_cell(row[key], row[f"{key}_lower"], row[f"{key}_upper"], scale)  # type: ignore[arg-type]

"""Files of an updated run (``update/``) and the before/after table.

Kept apart from :mod:`rechallenge.analysis.run.update` so the outputs stage can read an update
without importing the pipeline that runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rechallenge.analysis.run.rundir import write_json
from rechallenge.analysis.settings.families import endpoint_order
from rechallenge.analysis.settings.json_files import read_json

UPDATE_DIR = "update"
#: The files of ``update/`` that a report reads.
UPDATE_FILES = ("source.json", "before_summary.csv", "conflict.csv")
#: Quantities of the before/after table.
HEADLINE_QUANTITIES: tuple[str, ...] = (
    "probability_population", "probability_new_site", "difference_population",
    "odds_ratio_typical_site", "median_population", "median_new_site", "median_ratio_population",
    "hazard_ratio", "prob_greater_population", "shape", "tau",
)


def before_after(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Headline quantities before and after the update, with the shift of each median.

    ``shift`` is after minus before (posterior medians; for ``prob_greater_population`` the
    posterior probabilities), ``shift_sd`` the same in units of the earlier posterior SD.
    """
    keys = ["endpoint", "quantity", "line"]
    pick = lambda s: s[s["quantity"].isin(HEADLINE_QUANTITIES)]  # noqa: E731
    merged = pick(before).merge(pick(after), on=keys, how="outer", suffixes=("_before", "_after"))
    prob = merged["quantity"] == "prob_greater_population"
    out = merged[keys].copy()
    for when in ("before", "after"):
        out[f"{when}"] = np.where(prob, merged[f"mean_{when}"], merged[f"median_{when}"])
        out[f"{when}_lower"] = np.where(prob, np.nan, merged[f"lower_{when}"])
        out[f"{when}_upper"] = np.where(prob, np.nan, merged[f"upper_{when}"])
    out["shift"] = out["after"] - out["before"]
    out["shift_sd"] = out["shift"] / merged["sd_before"]
    order = {q: i for i, q in enumerate(HEADLINE_QUANTITIES)}
    out = out.assign(_e=out["endpoint"].map(endpoint_order), _q=out["quantity"].map(order))
    return out.sort_values(["_e", "_q", "line"]).drop(columns=["_e", "_q"]).reset_index(drop=True)


#: An update's record: its source (``source.json``), the earlier run's summary and the
#: conflict check of the new sites.
UpdateRecord = tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]


def write_update(run_dir: Path, record: UpdateRecord) -> None:
    """Write an update's record into ``run_dir/update/`` (what a rebuilt report reads)."""
    source, before, conflicts = record
    target = run_dir / UPDATE_DIR
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / "source.json", source)
    before.to_csv(target / "before_summary.csv", index=False, lineterminator="\n")
    conflicts.to_csv(target / "conflict.csv", index=False, lineterminator="\n")


def load_update(run_dir: Path) -> UpdateRecord | None:
    """``(source, before_summary, conflict)`` of an updated run, or ``None`` for a plain run."""
    folder = run_dir / UPDATE_DIR
    if not (folder / "source.json").is_file():
        return None
    source = read_json(folder / "source.json")
    return (source, pd.read_csv(folder / "before_summary.csv"),
            pd.read_csv(folder / "conflict.csv", keep_default_na=False, na_values=[""]))

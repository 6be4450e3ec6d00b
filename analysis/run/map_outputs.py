"""The MAP prior's files of a run: ``map_prior.json``, RBesT's files and the table of both.

Each endpoint and line gets its RBesT file under ``map_prior_rbest/``, named by
:func:`~rechallenge.analysis.map_prior.rbest.rbest_file_names` (a safe stem, never the line label
as written), and the table ``tables/map_prior.csv`` records which file holds which endpoint and
line (column ``rbest_file``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rechallenge.analysis.map_prior.export import MAP_PRIOR_FILE
from rechallenge.analysis.map_prior.rbest import RBEST_DIR, rbest_file_names, rbest_files
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.settings.config import RunConfig


def write_map_prior(staging: Path, map_json: str, config: RunConfig) -> Table:
    """Write ``map_prior.json`` and the RBesT files into ``staging``; return the table of both."""
    (staging / MAP_PRIOR_FILE).write_text(map_json, encoding="utf-8")
    (staging / RBEST_DIR).mkdir(exist_ok=True)
    for name, text in rbest_files(json.loads(map_json)).items():
        (staging / RBEST_DIR / name).write_text(text, encoding="utf-8")
    return map_prior_table(map_json, config)


def map_prior_table(text: str, config: RunConfig) -> Table:
    """One row per endpoint and line of a MAP prior record: fit check and effective sizes."""
    record = json.loads(text)
    files = rbest_file_names(record)
    rows = []
    for endpoint, lines in record["endpoints"].items():
        for line, entry in lines.items():
            check = entry["check"]
            rows.append({
                "endpoint": endpoint, "line": line,
                "components": len(entry["mixture"]["weights"]),
                "draws_mean": check["draws"]["mean"], "mixture_mean": check["mixture"]["mean"],
                "draws_lower": check["draws"]["lower"], "mixture_lower": check["mixture"]["lower"],
                "draws_upper": check["draws"]["upper"], "mixture_upper": check["mixture"]["upper"],
                "ess_elir": entry["ess"]["elir"], "robust_ess_elir": entry["robust_ess"]["elir"],
                # Which file holds which label: file names are safe stems, not the labels.
                "rbest_file": f"{RBEST_DIR}/{files[endpoint, line]}",
            })
    return Table(
        "map_prior",
        f"Meta-analytic-predictive prior per endpoint and line: the mixture against the "
        f"predictive draws it approximates ({config.interval.percent} equal-tailed bounds; TTP on "
        f"the log-median scale) and its effective sample size (ELIR) before and after "
        f"robustification (weight {config.analysis.map_robust_weight:g}); rbest_file: the "
        f"endpoint and line's file in RBesT's format.",
        pd.DataFrame(rows),
    )

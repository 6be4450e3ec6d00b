"""Append-only results of a simulation study: one JSON file per finished simulation.

``DIR/results/<name>.json`` is written when its simulation finishes, through a temporary file and
an atomic rename, so a file is either complete or absent: a killed study loses at most the
simulations that were running, and ``--resume`` skips every name already there. Nothing is
ever rewritten; a record names the invocation that wrote it (``run_id``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rechallenge.analysis.settings.json_files import read_json
from rechallenge.data.atomic import write_text_atomic

RESULTS_DIR = "results"


def record_name(kind: str, family: str, index: int, cell: str = "") -> str:
    """File stem of one simulation, e.g. ``sbc-binary-00042`` or ``precision-ttp-k5-n10-00003``."""
    middle = f"-{cell}" if cell else ""
    return f"{kind}-{family}{middle}-{index:05d}"


def write_json_atomic(path: Path, payload: Any) -> None:
    """JSON with stable key order, written atomically."""
    write_text_atomic(path, json.dumps(payload, indent=1, sort_keys=True, default=_plain) + "\n")


def write_record(out: Path, record: dict[str, Any]) -> Path:
    """Write one finished simulation's record; refuses to overwrite an existing one."""
    path = out / RESULTS_DIR / f"{record['name']}.json"
    if path.exists():
        raise FileExistsError(f"{path} exists: a finished simulation is never run twice")
    write_json_atomic(path, record)
    return path


def finished_names(out: Path) -> set[str]:
    """Names of the simulations whose record is in ``out``."""
    folder = out / RESULTS_DIR
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.glob("*.json") if not p.name.startswith(".")}


def read_records(out: Path, names: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """The records in ``out`` (only ``names`` if given), sorted by name."""
    wanted = None if names is None else set(names)
    for path in sorted((out / RESULTS_DIR).glob("*.json")):
        if path.name.startswith(".") or (wanted is not None and path.stem not in wanted):
            continue
        yield read_json(path)


def _plain(value: Any) -> Any:
    # NumPy scalars and arrays in a record become plain JSON numbers and lists.
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)

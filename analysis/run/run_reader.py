"""Reading a run directory back: its config, study, fits and manifest, checked.

Kept apart from :mod:`rechallenge.analysis.run.pipeline` so that the run object
(:mod:`rechallenge.analysis.run.run_object`), which the pipeline returns, can read a run without
importing the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import arviz as az

from rechallenge.analysis.run.fitio import load_fit
from rechallenge.analysis.run.manifest import INPUT_PARTS, check_listed, read_manifest, verify_run
from rechallenge.analysis.settings.config import RunConfig, load_config
from rechallenge.analysis.settings.family_hooks import model_rows
from rechallenge.analysis.settings.fit_names import endpoint_of
from rechallenge.data import Study, load_study

Progress = Callable[[str], None]

#: Where a run keeps the validated input rows its fits were made from.
PATIENTS_COPY = "data/patients.csv"
AGGREGATES_COPY = "data/aggregates.csv"


def load_run_study(run_dir: Path, manifest: dict[str, Any], config: RunConfig) -> Study:
    """The study a run's fits were made from, read back from its ``data/`` copy."""
    patients = [run_dir / PATIENTS_COPY] if _has_rows(run_dir / PATIENTS_COPY) else []
    aggregates = [run_dir / AGGREGATES_COPY] if _has_rows(run_dir / AGGREGATES_COPY) else []
    study = load_study(patients, aggregates, lines=config.data.lines,
                       endpoints=config.analysis.endpoints)
    return replace(study, sources=tuple(manifest.get("sources", ())),
                   synthetic=bool(manifest.get("synthetic_data", False)))


def _has_rows(path: Path) -> bool:
    return path.is_file() and len(path.read_text(encoding="utf-8").strip().splitlines()) > 1


def read_run(
    run_dir: str | Path, *, check: tuple[str, ...] | None = INPUT_PARTS,
    progress: Progress | None = None,
) -> tuple[RunConfig, Study, dict[str, az.InferenceData], dict[str, Any]]:
    """Config, study, fits and manifest of a run directory.

    :func:`rechallenge.analysis.run.run_object.load_run` wraps them in a
    :class:`~rechallenge.analysis.run.run_object.Run`.

    Parameters
    ----------
    run_dir
        The run.
    check
        Which of its files must match the hashes in its manifest: those a fit is made from
        (config, data, fits; the default), all of them (``None``), or none (``()``).
    progress
        Told when a run made before file hashes were recorded could not be checked.

    Raises
    ------
    RunDirectoryError
        Not a run, an invalid manifest, or files that do not match it (named).
    DataHashMismatch, ValueError
        A fit made from other data, or a fit file that holds another fit.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if check != () and not verify_run(run_dir, manifest, parts=check) and progress is not None:
        progress(f"{run_dir} was made before runs recorded file hashes; its files were not checked")
    if check != ():  # what is read below must be the run's own files, not added ones
        check_listed(run_dir, manifest, ["config.toml", PATIENTS_COPY, AGGREGATES_COPY,
                                         *(f"fits/{key}.nc" for key in manifest["fits"])])
    config = load_config(run_dir / "config.toml")
    study = load_run_study(run_dir, manifest, config)
    # Each fit was made from its endpoint's rows (``Study.for_endpoint``), or the rows its
    # family's model reads (a joint model's: two endpoints').
    fits = {
        key: load_fit(run_dir / "fits" / f"{key}.nc", expected_key=key,
                      expected_hash=model_rows(endpoint_of(key), study).data_hash())
        for key in manifest["fits"]
    }
    return config, study, fits, manifest

"""A run's input files: the study a config names, read and validated, and the hashes of the
bytes it was read from (recorded in the manifest).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rechallenge.analysis.run.manifest import file_sha256
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.data import Study, example_study, load_study
from rechallenge.data.files import check_table_files


def load_inputs(config: RunConfig) -> Study:
    """The study a config names, or the shipped synthetic dataset when it names no files."""
    d = config.data
    if not d.patients and not d.aggregates:
        study = example_study()
        if tuple(d.lines) != tuple(study.lines):
            study = replace(study, lines=tuple(d.lines))
        return study
    study = load_study(d.patients, d.aggregates, lines=d.lines, endpoints=config.analysis.endpoints)
    sources = tuple(Path(f).name for f in (*d.patients, *d.aggregates))
    return replace(study, sources=sources, synthetic=d.synthetic)


def input_file_hashes(config: RunConfig) -> list[dict[str, str]]:
    """SHA-256 of each input file, keyed by its role and the path as given (two inputs that
    share a file name do not collide).
    """
    return [{"role": role, "path": str(path), "sha256": file_sha256(path)}
            for role, files in (("patients", config.data.patients),
                                ("aggregates", config.data.aggregates))
            for path in files]


def read_inputs(config: RunConfig) -> tuple[Study, list[dict[str, str]]]:
    """The validated study and the hashes of the files it was read from.

    The files are hashed before they are read and checked again after, so the hashes in the
    manifest are those of the bytes the fits were made from.

    Raises
    ------
    ValueError
        If an input file changed while it was being read.
    """
    # Every input that is not a regular file within the size limit, named at once and never
    # opened (hashing a FIFO or /dev/zero would never end).
    check_table_files([*config.data.patients, *config.data.aggregates])
    hashes = input_file_hashes(config)
    study = load_inputs(config)
    changed = [h["path"] for h, again in zip(hashes, input_file_hashes(config))
               if h["sha256"] != again["sha256"]]
    if changed:
        raise ValueError(f"{', '.join(changed)}: changed while being read; run again")
    return study, hashes

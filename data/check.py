"""Checking input files without raising: every problem, and what each valid file holds.

:func:`check_study` is what ``rechallenge validate`` needs: the problems of all files together (as
:func:`~rechallenge.data.load.load_study` finds them) and, for each file, its number of rows,
patients and sites, from the one reading of the file. Nothing is read twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from . import schema
from ._tables import check_endpoints, check_lines, sort_issues
from .errors import ValidationIssue
from .load import PathLike, as_paths, read_inputs
from .study import Study
from .validate import check_tables, combine_parts

__all__ = ["FileSummary", "StudyCheck", "check_study"]


@dataclass(frozen=True)
class FileSummary:
    """What one input holds, counted on its validated rows.

    Parameters
    ----------
    source
        The file as named by the user.
    kind
        ``"patients"`` or ``"aggregates"``.
    rows
        Data rows.
    patients
        Distinct (site, patient_id) pairs; ``None`` for an aggregate table.
    sites
        Distinct site labels.
    """

    source: str
    kind: str
    rows: int
    patients: int | None
    sites: int


@dataclass(frozen=True)
class StudyCheck:
    """Outcome of :func:`check_study`.

    Parameters
    ----------
    study
        The validated study, or ``None`` when a problem was found.
    files
        One summary per input that could be read, in input order; only those whose ``source``
        has no issue are valid on their own.
    issues
        Every problem, sorted as :class:`~rechallenge.data.errors.DataValidationError` sorts them.
    """

    study: Study | None
    files: tuple[FileSummary, ...]
    issues: tuple[ValidationIssue, ...]


def check_study(
    patient_files: PathLike | Iterable[PathLike] = (),
    aggregate_files: PathLike | Iterable[PathLike] = (),
    *,
    lines: Sequence[str] = schema.DEFAULT_LINES,
    endpoints: Sequence[str] = schema.ENDPOINTS,
) -> StudyCheck:
    """Read and check files as :func:`~rechallenge.data.load_study` does, without raising.

    Parameters
    ----------
    patient_files, aggregate_files
        One path or several; at least one file in all.
    lines, endpoints
        As for :func:`~rechallenge.data.load_study`.

    Returns
    -------
    StudyCheck
        The study (when valid), a summary per file read, and every problem found.

    Raises
    ------
    ValueError
        If no file is given, or ``lines``/``endpoints`` are invalid.
    ImportError
        For an ``.xlsx`` file when openpyxl is not installed.
    """
    patients, aggregates = as_paths(patient_files), as_paths(aggregate_files)
    if not patients and not aggregates:
        raise ValueError("check_study needs at least one patient or aggregate file")
    lines, endpoints = check_lines(lines), check_endpoints(endpoints)
    tables, issues, sources = read_inputs([(p, str(p)) for p in patients],
                                          [(a, str(a)) for a in aggregates])
    patient_parts, aggregate_parts = check_tables(
        tables["patients"], tables["aggregates"], lines=lines, endpoints=endpoints, issues=issues)
    files = tuple(
        [_summary(t.source, "patients", p) for t, p in patient_parts]
        + [_summary(t.source, "aggregates", a) for t, a in aggregate_parts])
    if issues:
        return StudyCheck(None, files, tuple(sort_issues(issues, sources)))
    rows, counts = combine_parts(patient_parts, aggregate_parts, endpoints=endpoints)
    return StudyCheck(Study(rows, counts, lines, tuple(sources)), files, ())


def _summary(source: str, kind: str, parsed: pd.DataFrame) -> FileSummary:
    # A key column may be missing from a file with problems; its summary is not shown then.
    key = [c for c in (schema.SITE, schema.PATIENT_ID) if c in parsed.columns]
    patients = len(parsed[key].drop_duplicates()) if kind == "patients" and key else None
    sites = parsed[schema.SITE].nunique() if schema.SITE in parsed.columns else 0
    return FileSummary(source, kind, len(parsed), patients, sites)

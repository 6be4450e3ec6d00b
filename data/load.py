"""Readers: files in, validated tables or a :class:`~rechallenge.data.study.Study` out.

Files are CSV (comma-separated, any extension other than those below), TSV (``.tsv``, ``.tab``,
and ``.txt`` whose first line has tabs and no comma) or Excel (``.xlsx``/``.xlsm``, first visible
sheet, within the size limits of :mod:`._excel`; needs the optional package openpyxl). Text files
must be UTF-8; a byte-order mark (as written by Excel's "CSV UTF-8") is accepted. Each file is read
once, row by row, and only when it is a regular file within the limits of :mod:`.schema`
(``MAX_TABLE_BYTES``; ``MAX_TABLE_ROWS`` data rows in all the files of one call together).

Every cell is read as text first, so a bad value is reported exactly as written, then parsed by
:mod:`.validate`. All files of one call are checked before anything is returned: problems in all of
them are reported together in one :class:`~rechallenge.data.errors.DataValidationError`, and no
data leave the loader unless there were none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final, Union

import pandas as pd

from . import schema
from ._delimited import read_delimited, read_header
from ._excel import read_excel
from ._headers import PATIENTS, table_kind
from ._tables import RawTable, check_endpoints, check_lines
from .errors import ValidationIssue
from .files import ENCODING_PROBE_BYTES, file_problem, text_encoding
from .study import Study
from .validate import empty_aggregates, validate_tables

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["EXAMPLE_FILE", "EXAMPLE_SOURCE", "read_patients", "read_aggregate", "load_study",
           "load_example", "example_study", "read_table", "file_kind"]

PathLike = Union[str, "os.PathLike[str]"]

#: File name of the shipped synthetic dataset (package data of ``rechallenge.data``).
EXAMPLE_FILE: Final = "synthetic_scheiner2023.csv"
#: How the shipped dataset is named in ``Study.sources`` and hence in reports.
EXAMPLE_SOURCE: Final = f"{EXAMPLE_FILE} (synthetic reconstruction)"

_EXCEL_SUFFIXES: Final = (".xlsx", ".xlsm")
_UNSUPPORTED: Final = (".xls", ".ods", ".numbers")


def read_patients(
    path: PathLike,
    *,
    lines: Sequence[str] = schema.DEFAULT_LINES,
    endpoints: Sequence[str] = schema.ENDPOINTS,
) -> pd.DataFrame:
    """Read and validate one patient table (CSV, TSV or XLSX).

    Parameters
    ----------
    path
        The file; it is named in messages as given.
    lines
        Allowed line labels, in order.
    endpoints
        Endpoints to be analysed; only their columns (and site, patient_id, line) are required.

    Returns
    -------
    pandas.DataFrame
        Clean, typed table as described in :func:`rechallenge.data.validate_patients`.

    Raises
    ------
    DataValidationError
        Listing every problem in the file.
    ImportError
        For an ``.xlsx`` file when openpyxl is not installed.
    """
    return load_study([path], lines=lines, endpoints=endpoints).patients


def read_aggregate(path: PathLike, *, lines: Sequence[str] = schema.DEFAULT_LINES) -> pd.DataFrame:
    """Read and validate one aggregate table (CSV, TSV or XLSX).

    Returns
    -------
    pandas.DataFrame
        Clean, typed table as described in :func:`rechallenge.data.validate_aggregate`.

    Raises
    ------
    DataValidationError
        Listing every problem in the file.
    """
    return load_study(aggregate_files=[path], lines=lines).aggregates


def load_study(
    patient_files: PathLike | Iterable[PathLike] = (),
    aggregate_files: PathLike | Iterable[PathLike] = (),
    *,
    lines: Sequence[str] = schema.DEFAULT_LINES,
    endpoints: Sequence[str] = schema.ENDPOINTS,
) -> Study:
    """Read, validate and combine patient-level and aggregate files into one study.

    Problems are collected across all files, including those that only show between files (the
    same patient-line in two files; a patient whose sex differs between files; a site, line and
    endpoint given both patient by patient and as counts), and raised once.

    Parameters
    ----------
    patient_files, aggregate_files
        One path or several; at least one file in all.
    lines
        Line labels in order; stored in the returned study.
    endpoints
        Endpoints to be analysed; decides which patient columns are required.

    Returns
    -------
    Study
        Patient rows of all patient files (in file order, then row order) and aggregate rows of
        all aggregate files; ``sources`` are the paths as given.

    Raises
    ------
    DataValidationError
        Listing every problem in every file.
    ValueError
        If no file is given, or ``lines``/``endpoints`` are invalid.
    """
    patients = as_paths(patient_files)
    aggregates = as_paths(aggregate_files)
    if not patients and not aggregates:
        raise ValueError("load_study needs at least one patient or aggregate file")
    return _load([(p, str(p)) for p in patients], [(a, str(a)) for a in aggregates],
                 lines=lines, endpoints=endpoints)


def load_example() -> pd.DataFrame:
    """The shipped SYNTHETIC reconstruction of Scheiner et al. (2023), validated.

    The study's patient-level data are not public; this table is generated by
    ``rechallenge.data.generate`` to reproduce the published figures. It is not real patient data.

    Returns
    -------
    pandas.DataFrame
        Patient table (58 patients x 2 lines), typed as by :func:`read_patients`.
    """
    return _load_example().patients


def example_study() -> Study:
    """The shipped synthetic dataset as a :class:`Study` marked ``synthetic=True``."""
    study = _load_example()
    return Study(study.patients, empty_aggregates(), study.lines, (EXAMPLE_SOURCE,), synthetic=True)


def _example_resource() -> Traversable:
    """Where the shipped CSV lives inside the installed package (replaced in tests)."""
    return resources.files(__package__) / EXAMPLE_FILE


def _load_example() -> Study:
    resource = _example_resource()
    if not resource.is_file():
        raise FileNotFoundError(
            f"the shipped example {EXAMPLE_FILE} is missing from the installed package; "
            "reinstall rechallenge, or regenerate it with `python -m rechallenge.data.generate`")
    with resources.as_file(resource) as path:
        return _load([(path, EXAMPLE_FILE)], [], lines=schema.DEFAULT_LINES,
                     endpoints=schema.ENDPOINTS)


def as_paths(files: PathLike | Iterable[PathLike]) -> list[PathLike]:
    """One path or several as a list of paths."""
    # A lone path is a common slip for a one-element list; iterating its characters is not meant.
    if isinstance(files, (str, os.PathLike)):
        return [files]
    return list(files)


def _load(
    patient_items: Sequence[tuple[PathLike, str]],
    aggregate_items: Sequence[tuple[PathLike, str]],
    *,
    lines: Sequence[str],
    endpoints: Sequence[str],
) -> Study:
    """Read ``(path, name in messages)`` items and validate them all together."""
    lines, endpoints = check_lines(lines), check_endpoints(endpoints)  # before any reading
    tables, issues, sources = read_inputs(patient_items, aggregate_items)
    patients, aggregates = validate_tables(
        tables["patients"], tables["aggregates"], lines=lines, endpoints=endpoints,
        issues=issues, sources=sources)
    return Study(patients, aggregates, lines, tuple(sources))


def read_inputs(
    patient_items: Sequence[tuple[PathLike, str]],
    aggregate_items: Sequence[tuple[PathLike, str]],
) -> tuple[dict[str, list[RawTable]], list[ValidationIssue], list[str]]:
    """Read every ``(path, name in messages)`` item once, as raw text tables.

    Returns
    -------
    tuple
        Tables by kind (``"patients"``, ``"aggregates"``), the reading problems, and every input
        name in order (also those that could not be read).
    """
    issues: list[ValidationIssue] = []
    seen: dict[str, str] = {}
    tables: dict[str, list[RawTable]] = {"patients": [], "aggregates": []}
    used = 0  # data rows read so far: the row limit holds for all files together
    for kind, items in (("patients", patient_items), ("aggregates", aggregate_items)):
        for path, source in items:
            key = os.path.realpath(path)
            if key in seen:
                # Reading a file twice would turn every row into a duplicate of itself.
                issues.append(ValidationIssue(source, None, None, None,
                                              f"each file once; it is also given as {seen[key]}"))
                continue
            seen[key] = source
            note = (f" in all input files together ({used:,} were read from the files before "
                    f"this one, of {schema.MAX_TABLE_ROWS:,})" if used else
                    " (blank rows not counted)")
            table, found = read_table(path, source=source,
                                      max_rows=schema.MAX_TABLE_ROWS - used, rows_note=note)
            issues += found
            if table is not None:
                tables[kind].append(table)
                used += len(table.rows)
    return tables, issues, [s for _, s in (*patient_items, *aggregate_items)]


def read_table(
    path: PathLike, *, source: str | None = None, max_rows: int | None = None,
    rows_note: str = "",
) -> tuple[RawTable | None, list[ValidationIssue]]:
    """Read a file's cells as text, without applying any table's rules.

    Anything but a regular file of at most ``schema.MAX_TABLE_BYTES`` is refused before it is
    opened; the reading stops after ``max_rows`` data rows.

    Parameters
    ----------
    path
        CSV, TSV or XLSX file.
    source
        Name in messages; defaults to ``str(path)``.
    max_rows
        Most data rows read; ``None``: ``schema.MAX_TABLE_ROWS``.
    rows_note
        Added to the message when the rows are too many.

    Returns
    -------
    tuple
        The raw table (``None`` if nothing usable could be read) and the file-level problems.
    """
    source = str(path) if source is None else source

    def problem(expected: str) -> tuple[None, list[ValidationIssue]]:
        return None, [ValidationIssue(source, None, None, None, expected)]

    file = Path(path)
    # From the metadata alone: a FIFO, a device or an oversized file is never opened.
    refused = file_problem(file, max_bytes=schema.MAX_TABLE_BYTES)
    if refused is not None:
        return problem(refused)
    suffix = file.suffix.lower()
    if suffix in _UNSUPPORTED:
        return problem("a .csv, .tsv or .xlsx file; save the sheet as .xlsx or as CSV UTF-8")
    try:
        with file.open("rb") as stream:
            start = stream.read(ENCODING_PROBE_BYTES)
    except OSError as exc:
        return problem(f"a readable file; reading failed: {exc.strerror or exc}")
    if not start:
        return problem("a header row and at least one data row; the file is empty (0 bytes)")
    max_rows = schema.MAX_TABLE_ROWS if max_rows is None else max_rows
    if suffix in _EXCEL_SUFFIXES:
        return read_excel(file, source, max_rows=max_rows, rows_note=rows_note)
    encoding = text_encoding(start)
    if encoding is not None:
        return problem(f"UTF-8 text; the file is {encoding} (save it as 'CSV UTF-8')")
    return read_delimited(file, source, max_rows=max_rows, rows_note=rows_note)


def file_kind(path: PathLike) -> str:
    """Whether a file is a patient table or an aggregate table, from its column names alone.

    The extension plays no part beyond the format it implies (``.csv``, ``.tsv``, ``.tab``,
    ``.txt`` or ``.xlsx`` alike): a table whose header holds ``endpoint`` and ``n`` and no
    ``patient_id`` is an aggregate table (names compared as they look, invisible characters
    removed). Only the header of a text table is read.

    Returns
    -------
    str
        ``"aggregates"`` or ``"patients"``; ``"patients"`` also for a file that cannot be read
        (not a regular file, too large, not UTF-8, ...): reading it as a table reports why.
    """
    file = Path(path)
    if file_problem(file, max_bytes=schema.MAX_TABLE_BYTES) is not None:
        return PATIENTS
    if file.suffix.lower() in _EXCEL_SUFFIXES:
        table, _ = read_table(file)
        return table_kind(table.frame.columns) if table is not None else PATIENTS
    header = read_header(file)
    return table_kind(header) if header else PATIENTS

"""Readers: files in, validated tables or a :class:`~rechallenge.data.study.Study` out.

Files are CSV (comma-separated, any extension other than those below), TSV (``.tsv``, ``.tab``)
or Excel (``.xlsx``/``.xlsm``, first visible sheet, within the size limits of :mod:`._excel`;
needs the optional package openpyxl). Text files must be UTF-8; a byte-order mark (as written by
Excel's "CSV UTF-8") is accepted. Each file is read once, row by row.

Every cell is read as text first, so a bad value is reported exactly as written, then parsed by
:mod:`.validate`. All files of one call are checked before anything is returned: problems in all of
them are reported together in one :class:`~rechallenge.data.errors.DataValidationError`, and no
data leave the loader unless there were none.
"""

from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final, Union

import pandas as pd

from . import schema
from ._excel import read_excel
from ._tables import RawTable, check_endpoints, check_lines, table_from_records
from .errors import ValidationIssue
from .study import Study
from .validate import empty_aggregates, validate_tables

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["EXAMPLE_FILE", "EXAMPLE_SOURCE", "read_patients", "read_aggregate", "load_study",
           "load_example", "example_study", "read_table"]

PathLike = Union[str, "os.PathLike[str]"]

#: File name of the shipped synthetic dataset (package data of ``rechallenge.data``).
EXAMPLE_FILE: Final = "synthetic_scheiner2023.csv"
#: How the shipped dataset is named in ``Study.sources`` and hence in reports.
EXAMPLE_SOURCE: Final = f"{EXAMPLE_FILE} (synthetic reconstruction)"

_TSV_SUFFIXES: Final = (".tsv", ".tab")
_EXCEL_SUFFIXES: Final = (".xlsx", ".xlsm")
_UNSUPPORTED: Final = (".xls", ".ods", ".numbers")
#: Rows with undecodable bytes reported one by one; beyond this, one summary line.
_MAX_ENCODING_ROWS: Final = 10


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
    for kind, items in (("patients", patient_items), ("aggregates", aggregate_items)):
        for path, source in items:
            key = os.path.realpath(path)
            if key in seen:
                # Reading a file twice would turn every row into a duplicate of itself.
                issues.append(ValidationIssue(source, None, None, None,
                                              f"each file once; it is also given as {seen[key]}"))
                continue
            seen[key] = source
            table, found = read_table(path, source=source)
            issues += found
            if table is not None:
                tables[kind].append(table)
    return tables, issues, [s for _, s in (*patient_items, *aggregate_items)]


def read_table(
    path: PathLike, *, source: str | None = None
) -> tuple[RawTable | None, list[ValidationIssue]]:
    """Read a file's cells as text, without applying any table's rules.

    Parameters
    ----------
    path
        CSV, TSV or XLSX file.
    source
        Name in messages; defaults to ``str(path)``.

    Returns
    -------
    tuple
        The raw table (``None`` if nothing usable could be read) and the file-level problems.
    """
    source = str(path) if source is None else source

    def problem(expected: str) -> tuple[None, list[ValidationIssue]]:
        return None, [ValidationIssue(source, None, None, None, expected)]

    file = Path(path)
    if not file.exists():
        return problem("an existing file; nothing was found at this path")
    if file.is_dir():
        return problem("a file; this is a directory")
    suffix = file.suffix.lower()
    if suffix in _UNSUPPORTED:
        return problem("a .csv, .tsv or .xlsx file; save the sheet as .xlsx or as CSV UTF-8")
    try:
        with file.open("rb") as stream:
            start = stream.read(len(codecs.BOM_UTF8))
    except OSError as exc:
        return problem(f"a readable file; reading failed: {exc.strerror or exc}")
    if not start:
        return problem("a header row and at least one data row; the file is empty (0 bytes)")
    if suffix in _EXCEL_SUFFIXES:
        return read_excel(file, source)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return problem("UTF-8 text; the file is UTF-16 (save it as 'CSV UTF-8')")
    return _read_delimited(file, source, "\t" if suffix in _TSV_SUFFIXES else ",")


def _decode_problems(data: bytes, source: str) -> list[ValidationIssue]:
    """The rows whose bytes are not UTF-8 (none if ``data`` decodes)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        data.decode("utf-8")
        return []
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        guess = "; it looks like Windows-1252/Latin-1"
    except UnicodeDecodeError:
        guess = ""
    expected = f"UTF-8 text (save the file as 'CSV UTF-8'{guess})"
    bad_rows: list[tuple[int, bytes]] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_rows.append((number, line[exc.start:exc.end]))
    issues = [ValidationIssue(source, row, None, chunk, expected)
              for row, chunk in bad_rows[:_MAX_ENCODING_ROWS]]
    if len(bad_rows) > _MAX_ENCODING_ROWS:
        issues.append(ValidationIssue(
            source, None, None, None,
            f"UTF-8 text throughout; {len(bad_rows) - _MAX_ENCODING_ROWS} more rows are not UTF-8"))
    return issues


def _read_delimited(
    file: Path, source: str, delimiter: str
) -> tuple[RawTable | None, list[ValidationIssue]]:
    """Stream the file's rows into a table, numbered as a spreadsheet numbers rows.

    The file is decoded and split while it is read, in one pass, so memory holds the table and
    never the whole text as well. Only when it turns out not to be UTF-8 (or not well-formed) is
    it read again as bytes, to name the rows with undecodable bytes.
    """
    kind = "TSV" if delimiter == "\t" else "CSV"
    try:
        # utf-8-sig drops the byte-order mark Excel writes for "CSV UTF-8".
        with file.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream, delimiter=delimiter, strict=True)
            try:
                return table_from_records(source, enumerate(reader, start=1))
            except csv.Error as exc:
                malformed = ValidationIssue(source, reader.line_num, None, None,
                                            f"well-formed {kind} ({exc})")
    except UnicodeDecodeError:
        malformed = ValidationIssue(source, None, None, None, f"a {kind} file in UTF-8 text")
    except OSError as exc:
        return None, [ValidationIssue(source, None, None, None,
                                      f"a readable file; reading failed: {exc.strerror or exc}")]
    # Undecodable bytes are reported before a quoting error: they often cause it.
    issues = _decode_problems(file.read_bytes(), source)
    return None, issues or [malformed]

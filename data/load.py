"""Readers: files in, validated tables or a :class:`~rechallenge.data.study.Study` out.

Files are CSV (comma-separated, any extension other than those below), TSV (``.tsv``, ``.tab``)
or Excel (``.xlsx``/``.xlsm``, first sheet; needs the optional package openpyxl). Text files must
be UTF-8; a byte-order mark (as written by Excel's "CSV UTF-8") is accepted.

Every cell is read as text first, so a bad value is reported exactly as written, then parsed by
:mod:`.validate`. All files of one call are checked before anything is returned: problems in all of
them are reported together in one :class:`~rechallenge.data.errors.DataValidationError`, and no
data leave the loader unless there were none.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final, Union

import pandas as pd

from . import schema
from ._tables import RawTable, cell_text, check_endpoints, check_lines, table_from_records
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
    patients = _as_paths(patient_files)
    aggregates = _as_paths(aggregate_files)
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


def _as_paths(files: PathLike | Iterable[PathLike]) -> list[PathLike]:
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
    sources = [s for _, s in (*patient_items, *aggregate_items)]
    patients, aggregates = validate_tables(
        tables["patients"], tables["aggregates"], lines=lines, endpoints=endpoints,
        issues=issues, sources=sources)
    return Study(patients, aggregates, lines, tuple(sources))


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
        data = file.read_bytes()
    except OSError as exc:
        return problem(f"a readable file; reading failed: {exc.strerror or exc}")
    if not data:
        return problem("a header row and at least one data row; the file is empty (0 bytes)")
    if suffix in _EXCEL_SUFFIXES:
        return _read_excel(file, source)
    text, issues = _decode(data, source)
    if text is None:
        return None, issues
    return _parse_delimited(text, source, "\t" if suffix in _TSV_SUFFIXES else ",")


def _decode(data: bytes, source: str) -> tuple[str | None, list[ValidationIssue]]:
    """UTF-8 text of ``data`` (BOM removed), or the rows whose bytes are not UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, [ValidationIssue(source, None, None, None,
                                      "UTF-8 text; the file is UTF-16 (save it as 'CSV UTF-8')")]
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8"), []
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
    return None, issues


def _parse_delimited(
    text: str, source: str, delimiter: str
) -> tuple[RawTable | None, list[ValidationIssue]]:
    """Split text into records numbered as a spreadsheet numbers rows (blank lines count)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(reader, start=1):
            records.append((number, cells))
    except csv.Error as exc:
        kind = "TSV" if delimiter == "\t" else "CSV"
        return None, [ValidationIssue(source, reader.line_num, None, None,
                                      f"well-formed {kind} ({exc})")]
    return table_from_records(source, records)


def _read_excel(file: Path, source: str) -> tuple[RawTable | None, list[ValidationIssue]]:
    """First sheet of a workbook, every cell as text, rows numbered as Excel numbers them."""
    try:
        import openpyxl
    except ImportError:
        raise ImportError(
            f"reading {source} needs the optional package openpyxl: `pip install openpyxl` "
            "(or save the sheet as CSV UTF-8)") from None
    try:
        workbook = openpyxl.load_workbook(file, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a damaged file
        return None, [ValidationIssue(source, None, None, None,
                                      f"an Excel .xlsx workbook that opens; openpyxl says: {exc}")]
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(min_row=1, values_only=True)  # from row 1, so numbers match Excel
        records = [(number, [cell_text(v) for v in values])
                   for number, values in enumerate(rows, start=1)]
    finally:
        workbook.close()
    return table_from_records(source, records)


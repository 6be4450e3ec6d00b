"""Excel workbooks: which sheet is read, and refusing absurd workbooks before reading them.

A workbook is a zip archive of XML files, so a file of a few kilobytes can declare a sheet of
17 billion cells or unpack to gigabytes. Before any cell is read, the archive's declared
uncompressed sizes (from its directory, via :mod:`zipfile`) and the sheet's declared dimension
(via openpyxl's read-only mode, which streams the sheet) are checked against the limits in
:mod:`.schema`; while reading, the cells actually met are counted against the same limits, so a
sheet that declares less than it holds is stopped too.

The sheet read is the first *visible* one: Excel shows visible sheets only, so a hidden or "very
hidden" first sheet (old data, lookup tables) is never taken for the data the user sees. A
workbook without a visible sheet is refused with the list of its sheets.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from . import schema
from ._tables import RawTable, cell_text, table_from_records
from .errors import ValidationIssue, printable

Records = list[tuple[int, list[str]]]


class _Refused(Exception):
    """The workbook breaks a limit; ``args[0]`` is the 'expected' text of the issue."""


def read_excel(
    file: Path, source: str, *, max_rows: int | None = None, rows_note: str = ""
) -> tuple[RawTable | None, list[ValidationIssue]]:
    """First visible sheet of a workbook, every cell as text, rows numbered as Excel numbers them.

    Parameters
    ----------
    file
        The ``.xlsx``/``.xlsm`` file.
    source
        Name in messages.
    max_rows, rows_note
        Most data rows, as for :func:`._tables.table_from_records`.

    Returns
    -------
    tuple
        The raw table (``None`` if the workbook was refused or unreadable) and the problems.

    Raises
    ------
    ImportError
        When openpyxl is not installed.
    """
    try:
        import openpyxl
    except ImportError:
        raise ImportError(
            f"reading {source} needs the optional package openpyxl: `pip install openpyxl` "
            "(or save the sheet as CSV UTF-8)") from None

    def problem(expected: str) -> tuple[None, list[ValidationIssue]]:
        return None, [ValidationIssue(source, None, None, None, expected)]

    try:
        _check_archive(file)
    except _Refused as exc:
        return problem(exc.args[0])
    except (zipfile.BadZipFile, OSError) as exc:
        return problem(f"an Excel .xlsx workbook that opens; it is not a readable zip archive ({exc})")
    try:
        # read_only streams the sheet XML instead of building every cell object in memory.
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a damaged file
        return problem(f"an Excel .xlsx workbook that opens; openpyxl says: {exc}")
    try:
        records = _visible_sheet_records(workbook)
    except _Refused as exc:
        return problem(exc.args[0])
    except Exception as exc:  # a damaged sheet fails only when its XML is parsed
        return problem(f"an Excel .xlsx workbook that opens; openpyxl says: {exc}")
    finally:
        workbook.close()
    return table_from_records(source, records, max_rows=max_rows, rows_note=rows_note)


def _check_archive(file: Path) -> None:
    """Refuse a workbook whose declared uncompressed size is beyond the limit."""
    with zipfile.ZipFile(file) as archive:
        total = sum(info.file_size for info in archive.infolist())
    if total > schema.MAX_XLSX_UNCOMPRESSED_BYTES:
        raise _Refused(
            f"a workbook of at most {schema.MAX_XLSX_UNCOMPRESSED_BYTES / 2**20:,.0f} MiB "
            f"uncompressed; this one declares {total / 2**20:,.0f} MiB (save the sheet as "
            "CSV UTF-8 if the data are really that large)")


def _visible_sheet_records(workbook: Any) -> Records:
    """Records of the first visible sheet, within the column and cell limits."""
    sheets = workbook.worksheets
    visible = [s for s in sheets if s.sheet_state == "visible"]
    if not visible:
        listed = ", ".join(f"{printable(s.title)} ({s.sheet_state})" for s in sheets)
        raise _Refused(f"a workbook with a visible sheet to read; its sheets are: {listed}")
    sheet = visible[0]
    rows, columns = sheet.max_row, sheet.max_column  # the sheet's declared dimension, if any
    if columns is not None and columns > schema.MAX_XLSX_COLUMNS:
        raise _Refused(_too_large(sheet.title, f"{columns:,} columns",
                                  f"at most {schema.MAX_XLSX_COLUMNS:,} columns"))
    if rows is not None and columns is not None and rows * columns > schema.MAX_XLSX_CELLS:
        raise _Refused(_too_large(sheet.title, f"{rows:,} rows x {columns:,} columns",
                                  f"at most {schema.MAX_XLSX_CELLS:,} cells"))
    return _bounded_records(sheet)


def _too_large(title: str, declared: str, limit: str) -> str:
    return (f"a sheet of {limit}; sheet {printable(title)} declares {declared} (save the data "
            "as CSV UTF-8, or delete the empty rows and columns that make the sheet that large)")


def _bounded_records(sheet: Any) -> Records:
    """Every row as text, trailing empty cells dropped, within the limits, padded as Excel does.

    The declared dimension has been checked; it is then dropped, because openpyxl's read-only
    mode would silently cut rows and columns beyond it and the whole-workbook mode does not. Rows
    are then as wide as their last cell; padding them to the widest afterwards gives the table the
    whole-workbook mode gives, while never holding more than the limits.
    """
    sheet.reset_dimensions()
    records: Records = []
    width = 0
    # From row 1 (not the sheet's first used row), so row numbers match Excel's.
    for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
        text = [cell_text(v) for v in values]
        while text and text[-1] == "":
            text.pop()
        width = max(width, len(text))
        if width > schema.MAX_XLSX_COLUMNS or number * width > schema.MAX_XLSX_CELLS:
            raise _Refused(_too_large(
                sheet.title, f"more (found while reading row {number:,})",
                f"at most {schema.MAX_XLSX_COLUMNS:,} columns and {schema.MAX_XLSX_CELLS:,} cells"))
        records.append((number, text))
    for _, text in records:
        text.extend([""] * (width - len(text)))
    return records

"""Shared machinery of validation: raw text tables, cell parsers and column checks.

Every input (CSV, TSV, XLSX or an in-memory DataFrame) is first turned into a :class:`RawTable`:
the cells exactly as written, as text, each data row tagged with its row number in the file. The
table-specific rules (:mod:`._patients`, :mod:`._aggregates`) then parse that text, so a bad value
is always reported verbatim and a file and a DataFrame are checked by the same code.
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import schema
from ._headers import check_header_text, missing_column_hint
from ._labels import check_text_column, text_problem
from ._parsers import INVALID
from .endpoints import registered_endpoints
from .errors import ValidationIssue, printable, shown

#: Text that means "no value" in an *optional* column (compared case-insensitively). In a
#: required column these are errors, reported as written.
MISSING_MARKERS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "null", "none"})


@dataclass(frozen=True)
class RawTable:
    """Cells of one input as text, before any parsing.

    Parameters
    ----------
    source
        Name used in messages (the path as given, or ``"<DataFrame>"``).
    frame
        One column per header name (normalised: stripped, lower case), every cell a ``str``
        exactly as written.
    rows
        Row number of each frame row in the file (header = row 1).
    """

    source: str
    frame: pd.DataFrame
    rows: np.ndarray

    def column(self, name: str) -> list[tuple[int, str]]:
        """``(row number, raw text)`` for every row of column ``name``."""
        return list(zip(self.rows.tolist(), self.frame[name].tolist()))


def normalise_name(name: object) -> str:
    """Header name as matched against the contract: stripped and lower case."""
    return str(name).strip().lower()


def cell_text(value: object) -> str:
    """Text of one in-memory cell, as it would read in a CSV written by pandas.

    Missing values (None, NaN, NA, NaT) become blank; booleans become ``1``/``0`` because they are
    genuine 0/1 flags in memory; everything else is ``str`` of the value.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return "" if math.isnan(number) else repr(number)
    if isinstance(value, (_dt.date, _dt.datetime, pd.Timestamp)):
        return value.isoformat()
    return str(value)


def table_from_records(
    source: str,
    records: Iterable[tuple[int, Sequence[str]]],
    *,
    max_rows: int | None = None,
    rows_note: str = "",
) -> tuple[RawTable | None, list[ValidationIssue]]:
    """Build a :class:`RawTable` from ``(row number, cells)`` records, header first.

    Leading and entirely blank rows are skipped (they keep their numbers). Trailing blank cells
    beyond the header are dropped; any other mismatch in the number of cells is reported and the
    row left out of further checks, because its values have probably shifted columns. Header
    names that break the label rules (:func:`._labels.text_problem`) are reported, with the
    contract column they were probably meant to be (:mod:`._headers`).

    ``records`` is consumed once, row by row, so a reader can stream a large file through it.

    Parameters
    ----------
    source
        Name in messages.
    records
        ``(row number, cells)``, header first.
    max_rows
        Most data rows (blank rows not counted) read; beyond them the reading stops and the
        table is refused. ``None``: no limit (a DataFrame already in memory). The header may have
        at most ``schema.MAX_TABLE_COLUMNS`` cells whenever a limit is given.
    rows_note
        Added to the message when ``max_rows`` is passed (e.g. what earlier files used of it).

    Returns
    -------
    tuple
        The table (``None`` when nothing usable was found) and the problems met on the way.
    """
    issues: list[ValidationIssue] = []
    header: list[str] | None = None
    header_row = 0
    body: list[list[str]] = []  # one list per header cell: the table is stored by column
    # One str object per distinct text of a column: a million rows hold few distinct sites,
    # lines, codes and flags, and sharing them keeps the table's memory near the file's size.
    shared: list[dict[str, str]] = []
    rows: list[int] = []
    ragged = 0
    for row, cells in records:
        cells = list(cells)
        if all(c.strip() == "" for c in cells):
            continue
        if header is None:
            if max_rows is not None and len(cells) > schema.MAX_TABLE_COLUMNS:
                issues.append(ValidationIssue(
                    source, row, None, None,
                    f"a header of at most {schema.MAX_TABLE_COLUMNS:,} columns; it has "
                    f"{len(cells):,} (is this a table of the study?)"))
                return None, issues
            check_header_text(source, row, cells, issues)
            header = [normalise_name(c) for c in cells]
            header_row = row
            body = [[] for _ in header]
            shared = [{} for _ in header]
            continue
        if max_rows is not None and len(rows) + ragged >= max_rows:
            # Stop here: the rest of the file is never read, so memory stays bounded.
            issues.append(ValidationIssue(
                source, row, None, None,
                f"at most {max_rows:,} data rows{rows_note}; the file has more (the reading "
                f"stopped at row {row:,})"))
            return None, issues
        while len(cells) > len(header) and cells[-1].strip() == "":
            cells.pop()
        if len(cells) != len(header):
            issues.append(ValidationIssue(
                source, row, None, None,
                f"{len(header)} cells as in the header on row {header_row}, found {len(cells)}"
                " (is there a stray separator or a missing value?)",
            ))
            ragged += 1
            continue
        for column, cache, cell in zip(body, shared, cells):
            column.append(cache.setdefault(cell, cell))
        rows.append(row)

    if header is None:
        return None, [ValidationIssue(
            source, None, None, None,
            "a header row and at least one data row; the file has no content",
        )]
    keep = _check_header(source, header, header_row, body, issues)
    if not rows:
        if ragged:  # the data rows exist but none could be used; they are reported already
            return None, issues
        issues.append(ValidationIssue(
            source, None, None, None,
            "at least one data row below the header; the file has only a header",
        ))
        return None, issues
    frame = pd.DataFrame({header[j]: np.asarray(body[j], dtype=object) for j in keep})
    return RawTable(source, frame, np.asarray(rows, dtype=int)), issues


def _check_header(
    source: str, header: list[str], header_row: int, body: list[list[str]],
    issues: list[ValidationIssue],
) -> list[int]:
    # body holds the cells by column (one list per header cell).
    """Positions of the header cells to keep; report duplicate and unnamed columns."""
    keep: list[int] = []
    first_seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name == "":
            # A trailing separator in a spreadsheet export gives an unnamed, empty column: ignore
            # it. An unnamed column that holds values is probably a lost header cell.
            if any(cell.strip() for cell in body[j]):
                issues.append(ValidationIssue(
                    source, header_row, None, None,
                    f"a name for header cell {j + 1} (the column holds values but has no name)",
                ))
            continue
        if name in first_seen:
            issues.append(ValidationIssue(
                source, header_row, name, None,
                f"each column name once; header cells {first_seen[name] + 1} and {j + 1} "
                f"are both {shown(name)}",
            ))
            continue
        first_seen[name] = j
        keep.append(j)
    return keep


def table_from_frame(
    df: pd.DataFrame, source: str
) -> tuple[RawTable | None, list[ValidationIssue]]:
    """Turn an in-memory DataFrame into a :class:`RawTable` (first row is row 2, as in a CSV)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    header = [str(c) for c in df.columns]
    records = [(1, header)] + [
        (i + 2, [cell_text(v) for v in values])
        for i, values in enumerate(df.itertuples(index=False, name=None))
    ]
    if not header:
        return None, [ValidationIssue(source, None, None, None, "a table with columns and rows")]
    return table_from_records(source, records)


def check_required_columns(
    table: RawTable, required: dict[str, str], issues: list[ValidationIssue]
) -> None:
    """Report each required column the table lacks.

    Parameters
    ----------
    required
        Column name -> why it is required (shown to the user).
    """
    present = list(table.frame.columns)
    missing = [c for c in required if c not in present]
    if not missing:
        return
    hint = ""
    if len(present) == 1 and any(sep in present[0] for sep in (";", "\t", "|")):
        hint = (" (the header is one cell; the file seems to use another separator than the"
                " comma: save it as comma-separated CSV, or name it .tsv if tab-separated)")
    for name in missing:
        issues.append(ValidationIssue(
            table.source, None, name, None,
            f"this column ({required[name]}); the file's columns are: "
            f"{', '.join(map(printable, present)) or 'none'}{hint}"
            f"{missing_column_hint(name, present)}",
        ))


def check_cells(
    table: RawTable,
    column: str,
    parse: Callable[[str], Any],
    expected: str,
    *,
    required: bool,
    issues: list[ValidationIssue],
    optional_rows: frozenset[int] = frozenset(),
) -> list[Any]:
    """Parse every cell of ``column``; report each cell ``parse`` (or the label rules) rejects.

    Parameters
    ----------
    parse
        Receives the stripped text of a non-missing cell; returns the value or :data:`INVALID`.
        It must depend on the text only: each distinct text is parsed once.
    required
        When true a missing cell is an error; otherwise blank and :data:`MISSING_MARKERS` give
        ``None``.
    optional_rows
        Row numbers where the column is optional even when ``required`` (reconstructed rows,
        which carry time to progression only).

    Returns
    -------
    list
        Parsed value per row; ``None`` where the cell was missing or invalid.
    """
    raw = table.frame[column].to_numpy(dtype=object)
    # Characters and length first: such a cell gets that message, not the column's.
    rejected = check_text_column(table.source, table.rows, raw, column, issues)
    codes, uniques = pd.factorize(raw)
    parsed = np.empty(len(uniques), dtype=object)
    bad = np.zeros(len(uniques), dtype=bool)
    missing = np.zeros(len(uniques), dtype=bool)  # blank, or a missing marker such as "NA"
    for i, text in enumerate(uniques):
        text = text.strip()
        missing[i] = text == "" or text.lower() in MISSING_MARKERS
        if text == "":
            parsed[i], bad[i] = None, True
            continue
        value = parse(text)
        parsed[i], bad[i] = (None, True) if value is INVALID else (value, False)
    # A missing cell means unknown where the column is optional (every row when not required,
    # the optional rows when required); elsewhere it is parsed, and a blank is an error.
    optional = np.full(len(raw), not required)
    if required and optional_rows:
        optional |= np.isin(np.asarray(table.rows), list(optional_rows))
    unknown = missing[codes] & optional
    values = parsed[codes]
    values[rejected | unknown] = None
    for at in np.flatnonzero(bad[codes] & ~rejected & ~unknown):
        issues.append(ValidationIssue(table.source, int(table.rows[at]), column, raw[at], expected))
    return values.tolist()


def line_label_problems(lines: Sequence[object]) -> list[str]:
    """Every problem of a list of line labels (from a config, ``--lines`` or a call), one each.

    A line label is a label like a site's: non-empty, at most ``schema.MAX_LABEL_LENGTH``
    characters, without control or invisible characters (which would act on a terminal or a
    file format instead of being shown), and distinct from the others ignoring case. Labels are
    shown with ``repr``, so a message never carries the characters it refuses.
    """
    if isinstance(lines, str):
        return [f"a list of labels, e.g. {list(schema.DEFAULT_LINES)}, not the string {lines!r}"]
    if not len(lines):
        return ["at least one line label"]
    problems: list[str] = []
    seen: dict[str, str] = {}
    for raw in lines:
        label = str(raw)
        problem = text_problem(label, schema.MAX_LABEL_LENGTH)
        if problem is not None:
            problems.append(f"line label {shown(label)}: expected {problem}")
        elif label.strip() == "":
            problems.append(f"line label {label!r}: expected a visible label, not an empty one")
        elif label.strip().upper() in seen:
            problems.append(f"line label {shown(label)}: the same as {shown(seen[label.strip().upper()])} "
                            "ignoring case; line labels must differ")
        else:
            seen[label.strip().upper()] = label
    return problems


def check_lines(lines: Sequence[str]) -> tuple[str, ...]:
    """Validate the line labels of an analysis (a programming error, hence ValueError).

    The rules are those of :func:`line_label_problems`; the config and the command line check
    them first, so a user sees them as the package's messages.
    """
    problems = line_label_problems(lines)
    if problems:
        raise ValueError("invalid line labels: " + "; ".join(problems))
    return tuple(str(line).strip() for line in lines)


def check_endpoints(endpoints: Sequence[str]) -> tuple[str, ...]:
    """Validate the endpoints of an analysis (a programming error, hence ValueError)."""
    if isinstance(endpoints, str):
        endpoints = (endpoints,)
    known = registered_endpoints()
    unknown = [e for e in endpoints if e not in known]
    if unknown:
        raise ValueError(f"unknown endpoint(s) {unknown}; expected some of {known}")
    return tuple(endpoints)


def line_expected(lines: Sequence[str]) -> str:
    """The 'expected' text for a line label."""
    return (f"one of the line labels {', '.join(lines)} (case does not matter; "
            "other labels are set with lines=... or --lines)")


def sort_issues(issues: list[ValidationIssue], sources: Sequence[str]) -> list[ValidationIssue]:
    """Issues in the order of ``sources``, then file-level first, then by row (stable)."""
    order = {s: i for i, s in enumerate(dict.fromkeys(sources))}
    return sorted(issues, key=lambda x: (order.get(x.file, len(order)), x.row or 0))

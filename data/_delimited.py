"""Text tables (CSV and TSV): the separator, the rows streamed within the limits, the header alone.

The separator is a tab for ``.tsv`` and ``.tab``, a comma for any other extension, and for
``.txt`` (Excel's "Text (Tab delimited)" and other exports) a tab when the first non-blank line
has a tab and no comma. Lines are read one at a time and each is refused beyond
``schema.MAX_LINE_CHARACTERS``, so a file without line breaks (or one of separators only) never
sits in memory whole.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from . import schema
from ._tables import RawTable, table_from_records
from .errors import ValidationIssue

_TSV_SUFFIXES: Final = (".tsv", ".tab")
_SNIFFED_SUFFIXES: Final = (".txt",)
#: Rows with undecodable bytes reported one by one; beyond this, one summary line.
_MAX_ENCODING_ROWS: Final = 10


class _LineTooLong(Exception):
    """A physical line beyond ``schema.MAX_LINE_CHARACTERS``; ``args[0]`` is its number."""


def _lines(stream: IO[str]) -> Iterator[str]:
    """The stream's lines, each at most ``schema.MAX_LINE_CHARACTERS`` characters."""
    limit = schema.MAX_LINE_CHARACTERS
    number = 0
    while True:
        line = stream.readline(limit + 1)  # never more than the limit in memory
        if not line:
            return
        number += 1
        if len(line) > limit and line[-1] not in "\r\n":
            raise _LineTooLong(number)
        yield line


def delimiter_of(file: Path) -> str:
    """The separator of a text table, from its extension (and first line for ``.txt``)."""
    suffix = file.suffix.lower()
    if suffix in _TSV_SUFFIXES:
        return "\t"
    if suffix in _SNIFFED_SUFFIXES:
        try:
            with file.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
                first = next((line for line in _lines(stream) if line.strip()), "")
        except (OSError, _LineTooLong):
            return ","  # the reading itself reports the problem
        if "\t" in first and "," not in first:
            return "\t"
    return ","


def _kind(delimiter: str) -> str:
    return "TSV" if delimiter == "\t" else "CSV"


def read_delimited(
    file: Path, source: str, *, max_rows: int, rows_note: str = ""
) -> tuple[RawTable | None, list[ValidationIssue]]:
    """Stream the file's rows into a table, numbered as a spreadsheet numbers rows.

    The file is decoded and split while it is read, in one pass, so memory holds the table and
    never the whole text as well. Only when it turns out not to be UTF-8 (or not well-formed) is
    it read again as bytes (its size is bounded before any reading), to name the rows with
    undecodable bytes.

    Parameters
    ----------
    file
        A regular file within ``schema.MAX_TABLE_BYTES`` (checked by the caller).
    source
        Name in messages.
    max_rows, rows_note
        As for :func:`._tables.table_from_records`.
    """
    delimiter = delimiter_of(file)
    kind = _kind(delimiter)
    try:
        # utf-8-sig drops the byte-order mark Excel writes for "CSV UTF-8".
        with file.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(_lines(stream), delimiter=delimiter, strict=True)
            try:
                return table_from_records(source, enumerate(reader, start=1),
                                          max_rows=max_rows, rows_note=rows_note)
            except csv.Error as exc:
                malformed = ValidationIssue(source, reader.line_num, None, None,
                                            f"well-formed {kind} ({exc})")
    except _LineTooLong as exc:
        return None, [ValidationIssue(
            source, None, None, None,
            f"lines of at most {schema.MAX_LINE_CHARACTERS:,} characters; line {exc.args[0]:,} "
            "is longer (is this a table of the study?)")]
    except UnicodeDecodeError:
        malformed = ValidationIssue(source, None, None, None, f"a {kind} file in UTF-8 text")
    except OSError as exc:
        return None, [ValidationIssue(source, None, None, None,
                                      f"a readable file; reading failed: {exc.strerror or exc}")]
    # Undecodable bytes are reported before a quoting error: they often cause it.
    issues = decode_problems(file.read_bytes(), source)
    return None, issues or [malformed]


def read_header(file: Path) -> list[str] | None:
    """The cells of the first non-blank row of a text table, or ``None`` if there is none.

    Undecodable bytes are replaced and a malformed row ends the search: the header is only used
    to tell what kind of table the file is, and reading the file reports such problems.
    """
    try:
        with file.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
            for cells in csv.reader(_lines(stream), delimiter=delimiter_of(file)):
                if any(c.strip() for c in cells):
                    return cells if len(cells) <= schema.MAX_TABLE_COLUMNS else None
    except (OSError, csv.Error, _LineTooLong):
        return None
    return None


def decode_problems(data: bytes, source: str) -> list[ValidationIssue]:
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

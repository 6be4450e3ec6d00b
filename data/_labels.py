"""Labels are data: which characters and lengths a cell may have, and one spelling per label.

Every cell of every input (and every header name) is checked here before it is parsed. Characters
that would act on a terminal, a file format or a layout instead of being shown are rejected:
control characters (C0 and C1, including NUL, the ANSI escape, tab, CR and LF), the Unicode line
and paragraph separators, and invisible format characters (category Cf: zero-width space and
joiners, a byte-order mark inside a cell, bidirectional overrides). Everything else is accepted as
written, including characters that mean something in Markdown, LaTeX, HTML or a spreadsheet
(``$``, ``\\``, ``{``, ``%``, ``|``, ``<``, ``=``, ``+``, ``@``): those are data, and the output
side escapes them.

A label spelled two ways that differ only in case or surrounding spaces (``S01``, ``s01``,
``S01 ``) is reported too: it is almost always one site typed twice, and silently making it one
site or two would both be guesses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import schema
from .errors import ValidationIssue, shown

#: Unicode categories refused anywhere in a cell: control, format (invisible), line and paragraph
#: separators, and lone surrogates (only possible in a DataFrame built in memory).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: Fast path for ASCII text, the usual case: C0 controls and DEL.
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Names of the control characters people meet; unicodedata has no names for category Cc.
_CONTROL_NAMES = {"\x00": "NUL", "\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN",
                  "\x1b": "ESCAPE (starts ANSI terminal codes)", "\x7f": "DELETE"}

#: Columns whose values are labels (names in tables and figures): the shorter limit applies.
LABEL_COLUMNS: frozenset[str] = frozenset({schema.SITE, schema.PATIENT_ID, schema.REGIMEN_CLASS})


def limit_of(column: str) -> int:
    """Length limit of a cell of ``column`` (labels are shorter than other text)."""
    return schema.MAX_LABEL_LENGTH if column in LABEL_COLUMNS else schema.MAX_CELL_LENGTH


def _refused(char: str) -> bool:
    return unicodedata.category(char) in _REFUSED_CATEGORIES


def describe_character(char: str) -> str:
    """A character as a message names it: ``'U+200B ZERO WIDTH SPACE'``."""
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "control character")
    return f"U+{ord(char):04X} {name}"


def text_problem(raw: str, limit: int) -> str | None:
    """What is wrong with the characters or length of one cell, or ``None``.

    Parameters
    ----------
    raw
        The cell exactly as read.
    limit
        Most characters allowed after removing surrounding spaces.

    Returns
    -------
    str or None
        Text that follows "expected" in a message, or ``None`` for an acceptable cell.
    """
    text = raw.strip()
    if len(text) > limit:
        return f"at most {limit:,} characters in this column (the cell has {len(text):,})"
    if raw.isascii():
        match = _ASCII_CONTROL.search(raw)
        if match is None:
            return None
        first = match.group()
    else:
        found = next((c for c in raw if _refused(c)), None)
        if found is None:
            return None
        first = found
    if "".join(c for c in raw if not _refused(c)).strip() == "":
        return (f"a visible value; the cell holds only invisible or control characters "
                f"(such as {describe_character(first)})")
    return (f"text without control or invisible characters; found {describe_character(first)} at "
            f"character {raw.index(first) + 1} (line breaks, tabs, NUL, terminal escape codes, "
            "zero-width and bidirectional-override characters are not allowed in a cell)")


def check_text_column(
    source: str, rows: np.ndarray, values: np.ndarray, column: str, issues: list[ValidationIssue],
) -> np.ndarray:
    """Report every cell of a column that :func:`text_problem` rejects.

    Each distinct text is checked once, so a column of a million rows with few distinct values
    costs little.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the rejected cells.
    """
    codes, uniques = pd.factorize(values)
    limit = limit_of(column)
    problems = [text_problem(text, limit) for text in uniques]
    bad = np.fromiter((p is not None for p in problems), dtype=bool, count=len(problems))
    rejected = bad[codes] if len(codes) else np.zeros(0, dtype=bool)
    for i in np.flatnonzero(rejected):
        code = codes[i]
        issues.append(ValidationIssue(source, int(rows[i]), column, uniques[code], problems[code]))
    return rejected


def _fold(text: str) -> str:
    """The spelling-blind form of a label: stripped and case-folded."""
    return text.strip().casefold()


def check_spellings(
    columns: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]],
    column: str,
    what: str,
    issues: list[ValidationIssue],
) -> None:
    """Report labels of one column written two ways that differ only in case or spaces.

    Parameters
    ----------
    columns
        Per input in order: ``(source, row numbers, raw cells, scope)``. ``scope`` groups the
        labels (the site of each patient id, as parsed), or ``None`` for one group per column.
        Cells that are blank or were rejected by :func:`text_problem` must already be left out.
    column
        Column name, for messages.
    what
        What a label is, for messages (``"site labels"``, ``"patient identifiers of site 'S01'"``
        is built from it with the scope).
    """
    frames = [pd.DataFrame({"file": source, "row": rows, "raw": raw,
                            "scope": "" if scope is None else scope})
              for source, rows, raw, scope in columns if len(raw)]
    if not frames:
        return
    cells = pd.concat(frames, ignore_index=True)
    # First appearance of each exact spelling; only then do spellings meet their variants.
    spellings = cells.drop_duplicates(["scope", "raw"])
    codes, uniques = pd.factorize(spellings["raw"])
    folded = np.asarray([_fold(u) for u in uniques], dtype=object)
    spellings = spellings.assign(key=folded[codes])
    counts = spellings.groupby(["scope", "key"], sort=False)["raw"].transform("size")
    for _, group in spellings[counts.to_numpy() > 1].groupby(["scope", "key"], sort=False):
        first = group.iloc[0]
        for rec in group.iloc[1:].itertuples(index=False):
            where = (f"row {first['row']}" if first["file"] == rec.file
                     else f"{first['file']}, row {first['row']}")
            scope = f" of site {rec.scope!r}" if rec.scope else ""
            issues.append(ValidationIssue(
                rec.file, int(rec.row), column, rec.raw,
                f"the same spelling as {shown(first['raw'])} on {where}: {what}{scope} that "
                "differ only in case or surrounding spaces are probably one label typed two "
                "ways; write them identically (or make them clearly different)"))

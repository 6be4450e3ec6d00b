"""Header names: what a name holds that cannot be seen, and what it was probably meant to be.

A header copied from a web page, a PDF or another tool can carry characters that look like
nothing (a zero-width space or joiner, a second byte-order mark left by converting a file to UTF-8
twice) or like an ordinary space (a no-break space). ``si\\u200bte`` then looks like ``site`` in
every editor but is another column, and the table seems to lack ``site``.

Such names are **refused, not repaired**: the name is reported with its invisible characters
escaped, and the contract column it matches once they are removed is suggested ("did you mean
'site'?"). Repairing silently would hide a damaged file and accept a header the user cannot see;
refusing costs retyping one name. The same rule holds for every cell (:mod:`._labels`).

The kind of a table (patient or aggregate) is also told here from its column names, whatever the
file's format or extension.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from typing import Final

from . import schema
from ._labels import describe_character, text_problem
from .errors import ValidationIssue, printable, shown

#: Every column name of the contract (patient and aggregate tables).
KNOWN_COLUMNS: Final[tuple[str, ...]] = tuple(dict.fromkeys((
    *schema.PATIENT_KEY_COLUMNS,
    *(c for columns in schema.ENDPOINT_COLUMNS.values() for c in columns),
    *schema.PATIENT_OPTIONAL_COLUMNS,
    *schema.AGGREGATE_COLUMNS,
)))
#: Categories of characters that cannot be told from nothing or from a space in a header: control
#: and format characters, separators of lines and paragraphs, and every space but the ASCII one.
_HIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs"})
_BOM: Final = "\ufeff"
PATIENTS: Final = "patients"
AGGREGATES: Final = "aggregates"


def _hidden(char: str) -> bool:
    return char != " " and unicodedata.category(char) in _HIDDEN_CATEGORIES


def visible_name(name: str) -> str:
    """A header name as it looks: hidden characters removed, stripped, lower case."""
    return "".join(c for c in name if not _hidden(c)).strip().lower()


def meant_column(name: str) -> str | None:
    """The contract column ``name`` is once its hidden characters are removed, if it is not it."""
    if name.strip().lower() in KNOWN_COLUMNS:
        return None
    candidate = visible_name(name)
    return candidate if candidate in KNOWN_COLUMNS else None


def _bom_note(name: str) -> str:
    if not name.startswith(_BOM):
        return ""
    return (" (a byte-order mark begins the name: the file starts with more than one, as when it"
            " is converted to UTF-8 twice; save it again as CSV UTF-8)")


def check_header_text(
    source: str, row: int, cells: Sequence[str], issues: list[ValidationIssue]
) -> None:
    """Report header names with control, invisible or unusual space characters, or too long.

    A name that is a contract column once such characters are removed gets "did you mean ...?".
    """
    for cell in cells:
        problem = text_problem(cell, schema.MAX_LABEL_LENGTH)
        meant = meant_column(cell)
        if problem is None and meant is None:
            continue
        if problem is None:  # only spaces that look like an ordinary one (no-break space, ...)
            strange = next(c for c in cell.strip() if _hidden(c))
            problem = (f"a name without unusual spaces; found {describe_character(strange)} at "
                       f"character {cell.index(strange) + 1}")
        hint = f"; did you mean {meant!r}? Retype the name{_bom_note(cell)}" if meant else ""
        issues.append(ValidationIssue(source, row, None, cell, f"a column name: {problem}{hint}"))


def missing_column_hint(name: str, present: Iterable[str]) -> str:
    """Why a required column may seem missing: a header that is it with hidden characters, or a
    near spelling; ``""`` when no header comes close.
    """
    unknown = [c for c in present if c not in KNOWN_COLUMNS]
    for column in unknown:
        # Compared with the name itself, so the columns of any table (a curve's too) are found.
        if column.strip().lower() != name and visible_name(column) == name:
            hidden = ", ".join(dict.fromkeys(describe_character(c) for c in column if _hidden(c)))
            return (f"; the header {shown(column)} is {name!r} with hidden characters "
                    f"({hidden}): did you mean {name!r}?{_bom_note(column)}")
    close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.8)
    if close:
        return f"; did you mean {name!r} for the column {printable(close[0])}?"
    return ""


def table_kind(columns: Collection[str]) -> str:
    """``"aggregates"`` when the names hold ``endpoint`` and ``n`` but not ``patient_id``, else
    ``"patients"``; names are compared as they look (:func:`visible_name`).
    """
    names = {visible_name(c) for c in columns}
    if {schema.ENDPOINT, schema.N} <= names and schema.PATIENT_ID not in names:
        return AGGREGATES
    return PATIENTS


def wrong_kind_problem(columns: Collection[str], expected: str) -> str | None:
    """The 'expected' text when a table given as one kind has the other kind's columns."""
    kind = table_kind(columns)
    if kind == expected:
        return None
    if kind == AGGREGATES:
        return ("a patient table; this file has the columns of an aggregate table (endpoint and n, "
                "no patient_id): give it as an aggregate table (--aggregate FILE, or "
                "aggregate_files=...)")
    if schema.PATIENT_ID in {visible_name(c) for c in columns}:
        return ("an aggregate table; this file has the columns of a patient table (patient_id): "
                "give it as a patient table (not after --aggregate; patient_files=...)")
    return None

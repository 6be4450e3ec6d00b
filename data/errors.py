"""Input problems and the one exception that reports them.

Every reader and validator in :mod:`rechallenge.data` collects *all* the problems it finds in its
input and raises a single :class:`DataValidationError` at the end, so a user fixes a file in one
pass instead of one error per run.

Row numbers are counted as a person counts them when looking at the file in a spreadsheet or a
text editor: the header is row 1 and the first data row is row 2. A DataFrame validated in memory
is numbered as if it were written with ``to_csv(index=False)``: its first row is row 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: One sentence shown above every list of problems, so no reader has to guess the numbering.
ROW_NUMBERING: str = (
    "rows are counted as in the file: the header is row 1, the first data row is row 2"
)
#: Characters of a value shown in a message; a longer value is cut and its length given.
SHOWN_CHARACTERS: int = 60


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr`` of a value for a message: control and invisible characters escaped, long text cut.

    ``repr`` escapes every character that is not printable (control characters, ANSI escapes,
    line breaks, zero-width and bidirectional-override characters), so a hostile value can never
    move the cursor or recolour the terminal that shows the message.

    Parameters
    ----------
    value
        The value as read (normally text).
    limit
        Characters of a text value shown before it is cut.

    Returns
    -------
    str
        E.g. ``'S01'``, ``'a\\x1b[31m'`` or ``'xxxx...' (100,000 characters)``.
    """
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    return repr(value)


def printable(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text`` as is when it is short and printable, else as :func:`shown` writes it."""
    return text if text.isprintable() and len(text) <= limit else shown(text, limit)


@dataclass(frozen=True)
class ValidationIssue:
    """One problem in the input, located as precisely as the problem allows.

    Parameters
    ----------
    file
        The file as the user named it (or ``"<DataFrame>"`` for data validated in memory).
    row
        Row number in the file (header = row 1, first data row = row 2); ``None`` for file-level
        problems (missing file, empty file, encoding, missing column).
    column
        Column name as the contract spells it; ``None`` when the problem concerns no one column.
    value
        The offending value exactly as read (text for files). ``None`` when there is no value to
        show (a missing file or column); the message then states only what was expected.
    expected
        What the contract expected, phrased to follow "expected" in a sentence.
    """

    file: str
    row: int | None
    column: str | None
    value: object
    expected: str

    @property
    def location(self) -> str:
        """File, row and column of the issue, e.g. ``patients.csv, row 7, column 'ttp_months'``."""
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {shown(self.column)}")
        return ", ".join(parts)

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.location}: expected {self.expected}"
        # A blank cell printed as '' (or '  ') is easy to misread; say what it is.
        blank = isinstance(self.value, str) and self.value.strip() == ""
        value = "a blank cell" if blank else shown(self.value)
        return f"{self.location}: got {value}, expected {self.expected}"


class DataValidationError(ValueError):
    """The input broke the data contract; ``issues`` lists every problem found.

    Parameters
    ----------
    issues
        All problems found, in file and row order. At least one.

    Notes
    -----
    A subclass of :class:`ValueError`, so code that already catches bad values keeps working.
    """

    def __init__(self, issues: Iterable[ValidationIssue]) -> None:
        self.issues: tuple[ValidationIssue, ...] = tuple(issues)
        if not self.issues:
            raise ValueError("DataValidationError needs at least one issue")
        super().__init__(format_issues(self.issues))

    def __reduce__(self) -> tuple[type, tuple[tuple[ValidationIssue, ...]]]:
        # The default pickling passes the message to __init__; rebuild from the issues instead
        # (needed when errors cross process boundaries, e.g. parallel chains or test workers).
        return (type(self), (self.issues,))


def format_issues(issues: Iterable[ValidationIssue]) -> str:
    """Numbered, multi-line description of ``issues`` with the row-numbering rule on top.

    Parameters
    ----------
    issues
        Problems to list.

    Returns
    -------
    str
        ``"2 problems in the input data (rows are counted ...):"`` followed by one numbered line
        per issue.
    """
    issues = tuple(issues)
    noun = "problem" if len(issues) == 1 else "problems"
    lines = [f"{len(issues)} {noun} in the input data ({ROW_NUMBERING}):"]
    width = len(str(len(issues)))
    lines += [f"  {i:>{width}}. {issue}" for i, issue in enumerate(issues, start=1)]
    return "\n".join(lines)

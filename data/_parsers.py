"""Cell parsers: the stripped, non-missing text of one cell in; its value or :data:`INVALID` out.

Parsers depend on the text only (never on the row), so a column is parsed once per distinct text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from . import schema


class _Invalid:
    """Marker returned by a cell parser that could not parse its text."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


def parse_number(text: str) -> Any:
    """A finite decimal number (``float('nan')`` and ``inf`` parse in Python but are not data)."""
    try:
        number = float(text)
    except ValueError:
        return INVALID
    return number if math.isfinite(number) else INVALID


def parse_whole(text: str) -> Any:
    """A whole number; ``3.0`` counts as 3 because spreadsheets often write integers that way."""
    number = parse_number(text)
    if number is INVALID or not float(number).is_integer():
        return INVALID
    return int(number)


def whole_between(low: int, high: int) -> Callable[[str], Any]:
    """Parser of whole numbers from ``low`` to ``high``.

    The upper bound matters: ``1e300`` is a whole number to Python but not to an int64 column.
    """
    def parse(text: str) -> Any:
        value = parse_whole(text)
        return value if value is not INVALID and low <= value <= high else INVALID
    return parse


def parse_months(text: str) -> Any:
    """A time in months within the plausible range ``schema.MIN_MONTHS .. schema.MAX_MONTHS``."""
    value = parse_number(text)
    ok = value is not INVALID and schema.MIN_MONTHS <= value <= schema.MAX_MONTHS
    return value if ok else INVALID


#: The 'expected' text of every time in months (the range is part of the contract).
MONTHS_EXPECTED: str = (f"a number of months > 0, from {schema.MIN_MONTHS:g} to "
                        f"{schema.MAX_MONTHS:,g} (a time outside that range is not plausible)")


def parse_flag(text: str) -> Any:
    """0 or 1 (``0.0``/``1.0`` accepted, as written by spreadsheets)."""
    value = parse_whole(text)
    return value if value in (0, 1) else INVALID


def parse_text(text: str) -> Any:
    """Any non-blank text, stripped."""
    return text


def choice_parser(
    allowed: Sequence[str], *, fold: Callable[[str], str] = str.upper
) -> Callable[[str], Any]:
    """Parser accepting ``allowed`` labels case-insensitively, returning the canonical spelling."""
    lookup = {fold(a): a for a in allowed}
    return lambda text: lookup.get(fold(text), INVALID)

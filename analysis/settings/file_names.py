"""File names made from labels: a safe, unique stem for every file named after a label.

Site and line labels are data (``2nd|<i>line</i> & 50%``, ``../x``, ``Zürich – Nord``): they are
shown as written in every table and figure, but a file name built from one as it is could point
outside the run (``/``, ``..``), be refused by the file system (``|``, ``<``, a reserved Windows
name such as ``CON``), or collide with another label's file on a case-insensitive file system.
:func:`safe_file_stem` turns a label into a stem of ASCII letters, digits, ``-`` and ``_``; a label
it had to change (or one whose stem is taken) gets a short hash of the label as a suffix, so two
labels never share a file. Ordinary labels (``response_ICI-1``) keep their name. Whoever writes
such files records which label each file holds (see docs/run_directory.md).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from typing import Final

#: Longest stem made from a label, before the hash suffix (file systems allow 255 bytes).
MAX_STEM_LENGTH: Final = 60
#: Hex digits of the label's SHA-256 appended to a stem that differs from its label.
HASH_LENGTH: Final = 8
#: Characters a stem keeps; everything else becomes ``-``.
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]+")
#: Names Windows refuses as file stems, whatever the extension.
_RESERVED: Final = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                              *(f"LPT{i}" for i in range(10))})


def _slug(label: str) -> str:
    """ASCII letters, digits, ``-`` and ``_`` only; accents dropped, other runs become ``-``."""
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    slug = _UNSAFE.sub("-", ascii_text)
    # No leading '-' (read as an option by command-line tools) or trailing separators.
    return slug.strip("-_")[:MAX_STEM_LENGTH].rstrip("-_")


def safe_file_stem(label: str, taken: Iterable[str] = ()) -> str:
    """A file stem for ``label`` that stays inside its folder and differs from ``taken``.

    Parameters
    ----------
    label
        Any text (a site, line or endpoint label, or several joined).
    taken
        Stems already used in the same folder; compared ignoring case, as on macOS and Windows.

    Returns
    -------
    str
        ``label`` itself when it is already a safe stem (ASCII letters, digits, ``-``, ``_``; at
        most :data:`MAX_STEM_LENGTH` characters; not starting with ``-`` or ``_``; no reserved
        name) and not taken; otherwise its slug followed by ``-`` and the first
        :data:`HASH_LENGTH` hex digits of the label's SHA-256 (more digits if that is taken
        too). Never empty, never ``.`` or ``..``, never containing a path separator.

    Examples
    --------
    >>> safe_file_stem("response_ICI-1")
    'response_ICI-1'
    >>> safe_file_stem("response_../../x")
    'response_-x-5698bfd5'
    """
    used = {t.casefold() for t in taken}
    slug = _slug(label)
    if slug and slug == label and slug.upper() not in _RESERVED and slug.casefold() not in used:
        return slug
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()
    base = slug or "label"
    for digits in range(HASH_LENGTH, len(digest) + 1, 4):
        stem = f"{base}-{digest[:digits]}"
        if stem.casefold() not in used:
            return stem
    n = 2  # the same label twice: a counter keeps the names apart
    while f"{base}-{digest}-{n}".casefold() in used:
        n += 1
    return f"{base}-{digest}-{n}"


def safe_file_stems(labels: Iterable[str]) -> dict[str, str]:
    """:func:`safe_file_stem` of each distinct label, in order, each unique among the others."""
    stems: dict[str, str] = {}
    for label in labels:
        if label not in stems:
            stems[label] = safe_file_stem(label, stems.values())
    return stems

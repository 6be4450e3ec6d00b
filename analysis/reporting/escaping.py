"""Labels are data, never markup: how text from the data is written in each output format.

Site, patient, line, regimen and covariate labels come from the user's files and reach every
output: tables (CSV, Markdown, LaTeX, HTML), the report's prose and the figures. Each writer
passes its text through the one function of its format here, so that a label such as ``$x^2$``,
``a|b``, ``<script>`` or ``=cmd|' /C calc'!A0`` is shown as written and is never run, parsed or
rendered as markup. Every function leaves ordinary labels (``S01``, ``ICI-1``, ``ici_alone``) and
the package's own wording unchanged, so outputs of ordinary data are byte-identical with and
without it.

- Markdown (:func:`markdown_text`): the characters that could start markup are backslash-escaped
  and ``<``, ``>`` and ``&`` written as entities, so no raw HTML, link, image, emphasis, math or
  table cell break comes from a label.
- LaTeX (:func:`latex_text`): the ten special characters are replaced by their commands, line
  breaks by spaces, and a leading ``[`` or ``*`` is guarded by ``{}``.
- HTML (:func:`html_text`): ``&``, ``<`` and ``>`` (and quotes) become entities.
- Word (:func:`docx_text`): text runs are never parsed; only the control characters XML cannot
  hold are replaced.
- CSV (:func:`spreadsheet_safe`): text cells that a spreadsheet would run as a formula get a
  leading single quote (OWASP's advice against CSV injection); numbers are left alone.
- Figures (:data:`rechallenge.analysis.plots.style.LITERAL_TEXT`): matplotlib draws text as
  given, without mathtext or TeX.
"""

from __future__ import annotations

import html
import re
from typing import Final

import pandas as pd

# Markdown (CommonMark with GitHub's extensions: tables, strikethrough, math). Each rule escapes
# what could start markup and leaves what cannot, so the package's own wording stays as it is:
# - `\`, `` ` ``, `$` (GitHub math), `|` (a table cell) and `&` (an entity): always.
# - `*`, `~` and `_` runs make emphasis or strikethrough only next to a non-space: a run with a
#   space on both sides ("R ~ LKJ") is left; so is a `_` run inside a word ("ici_alone",
#   "response__none"), which never makes emphasis.
# - `<` and `>`: unless they stand alone as a comparison ("R-hat <= 1.01", "k > 0.7"), since
#   only `<` followed by a letter, `/`, `!` or `?` opens HTML or an autolink. They and `&` become
#   entities, which every Markdown flavour shows literally (not all take `\<` as an escape).
# - `]` before `(` or `[`: `[...](...)` and `[...][...]` are the only links and images left when no
#   reference definitions are written, so "mu[line]" and "z_site[S01, ICI-1]" stay as they are.
# Every other escape is a backslash before ASCII punctuation, which Markdown shows as the character.
_MARKDOWN_PATTERN: Final = re.compile(r"[\\`$|&]|[*~]+|_+|[<>]|\](?=[(\[])")
# In the text of a link or image every bracket counts: an unmatched one would end it early.
_LINK_TEXT_PATTERN: Final = re.compile(_MARKDOWN_PATTERN.pattern + r"|[\[\]]")
_MARKDOWN_ENTITIES: Final[dict[str, str]] = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _markdown_escape(match: re.Match[str]) -> str:
    run, text = match.group(0), match.string
    before = text[match.start() - 1] if match.start() > 0 else ""
    after = text[match.end()] if match.end() < len(text) else ""
    if run[0] in "*~_" and before.isspace() and after.isspace():
        return run
    if run in "<>" and before.isspace() and (after.isspace() or after == "="):
        return run
    if run[0] == "_" and before.isalnum() and after.isalnum():
        return run
    return "".join(_MARKDOWN_ENTITIES.get(ch, "\\" + ch) for ch in run)


_LATEX_SPECIALS: Final[dict[str, str]] = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    # Under LaTeX's default OT1 font encoding these three print as other glyphs (¡ ¿ —).
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    # A line break, let alone a blank line (a new paragraph), is not allowed inside a cell.
    "\n": " ", "\r": " ",
    # The reader outputs' minus and plus-minus signs (textcomp, part of LaTeX since 2020).
    "\u2212": r"\textminus{}", "\u00b1": r"\textpm{}",
}

# OWASP (CSV injection): cells beginning with these run as formulas in Excel, LibreOffice and
# Google Sheets; the full-width forms are read as the ASCII ones by some of them.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "\n",
                          "\uff1d", "\uff0b", "\uff0d", "\uff20")


def markdown_text(text: str, *, one_line: bool = False, link_text: bool = False) -> str:
    """Text as Markdown that renders as exactly ``text``, with no markup taken from it.

    Parameters
    ----------
    text
        Plain text: a label, or a sentence or caption that contains labels.
    one_line
        Replace line breaks by spaces (a table cell must stay on its row).
    link_text
        The text goes between ``[`` and ``]`` (a link or an image's alt text): escape every
        bracket.

    Returns
    -------
    str
        ``text`` with Markdown syntax backslash-escaped; unchanged for ordinary labels.
    """
    pattern = _LINK_TEXT_PATTERN if link_text else _MARKDOWN_PATTERN
    out = pattern.sub(_markdown_escape, text)
    return re.sub(r"\r\n?|\n", " ", out) if one_line else out


def latex_text(text: str) -> str:
    """Text for a LaTeX document (body text or a ``tabular`` cell), shown as written.

    Besides the ten special characters and ``<``, ``>``, ``|`` (which the default OT1 font
    encoding prints as other glyphs), a leading ``[`` or ``*`` is guarded with ``{}``: in a
    table's first column it would follow the previous row's ``\\\\``, which reads ``*`` and
    ``[...]`` after it as its own arguments.
    """
    out = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)
    return "{}" + out if out.startswith(("[", "*")) else out


def html_text(text: str, *, quote: bool = True) -> str:
    """Text for HTML element content (and, with ``quote``, attribute values)."""
    return html.escape(text, quote=quote)


def spreadsheet_cell(value: object) -> object:
    """A cell for a CSV that people open in a spreadsheet: text that would run as a formula gets
    a leading ``'``; numbers, text that is a number (``"-0.5"``) and a lone sign (``"-"``, the
    tables' placeholder, too short to hold a formula) are returned unchanged.
    """
    if (not isinstance(value, str) or len(value) < 2
            or not value.lstrip(" ").startswith(_FORMULA_STARTS)):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are :func:`spreadsheet_cell` safe.

    Only text (object and string) columns are touched, so numeric columns keep their dtype and
    are written as numbers.
    """
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(spreadsheet_cell)
    out.columns = [spreadsheet_cell(c) for c in out.columns]
    return out


# XML 1.0 allows no control characters but tab, line feed and carriage return; python-docx
# refuses a string holding one, so a stray control character in a label would stop the report.
_XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def docx_text(text: str) -> str:
    """Text for a Word document run: shown as written (Word has no markup in text), with the
    control characters that XML cannot hold replaced by U+FFFD.
    """
    return _XML_ILLEGAL.sub("\ufffd", str(text))

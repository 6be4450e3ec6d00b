"""Column widths of a Word table computed from what its cells hold, so no number or word breaks.

Word and LibreOffice break a word that is wider than its column inside the word ("Ra nk",
"-305.7 60"). Here every column gets at least the width of its longest unbreakable piece (a word,
a number, an estimate with its interval when there is room), measured at the table's font size,
and the rest of the page width goes to the columns whose text would otherwise wrap most. A table
whose pieces do not fit the portrait text width goes on a landscape page, and at a smaller font
size when even that is too narrow.

Text is measured with the advance widths of DejaVu Sans, the font Matplotlib ships (so the
widths are the same on every machine, and the Word files' bytes too). DejaVu Sans is wider than
the fonts the documents name (Calibri, or its metric twin Carlito in LibreOffice), so a width
computed here holds the text in those fonts with room to spare.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

#: Points per centimetre.
PT_PER_CM: Final = 72 / 2.54
#: Left plus right cell margin of a Word table (0.19 cm each, Word's default), plus a little air
#: for the rounding of the widths to twentieths of a point.
CELL_PADDING_CM: Final = 2 * 0.19 + 0.06
#: A portrait table whose tallest cell would wrap over more lines than this goes on a landscape
#: page, where it is shorter (long prose cells: the priors' reasons).
MAX_LINES: Final = 6
#: The font sizes a table may use, largest first: the first at which the table fits is used.
FONT_SIZES_PT: Final = (8.5, 7.5, 6.5)
#: An estimate with its interval, "23.8% (14.0 to 36.6)", "2.7 pp (−15.6 to 19.8)": kept on
#: one line when the page has room for it.
_ESTIMATE: Final = re.compile(r"\S+( pp)?( ± \S+)? \(\S+ to \S+\)")


@lru_cache(maxsize=2)
def _font(bold: bool) -> FT2Font:
    weight = "bold" if bold else "normal"
    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight=weight),
                                 fallback_to_default=True)
    # A font object of our own: the one ``font_manager.get_font`` returns is shared with
    # Matplotlib's text drawing, which sets its size to every label it draws, so the advances
    # read here would depend on the last figure drawn in the process (a run's Word tables then
    # differed between a process that had drawn figures and one that had not).
    font = FT2Font(path)
    font.set_size(100, 72)  # 100 pt at 72 dpi: an advance in pixels is 1/100 of the size
    return font


@lru_cache(maxsize=4096)
def _advance_em(char: str, bold: bool) -> float:
    """Advance width of one character in ems (a character the font lacks counts one em)."""
    font = _font(bold)
    if font.get_char_index(ord(char)) == 0:
        return 1.0
    glyph = font.load_char(ord(char))
    return glyph.linearHoriAdvance / 65536 / 100


def text_width_cm(text: str, size_pt: float, *, bold: bool = False) -> float:
    """Width of ``text`` on one line at ``size_pt`` (DejaVu Sans, or DejaVu Sans Bold, advances)."""
    return size_pt * sum(_advance_em(c, bold) for c in text) / PT_PER_CM


def pieces(text: str, *, whole_estimates: bool) -> list[str]:
    """The parts of a cell that must not break: its words; with ``whole_estimates``, an estimate
    with its interval as one piece.
    """
    if whole_estimates:
        found = [m.group(0) for m in _ESTIMATE.finditer(text)]
        rest = _ESTIMATE.sub(" ", text).split()
        return found + rest or [""]
    return text.split() or [""]


@dataclass(frozen=True)
class Layout:
    """How a table is laid out: its column widths, font size and page orientation."""

    widths_cm: tuple[float, ...]
    font_pt: float
    landscape: bool


def column_layout(header: Sequence[str], rows: Sequence[Sequence[str]], *,
                  portrait_cm: float, landscape_cm: float,
                  font_sizes: Sequence[float] = FONT_SIZES_PT) -> Layout:
    """Column widths that fit every word and number of the table; page and font to fit them.

    Parameters
    ----------
    header
        The column names (bold).
    rows
        The cells, as they will be shown.
    portrait_cm, landscape_cm
        Text width of a portrait and of a landscape page.
    font_sizes
        Font sizes to try, largest first.

    Returns
    -------
    Layout
        The first that fits of: estimates whole on a portrait page, at each font size but the
        smallest; then on a landscape page; then estimates broken at spaces, likewise; then
        anything at the smallest size; the smallest font on a landscape page if nothing fits
        (the columns then share the width by need). A portrait layout whose tallest cell takes
        more than :data:`MAX_LINES` lines is turned to landscape when that makes it shorter.
    """
    pages = ((False, portrait_cm), (True, landscape_cm))
    tries = [(whole, landscape, page, size) for whole in (True, False) for landscape, page in pages
             for size in font_sizes[:-1]]
    tries += [(whole, landscape, page, font_sizes[-1]) for whole in (True, False)
              for landscape, page in pages]
    for whole, landscape, page, size in tries:
        need = _minimum_widths(header, rows, size, whole_estimates=whole)
        if sum(need) <= page:
            natural = _natural_widths(header, rows, size)
            layout = Layout(_share(need, natural, page), size, landscape)
            if landscape or _lines(natural, layout.widths_cm) <= MAX_LINES:
                return layout
            # Prose cells many lines tall on a portrait page: a landscape page if it fits.
            wide = _minimum_widths(header, rows, size, whole_estimates=whole)
            if sum(wide) <= landscape_cm:
                turned = Layout(_share(wide, natural, landscape_cm), size, True)
                if _lines(natural, turned.widths_cm) < _lines(natural, layout.widths_cm):
                    return turned
            return layout
    size = font_sizes[-1]
    need = _minimum_widths(header, rows, size, whole_estimates=False)
    return Layout(tuple(w * landscape_cm / sum(need) for w in need), size, True)


def _lines(natural: Sequence[float], widths: Sequence[float]) -> int:
    """About how many lines the tallest cell takes (its one-line width over its column's)."""
    return max(math.ceil((n - CELL_PADDING_CM) / max(w - CELL_PADDING_CM, 1e-6))
               for n, w in zip(natural, widths))


def _minimum_widths(header: Sequence[str], rows: Sequence[Sequence[str]], size: float, *,
                    whole_estimates: bool) -> list[float]:
    widths = []
    for j, name in enumerate(header):
        longest = max(text_width_cm(p, size, bold=True) for p in pieces(name, whole_estimates=False))
        for row in rows:
            for p in pieces(row[j], whole_estimates=whole_estimates):
                longest = max(longest, text_width_cm(p, size))
        widths.append(longest + CELL_PADDING_CM)
    return widths


def _natural_widths(header: Sequence[str], rows: Sequence[Sequence[str]], size: float) -> list[float]:
    """Width of each column's longest cell on one line (what it would take never to wrap)."""
    return [max([text_width_cm(name, size, bold=True)] + [text_width_cm(r[j], size) for r in rows])
            + CELL_PADDING_CM for j, name in enumerate(header)]


def _share(need: Sequence[float], natural: Sequence[float], page: float) -> tuple[float, ...]:
    """Minimum widths plus the page's spare width, given to the columns that would wrap, in
    proportion to the width they lack; never wider than a column's natural width unless every
    column has it (then the table is narrower than the page).
    """
    widths = list(need)
    spare = page - sum(widths)
    lack = [max(n - w, 0.0) for n, w in zip(natural, widths)]
    total = sum(lack)
    if total <= spare:
        return tuple(max(n, w) for n, w in zip(natural, widths))
    return tuple(w + spare * lk / total for w, lk in zip(widths, lack))

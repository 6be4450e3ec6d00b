"""Format report tables: one DataFrame in, CSV, Markdown and LaTeX out.

Formatting is separate from computing (compute -> format -> prose): the numbers come from the
summary functions unchanged; here they are only rounded and laid out. Every table carries a caption
that states the credible-interval level and kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rechallenge.analysis.reporting.escaping import html_text, latex_text, markdown_text, spreadsheet_safe
from rechallenge.analysis.reporting.estimates import column_digits, decimal_text, interval_cell


@dataclass(frozen=True)
class Table:
    """A report table: display frame (already formatted strings), caption and file stem.

    Parameters
    ----------
    name
        File stem, e.g. ``"comparison_response"``.
    caption
        One sentence saying what the table shows, including the interval level and kind.
    frame
        The data (numbers; rounding happens on output).
    digits
        Decimal places for floats on output.
    folder
        Subdirectory of ``tables/`` the table is written to (``"reader"`` for the reader
        tables; empty for the machine tables).
    """

    name: str
    caption: str
    frame: pd.DataFrame
    digits: int = 3
    folder: str = ""

    @property
    def stem(self) -> str:
        """Path of the table's files under ``tables/``, without suffix (``reader/sites_ttp``)."""
        return f"{self.folder}/{self.name}" if self.folder else self.name

    def display(self) -> pd.DataFrame:
        """The frame as readers see it: floats at the decimals of their quantity (by column
        name, :func:`~rechallenge.analysis.reporting.estimates.column_digits`; else
        ``digits``) with a true minus sign, booleans as yes/no, missing values as empty strings.
        """
        out = self.frame.copy()
        for col in out.columns:
            values = out[col]
            if pd.api.types.is_bool_dtype(values) or _booleans(values):
                out[col] = values.map(lambda v: "" if pd.isna(v) else "yes" if v else "no")
            elif pd.api.types.is_float_dtype(values):
                digits = column_digits(str(col), self.digits)
                out[col] = values.map(lambda v, d=digits: "" if pd.isna(v) else decimal_text(v, d))
        return out.fillna("").astype(str)

    def to_markdown(self, label: str = "") -> str:
        """GitHub-flavoured Markdown table preceded by its caption in italics (numbered
        ``label``, e.g. "Table 2", when given).
        """
        disp = self.display()
        header = "| " + " | ".join(map(_markdown_cell, disp.columns)) + " |"
        rule = "|" + "|".join("---" for _ in disp.columns) + "|"
        body = ["| " + " | ".join(map(_markdown_cell, row)) + " |" for row in disp.to_numpy()]
        caption = f"{label}. {caption_body(self.caption)}" if label else caption_body(self.caption)
        return "\n".join([f"*{markdown_text(caption)}*", "", header, rule, *body]) + "\n"

    def to_latex(self) -> str:
        r"""A ``table`` float with a booktabs ``tabular`` (``tabularx`` when wide); special
        characters escaped.

        Columns of numbers and estimates are right-aligned; a table wider than the text
        (counted in characters) is set in a smaller font, and its long text columns wrap
        (``tabularx`` ``X`` columns) so that it fits ``\linewidth``. The caption carries no
        number of its own: LaTeX numbers it. Needs ``\usepackage{booktabs,tabularx}``.
        """
        disp = self.display()
        columns = [str(c) for c in disp.columns]
        cells = [[str(v) for v in row] for row in disp.to_numpy()]
        longest = [max([len(c)] + [len(r[j]) for r in cells]) for j, c in enumerate(columns)]
        numeric = [_numeric_cells([r[j] for r in cells]) for j in range(len(columns))]
        wide = sum(longest) + 3 * len(columns) > _LATEX_LINE
        wrap = [wide and not numeric[j] and longest[j] > _LATEX_WRAP for j in range(len(columns))]
        spec = "".join(r">{\raggedright\arraybackslash}X" if w else "r" if n else "l"
                       for w, n in zip(wrap, numeric))
        begin, end = ((rf"\begin{{tabularx}}{{\linewidth}}{{{spec}}}", r"\end{tabularx}")
                      if any(wrap) else (rf"\begin{{tabular}}{{{spec}}}", r"\end{tabular}"))
        size = ([r"\scriptsize"] if sum(longest) > 2 * _LATEX_LINE
                else [r"\footnotesize"] if wide else [])
        lines = [r"\begin{table}[htbp]", r"\centering", *size,
                 rf"\caption{{{latex_text(caption_body(self.caption))}}}",
                 rf"\label{{tab:{self.name}}}", begin, r"\toprule",
                 " & ".join(latex_text(c) for c in columns) + r" \\", r"\midrule"]
        lines += [" & ".join(latex_text(v) for v in row) + r" \\" for row in cells]
        lines += [r"\bottomrule", end, r"\end{table}"]
        return "\n".join(lines) + "\n"

    def to_html(self, label: str = "", *, caption: bool = True) -> str:
        """An HTML table with its caption (numbered ``label``, e.g. "Table 2", when given;
        none with ``caption=False``, for a page that sets it above the table itself);
        columns of numbers and estimates right-aligned.
        """
        disp = self.display()
        cells = [[str(v) for v in row] for row in disp.to_numpy()]
        numeric = [_numeric_cells([r[j] for r in cells]) for j in range(len(disp.columns))]
        head = "".join(f"<th{_NUMBER if n else ''}>{html_text(str(c), quote=False)}</th>"
                       for c, n in zip(disp.columns, numeric))
        body = "".join(
            # Short cells (an estimate with its interval) are kept on one line; long text wraps.
            "<tr>" + "".join(f"<td{_NUMBER if n else _KEEP if len(v) <= 28 else ''}>"
                             f"{html_text(v, quote=False)}</td>" for v, n in zip(row, numeric))
            + "</tr>"
            for row in cells
        )
        shown = f"<caption>{self.caption_html(label)}</caption>" if caption else ""
        return (f'<table class="table">{shown}'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n")

    def caption_html(self, label: str = "") -> str:
        """The caption as HTML: ``<span class="label">Table 2.</span> text``."""
        lead = (f'<span class="label">{html_text(label, quote=False)}.</span> ' if label else "")
        return lead + html_text(caption_body(self.caption), quote=False)

    def write(self, directory: Path) -> list[Path]:
        """Write ``<name>.csv`` (full precision), ``.md`` and ``.tex``; return the paths.

        Labels are written as data in each format (see :mod:`rechallenge.analysis.reporting.escaping`).
        """
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / f"{self.name}.{ext}" for ext in ("csv", "md", "tex")]
        # People open these in spreadsheets: label cells that would run as formulas are defused.
        spreadsheet_safe(self.frame).to_csv(paths[0], index=False, lineterminator="\n",
                                            float_format="%.10g")
        paths[1].write_text(self.to_markdown(), encoding="utf-8")
        paths[2].write_text(self.to_latex(), encoding="utf-8")
        return paths


_KEEP = ' class="k"'
_NUMBER = ' class="n"'
#: A number a caption was written with ("Table 2. "): the documents number their own captions.
_OWN_NUMBER = re.compile(r"^(Table|Figure)\s+S?\d+[.:]\s*")


def caption_body(caption: str) -> str:
    """A caption without a leading "Table 2." or "Figure S1:" (the documents number captions
    themselves, in order).
    """
    return _OWN_NUMBER.sub("", caption, count=1)


def _booleans(values: pd.Series) -> bool:
    """A column of objects holding only True, False and missing values."""
    if values.dtype != object:
        return False
    present = [v for v in values if not pd.isna(v)]
    return bool(present) and all(isinstance(v, (bool, np.bool_)) for v in present)


def _markdown_cell(value: object) -> str:
    return markdown_text(str(value), one_line=True)


#: Characters of a LaTeX table line that fit the text width at the normal size (about), and
#: the length beyond which a text column of a wide table wraps.
_LATEX_LINE = 90
_LATEX_WRAP = 18
#: A cell that reads as a number or an estimate: "12", "−3.2", "23.5% (14.2 to 37.2)", "< 0.01".
_NUMBER_CELL = re.compile(r"^[<>]?\s?[\u2212-]?\d")


def _numeric_cells(values: list[str]) -> bool:
    present = [v for v in values if v]
    return bool(present) and all(_NUMBER_CELL.match(v) for v in present)


def format_estimate(mean_or_median: float, lower: float, upper: float, *, digits: int = 2,
                    percent: bool = False) -> str:
    """``"0.25 (0.14 to 0.38)"`` or, with ``percent``, ``"25.0% (14.0 to 38.0)"`` (the style of
    every reader table: :func:`~rechallenge.analysis.reporting.estimates.interval_cell`).
    """
    if not np.all(np.isfinite([mean_or_median, lower, upper])):
        return ""
    if percent:
        return interval_cell(mean_or_median, lower, upper, "percent")
    return (f"{decimal_text(mean_or_median, digits)} "
            f"({decimal_text(lower, digits)} to {decimal_text(upper, digits)})")

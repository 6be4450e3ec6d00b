"""Format report tables: one DataFrame in, CSV, Markdown and LaTeX out.

Formatting is separate from computing (compute -> format -> prose): the numbers come from the
summary functions unchanged; here they are only rounded and laid out. Every table carries a caption
that states the credible-interval level and kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rechallenge.analysis.reporting.escaping import html_text, latex_text, markdown_text, spreadsheet_safe


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
        """The frame with floats rounded to ``digits`` and missing values as empty strings."""
        out = self.frame.copy()
        for col in out.columns:
            if pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{self.digits}f}")
        return out.fillna("").astype(str)

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown table preceded by its caption in italics."""
        disp = self.display()
        header = "| " + " | ".join(map(_markdown_cell, disp.columns)) + " |"
        rule = "|" + "|".join("---" for _ in disp.columns) + "|"
        body = ["| " + " | ".join(map(_markdown_cell, row)) + " |" for row in disp.to_numpy()]
        return "\n".join([f"*{markdown_text(self.caption)}*", "", header, rule, *body]) + "\n"

    def to_latex(self) -> str:
        """A ``table`` environment with a ``tabular`` body; special characters escaped."""
        disp = self.display()
        align = "".join("r" if _numeric_column(self.frame[c]) else "l" for c in self.frame.columns)
        lines = [
            r"\begin{table}[ht]",
            r"\centering",
            rf"\caption{{{latex_text(self.caption)}}}",
            rf"\label{{tab:{self.name}}}",
            rf"\begin{{tabular}}{{{align}}}",
            r"\hline",
            " & ".join(latex_text(str(c)) for c in disp.columns) + r" \\",
            r"\hline",
        ]
        lines += [" & ".join(latex_text(v) for v in row) + r" \\" for row in disp.to_numpy()]
        lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """An HTML table with its caption (used by the HTML report)."""
        disp = self.display()
        head = "".join(f"<th>{html_text(str(c), quote=False)}</th>" for c in disp.columns)
        body = "".join(
            # Short cells (an estimate with its interval) are kept on one line; long text wraps.
            "<tr>" + "".join(f"<td{_KEEP if len(v) <= 28 else ''}>"
                             f"{html_text(v, quote=False)}</td>" for v in row) + "</tr>"
            for row in disp.to_numpy()
        )
        return (
            f'<table class="table"><caption>{html_text(self.caption, quote=False)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"
        )

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


def _markdown_cell(value: object) -> str:
    return markdown_text(str(value), one_line=True)


def _numeric_column(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series))


def format_estimate(mean_or_median: float, lower: float, upper: float, *, digits: int = 2,
                    percent: bool = False) -> str:
    """``"0.25 (0.14 to 0.38)"`` or, with ``percent``, ``"25.0% (14.0% to 38.0%)"``."""
    if not np.all(np.isfinite([mean_or_median, lower, upper])):
        return ""
    if percent:
        return f"{100 * mean_or_median:.1f}% ({100 * lower:.1f}% to {100 * upper:.1f}%)"
    return f"{mean_or_median:.{digits}f} ({lower:.{digits}f} to {upper:.{digits}f})"

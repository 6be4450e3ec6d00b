"""The report as a Word document (``report.docx``), for co-authors who edit in Word.

Made from the same :class:`~rechallenge.analysis.reporting.document.ReportContent` as report.md
and report.html, so the three cannot disagree. Tables are real Word tables (editable, not
pictures); figures are the PNGs of ``figures/``. Every text goes through
:func:`~rechallenge.analysis.reporting.escaping.docx_text`.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from rechallenge.analysis.reporting.document import ReportContent
from rechallenge.analysis.reporting.docx_files import DOCUMENT_TIME, save_docx
from rechallenge.analysis.reporting.escaping import docx_text
from rechallenge.analysis.reporting.tables import Table

#: Text width of an A4 page with 2 cm margins.
_TEXT_WIDTH_CM = 17.0
#: Tables with more columns than this get a smaller font, so that they fit the page width.
_WIDE = 5
#: A cell holding an estimate with its interval, "23.8% (14.0 to 36.6)".
_INTERVAL_CELL = re.compile(r"\(.+ to .+\)")


def _new_document(title: str) -> WordDocument:
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2.0))
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10.5)
    # Word limits document properties to 255 characters; a caption used as a title can be longer.
    doc.core_properties.title = docx_text(title)[:255]
    return doc


def add_table(doc: WordDocument, table: Table) -> None:
    """A caption paragraph, then the table as a Word table with a bold header row."""
    caption = doc.add_paragraph()
    run = caption.add_run(docx_text(table.caption))
    run.italic = True
    run.font.size = Pt(9)
    shown = table.display()
    grid = doc.add_table(rows=1, cols=len(shown.columns))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    size = Pt(7.5 if len(shown.columns) > _WIDE else 8.5)
    for cell, name in zip(grid.rows[0].cells, shown.columns):
        _cell_text(cell, str(name), size, bold=True)
        _shade(cell, "E8E8E8")
    for values in shown.to_numpy():
        cells = grid.add_row().cells
        for cell, value in zip(cells, values):
            _cell_text(cell, str(value), size)
    _fit_columns(grid, shown)
    # Repeat the header row on every page a long table runs over.
    header = grid.rows[0]._tr.get_or_add_trPr()
    header.append(header.makeelement(qn("w:tblHeader"), {qn("w:val"): "true"}))
    doc.add_paragraph()


def _fit_columns(grid, shown) -> None:
    # Equal columns (Word's default) wrap "23.8% (14.0 to 36.6)" over three lines while a
    # column of counts stays half empty. An estimate with its interval should stay on one line;
    # labels and prose may wrap: share the width accordingly.
    weights = []
    for name in shown.columns:
        values = [str(v) for v in shown[name]]
        longest = max([len(str(name)) // 2 + 1] + [len(v) for v in values])
        estimates = any(_INTERVAL_CELL.search(v) for v in values)
        weights.append(min(max(longest, 5), 24 if estimates else 16))
    total = sum(weights)
    grid.autofit = False
    for column, weight in zip(grid.columns, weights):
        width = Cm(_TEXT_WIDTH_CM * weight / total)
        # LibreOffice reads the table grid, Word the cells: set both.
        column.width = width
        for cell in column.cells:
            cell.width = width


def _cell_text(cell, text: str, size: Pt, *, bold: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    run = paragraph.add_run(docx_text(text))
    run.font.size = size
    run.bold = bold


def _shade(cell, fill: str) -> None:
    properties = cell._tc.get_or_add_tcPr()
    properties.append(properties.makeelement(
        qn("w:shd"), {qn("w:val"): "clear", qn("w:color"): "auto", qn("w:fill"): fill}))


def render_docx(content: ReportContent, directory: Path) -> WordDocument:
    """The report as a python-docx ``Document``; figures are read from ``directory``.

    Parameters
    ----------
    content
        What the report says.
    directory
        The run directory (figures under ``figures/``; a missing PNG is named, not embedded).
    """
    doc = _new_document(content.title)
    doc.add_heading(docx_text(content.title), level=0)
    for line in content.header_lines:
        p = doc.add_paragraph(docx_text(line))
        p.paragraph_format.space_after = Pt(0)
    if content.banner:
        p = doc.add_paragraph()
        run = p.add_run(docx_text(content.banner))
        run.bold = True
        run.font.color.rgb = RGBColor(0x99, 0x00, 0x00)
    for section in content.sections:
        doc.add_heading(docx_text(section.heading), level=1)
        for paragraph in section.paragraphs:
            doc.add_paragraph(docx_text(paragraph))
        for bullet in section.bullets:
            doc.add_paragraph(docx_text(bullet), style="List Bullet")
        for table in section.tables:
            add_table(doc, table)
        for fig in section.figures:
            png = directory / fig.png
            if png.is_file():
                doc.add_picture(str(png), width=Cm(_TEXT_WIDTH_CM * 0.9))
            caption = doc.add_paragraph()
            run = caption.add_run(docx_text(fig.caption if png.is_file()
                                             else f"{fig.caption} (figure file missing)"))
            run.italic = True
            run.font.size = Pt(9)
    return doc


def write_docx(content: ReportContent, directory: Path, name: str = "report.docx", *,
               when: datetime = DOCUMENT_TIME) -> Path:
    """Write the report as ``directory/name``; return the path.

    The bytes depend on ``content``, the figures and ``when`` only (the run's document time; see
    :func:`~rechallenge.analysis.reporting.docx_files.save_docx`).
    """
    return save_docx(render_docx(content, directory), directory / name, when=when)


def write_table_docx(table: Table, path: Path, *, when: datetime = DOCUMENT_TIME) -> Path:
    """One table alone as a Word document (e.g. Table 2 for the manuscript); return the path.

    Reproducible like :func:`write_docx`.
    """
    doc = _new_document(table.caption)
    add_table(doc, table)
    return save_docx(doc, path, when=when)

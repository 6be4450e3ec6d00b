"""The report as a Word document (``report.docx``), for co-authors who edit in Word.

Made from the same :class:`~rechallenge.analysis.reporting.document.ReportContent` as report.md
and report.html, so the three cannot disagree. Tables are real Word tables (editable, not
pictures); figures are the PNGs of ``figures/``. Every text goes through
:func:`~rechallenge.analysis.reporting.escaping.docx_text`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.section import WD_ORIENT
from docx.shared import Pt, RGBColor

from rechallenge.analysis.reporting.document import ReportContent, write_report
from rechallenge.analysis.reporting.docx_files import AUTHOR, DOCUMENT_TIME, save_docx
from rechallenge.analysis.reporting.docx_parts import (
    LANDSCAPE_TEXT_CM,
    PORTRAIT_TEXT_CM,
    add_caption,
    add_figure,
    add_grid,
    new_page_section,
    page_number_footer,
    set_page,
    table_layout,
)
from rechallenge.analysis.reporting.escaping import docx_text
from rechallenge.analysis.reporting.tables import Table, caption_body

#: Body text size; captions and tables are smaller (Word's Caption style, the table layout).
_BODY_PT = 10.5


def _new_document(title: str) -> WordDocument:
    doc = Document()
    set_page(doc.sections[0], landscape=False)
    page_number_footer(doc.sections[0])
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(_BODY_PT)
    caption = doc.styles["Caption"]
    caption.font.size = Pt(9)
    caption.font.italic = False
    caption.font.bold = False  # the label and number are bold, the text is not
    caption.font.color.rgb = RGBColor(0, 0, 0)
    # Word limits document properties to 255 characters; a caption used as a title can be longer.
    doc.core_properties.title = docx_text(title)[:255]
    return doc


def _author(authors: tuple[str, ...]) -> str:
    return docx_text("; ".join(authors))[:255] if authors else AUTHOR


def _is_landscape(doc: WordDocument) -> bool:
    section = doc.sections[-1]
    return section.orientation == WD_ORIENT.LANDSCAPE


def add_table(doc: WordDocument, table: Table, number: int = 1, *, numbering: str = "",
              restart: bool = False) -> None:
    """The table's numbered caption, then the table as a Word table (see
    :func:`~rechallenge.analysis.reporting.docx_parts.add_grid`); a table too wide for a
    portrait page gets a landscape page of its own. ``restart`` makes the caption's field
    start its sequence at ``number`` (a table alone in its file).
    """
    header, rows = _cells(table)
    layout = table_layout(header, rows)
    if layout.landscape != _is_landscape(doc):
        new_page_section(doc, landscape=layout.landscape)
    add_caption(doc, "Table", number, caption_body(table.caption), prefix=numbering,
                restart=restart)
    add_grid(doc, header, rows, layout)
    doc.add_paragraph()


def _cells(table: Table) -> tuple[list[str], list[list[str]]]:
    shown = table.display()
    return [str(c) for c in shown.columns], [[str(v) for v in row] for row in shown.to_numpy()]


def _starts_landscape(tables: list[tuple[int, Table]], has_text: bool) -> bool:
    """Whether a section's heading goes on a landscape page: it has no text of its own and its
    first table needs one (the heading then stays with that table).
    """
    return bool(tables) and not has_text and table_layout(*_cells(tables[0][1])).landscape


def render_docx(content: ReportContent, directory: Path) -> WordDocument:
    """The document as a python-docx ``Document``; figures are read from ``directory``.

    Parameters
    ----------
    content
        What the document says (the main text or the supplement).
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
    for section, tables, figures in content.numbered():
        landscape = _starts_landscape(tables, bool(section.paragraphs or section.bullets))
        if _is_landscape(doc) != landscape:  # back to portrait after a wide table, or not
            new_page_section(doc, landscape=landscape)
        doc.add_heading(docx_text(section.heading), level=min(max(section.level, 1), 3))
        for paragraph in section.paragraphs:
            doc.add_paragraph(docx_text(paragraph))
        for bullet in section.bullets:
            doc.add_paragraph(docx_text(bullet), style="List Bullet")
        for number, table in tables:
            add_table(doc, table, number, numbering=content.numbering)
        if figures and _is_landscape(doc):
            new_page_section(doc, landscape=False)
        for number, fig in figures:
            png = directory / fig.png
            if png.is_file():
                add_figure(doc, png, text_cm=LANDSCAPE_TEXT_CM if _is_landscape(doc)
                           else PORTRAIT_TEXT_CM)
            add_caption(doc, "Figure", number, caption_body(fig.caption) if png.is_file()
                        else f"{caption_body(fig.caption)} (figure file missing)",
                        prefix=content.numbering)
    return doc


def write_docx(content: ReportContent, directory: Path, name: str = "report.docx", *,
               when: datetime = DOCUMENT_TIME) -> Path:
    """Write the document as ``directory/name``; return the path.

    The bytes depend on ``content``, the figures and ``when`` only (the run's document time; see
    :func:`~rechallenge.analysis.reporting.docx_files.save_docx`).
    """
    return save_docx(render_docx(content, directory), directory / name, when=when,
                     author=_author(content.authors))


def write_table_docx(table: Table, path: Path, *, when: datetime = DOCUMENT_TIME,
                     number: int = 2) -> Path:
    """One table alone as a Word document (e.g. Table 2 for the manuscript); return the path.

    Reproducible like :func:`write_docx`; ``number`` is the table's number in the manuscript.
    """
    doc = _new_document(caption_body(table.caption))
    add_table(doc, table, number, restart=True)
    return save_docx(doc, path, when=when)


def write_document(content: ReportContent, directory: Path, stem: str = "report", *,
                   when: datetime = DOCUMENT_TIME) -> list[Path]:
    """One document in every format: ``<stem>.md``, ``<stem>.html`` and ``<stem>.docx``.

    The main text and the supplement are two calls with two contents (and ``numbering="S"``
    for the supplement's "Table S1"); the sections each holds are the only difference.

    Returns
    -------
    list of pathlib.Path
        The Markdown, HTML and Word files, in that order.
    """
    return [*write_report(content, directory, stem),
            write_docx(content, directory, f"{stem}.docx", when=when)]

"""The parts of a Word document that make it read as a manuscript, not as software output.

Numbered captions (Word's own: a ``SEQ`` field, so Word renumbers and lists them), a page
number in the footer (a ``PAGE`` field), tables whose rows never split across pages, whose
header row repeats and whose columns are as wide as their words
(:mod:`~rechallenge.analysis.reporting.column_widths`), landscape pages for wide tables, and
figures at the width they were drawn for. Built with python-docx's public API and, where it has
none (fields, row properties), with its documented ``OxmlElement``/``qn`` element construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from docx.document import Document as WordDocument
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.section import Section as WordSection
from docx.shared import Cm, Emu, Pt
from docx.table import Table as WordTable
from docx.text.paragraph import Paragraph

from rechallenge.analysis.reporting.column_widths import Layout, column_layout
from rechallenge.analysis.reporting.document import drawn_width_cm
from rechallenge.analysis.reporting.escaping import docx_text

#: A4 in centimetres, and the margins of every page.
PAGE_CM: Final = (21.0, 29.7)
MARGIN_CM: Final = 1.5
#: Text width of a portrait and of a landscape page (a double-column figure, 17.5 cm, fits).
PORTRAIT_TEXT_CM: Final = PAGE_CM[0] - 2 * MARGIN_CM
LANDSCAPE_TEXT_CM: Final = PAGE_CM[1] - 2 * MARGIN_CM
#: Rows of a table kept on the page of its caption and header.
_KEPT_ROWS: Final = 3
#: Shading of a table's header row.
_HEADER_FILL: Final = "E8E8E8"


def set_page(section: WordSection, *, landscape: bool) -> None:
    """A4 with :data:`MARGIN_CM` margins, portrait or landscape."""
    short, long = Cm(PAGE_CM[0]), Cm(PAGE_CM[1])
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long, short) if landscape else (short, long)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(MARGIN_CM))


def new_page_section(doc: WordDocument, *, landscape: bool) -> None:
    """Start a new page in the given orientation (its footer continues the document's)."""
    set_page(doc.add_section(WD_SECTION.NEW_PAGE), landscape=landscape)


def add_field(paragraph: Paragraph, instruction: str, shown: str) -> None:
    """A Word field (``PAGE``, ``SEQ Table``) with ``shown`` as its current result, so the
    number is right before any program updates the fields.
    """
    def char(kind: str):  # noqa: ANN202 (an lxml element)
        run = OxmlElement("w:r")
        fld = OxmlElement("w:fldChar")
        fld.set(qn("w:fldCharType"), kind)
        run.append(fld)
        return run

    code = OxmlElement("w:r")
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = f" {instruction} "
    code.append(text)
    p = paragraph._p  # python-docx's documented oxml access to the paragraph element
    p.append(char("begin"))
    p.append(code)
    p.append(char("separate"))
    paragraph.add_run(shown)
    p.append(char("end"))


def page_number_footer(section: WordSection) -> None:
    """"Page N" centred in the footer, N a ``PAGE`` field."""
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("Page ")
    add_field(paragraph, "PAGE", "1")


def add_caption(doc: WordDocument, label: str, number: int, text: str, *,
                prefix: str = "", restart: bool = False) -> Paragraph:
    """A Word caption: "Table 3. text" in the Caption style, the number a ``SEQ`` field.

    Parameters
    ----------
    label
        ``"Table"`` or ``"Figure"`` (also the field's sequence name).
    number
        The caption's number in its sequence (shown until Word updates the field).
    text
        The caption.
    prefix
        Written before the number: ``"S"`` numbers a supplement's "Table S1".
    restart
        Start the sequence at ``number`` (``\\r``): a table alone in its own file.
    """
    paragraph = doc.add_paragraph(style="Caption")
    lead = paragraph.add_run(f"{label} {prefix}")
    lead.bold = True
    restart_at = f" \\r {number}" if restart else ""
    add_field(paragraph, f"SEQ {label}{restart_at} \\* ARABIC", str(number))
    paragraph.runs[-1].bold = True
    paragraph.add_run(".").bold = True
    paragraph.add_run(" " + docx_text(text))
    paragraph.paragraph_format.keep_with_next = label == "Table"
    # A caption of several lines is never split across pages (it would leave its figure).
    paragraph.paragraph_format.keep_together = True
    return paragraph


def table_layout(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Layout:
    """The column widths, font size and page orientation of a table (see
    :func:`~rechallenge.analysis.reporting.column_widths.column_layout`).
    """
    return column_layout(header, rows, portrait_cm=PORTRAIT_TEXT_CM,
                         landscape_cm=LANDSCAPE_TEXT_CM)


def add_grid(doc: WordDocument, header: Sequence[str], rows: Sequence[Sequence[str]],
             layout: Layout) -> WordTable:
    """The table: a shaded bold header row repeated on every page, rows that never split, and
    fixed column widths from ``layout``.
    """
    grid = doc.add_table(rows=1 + len(rows), cols=len(header))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    grid.autofit = False  # fixed layout: Word keeps the widths instead of fitting the contents
    size = Pt(layout.font_pt)
    for i, (row, values) in enumerate(zip(grid.rows, [list(header), *map(list, rows)])):
        properties = row._tr.get_or_add_trPr()
        properties.append(_on("w:cantSplit"))
        if i == 0:
            properties.append(_on("w:tblHeader"))
        for cell, value in zip(row.cells, values):
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.space_after = Pt(0)
            # The caption, the header and the first rows stay on one page.
            paragraph.paragraph_format.keep_with_next = i < min(_KEPT_ROWS, len(rows))
            _cell_text(paragraph, docx_text(str(value)), size, bold=i == 0)
            if i == 0:
                _shade(cell._tc.get_or_add_tcPr())
    for column, width in zip(grid.columns, layout.widths_cm):
        # LibreOffice reads the table grid, Word the cells: set both.
        column.width = Cm(width)
        for cell in column.cells:
            cell.width = Cm(width)
    return grid


def _cell_text(paragraph: Paragraph, text: str, size: Pt, *, bold: bool) -> None:
    """``text`` with each hyphen a non-breaking hyphen (Word's ``w:noBreakHyphen``): a line
    never breaks inside "ICI-1" or "Clopper-Pearson", whose width the columns were given.
    """
    run = paragraph.add_run()
    run.font.size = size
    run.bold = bold
    for k, part in enumerate(text.split("-")):
        if k:
            run._r.append(OxmlElement("w:noBreakHyphen"))
        if part:
            node = OxmlElement("w:t")
            node.set(qn("xml:space"), "preserve")
            node.text = part
            run._r.append(node)


def _on(tag: str):  # noqa: ANN202 (an lxml element)
    element = OxmlElement(tag)
    element.set(qn("w:val"), "true")
    return element


def _shade(properties) -> None:  # noqa: ANN001 (python-docx's CT_TcPr)
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), _HEADER_FILL)
    properties.append(shading)


def add_figure(doc: WordDocument, png: Path, *, text_cm: float = PORTRAIT_TEXT_CM) -> None:
    """The PNG in a centred paragraph at the width it was drawn for (its pixels over its
    resolution; at most ``text_cm``, and ``text_cm`` when it records no resolution).
    """
    width = min(drawn_width_cm(png) or text_cm, text_cm)
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.keep_with_next = True  # the caption follows on the same page
    paragraph.add_run().add_picture(str(png), width=Emu(round(Cm(width))))

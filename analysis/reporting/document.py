"""Assemble a document (the main text, or the supplement) as Markdown and HTML from one content
structure.

Every format (these two and Word, :mod:`~rechallenge.analysis.reporting.docx_report`) is made
from the same :class:`ReportContent`, numbering its tables and figures the same way
(:meth:`ReportContent.numbered`), so they cannot disagree; a second document is a second
``ReportContent`` made of other sections. The Markdown links the figures by relative path
(``figures/<name>.png``); the HTML page embeds them, so it shows them when opened on its own.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from pathlib import Path

from rechallenge.analysis.reporting.escaping import html_text, markdown_text
from rechallenge.analysis.reporting.tables import Table, caption_body


@dataclass(frozen=True)
class FigureRef:
    """A figure written under ``figures/`` as PNG and PDF."""

    name: str
    caption: str

    @property
    def png(self) -> str:
        """Path of the PNG, relative to the run."""
        return f"figures/{self.name}.png"

    @property
    def pdf(self) -> str:
        """Path of the PDF, relative to the run."""
        return f"figures/{self.name}.pdf"


@dataclass(frozen=True)
class Section:
    """A report section: heading, paragraphs, bullets, tables and figures, in that order.

    ``level`` is the heading level: 1 for a section, 2 for a subsection, 3 below that.
    """

    heading: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[FigureRef, ...] = ()
    bullets: tuple[str, ...] = ()
    level: int = 1


@dataclass(frozen=True)
class ReportContent:
    """Everything one document says (the main text, or the supplement).

    ``numbering`` is written before every table and figure number: ``""`` gives "Table 1",
    ``"S"`` a supplement's "Table S1". Tables and figures are numbered in the order they come,
    each in its own sequence, the same way in every format. ``authors`` go into the Word file's
    properties (none: the package is named as author).
    """

    title: str
    header_lines: tuple[str, ...]
    banner: str | None
    sections: tuple[Section, ...] = field(default_factory=tuple)
    numbering: str = ""
    authors: tuple[str, ...] = ()

    def numbered(self) -> list[tuple[Section, list[tuple[int, Table]], list[tuple[int, FigureRef]]]]:
        """Each section with its tables and figures and their numbers (1, 2, ... in the order
        they come, tables and figures each in their own sequence): the numbering every format
        uses.
        """
        out = []
        n_tables = n_figures = 0
        for section in self.sections:
            tables = list(enumerate(section.tables, start=n_tables + 1))
            figures = list(enumerate(section.figures, start=n_figures + 1))
            n_tables, n_figures = n_tables + len(tables), n_figures + len(figures)
            out.append((section, tables, figures))
        return out

    def label(self, kind: str, number: int) -> str:
        """``"Table 2"``, ``"Figure S1"``: how the text and the captions name a table or figure."""
        return f"{kind} {self.numbering}{number}"


def drawn_width_cm(png: Path) -> float | None:
    """The width a PNG was drawn for, from its pixel width and resolution (``pHYs``), in cm;
    ``None`` if the file records no resolution in pixels per metre.
    """
    data = png.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{png.name}: not a PNG file")
    width = struct.unpack(">I", data[16:20])[0]
    at = data.find(b"pHYs")
    if at < 0:
        return None
    per_x, _per_y, unit = struct.unpack(">IIB", data[at + 4:at + 13])
    if unit != 1 or per_x == 0:
        return None
    return 100 * width / per_x


def _caption(label: str, text: str) -> str:
    return f"{label}. {caption_body(text)}"


def render_markdown(content: ReportContent) -> str:
    """The document as Markdown (tables inline, figures as image links, numbered captions).

    Every text of ``content`` is plain text, labels from the data included, and is escaped here
    (:func:`~rechallenge.analysis.reporting.escaping.markdown_text`), so no label becomes markup.
    """
    md = markdown_text
    out = [f"# {md(content.title)}", ""]
    out += [f"**{md(line, one_line=True)}**  " if i == 0 else f"{md(line, one_line=True)}  "
            for i, line in enumerate(content.header_lines)]
    out.append("")
    if content.banner:
        out += [f"> **{md(content.banner, one_line=True)}**", ""]
    for section, tables, figures in content.numbered():
        out += [f"{'#' * (_level(section) + 1)} {md(section.heading, one_line=True)}", ""]
        for paragraph in section.paragraphs:
            out += [md(paragraph), ""]
        for bullet in section.bullets:
            out.append(f"- {md(bullet, one_line=True)}")
        if section.bullets:
            out.append("")
        for number, table in tables:
            out += [table.to_markdown(content.label("Table", number)),
                    f"Files: `tables/{table.stem}.csv`, `.md`, `.tex`", ""]
        for number, fig in figures:
            caption = md(_caption(content.label("Figure", number), fig.caption), one_line=True)
            alt = md(fig.caption, one_line=True, link_text=True)
            out += [f"![{alt}]({fig.png})", "", f"*{caption}* (PDF: `{fig.pdf}`)", ""]
    return "\n".join(out).rstrip() + "\n"


def _level(section: Section) -> int:
    return min(max(section.level, 1), 3)


#: The page's style: tables scroll sideways inside their wrapper on a narrow screen instead of
#: running off it; figures shrink to the screen; in print, A4 with captions kept with their
#: table or figure, header rows repeated and rows unsplit.
_CSS = """
body{font-family:Georgia,serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
h1,h2,h3,h4{font-family:Helvetica,Arial,sans-serif} .header{color:#444}
.banner{border:2px solid #b00;background:#fee;padding:.8rem;font-weight:bold;color:#700}
.scroll{overflow-x:auto;max-width:100%;margin:1rem 0}
table{border-collapse:collapse;font-size:.85rem} caption,p.caption{text-align:left;
padding:.3rem 0;margin:1rem 0 0;font-size:.9rem} .scroll{margin-top:0}
th,td{border-bottom:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.k{white-space:nowrap} td.n{text-align:right;white-space:nowrap}
figure{margin:1.5rem 0} img{max-width:100%;height:auto} figcaption{font-size:.9rem}
.label{font-weight:bold}
@media print{@page{size:A4;margin:1.5cm} body{max-width:none;margin:0;padding:0}
.scroll{overflow:visible} h1,h2,h3,h4,p.caption,caption,thead,tbody tr:nth-child(-n+2)
{break-after:avoid;page-break-after:avoid}
figure,tr{break-inside:avoid;page-break-inside:avoid} thead{display:table-header-group}
a[href$=".pdf"]{display:none}}
"""


def render_html(content: ReportContent, directory: Path | None = None) -> str:
    """The document as one HTML page, self-contained: the figures of ``directory/figures``
    embedded as data URIs at the width they were drawn for (``None``: linked relatively).
    """
    esc = html_text
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(content.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(content.title)}</h1>",
        '<div class="header">' + "<br>".join(esc(line) for line in content.header_lines) + "</div>",
    ]
    if content.banner:
        parts.append(f'<p class="banner">{esc(content.banner)}</p>')
    for section, tables, figures in content.numbered():
        level = _level(section) + 1
        parts.append(f"<h{level}>{esc(section.heading)}</h{level}>")
        parts += [f"<p>{esc(p)}</p>" for p in section.paragraphs]
        if section.bullets:
            parts.append("<ul>" + "".join(f"<li>{esc(b)}</li>" for b in section.bullets) + "</ul>")
        # The caption is a paragraph before the table, not a <caption>: a browser keeps a
        # paragraph with what follows it when printing, but lets a table's caption be orphaned.
        parts += [f'<div class="table-block"><p class="caption">'
                  f'{table.caption_html(content.label("Table", number))}</p>'
                  f'<div class="scroll">{table.to_html(caption=False)}</div></div>'
                  for number, table in tables]
        for number, fig in figures:
            parts.append(_figure_html(fig, content.label("Figure", number), directory))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _figure_html(fig: FigureRef, label: str, directory: Path | None) -> str:
    esc = html_text
    png = None if directory is None else directory / fig.png
    if png is not None and png.is_file():
        width = drawn_width_cm(png)
        size = f' style="width:{width / 2.54 * 96:.0f}px"' if width else ""
        source = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        image = f'<img src="{source}" alt="{esc(caption_body(fig.caption))}"{size}>'
    elif png is not None:
        image = f"<p>({esc(fig.png)} missing)</p>"
    else:
        image = f'<img src="{esc(fig.png)}" alt="{esc(caption_body(fig.caption))}">'
    return (f'<figure>{image}<figcaption><span class="label">{esc(label)}.</span> '
            f'{esc(caption_body(fig.caption))} (<a href="{esc(fig.pdf)}">PDF</a>)'
            "</figcaption></figure>")


def write_report(content: ReportContent, directory: Path, stem: str = "report") -> list[Path]:
    """Write ``<stem>.md`` and ``<stem>.html`` (figures embedded) into ``directory``; return
    the paths.
    """
    md, page = directory / f"{stem}.md", directory / f"{stem}.html"
    md.write_text(render_markdown(content), encoding="utf-8")
    page.write_text(render_html(content, directory), encoding="utf-8")
    return [md, page]

"""Assemble the manuscript report: report.md and report.html from one content structure.

Both renderings are made from the same :class:`ReportContent`, so they cannot disagree. Figures are
referenced by relative path (``figures/<name>.png``), so a run directory can be moved or zipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rechallenge.analysis.reporting.escaping import html_text, markdown_text
from rechallenge.analysis.reporting.tables import Table


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
    """A report section: heading, paragraphs, tables and figures, in that order."""

    heading: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[FigureRef, ...] = ()
    bullets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportContent:
    """Everything the report says."""

    title: str
    header_lines: tuple[str, ...]
    banner: str | None
    sections: tuple[Section, ...] = field(default_factory=tuple)


def render_markdown(content: ReportContent) -> str:
    """The report as Markdown (tables inline, figures as image links).

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
    for section in content.sections:
        out += [f"## {md(section.heading, one_line=True)}", ""]
        for paragraph in section.paragraphs:
            out += [md(paragraph), ""]
        for bullet in section.bullets:
            out.append(f"- {md(bullet, one_line=True)}")
        if section.bullets:
            out.append("")
        for table in section.tables:
            out += [table.to_markdown(), f"Files: `tables/{table.stem}.csv`, `.md`, `.tex`", ""]
        for fig in section.figures:
            caption = md(fig.caption, one_line=True)
            alt = md(fig.caption, one_line=True, link_text=True)
            out += [f"![{alt}]({fig.png})", "", f"*{caption}* (PDF: `{fig.pdf}`)", ""]
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:Georgia,serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
h1,h2{font-family:Helvetica,Arial,sans-serif} .header{color:#444}
.banner{border:2px solid #b00;background:#fee;padding:.8rem;font-weight:bold;color:#700}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem} caption{text-align:left;
font-style:italic;padding:.3rem 0} th,td{border-bottom:1px solid #ccc;padding:.2rem .5rem;
text-align:left} th{background:#f3f3f3} figure{margin:1.5rem 0} img{max-width:min(100%,46rem)}
figcaption{font-style:italic;font-size:.9rem} td.k{white-space:nowrap}
"""


def render_html(content: ReportContent) -> str:
    """The report as a standalone HTML page (figures linked relatively)."""
    esc = html_text
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(content.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(content.title)}</h1>",
        '<div class="header">' + "<br>".join(esc(line) for line in content.header_lines) + "</div>",
    ]
    if content.banner:
        parts.append(f'<p class="banner">{esc(content.banner)}</p>')
    for section in content.sections:
        parts.append(f"<h2>{esc(section.heading)}</h2>")
        parts += [f"<p>{esc(p)}</p>" for p in section.paragraphs]
        if section.bullets:
            parts.append("<ul>" + "".join(f"<li>{esc(b)}</li>" for b in section.bullets) + "</ul>")
        parts += [table.to_html() for table in section.tables]
        for fig in section.figures:
            parts.append(
                f'<figure><img src="{esc(fig.png)}" alt="{esc(fig.caption)}">'
                f'<figcaption>{esc(fig.caption)} (<a href="{esc(fig.pdf)}">PDF</a>)</figcaption></figure>'
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(content: ReportContent, directory: Path) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into ``directory``; return the paths."""
    md, page = directory / "report.md", directory / "report.html"
    md.write_text(render_markdown(content), encoding="utf-8")
    page.write_text(render_html(content), encoding="utf-8")
    return [md, page]

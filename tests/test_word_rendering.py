"""Word files a journal takes: numbered captions, page numbers, properties, tables that do not
break their words, figures at their drawn width; HTML that stands alone; LaTeX with booktabs.

The Word file is read back with python-docx and its XML (what Word and LibreOffice read), not
compared with a stored file: each check states the property it needs. The same checks run on the
session's small run's report.docx at the end.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import docx
import numpy as np
import pandas as pd
import pytest
from docx.oxml.ns import qn
from matplotlib.figure import Figure

from rechallenge.analysis.plots.style import DOUBLE_WIDTH, SINGLE_WIDTH, figure_style, new_figure, save_figure
from rechallenge.analysis.reporting.column_widths import (
    CELL_PADDING_CM,
    column_layout,
    pieces,
    text_width_cm,
)
from rechallenge.analysis.reporting.document import (
    FigureRef,
    ReportContent,
    Section,
    drawn_width_cm,
    render_html,
    render_markdown,
)
from rechallenge.analysis.reporting.docx_parts import PORTRAIT_TEXT_CM
from rechallenge.analysis.reporting.docx_report import write_docx
from rechallenge.analysis.reporting.tables import Table

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
EMU_PER_CM = 360000
TWIPS_PER_CM = 1440 / 2.54

HEADLINE = Table("table2_headline", "Table 2. Estimates with 95% CrI.", pd.DataFrame({
    "Endpoint": ["Objective response (CR or PR)", "Time to progression"],
    "Estimate": ["Population average", "Typical site, median TTP in months"],
    "ICI-1": ["23.5% (14.2 to 37.2)", "5.5 (4.1 to 7.4)"],
    "ICI-2 vs ICI-1": ["Difference 2.7 pp (\u221215.6 to 19.8)", "Ratio of medians 1.17 (0.71 to 1.82)"],
    "Reliable": [True, False],
}))
LOO = Table("loo", "Model comparison.", pd.DataFrame({
    "Fit": ["Partial pooling", "Complete pooling"], "Rank": [1, 2],
    "ELPD (LOO)": [-305.7604, -310.12], "Smallest bulk ESS": [1750.597, 980.2],
    "Largest Pareto k": [0.4567, 0.9], "Reliable": [True, False]}))
#: Twelve columns of long numbers: too wide for a portrait page.
WIDE = Table("wide", "A wide table.", pd.DataFrame(
    {f"Quantity number {k}": [f"{1000 * k + 0.123456:.4f} ({k:.3f} to {k + 1:.3f})"]
     for k in range(12)}))


def _figure(width: float, directory: Path, name: str) -> FigureRef:
    with figure_style():
        fig = new_figure(width, 2.0)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], label="a line")
        ax.set_xlabel("Months")
        ax.set_title("A title")
        ax.legend()
    save_figure(fig, directory / "figures", name)
    return FigureRef(name, f"Figure 9. A figure {name}.")


@pytest.fixture
def content(tmp_path: Path) -> ReportContent:
    single = _figure(SINGLE_WIDTH, tmp_path, "single")
    double = _figure(DOUBLE_WIDTH, tmp_path, "double")
    return ReportContent(
        title="A report", header_lines=("Data: test",), banner=None, authors=("A. Author", "B. Author"),
        sections=(Section("Results", paragraphs=("Text.",), tables=(HEADLINE,), figures=(single,)),
                  Section("Model comparison", tables=(LOO, WIDE), figures=(double,), level=2),
                  Section("Glossary", bullets=("ELPD: expected log predictive density.",))))


def _xml(path: Path) -> docx.document.Document:
    return docx.Document(str(path))


def test_captions_are_word_captions_numbered_by_seq_fields(content, tmp_path):
    doc = _xml(write_docx(content, tmp_path, when=WHEN))
    captions = [p for p in doc.paragraphs if p.style.name == "Caption"]
    fields = [" ".join(t.text for t in p._p.iter(qn("w:instrText"))) for p in captions]
    assert [f.split()[:2] for f in fields] == [["SEQ", "Table"], ["SEQ", "Figure"], ["SEQ", "Table"],
                                               ["SEQ", "Table"], ["SEQ", "Figure"]]
    texts = [p.text for p in captions]
    assert [t.split(".")[0] for t in texts] == ["Table 1", "Figure 1", "Table 2", "Table 3", "Figure 2"]
    # The number a caption was written with is not repeated after the document's own.
    assert not any(re.search(r"\d\. (Table|Figure) \d", t) for t in texts)
    # No caption is split across pages.
    assert all(p.paragraph_format.keep_together for p in captions)


def test_supplement_numbers_tables_and_figures_with_s(content, tmp_path):
    from dataclasses import replace

    doc = _xml(write_docx(replace(content, numbering="S"), tmp_path, when=WHEN))
    texts = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert texts[0].startswith("Table S1. ") and texts[1].startswith("Figure S1. ")
    assert render_markdown(replace(content, numbering="S")).count("*Table S") == 3


def test_headings_levels_page_numbers_and_properties(content, tmp_path):
    doc = _xml(write_docx(content, tmp_path, when=WHEN))
    headings = {p.style.name for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))}
    assert {"Title", "Heading 1", "Heading 2"} <= headings
    footer = doc.sections[0].footer._element
    assert any("PAGE" in t.text for t in footer.iter(qn("w:instrText")))
    props = doc.core_properties
    assert (props.title, props.author) == ("A report", "A. Author; B. Author")
    assert props.created == WHEN


def test_author_is_the_package_without_authors(content, tmp_path):
    from dataclasses import replace

    doc = _xml(write_docx(replace(content, authors=()), tmp_path, when=WHEN))
    assert doc.core_properties.author == "rechallenge"


def _check_tables(doc: docx.document.Document) -> int:
    """Every row unsplittable, the header repeated, every column as wide as its words."""
    for table in doc.tables:
        rows = table._tbl.findall(qn("w:tr"))
        for k, row in enumerate(rows):
            props = row.find(qn("w:trPr"))
            assert props is not None and props.find(qn("w:cantSplit")) is not None
            assert (props.find(qn("w:tblHeader")) is not None) == (k == 0)
        grid = [int(c.get(qn("w:w"))) / TWIPS_PER_CM for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
        for j, column in enumerate(table.columns):
            for i, cell in enumerate(column.cells):
                for run in cell.paragraphs[0].runs:
                    size = run.font.size.pt
                    for piece in pieces(cell.text, whole_estimates=False):
                        need = text_width_cm(piece, size, bold=i == 0) + CELL_PADDING_CM
                        assert grid[j] >= need - 1e-3, (cell.text, piece, grid[j], need)
    return len(doc.tables)


def test_tables_never_split_rows_repeat_headers_and_fit_their_words(content, tmp_path):
    doc = _xml(write_docx(content, tmp_path, when=WHEN))
    assert _check_tables(doc) == 3


def test_a_wide_table_gets_a_landscape_page_and_the_text_returns_to_portrait(content, tmp_path):
    doc = _xml(write_docx(content, tmp_path, when=WHEN))
    landscape = [s.page_width > s.page_height for s in doc.sections]
    assert landscape[0] is False and True in landscape and landscape[-1] is False


def _check_figures(doc: docx.document.Document, directory: Path) -> int:
    """Each picture's width is the width its PNG was drawn for (to 1%)."""
    extents = [int(e.get("cx")) / EMU_PER_CM for e in doc.element.body.iter(
        "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}extent")]
    names = [b.get("name") for b in doc.element.body.iter(
        "{http://schemas.openxmlformats.org/drawingml/2006/picture}cNvPr")]
    assert len(extents) == len(names)
    for extent, name in zip(extents, names):
        drawn = drawn_width_cm(directory / "figures" / name)
        assert drawn is not None and abs(extent - min(drawn, PORTRAIT_TEXT_CM)) <= 0.01 * drawn
    return len(extents)


def test_figures_are_inserted_at_their_drawn_width(content, tmp_path):
    doc = _xml(write_docx(content, tmp_path, when=WHEN))
    assert _check_figures(doc, tmp_path) == 2
    assert abs(drawn_width_cm(tmp_path / "figures" / "single.png") - 8.5) < 0.01
    assert abs(drawn_width_cm(tmp_path / "figures" / "double.png") - 17.5) < 0.01


def test_column_layout_fits_every_word_and_takes_landscape_only_when_needed():
    header = ["Endpoint", "Estimate"]
    rows = [["Objective response", "23.5% (14.2 to 37.2)"]]
    narrow = column_layout(header, rows, portrait_cm=17, landscape_cm=25)
    assert not narrow.landscape and narrow.font_pt == 8.5
    # Estimates are kept whole when there is room.
    assert narrow.widths_cm[1] >= text_width_cm(rows[0][1], 8.5) + CELL_PADDING_CM - 1e-9
    wide = column_layout([f"c{k}" for k in range(12)], [["1234.5678 (1.234 to 2.345)"] * 12],
                         portrait_cm=17, landscape_cm=25)
    assert wide.landscape or wide.font_pt < 8.5
    assert sum(wide.widths_cm) <= 25 + 1e-9


def test_html_stands_alone_and_reflows(content, tmp_path):
    page = render_html(content, tmp_path)
    sources = re.findall(r'<img[^>]* src="([^"]+)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert page.count('<div class="scroll"><table') == 3 and "<caption>" not in page
    assert "@media print" in page and "break-after:avoid" in page
    assert '<p class="caption"><span class="label">Table 1.</span> Estimates with 95% CrI.</p>' in page


def test_latex_uses_booktabs_right_aligned_numbers_and_no_own_number():
    tex = HEADLINE.to_latex()
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and r"\hline" not in tex
    assert r"\caption{Estimates with 95\% CrI.}" in tex
    spec = re.search(r"\\begin\{tabular\}\{([^}]*)\}", LOO.to_latex())
    assert spec is not None and spec[1] == "lrrrrl"
    wide = WIDE.to_latex()
    assert r"\scriptsize" in wide or r"\footnotesize" in wide


def test_numbers_read_at_the_precision_of_their_quantity():
    shown = LOO.display()
    assert list(shown["ELPD (LOO)"]) == ["\u2212305.8", "\u2212310.1"]
    assert list(shown["Smallest bulk ESS"]) == ["1751", "980"]
    assert list(shown["Largest Pareto k"]) == ["0.46", "0.90"]
    assert list(shown["Reliable"]) == ["yes", "no"]
    assert "-" not in "".join(shown["ELPD (LOO)"])


@pytest.mark.integration
@pytest.mark.parametrize("stem", ["report", "supplement"])
def test_the_runs_main_text_and_supplement_render_cleanly(small_run: Path, stem: str):
    from rechallenge.analysis.reporting.vocabulary import MACHINE_NAMES

    doc = _xml(small_run / f"{stem}.docx")
    assert _check_tables(doc) > 0
    assert _check_figures(doc, small_run) > 0
    captions = [p for p in doc.paragraphs if p.style.name == "Caption"]
    assert len(captions) == len(doc.tables) + _check_figures(doc, small_run)
    assert all(any("SEQ" in t.text for t in p._p.iter(qn("w:instrText"))) for p in captions)
    prefix = "S" if stem == "supplement" else ""
    assert [p.text.split(".")[0] for p in captions if p.text.startswith("Table")] == [
        f"Table {prefix}{n}" for n in range(1, len(doc.tables) + 1)]
    footer = doc.sections[0].footer._element
    assert any("PAGE" in t.text for t in footer.iter(qn("w:instrText")))
    props = doc.core_properties
    assert props.title and props.author == "rechallenge"
    assert props.created == datetime(1980, 1, 1, tzinfo=timezone.utc)  # SOURCE_DATE_EPOCH
    text = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for row in t.rows for c in row.cells])
    found = sorted(m for m in MACHINE_NAMES if re.search(rf"(?<![\w/.]){re.escape(m)}(?![\w])", text))
    assert not found, found
    # Nor the code's names of the models' parameters (the text writes \u03bc, \u03c4, \u03b7).
    assert not re.findall(r"(?<![\w/.])(mu|tau|eta|beta|sigma|lkj_eta)(?![\w])", text)
    if stem == "report":
        # A numbered reference list, every entry cited in the text by its number.
        headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
        listed = [p.text for p in doc.paragraphs[
            [p.text for p in doc.paragraphs].index("References") + 1:] if p.text.strip()]
        assert headings[-1] == "References" and len(listed) >= 5
        for n, entry in enumerate(listed, start=1):
            assert entry.startswith(f"{n}. ") and re.search(r"(18|19|20)\d\d", entry), entry
            assert re.search(rf"\[([\d,]*,)?{n}(,[\d,]*)?\]", text), n
    page = (small_run / f"{stem}.html").read_text(encoding="utf-8")
    assert not re.findall(r'<img[^>]* src="(?!data:)', page)
    # Every figure of the run was drawn at a journal width and saved at it (nothing spilled).
    widths = {png.name: drawn_width_cm(png) for png in (small_run / "figures").glob("*.png")}
    assert widths and all(w is not None and min(abs(w - 8.5), abs(w - 17.5)) < 0.01
                          for w in widths.values()), widths


def test_figures_are_drawn_at_journal_widths_with_print_sized_text(tmp_path):
    from rechallenge.analysis.plots.map_prior import plot_map_prior_lines

    rng = np.random.default_rng(1)
    beta = {"family": "beta", "weights": [0.7, 0.3], "a": [8.0, 2.0], "b": [27.0, 4.0]}
    normal = {"family": "normal", "weights": [1.0], "loc": [1.7], "scale": [0.3]}
    fig = plot_map_prior_lines([("ICI-1", rng.beta(8, 27, 500), beta, None),
                                ("ICI-2", np.exp(rng.normal(1.7, 0.3, 500)), normal, normal)])
    _check_print_size(fig, tmp_path)


def _check_print_size(fig: Figure, directory: Path) -> None:
    width_cm = fig.get_size_inches()[0] * 2.54
    assert min(abs(width_cm - 8.5), abs(width_cm - 17.5)) < 0.01
    sizes = {t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize"))
             if getattr(t, "get_text", lambda: "")()}
    assert sizes and min(sizes) >= 7 and max(sizes) <= 9, sizes
    png, _ = save_figure(fig, directory, "fig")
    assert abs(drawn_width_cm(png) - width_cm) < 0.01


def test_map_prior_density_integrates_to_one_in_months_and_probability():
    from rechallenge.analysis.plots.map_prior import mixture_density

    beta = {"family": "beta", "weights": [0.7, 0.3], "a": [8.0, 2.0], "b": [27.0, 4.0]}
    normal = {"family": "normal", "weights": [0.4, 0.6], "loc": [1.7, 1.9], "scale": [0.3, 0.5]}
    p = np.linspace(1e-6, 1 - 1e-6, 20001)
    months = np.linspace(1e-4, 400, 400001)
    assert abs(np.trapezoid(mixture_density(beta, p), p) - 1) < 1e-3
    assert abs(np.trapezoid(mixture_density(normal, months, months=True), months) - 1) < 1e-3


@pytest.mark.integration
def test_model_comparison_ranks_count_from_one(small_run: Path):
    loo = pd.read_csv(small_run / "tables" / "loo.csv")
    for _, fits in loo.groupby("endpoint"):
        assert sorted(fits["rank"]) == list(range(1, len(fits) + 1))
        assert fits.loc[fits["rank"] == 1, "elpd_loo"].iloc[0] == fits["elpd_loo"].max()


def test_a_second_document_is_a_second_content(content, tmp_path):
    from dataclasses import replace

    from rechallenge.analysis.reporting.docx_report import write_document

    supplement = replace(content, title="Supplement", sections=content.sections[1:], numbering="S")
    paths = write_document(content, tmp_path) + write_document(supplement, tmp_path, "supplement")
    assert [p.name for p in paths] == ["report.md", "report.html", "report.docx",
                                       "supplement.md", "supplement.html", "supplement.docx"]
    doc = _xml(tmp_path / "supplement.docx")
    assert [p.text.split(".")[0] for p in doc.paragraphs if p.style.name == "Caption"] == [
        "Table S1", "Table S2", "Figure S1"]
    assert "Table S2." in (tmp_path / "supplement.html").read_text(encoding="utf-8")


def test_a_heading_goes_with_its_wide_table_onto_the_landscape_page(tmp_path):
    content = ReportContent(title="A report", header_lines=(), banner=None, sections=(
        Section("Text", paragraphs=("Some text.",)), Section("Wide", tables=(WIDE,))))
    doc = _xml(write_docx(content, tmp_path, when=WHEN))
    paragraphs = doc.paragraphs
    # A section ends with the paragraph that holds its properties (w:sectPr).
    breaks = [k for k, p in enumerate(paragraphs) if p._p.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None]
    heading = next(k for k, p in enumerate(paragraphs) if p.text == "Wide")
    assert len(breaks) == 1 and heading > breaks[0]
    assert [s.page_width > s.page_height for s in doc.sections] == [False, True]


def test_text_is_measured_the_same_after_matplotlib_has_drawn_text() -> None:
    """Matplotlib sets the size of its shared font objects to each label it draws; the column
    widths must not follow (a run's Word tables differed between a process that had drawn
    figures and one that had not)."""
    import io

    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from rechallenge.analysis.reporting.column_widths import PT_PER_CM, text_width_cm

    text_width_cm("Table", 10.0)  # the measuring font exists before the figure is drawn
    fig, ax = plt.subplots()
    ax.set_title("ЖЮЯ", fontsize=31)
    fig.savefig(io.BytesIO(), dpi=300)
    plt.close(fig)
    text = "ЖЮЯ"  # letters no table of the suite holds, so not yet measured in this process
    reference = FT2Font(font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans")))
    reference.set_size(100, 72)
    em = sum(reference.load_char(ord(c)).linearHoriAdvance / 65536 / 100 for c in text)
    assert text_width_cm(text, 10.0) == pytest.approx(10.0 * em / PT_PER_CM, rel=1e-12)

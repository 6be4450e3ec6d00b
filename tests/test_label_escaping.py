"""Labels are data, never markup: hostile site, line and covariate labels in every output format.

The hostile dataset is the shipped one with its sites, lines and regimen classes renamed (no
sampling here; ``test_hostile_labels_run.py`` runs the whole analysis on it).
"""

from __future__ import annotations

import csv
import re
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from rechallenge.analysis.plots.forest import forest_data, plot_forest_lines
from rechallenge.analysis.plots.ppc import plot_site_count_ppc_lines
from rechallenge.analysis.plots.style import save_figure
from rechallenge.analysis.reporting.document import (
    FigureRef,
    ReportContent,
    Section,
    render_html,
    render_markdown,
)
from rechallenge.analysis.reporting.escaping import (
    html_text,
    latex_text,
    markdown_text,
    spreadsheet_cell,
    spreadsheet_safe,
)
from rechallenge.analysis.reporting.prose import binary_sentence
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL
from rechallenge.data import load_study

#: One hostile label per site of the shipped data (14 sites); the last stays ordinary.
HOSTILE_SITES = (
    "$x^2$", "a|b <script>alert(1)</script>", "=cmd|' /C calc'!A0", "+1+2", "-2+3", "@SUM(A1)",
    "[opt] site", "*star*", "50% & #1", "{a}_b^c~d\\e", "$\\frac{$", "_under_",
    "[x](javascript:alert(1))", "S14",
)
HOSTILE_LINES = ("<b>1st</b>", "*2nd|$")
HOSTILE_REGIMENS = {"ici_alone": '=HYPERLINK("http://x")', "dual_ici": "dual|ici"}
ORDINARY = ("S01", "ICI-1", "ICI-2 vs ICI-1", "ici_alone", "response__none", "mu[ICI-1]",
            "R ~ LKJ(lkj_eta)", "R-hat <= 1.01", "k > 0.7", "-0.171", "95% CrI (ET)")


def write_hostile_patients(path: Path) -> Path:
    """The shipped synthetic patient table with hostile site, line and regimen labels."""
    source = files("rechallenge.data") / "synthetic_scheiner2023.csv"
    frame = pd.read_csv(str(source), dtype=str, keep_default_na=False)
    sites = dict(zip(sorted(frame["site"].unique()), HOSTILE_SITES))
    frame["site"] = frame["site"].map(sites)
    frame["line"] = frame["line"].map(dict(zip(("ICI-1", "ICI-2"), HOSTILE_LINES)))
    frame["regimen_class"] = frame["regimen_class"].map(lambda r: HOSTILE_REGIMENS.get(r, r))
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory):
    path = write_hostile_patients(tmp_path_factory.mktemp("hostile") / "patients.csv")
    return load_study([path], lines=HOSTILE_LINES)


@pytest.fixture
def table(study) -> Table:
    """Counts per site, line and regimen, with a negative number column."""
    p = study.patients
    frame = (p.groupby(["site", "line", "regimen_class"], sort=True).size()
             .rename("n").reset_index())
    frame["shift"] = -0.5
    caption = f"Patients per site at {HOSTILE_LINES[0]} and {HOSTILE_LINES[1]}."
    return Table("hostile", caption, frame)


# --- the escaping functions -----------------------------------------------------------------------

@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(text):
    assert markdown_text(text) == text
    assert spreadsheet_cell(text) == text


def test_markdown_escapes_markup():
    assert markdown_text("a|b") == "a\\|b"
    assert markdown_text("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    assert markdown_text("$x^2$") == "\\$x^2\\$"
    assert markdown_text("*a* _b_ ~~c~~ `d`") == "\\*a\\* \\_b\\_ \\~\\~c\\~\\~ \\`d\\`"
    assert markdown_text("[x](javascript:alert(1))") == "[x\\](javascript:alert(1))"
    assert markdown_text("a\\b & c") == "a\\\\b &amp; c"
    assert markdown_text("one\ntwo", one_line=True) == "one two"


def test_latex_escapes_specials_and_guards_a_leading_bracket_or_star():
    assert latex_text("{a}_b^c~d\\e 50% & #1 $") == (
        r"\{a\}\_b\textasciicircum{}c\textasciitilde{}d\textbackslash{}e 50\% \& \#1 \$")
    assert latex_text("[opt] site") == "{}[opt] site"
    assert latex_text("*star*") == "{}*star*"
    assert latex_text("a\n\nb") == "a  b"
    # Not special to TeX, but OT1 (LaTeX's default font encoding) prints them as ¡, ¿ and —.
    assert latex_text("p < 0.05 | x > 1") == r"p \textless{} 0.05 \textbar{} x \textgreater{} 1"


def test_spreadsheet_cells_that_would_run_are_quoted_and_numbers_are_not():
    for formula in ("=cmd|' /C calc'!A0", "+1+2", "-2+3", "@SUM(A1)", "\t=1", " =1+1"):
        assert spreadsheet_cell(formula) == "'" + formula
    for value in ("-0.5", "+3", "1e-3", "-", -0.5, 3, None):
        assert spreadsheet_cell(value) == value
    frame = spreadsheet_safe(pd.DataFrame({"=x": ["=1+1", "S01"], "v": [-0.5, 2.0]}))
    assert list(frame.columns) == ["'=x", "v"]
    assert list(frame.iloc[:, 0]) == ["'=1+1", "S01"] and frame["v"].dtype == float


def test_html_escapes_markup():
    assert html_text('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"


# --- tables of the hostile dataset ----------------------------------------------------------------

def test_markdown_table_escapes_pipes_and_has_no_raw_html(table, tmp_path):
    md = table.write(tmp_path)[1].read_text(encoding="utf-8")
    assert "<script>" not in md and "<b>" not in md
    assert "a\\|b &lt;script&gt;alert(1)&lt;/script&gt;" in md and "\\*2nd\\|\\$" in md
    # Every row keeps its columns: unescaped pipes would add cells.
    rows = [r for r in md.splitlines() if r.startswith("|")]
    cells = {len(r.replace("\\|", "").split("|")) for r in rows}
    assert cells == {len(table.frame.columns) + 2}


def test_latex_table_escapes_every_label(table, tmp_path):
    tex = table.write(tmp_path)[2].read_text(encoding="utf-8")
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    assert "{}[opt] site" in body and "{}*star*" in body
    assert r"\$\textbackslash{}frac\{\$" in body and r"\{a\}\_b" in body
    assert r"50\% \& \#1" in body and r"\$x\textasciicircum{}2\$" in body
    # Each row has as many cells as columns: no label adds an unescaped `&`.
    for row in body.strip().splitlines():
        assert row.count(" & ") == len(table.frame.columns) - 1, row


def test_csv_label_cells_are_neutralised_and_numbers_stay_numbers(table, tmp_path):
    with table.write(tmp_path)[0].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    sites = {r["site"] for r in rows}
    assert {"'=cmd|' /C calc'!A0", "'+1+2", "'-2+3", "'@SUM(A1)"} <= sites
    assert "$x^2$" in sites and "S14" in sites
    assert not any(s.startswith(("=", "+", "-", "@")) for s in sites)
    assert {r["regimen_class"] for r in rows} >= {"'=HYPERLINK(\"http://x\")", "dual|ici"}
    assert {r["shift"] for r in rows} == {"-0.5"}


# --- report prose ---------------------------------------------------------------------------------

def _content() -> ReportContent:
    first, later = HOSTILE_LINES
    summary = pd.DataFrame([
        {"quantity": "probability_population", "line": line, "mean": 0.3, "median": 0.3,
         "lower": 0.2, "upper": 0.4} for line in HOSTILE_LINES])
    sentence = binary_sentence(summary, "response", HOSTILE_LINES, DEFAULT_INTERVAL)
    return ReportContent(
        title="T", header_lines=(f"lines {first}, {later}",),
        banner=f"z_site[{HOSTILE_SITES[1]}]",
        sections=(Section("Results", paragraphs=(sentence,), bullets=(HOSTILE_SITES[12],),
                          figures=(FigureRef("f", f"Sites {HOSTILE_SITES[12]} {first}"),)),))


def test_report_markdown_has_no_raw_html_link_or_math():
    md = render_markdown(_content())
    assert "<script>" not in md and "<b>" not in md and "</b>" not in md
    assert not re.search(r"(?<!\\)\]\(javascript", md) and "$x" not in md
    assert "![Sites \\[x\\](javascript" in md  # the image's alt text keeps its brackets
    assert "at &lt;b&gt;1st&lt;/b&gt; and " in md and "at \\*2nd\\|\\$ (posterior" in md


def test_report_html_escapes_labels():
    page = render_html(_content())
    assert "<script>" not in page and "<b>1st" not in page
    assert "&lt;b&gt;1st&lt;/b&gt;" in page


# --- figures --------------------------------------------------------------------------------------

def _site_table(sites: list[str], lines: tuple[str, ...]) -> pd.DataFrame:
    rows = [{"endpoint": "response", "quantity": "probability_site", "line": line, "site": site,
             "n": 4, "events": 1, "mean": 0.3, "median": 0.3, "lower": 0.1, "upper": 0.6,
             "interval": DEFAULT_INTERVAL.short} for line in lines for site in sites]
    return pd.DataFrame(rows)


def _summary(lines: tuple[str, ...]) -> pd.DataFrame:
    quantities = ("probability_population", "probability_typical_site", "probability_new_site")
    return pd.DataFrame([{"endpoint": "response", "quantity": q, "line": line, "mean": 0.3,
                          "median": 0.3, "lower": 0.2, "upper": 0.4,
                          "interval": DEFAULT_INTERVAL.short}
                         for line in lines for q in quantities])


def _texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


def _assert_drawn_literally(fig: Figure, tmp_path: Path, labels: tuple[str, ...]) -> None:
    # Drawing parses mathtext when it is on: "$\frac{$" would raise here.
    save_figure(fig, tmp_path, "hostile")
    assert (tmp_path / "hostile.png").stat().st_size > 0
    shown = {t.get_text() for t in _texts(fig)}
    assert set(labels) <= shown
    assert not any(t.get_parse_math() or t.get_usetex() for t in _texts(fig))


def test_forest_plot_draws_hostile_site_and_line_labels_as_text(tmp_path):
    sites = list(HOSTILE_SITES)
    fig = plot_forest_lines(_site_table(sites, HOSTILE_LINES), _summary(HOSTILE_LINES),
                            lines=HOSTILE_LINES, title="$\\alpha$ response",
                            highlight_sites=["$x^2$"])
    _assert_drawn_literally(fig, tmp_path, ("$x^2$", "$\\frac{$", "{a}_b^c~d\\e", *HOSTILE_LINES))


def test_site_count_ppc_draws_hostile_site_labels_as_text(tmp_path):
    rows = []
    for line in HOSTILE_LINES:
        for site in HOSTILE_SITES:
            rows.append({"site": site, "line": line, "n": 4, "observed": 1, "rep_mean": 1.2,
                         "rep_median": 1.0, "lower": 0.0, "upper": 3.0, "p_value": 0.5,
                         "p_value_below": 0.6, "interval": DEFAULT_INTERVAL.short})
    fig = plot_site_count_ppc_lines(pd.DataFrame(rows), title="$x_1$")
    _assert_drawn_literally(fig, tmp_path, ("$x^2$", "$\\frac{$", "$x_1$", *HOSTILE_LINES))


def test_forest_data_keeps_hostile_labels(study):
    # The labels reach the plots unchanged (escaping happens only where text is written).
    data = forest_data(_site_table(list(study.sites), study.lines), _summary(study.lines),
                       line=study.lines[0])
    assert set(HOSTILE_SITES) <= set(data["label"].astype(str))
    assert np.isfinite(data["median"]).all()

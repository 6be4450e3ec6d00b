"""The main job end to end: run directory, gate, reproducibility, atomicity, report rebuild.

The small analysis of ``conftest.small_run`` (response and TTP, 2 chains x 150 draws, with
comparators and sensitivity refits) is shared; it is not meant to converge, so it is accepted with
``allow_unconverged``. Runtime about 2-3 minutes on 2 cores (compilation dominates).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import docx
import pandas as pd
import pytest
from conftest import SEED, small_config
from test_run_safety import make_run

from rechallenge.analysis.cli import main
from rechallenge.analysis.run.fitio import DataHashMismatch
from rechallenge.analysis.run.manifest import RunDirectoryError
from rechallenge.analysis.run.outputs import build_outputs
from rechallenge.analysis.run.pipeline import UnconvergedError, analyze, rebuild_report
from rechallenge.analysis.run.run_reader import read_run
from rechallenge.analysis.settings.config import ConfigError, load_config, parse_config

pytestmark = pytest.mark.integration

QUIET = lambda _message: None  # noqa: E731


@pytest.fixture(scope="module")
def run(small_run: Path) -> Path:
    return small_run


def test_run_directory_has_every_part(run: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["synthetic_data"] is True
    assert manifest["seed"] == SEED
    assert {"pymc", "arviz", "nutpie", "rechallenge"} <= set(manifest["versions"])
    assert manifest["input_hashes"]["study_rows"]
    assert {"fit_total", "report"} <= set(manifest["timings_seconds"])
    # Sensitivity variants are saved only where refitted (their Pareto k was too high).
    variants = manifest["sensitivity"]
    assert set(variants) == {f"{e}__{v}" for e in ("response", "ttp")
                             for v in ("tau_half", "tau_double")}
    assert {r["method"] for r in variants.values()} <= {"reweighted", "refitted"}
    expected_fits = {f"{e}{v}" for e in ("response", "ttp") for v in ("", "__complete", "__none")}
    expected_fits |= {key for key, r in variants.items() if r["method"] == "refitted"}
    assert set(manifest["fits"]) == expected_fits
    assert {p.stem for p in (run / "fits").glob("*.nc")} == expected_fits
    for stem in ("comparison_response", "comparison_ttp", "sites_response", "diagnostics", "loo",
                 "leave_one_site_out", "sensitivity_priors", "sensitivity_power_scaling",
                 "descriptive", "priors", "map_prior"):
        for ext in ("csv", "md", "tex"):
            assert (run / "tables" / f"{stem}.{ext}").is_file(), f"{stem}.{ext}"
    for stem in ("forest_response", "contrast_response", "contrast_ttp", "survival_ttp",
                 "ppc_response", "ppc_ttp", "rank_response", "rank_ttp"):
        for ext in ("png", "pdf"):
            assert (run / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    assert (run / "map_prior.json").is_file()
    assert load_config(run / "config.toml") == small_config()


def test_report_states_synthetic_data_interval_and_failed_gate(run: Path) -> None:
    report = (run / "report.md").read_text()
    html = (run / "report.html").read_text()
    assert "SYNTHETIC" in report.splitlines()[0]
    assert "95% equal-tailed credible interval" in report
    # 150 draws on 2 chains cannot reach ESS 400: the first page says the gate failed.
    first_page = "\n".join(report.splitlines()[:12])
    assert "CONVERGENCE GATE FAILED" in first_page and "--allow-unconverged" in first_page
    assert 'class="banner"' in html and "<table" in html
    # The page stands alone: every figure is embedded, none is linked.
    assert 'src="data:image/png;base64,' in html and 'src="figures/' not in html


def test_latex_tables_are_valid_tabular(run: Path) -> None:
    for tex in (run / "tables").glob("*.tex"):
        text = tex.read_text()
        tabular = "tabularx" if r"\begin{tabularx}" in text else "tabular"
        for env in ("table", tabular):
            assert text.count(rf"\begin{{{env}}}") == text.count(rf"\end{{{env}}}") == 1, tex.name
        # booktabs rules; a tabularx spans the text width and wraps its X columns.
        spec = re.search(r"\\begin\{tabularx?\}(?:\{\\linewidth\})?\{((?:[lrc]|>\{\\raggedright"
                         r"\\arraybackslash\}X)+)\}", text)
        assert spec, tex.name
        columns = len(spec.group(1).replace(r">{\raggedright\arraybackslash}", ""))
        body = text[spec.end():text.index(rf"\end{{{tabular}}}")]
        assert r"\toprule" in body and r"\midrule" in body and r"\bottomrule" in body, tex.name
        rules = (r"\toprule", r"\midrule", r"\bottomrule")
        rows = [r for r in body.split(r"\\") if r.strip() and r.strip() not in rules]
        for row in rows:
            for rule in rules:
                row = row.replace(rule, "")
            cells = re.split(r"(?<!\\)&", row)
            assert len(cells) == columns, (tex.name, row)
        # Unescaped specials outside commands would break compilation.
        assert not re.search(r"(?<!\\)[%_#$]", body), tex.name


def _files(run: Path) -> dict[Path, bytes]:
    """Every file of a run but its manifest (which records timings), by path."""
    return {p.relative_to(run): p.read_bytes() for p in run.rglob("*")
            if p.is_file() and p.name != "manifest.json"}


def test_rebuilt_report_equals_the_original(run: Path, tmp_path: Path, engine) -> None:
    """Every file, Word documents, figures and fits included: the same bytes."""
    before = _files(run)
    manifest = json.loads((run / "manifest.json").read_text())
    recorded = manifest["sensitivity"]
    rebuild_report(run, progress=QUIET, engine=engine)
    after = _files(run)
    assert before.keys() == after.keys()
    assert {Path("report.docx"), Path("tables/reader/table2_headline.docx")} <= set(before)
    # Among them the sensitivity table, its reweighted variants recomputed from the saved fits.
    assert {Path("tables/sensitivity_priors.csv"), Path("tables/reader/sensitivity_priors.md")} <= set(before)
    changed = [str(k) for k in before if before[k] != after[k]]
    assert changed == []
    rebuilt = json.loads((run / "manifest.json").read_text())
    assert rebuilt["sensitivity"] == recorded
    assert rebuilt["files"] == manifest["files"]  # the manifest's hashes agree too
    # The Word files carry the run's recorded time, not the time they were written.
    when = datetime.fromisoformat(manifest["document_time"])
    props = docx.Document(str(run / "report.docx")).core_properties
    assert props.created == props.modified == when and props.author == "rechallenge"


def test_sensitivity_table_says_how_each_variant_was_obtained(run: Path, tmp_path: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    table = pd.read_csv(run / "tables" / "sensitivity_priors.csv")
    for key, record in manifest["sensitivity"].items():
        endpoint, variant = key.split("__")
        rows = table[table["endpoint"] == endpoint]
        assert set(rows[f"{variant}_method"]) == {record["method"]}
        assert rows[f"{variant}_pareto_k"].to_numpy() == pytest.approx(record["pareto_k"], rel=1e-8)
    methods = [r["method"] for r in manifest["sensitivity"].values()]
    reader = (run / "tables" / "reader" / "sensitivity_priors.md").read_text()
    assert reader.count("reweighted, k = ") == methods.count("reweighted")
    assert reader.count("refitted, k = ") == methods.count("refitted")
    assert "importance reweighting of the main posterior" in (run / "report.md").read_text()
    # A record that the saved fits do not reproduce is refused before anything is rebuilt.
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    key = next(iter(manifest["sensitivity"]))
    manifest["sensitivity"][key]["pareto_k"] += 0.01
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunDirectoryError, match=key):
        rebuild_report(copy, progress=QUIET)


def test_the_workers_progress_lines_reach_the_console(run: Path) -> None:
    """Each sensitivity variant is fitted or reweighted on a worker; its line is shown anyway."""
    lines = (run.parent / "progress.txt").read_text().splitlines()
    manifest = json.loads((run / "manifest.json").read_text())
    for key, record in manifest["sensitivity"].items():
        endpoint, variant = key.split("__")
        factor = {"tau_half": "x0.5", "tau_double": "x2"}[variant]
        said = "reweighted" if record["method"] == "reweighted" else "sensitivity refit"
        assert [m for m in lines if m.startswith(f"{endpoint}: ") and factor in m
                and said in m], (key, lines)


def test_outputs_made_on_the_engine_equal_those_made_in_one_process(
        run: Path, tmp_path: Path) -> None:
    config, study, fits, _ = read_run(run)
    staging = tmp_path / "inline"
    staging.mkdir()
    build_outputs(staging, study, fits, config, allow_unconverged=True, client=None)
    made = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    assert made and all((run / p).is_file() for p in made)
    for path in made:  # every file: tables, report, Word documents and figures
        assert (staging / path).read_bytes() == (run / path).read_bytes(), str(path)


def test_fits_are_checked_against_the_data(run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(run, copy)
    patients = copy / "data" / "patients.csv"
    frame = pd.read_csv(patients, dtype=str, keep_default_na=False)
    frame.loc[0, "best_response"] = "PD" if frame.loc[0, "best_response"] != "PD" else "PR"
    frame.to_csv(patients, index=False)
    with pytest.raises(RunDirectoryError, match=r"patients\.csv: changed"):
        read_run(copy)  # the manifest's file hashes catch it first
    with pytest.raises(DataHashMismatch, match="hash"):
        read_run(copy, check=())  # and each fit's data hash behind them


def test_existing_run_is_not_overwritten_without_asking(run: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["analyze", "--out", str(run), "--quiet"])
    assert code == 1
    assert "--overwrite" in capsys.readouterr().err


def test_gate_fails_on_a_bad_fit(tmp_path: Path, engine) -> None:
    config = small_config(comparators=False, sensitivity=False)
    config = replace(config, analysis=replace(config.analysis, endpoints=("response",)))
    config = config.with_sampler(draws=5, tune=5, chains=1)
    with pytest.raises(UnconvergedError) as failure:
        analyze(config, tmp_path / "bad", progress=QUIET, engine=engine)
    message = failure.value.gate.message()
    assert "bulk ESS" in message and "What to try" in message and "--draws" in message
    # The run is still written, for inspection, and says so on its first page.
    assert "CONVERGENCE GATE FAILED" in (tmp_path / "bad" / "report.md").read_text()
    manifest = json.loads((tmp_path / "bad" / "manifest.json").read_text())
    assert manifest["gate"]["passed"] is False


def _config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_killed_run_leaves_nothing_and_keeps_the_earlier_run(tmp_path: Path) -> None:
    out = make_run(tmp_path / "run")  # a run of this package: --overwrite may replace it
    # The run must still be sampling when it is killed: the TTP model with far more draws than any
    # analysis uses takes minutes, and the signal comes one second after fitting starts.
    config = _config_file(tmp_path, '[analysis]\nendpoints = ["ttp"]\n'
                          "[sampler]\ndraws = 200000\ntune = 1000\nchains = 2\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rechallenge.analysis.cli", "analyze", "--out", str(out),
         "--config", str(config), "--overwrite"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 240
    for line in proc.stderr:  # wait until sampling has started
        if "fitting" in line or time.monotonic() > deadline:
            break
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    assert proc.returncode != 0
    assert (out / "marker.txt").read_text() == "earlier run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "run"]


def test_config_rejects_unknown_keys_and_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config({"sampler": {"draw": 10}})
    with pytest.raises(ConfigError, match="pooling"):
        parse_config({"analysis": {"pooling": "some"}})
    with pytest.raises(ConfigError, match="unknown endpoint"):
        parse_config({"analysis": {"endpoints": ["survival"]}})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_config_file(tmp_path, "[sampler\n"))


def test_every_caption_of_the_real_figures_states_the_runs_interval(run: Path, tmp_path: Path) -> None:
    from rechallenge.analysis.reporting.run_figures import build_figures
    from rechallenge.analysis.settings.intervals import Interval
    from rechallenge.analysis.summaries.endpoint_results import all_endpoint_results

    config, study, fits, _ = read_run(run)
    config = replace(config, interval=Interval(0.9, "hdi"))
    results = all_endpoint_results(study, fits, config)
    refs = build_figures(tmp_path, study, fits, results, config)
    assert {ref.name.split("_")[0] for ref in refs} >= {"forest", "contrast", "survival", "ppc", "rank"}
    for ref in refs:
        assert (tmp_path / f"{ref.name}.png").is_file()
        if not ref.name.startswith("rank"):  # rank plots show no interval
            assert config.interval.label in ref.caption, ref.name


def _report_texts(run: Path) -> dict[str, str]:
    import docx

    texts = {}
    for stem in ("report", "supplement"):
        doc = docx.Document(str(run / f"{stem}.docx"))
        words = [p.text for p in doc.paragraphs]
        words += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
        texts |= {f"{stem}.md": (run / f"{stem}.md").read_text(encoding="utf-8"),
                  f"{stem}.html": (run / f"{stem}.html").read_text(encoding="utf-8"),
                  f"{stem}.docx": "\n".join(words)}
    return texts


def test_no_machine_name_reaches_a_reader(run: Path) -> None:
    from rechallenge.analysis.reporting.vocabulary import MACHINE_NAMES

    for name, text in _report_texts(run).items():
        found = sorted(m for m in MACHINE_NAMES
                       if re.search(rf"(?<![\w/.]){re.escape(m)}(?![\w])", text))
        assert not found, f"{name} shows machine names {found}"
        # The models' parameters as the code names them: a reader sees Greek letters or words.
        code = sorted(set(re.findall(r"(?<![\w/.])(mu|tau|eta|beta|sigma|lkj_eta)(?![\w])",
                                     text)))
        assert not code, f"{name} shows the code's parameter names {code}"


def test_main_text_leads_with_tables_1_and_2_and_the_supplement_has_the_rest(run: Path) -> None:
    import docx

    report = (run / "report.md").read_text(encoding="utf-8")
    supplement = (run / "supplement.md").read_text(encoding="utf-8")
    # Tables are numbered in the order they come: patients and sites, then the headline table.
    assert report.index("*Table 1. Patient and site characteristics by treatment line") < (
        report.index("*Table 2. ICI-2 against ICI-1 by endpoint")) < report.index("## Methods")
    assert report.index("## Methods") < report.index("## References")
    assert "## Site-level estimates" not in report and "## Glossary" not in report
    assert "## Site-level estimates" in supplement and "*Table S1. " in supplement
    assert "## Glossary" in supplement and "- Population average: " in supplement
    # The main text names the priors' table by its supplement number, and cites by number.
    priors = re.search(r"\*Table (S\d+)\. [^*]*[Pp]rior", supplement)
    assert priors and f"Table {priors.group(1)} lists each" in report
    cited = {int(n) for marks in re.findall(r"\[([\d,]+)\]", report) for n in marks.split(",")}
    listed = re.findall(r"^(\d+)\. \w", report.split("## References")[1], flags=re.M)
    assert cited and sorted(cited) == [int(n) for n in listed]
    for ext in ("csv", "md", "tex", "docx"):
        assert (run / "tables" / "reader" / f"table2_headline.{ext}").is_file()
    headline = pd.read_csv(run / "tables" / "reader" / "table2_headline.csv")
    assert list(headline.columns) == ["Endpoint", "Estimate", "ICI-1", "ICI-2", "ICI-2 vs ICI-1",
                                      "P(ICI-2 > ICI-1)"]
    assert re.fullmatch(r"\d+\.\d% \(\d+\.\d to \d+\.\d\)", headline.loc[0, "ICI-1"])
    doc = docx.Document(str(run / "report.docx"))
    # Table 2 is the second Word table, cell for cell the same as its CSV.
    word = [[cell.text for cell in row.cells] for row in doc.tables[1].rows]
    assert word[0] == list(headline.columns)
    assert word[1] == ["" if pd.isna(v) else str(v) for v in headline.iloc[0]]
    assert len(doc.inline_shapes) >= 4  # the figures are embedded
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert {"Results", "Methods", "References"} <= set(headings), headings
    table1 = pd.read_csv(run / "tables" / "reader" / "table1_characteristics.csv")
    assert [[c.text for c in row.cells] for row in doc.tables[0].rows][0] == list(table1.columns)
    # Site tables show the reader columns only; diagnostics stay in the machine CSV.
    sites = pd.read_csv(run / "tables" / "reader" / "sites_response.csv")
    assert list(sites.columns) == ["Line", "Site", "Patients", "Events", "Observed, % (CI)",
                                   "Shrunken estimate, % (CrI)"]
    assert "r_hat" in pd.read_csv(run / "tables" / "sites_response.csv").columns


def test_rbest_files_and_ttp_forest_plot_are_written(run: Path) -> None:
    names = sorted(p.name for p in (run / "map_prior_rbest").glob("*.json"))
    assert names == ["response_ICI-1.json", "response_ICI-2.json", "ttp_ICI-1.json",
                     "ttp_ICI-2.json"]
    body = json.loads((run / "map_prior_rbest" / "ttp_ICI-2.json").read_text())
    assert body["meta"]["class"] == ["normMix", "mix"] and body["meta"]["sigma"][0] > 0
    assert (run / "figures" / "forest_ttp.pdf").is_file()

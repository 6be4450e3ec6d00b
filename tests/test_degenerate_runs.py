"""Studies that validate but are degenerate are analysed and reported to the end.

Every patient censored (the issue's case: lifelines' Cox fit failed after sampling, in `analyze`
and again in `report`), no progression at one line, no responders at one line and all at the
other (likewise grade 3-4 toxicity never and always), one site with one patient, one patient per
site. Each study is derived from the shipped dataset by editing columns, validated, analysed
with tiny sampler settings (2 chains x 100 draws, accepted unconverged), then its report is
rebuilt from the saved fits; estimates that do not exist say "not estimable" with the reason.

All runs share one single-worker Dask cluster, so models of the same structure are compiled
once (the worker keeps nutpie's compilations); runtime a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from distributed import Client

from rechallenge.analysis.cli import main
from rechallenge.analysis.reporting.vocabulary import MACHINE_NAMES
from rechallenge.analysis.run.pipeline import analyze, rebuild_report
from rechallenge.analysis.run.run_reader import read_run
from rechallenge.analysis.run.update import conflict_check
from rechallenge.analysis.settings.config import AnalysisConfig, DataConfig, RunConfig
from rechallenge.data import Study, example_study, load_study

pytestmark = pytest.mark.integration

QUIET = lambda _message: None  # noqa: E731
C = "ICI-2 vs ICI-1"


def write_study(path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """The shipped patient table after ``edit``, as a CSV file that validates."""
    edit(example_study().patients.copy()).to_csv(path, index=False)
    load_study([path])  # the premise: these data pass validation
    return path


def run_study(tmp_path: Path, engine: Client, edit: Callable[[pd.DataFrame], pd.DataFrame],
              endpoints: tuple[str, ...], **analysis: object) -> Path:
    """Analyse the edited study (tiny sampler), then rebuild its report; return the run."""
    data = write_study(tmp_path / "patients.csv", edit)
    config = RunConfig(
        data=DataConfig(patients=(str(data),)),
        analysis=replace(AnalysisConfig(), endpoints=endpoints, comparators=False,
                         sensitivity=False, **analysis),
    ).with_sampler(draws=100, tune=100, chains=2, seed=SEED)
    out = tmp_path / "run"
    analyze(config, out, allow_unconverged=True, progress=QUIET, engine=engine)
    first = (out / "report.md").read_text(encoding="utf-8")
    rebuild_report(out, progress=QUIET, engine=engine)
    assert (out / "report.md").read_text(encoding="utf-8") == first
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    return out


def headline(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "tables" / "reader" / "table2_headline.csv", keep_default_na=False)


def reference_row(run: Path, endpoint_words: str) -> pd.Series:
    table = headline(run)
    start = table.index[table["Endpoint"] == endpoint_words][0]
    rest = table.loc[start:]
    return rest[rest["Estimate"].str.startswith("Frequentist reference")].iloc[0]


def comparison_notes(run: Path, endpoint: str) -> dict[tuple[str, str], str]:
    table = pd.read_csv(run / "tables" / f"comparison_{endpoint}.csv", keep_default_na=False)
    return {(q, line): note for q, line, note in
            zip(table["quantity"], table["line"], table["freq_note"])}


def test_all_censored_study_analyze_and_report_from_the_command_line(
        tmp_path: Path, engine: Client) -> None:
    # The study, through the commands a user types, with the default model checks
    # (comparators for LOO, prior sensitivity).
    data = write_study(tmp_path / "censored.csv", lambda p: p.assign(progressed=0))
    (tmp_path / "config.toml").write_text('[analysis]\nendpoints = ["ttp"]\n', encoding="utf-8")
    out = tmp_path / "run"
    address = engine.scheduler.address
    assert main(["validate", str(data)]) == 0
    assert main(["analyze", str(data), "--config", str(tmp_path / "config.toml"), "--out",
                 str(out), "--draws", "100", "--tune", "100", "--chains", "2", "--seed",
                 str(SEED), "--allow-unconverged", "--scheduler", address, "--quiet"]) == 0
    assert main(["report", str(out), "--scheduler", address, "--quiet"]) == 0
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"

    row = reference_row(out, "Time to progression")
    assert row["ICI-1"] == row["ICI-2"] == "not reached"
    assert row[C] == ("Hazard ratio (Cox) not estimable (no progression at ICI-1 or ICI-2: the "
                      "Cox partial likelihood has no maximum)")
    notes = comparison_notes(out, "ttp")
    assert notes[("median_ratio_population", C)] == (
        "not estimable: median not reached at ICI-1 and ICI-2")
    assert notes[("median_population", "ICI-1")].startswith("median not reached")
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Hazard ratio (Cox) not estimable" in report and "'not estimable'" in report
    assert not [m for m in MACHINE_NAMES if re.search(rf"(?<![\w/.]){re.escape(m)}(?![\w])",
                                                       report)]
    descriptive = pd.read_csv(out / "tables" / "reader" / "descriptive.csv")
    cells = dict(zip(descriptive["Statistic"], descriptive["ICI-2"]))
    assert cells["Median TTP, months (Kaplan-Meier; linear CI)"] == "not reached (CI not estimable)"
    # The model checks ran on these data too.
    assert (out / "tables" / "loo.csv").is_file() and (out / "figures" / "ppc_ttp.png").is_file()
    assert (out / "figures" / "survival_ttp.png").is_file()


def test_no_progression_at_one_line(tmp_path: Path, engine: Client) -> None:
    run = run_study(tmp_path, engine,
                    lambda p: p.assign(progressed=p["progressed"].where(p["line"] == "ICI-1", 0)),
                    ("ttp",))
    row = reference_row(run, "Time to progression")
    assert row["ICI-1"].startswith("5.4 (") and row["ICI-2"] == "not reached"
    assert row[C].startswith("Hazard ratio (Cox) not estimable (no progression at ICI-2")

    # A new site in which nobody progressed cannot be checked for conflict: said so, not skipped.
    config, _study, fits, _manifest = read_run(run)
    new = example_study().patients
    new = new[new["site"] == "S02"].assign(site="S99", progressed=0)
    conflicts = conflict_check(fits, Study(new.reset_index(drop=True)), config)
    assert list(conflicts["site"]) == ["S99", "S99"]
    assert conflicts["p_value"].isna().all() and not conflicts["flagged"].any()
    assert conflicts["note"].str.startswith("not checked: median not reached").all()


def test_no_responders_at_one_line_all_at_the_other(tmp_path: Path, engine: Client) -> None:
    # ICI-1: every best response PD and no grade 3-4 toxicity; ICI-2: every patient CR and
    # every patient with grade 3-4 toxicity.
    def edit(p: pd.DataFrame) -> pd.DataFrame:
        later = p["line"] == "ICI-2"
        return p.assign(best_response=np.where(later, "CR", "PD"),
                        trae_grade_3_4=later.astype(int))

    run = run_study(tmp_path, engine, edit, ("response", "disease_control", "toxicity"))
    for endpoint, words in (("response", "Objective response (CR or PR)"),
                            ("disease_control", "Disease control (CR, PR or SD)"),
                            ("toxicity", "Grade 3-4 treatment-related adverse event")):
        row = reference_row(run, words)
        assert row["ICI-1"].startswith("0.0% (0.0 to ")
        # Newcombe's paired interval: 58 of 58 changed, so it reaches down to 91.2 pp only.
        assert row["ICI-2"].startswith("100.0% (")
        assert row[C] == "Difference 100.0 pp (91.2 to 100.0)"
        assert comparison_notes(run, endpoint)[("odds_ratio_typical_site", C)] == (
            "not estimable: no patient had the event at ICI-1 and every patient had the event "
            "at ICI-2: the odds are 0 or infinite")
    assert (run / "figures" / "forest_toxicity.png").is_file()


def test_one_site_with_one_patient(tmp_path: Path, engine: Client) -> None:
    run = run_study(tmp_path, engine, lambda p: p[p["patient_id"] == "S01-P01"],
                    ("response", "ttp"))
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "1 patient with patient-level rows, 1 site," in report
    assert "1 patient at 1 institution," in report
    assert "With a single institution the data say nothing about how institutions differ" in report
    supplement = (run / "supplement.md").read_text(encoding="utf-8")
    assert "It comes from a single site" in supplement and (run / "map_prior.json").is_file()
    row = reference_row(run, "Time to progression")
    assert row["ICI-1"].endswith("(CI not estimable)")
    assert row[C].startswith("Hazard ratio (Cox) not estimable (")
    # One patient per line: the Kaplan-Meier curves of the survival figure are one step each.
    assert (run / "figures" / "survival_ttp.png").is_file()


def test_one_patient_per_site(tmp_path: Path, engine: Client) -> None:
    run = run_study(tmp_path, engine,
                    lambda p: p.groupby(["site", "line"]).head(1).reset_index(drop=True),
                    ("response", "ttp"))
    sites = pd.read_csv(run / "tables" / "reader" / "sites_ttp.csv", keep_default_na=False)
    assert set(sites["Patients"]) == {1}
    observed = sites["Observed median, months"]
    assert (observed == "not reached").any() and (observed != "not reached").any()
    assert (run / "figures" / "forest_response.png").is_file()

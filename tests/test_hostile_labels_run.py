"""A study whose line and site labels are paths and markup runs ``analyze`` to the end.

Labels are data: ``2nd|<i>line</i> & 50%`` and ``../../x`` pass ``validate``, so ``analyze``
must not fail after sampling on a file named after them (the RBesT export named its files
``<endpoint>_<line>.json``), and no file may land outside the run. Every file named after a
label gets a safe, unique name, and ``tables/map_prior.csv`` records which file holds which
endpoint and line. Tiny sampler settings; the numbers are not the point.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from conftest import SEED
from test_hostile_labels import write_csv

from rechallenge.analysis.cli import main
from rechallenge.analysis.run.manifest import read_manifest
from rechallenge.analysis.settings.config import AnalysisConfig, DataConfig, RunConfig
from rechallenge.data import load_example

pytestmark = pytest.mark.integration

LINES = ("2nd|<i>line</i> & 50%", "../../x")
#: Five of the shipped sites, two of them renamed into paths.
SITES = {"S01": "S01/../../etc", "S02": "a/b", "S03": "S03", "S04": "S04", "S05": "S05"}
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.json$")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory, engine) -> tuple[Path, Path]:
    """``(folder, run)``: the data, config and run of the hostile study, made through the CLI
    (on the session's cluster, ``--scheduler``: no cluster of its own).
    """
    folder = tmp_path_factory.mktemp("hostile_run")
    frame = load_example()
    frame = frame[frame["site"].isin(SITES)].copy()
    frame["site"] = frame["site"].map(SITES)
    frame["line"] = frame["line"].map(dict(zip(("ICI-1", "ICI-2"), LINES)))
    data = write_csv(folder / "patients.csv", frame)
    config = RunConfig(
        data=DataConfig(patients=(str(data),), lines=LINES),
        analysis=replace(AnalysisConfig(), endpoints=("response", "ttp"), comparators=False,
                         sensitivity=False),
    ).with_sampler(draws=100, tune=100, chains=2, seed=SEED)
    (folder / "config.toml").write_text(config.to_toml(), encoding="utf-8")
    assert main(["validate", "--config", str(folder / "config.toml")]) == 0
    run = folder / "run"
    assert main(["analyze", "--config", str(folder / "config.toml"), "--out", str(run),
                 "--allow-unconverged", "--scheduler", engine.scheduler.address, "--quiet"]) == 0
    return folder, run


def test_every_file_stays_inside_the_run(hostile_run: tuple[Path, Path]) -> None:
    folder, run = hostile_run
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml", "patients.csv", "run"]
    inside = run.resolve()
    for root, dirs, files in os.walk(run):
        for name in [*dirs, *files]:
            path = Path(root) / name
            assert not path.is_symlink() and path.resolve().is_relative_to(inside), path
    # Every file is the run's own: the manifest lists them all, and only them.
    written = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    assert set(read_manifest(run)["files"]) | {"manifest.json"} == written


def test_rbest_files_have_safe_unique_names_and_the_mapping_is_recorded(
        hostile_run: tuple[Path, Path]) -> None:
    _, run = hostile_run
    names = sorted(p.name for p in (run / "map_prior_rbest").iterdir())
    assert len(names) == 4 and all(SAFE_NAME.match(n) for n in names), names
    table = pd.read_csv(run / "tables" / "map_prior.csv")
    assert sorted(zip(table["endpoint"], table["line"])) == sorted(
        (e, line) for e in ("response", "ttp") for line in LINES)
    assert sorted(table["rbest_file"]) == sorted(f"map_prior_rbest/{n}" for n in names)
    record = json.loads((run / "map_prior.json").read_text(encoding="utf-8"))
    for row in table.itertuples():
        body = json.loads((run / row.rbest_file).read_text(encoding="utf-8"))
        robust = record["endpoints"][row.endpoint][row.line]["robust_mixture"]
        assert body["comp"][0] == pytest.approx(robust["weights"]), row.line
    report = (run / "supplement.md").read_text(encoding="utf-8")
    assert "named in tables/map\\_prior.csv" in report or "named in tables/map_prior.csv" in report


def test_labels_are_shown_as_written_and_the_study_counted(hostile_run: tuple[Path, Path]) -> None:
    """The reader sees the labels themselves, and the priors' reasons count this study's sites."""
    _, run = hostile_run
    sites = pd.read_csv(run / "tables" / "sites_response.csv")
    assert set(sites["site"].dropna()) >= {"S01/../../etc", "a/b"}
    priors = pd.read_csv(run / "tables" / "priors.csv")
    tau = priors[(priors["endpoint"] == "response") & (priors["name"] == "tau_sd")]
    assert tau["reason"].str.contains(f"This study: {len(SITES)} sites").all()
    assert not re.search(r"\b14 (small )?sites", " ".join(priors["reason"]))
    assert f"at {len(SITES)} institutions" in (run / "report.md").read_text(encoding="utf-8")

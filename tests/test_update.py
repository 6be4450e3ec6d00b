"""Updating a run with new sites: CLI and Python, aggregate and patient-level sites, one-line
sites, label collisions, the conflict check on real predictive draws, and the MAP prior export.

Builds on ``conftest.small_run``; each update refits (about 1 minute on 2 cores).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SEED

from rechallenge.analysis.cli import main
from rechallenge.analysis.map_prior import load_map_prior
from rechallenge.analysis.map_prior.export import new_site_draws
from rechallenge.analysis.run.run_object import Run
from rechallenge.analysis.run.run_reader import read_run
from rechallenge.analysis.run.update import check_site_labels, conflict_check, is_aggregate_file, update_run
from rechallenge.data import DataValidationError, Study, load_study, schema

pytestmark = pytest.mark.integration

QUIET = lambda _message: None  # noqa: E731

#: Wong et al., J Immunother Cancer 2021: one centre, 25 patients, rechallenge line only.
WONG_2021 = """site,line,endpoint,n,events,median_months,median_lower,median_upper
S15,ICI-2,response,25,4,,,
S15,ICI-2,toxicity,25,3,,,
S15,ICI-2,ttp,25,,2.96,1.61,4.31
"""
PATIENT_HEADER = "site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,sex,age\n"


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def _patients_file(path: Path, site: str, rows: list[tuple]) -> Path:
    body = "".join(",".join(map(str, (site, *r))) + "\n" for r in rows)
    path.write_text(PATIENT_HEADER + body)
    return path


def _new_site_rows(n: int, responders: int) -> list[tuple]:
    rows = []
    for i in range(n):
        for line in ("ICI-1", "ICI-2"):
            response = "PR" if (line == "ICI-2" and i < responders) else ("SD" if i % 2 else "PD")
            rows.append((f"N{i:02d}", line, response, 2.0 + 0.7 * i, 1 if i % 5 else 0, 0,
                         "M" if i % 3 else "F", 60 + i))
    return rows


def test_aggregate_site_from_the_command_line(small_run: Path, tmp_path: Path, engine) -> None:
    wong = tmp_path / "wong2021.csv"
    wong.write_text(WONG_2021)
    untouched = _tree_digest(small_run)
    out = tmp_path / "updated"
    code = main(["update", str(small_run), "--new-sites", str(wong), "--out", str(out),
                 "--allow-unconverged", "--scheduler", engine.scheduler.address, "--quiet"])
    assert code == 0
    assert _tree_digest(small_run) == untouched

    moved = pd.read_csv(out / "tables" / "update_before_after.csv")
    row = moved[(moved["endpoint"] == "response") & (moved["quantity"] == "probability_population")
                & (moved["line"] == "ICI-2")].iloc[0]
    # 4/25 = 16% pulls the pooled ICI-2 response (about 26% before) down, but one site of 25
    # among 15 cannot take it past 16% or move it by more than its share of the patients would.
    assert 0.16 < row["after"] < row["before"]
    share = 25 / (58 + 25)
    assert row["before"] - row["after"] < share * (row["before"] - 0.16) + 0.02
    ici1 = moved[(moved["endpoint"] == "response") & (moved["quantity"] == "probability_population")
                 & (moved["line"] == "ICI-1")].iloc[0]
    assert abs(ici1["shift"]) < abs(row["shift"])  # the new site has no ICI-1 data

    conflicts = pd.read_csv(out / "tables" / "update_conflict.csv")
    assert set(zip(conflicts["endpoint"], conflicts["line"])) == {("response", "ICI-2"), ("ttp", "ICI-2")}
    assert (conflicts["site"] == "S15").all()
    report = (out / "report.md").read_text()
    assert "Update with new sites" in report and "S15" in report
    # The update's tables for readers are in Table 2's style: counts, estimates with intervals.
    section = report.split("## Update with new sites")[1].split("\n## ")[0]
    assert "| S15 | Objective response (CR or PR) | ICI-2 | 4 of 25 |" in section
    assert not re.search(r"\d\.\d{3}", section), section
    record = json.loads((out / "map_prior.json").read_text())
    assert record["source_run_hash"] != json.loads((small_run / "map_prior.json").read_text())["source_run_hash"]


def test_patient_level_site_from_python(small_run: Path, tmp_path: Path, engine) -> None:
    new = _patients_file(tmp_path / "s16.csv", "S16", _new_site_rows(8, responders=3))
    result = update_run(small_run, [new], out=tmp_path / "updated", allow_unconverged=True, engine=engine,
                        progress=QUIET)
    _, study, fits, _ = read_run(result.out)
    assert "S16" in study.sites and "S16" in fits["response"].posterior.coords["site"].values
    # The run object of the update: its forest plots mark the new site, as the run's do.
    assert isinstance(result, Run) and result.new_sites == ("S16",)
    assert "S16" in set(result["response"].sites["site"])
    conflicts = pd.read_csv(result.out / "tables" / "update_conflict.csv")
    response = conflicts[conflicts["endpoint"] == "response"].sort_values("line")
    assert response["line"].tolist() == ["ICI-1", "ICI-2"]
    assert response["observed"].tolist() == [0, 3]


def test_site_label_collision_is_an_error_unless_declared(small_run: Path, tmp_path: Path) -> None:
    clash = _patients_file(tmp_path / "s01.csv", "S01", _new_site_rows(3, responders=1))
    with pytest.raises(DataValidationError) as error:
        update_run(small_run, [clash], out=tmp_path / "never", progress=QUIET)
    assert "S01" in str(error.value) and "--same-site S01" in str(error.value)
    assert not (tmp_path / "never").exists()
    _, old, _, _ = read_run(small_run)
    new = load_study([clash])
    check_site_labels(old, new, ["S01"], [str(clash)])  # declared the same institution: accepted
    with pytest.raises(ValueError, match="no such site"):
        check_site_labels(old, new, ["S01", "S99"], [str(clash)])


def test_aggregate_files_are_told_apart_by_header(tmp_path: Path) -> None:
    wong = tmp_path / "w.csv"
    wong.write_text(WONG_2021)
    patients = _patients_file(tmp_path / "p.csv", "S16", _new_site_rows(2, responders=1))
    assert is_aggregate_file(wong) and not is_aggregate_file(patients)


def _aggregate_study(site: str, n: int, events: int) -> Study:
    frame = pd.DataFrame([{schema.SITE: site, schema.LINE: "ICI-2", schema.ENDPOINT: "response",
                           schema.N: n, schema.EVENTS: events}])
    return Study(pd.DataFrame(columns=[schema.SITE, schema.PATIENT_ID, schema.LINE]), frame)


def test_conflict_check_flags_a_far_site_and_not_a_predictive_one(small_run: Path) -> None:
    config, _, fits, _ = read_run(small_run)
    far = conflict_check(fits, _aggregate_study("S20", 25, 20), config)
    assert bool(far.loc[far["endpoint"] == "response", "flagged"].iloc[0])
    # A site whose probability is drawn from the predictive for a new site itself.
    rng = np.random.default_rng(SEED)
    p = rng.choice(new_site_draws(fits, "response", config.sampler.seed)["ICI-2"])
    near = conflict_check(fits, _aggregate_study("S21", 25, int(rng.binomial(25, p))), config)
    assert not bool(near.loc[near["endpoint"] == "response", "flagged"].iloc[0])


def test_map_prior_reproduces_the_predictive_draws(small_run: Path) -> None:
    """The mixture matches the draws' mean and interval bounds within their Monte Carlo error.

    The small run has only 300 draws, so the bounds are checked where their error is known: the
    mixture's CDF at the draws' q-quantile must be q within 3 binomial standard errors
    sqrt(q (1 - q) / n_eff), taking n_eff as half the draws (MCMC draws are autocorrelated).
    """
    record = load_map_prior((small_run / "map_prior.json").read_text())
    assert set(record["endpoints"]) == {"response", "ttp"}
    for line, entry in record["endpoints"]["response"].items():
        check = entry["check"]
        draws, mixture = check["draws"], check["mixture"]
        n_eff = draws["n"] / 2
        tail = (1 - check["level"]) / 2
        for stat, q in (("lower", tail), ("upper", 1 - tail)):
            at = float(entry["mixture"].cdf(draws[stat]))
            assert abs(at - q) < 3 * np.sqrt(q * (1 - q) / n_eff), (line, stat, at)
        sd = entry["mixture"].sd()
        assert abs(draws["mean"] - mixture["mean"]) < 3 * sd / np.sqrt(n_eff), line
        assert entry["robust_ess"]["elir"] < entry["ess"]["elir"]

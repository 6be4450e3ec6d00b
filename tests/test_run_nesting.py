"""An earlier run is never written into (issue 28, item 8): every command refuses, before any
work, an output inside a run, or one that is or holds a run it reads.

The commands run on the session's ``small_run``, which must come out of every test unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.run.manifest import MANIFEST, RunDirectoryError, hash_tree
from rechallenge.analysis.run.pipeline import PATIENTS_COPY
from rechallenge.analysis.run.run_nesting import check_outside_runs, enclosing_run, run_of
from rechallenge.analysis.run.rundir import check_target

DESIGN = ["--endpoint", "response", "--line", "ICI-2", "--confidence", "0.9", "--n", "20",
          "--threshold", "0.2"]

# Every test reads the session's small run (a full small analysis).
pytestmark = pytest.mark.integration


def snapshot(run: Path) -> tuple[list[str], dict[str, str], bytes]:
    """Everything in a run: its paths, their hashes and the manifest's bytes."""
    return (sorted(p.relative_to(run).as_posix() for p in run.rglob("*")), hash_tree(run),
            (run / MANIFEST).read_bytes())


@pytest.fixture
def untouched(small_run: Path):
    """``small_run``, checked to be exactly as it was after the test."""
    before = snapshot(small_run)
    yield small_run
    assert snapshot(small_run) == before


def stand_in_run(path: Path, run: Path) -> Path:
    """A folder recognised as a run: a copy of ``run``'s manifest."""
    path.mkdir(parents=True)
    shutil.copy(run / MANIFEST, path / MANIFEST)
    return path


def refused(code: int, err: str, run: Path) -> bool:
    return code == 1 and "never written into" in err and str(run) in err and "Traceback" not in err


# ---- recognising a run above a path -----------------------------------------------------------

def test_the_run_above_a_path_is_found_at_any_depth(small_run: Path, tmp_path: Path) -> None:
    assert enclosing_run(small_run / "a" / "b" / "c.csv") == small_run
    assert enclosing_run(small_run) is None  # itself excluded
    assert run_of(small_run) == small_run and run_of(small_run / PATIENTS_COPY) == small_run
    assert enclosing_run(tmp_path / "x") is None and run_of(tmp_path) is None
    inner = stand_in_run(tmp_path / "outer" / "inner", small_run)
    stand_in_run(tmp_path / "outer2", small_run)
    assert enclosing_run(inner / "x") == inner


def test_an_output_inside_a_run_or_over_a_run_it_reads_is_refused(small_run: Path,
                                                                  tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="lies inside the run"):
        check_outside_runs(small_run / "sub" / "deeper")
    with pytest.raises(RunDirectoryError, match="is the run .* which this command reads"):
        check_outside_runs(small_run, reads=[small_run])
    with pytest.raises(RunDirectoryError, match="holds the run"):
        check_outside_runs(small_run.parent, reads=[small_run / PATIENTS_COPY])
    check_outside_runs(tmp_path / "elsewhere", reads=[small_run])  # beside it: fine
    check_outside_runs(small_run)  # a run itself may be replaced (--overwrite), if not read


def test_a_new_run_inside_any_run_is_refused_by_check_target(small_run: Path) -> None:
    # analyze, update and report all pass through check_target (the Python API included).
    with pytest.raises(RunDirectoryError, match="lies inside the run"):
        check_target(small_run / "again", overwrite=False)


def test_rebuilding_a_run_put_inside_another_run_is_refused(small_run: Path,
                                                             tmp_path: Path) -> None:
    inner = stand_in_run(tmp_path / "outer" / "inner", small_run)
    stand_in_run(tmp_path / "solo", small_run)
    shutil.copy(small_run / MANIFEST, tmp_path / "outer" / MANIFEST)
    with pytest.raises(RunDirectoryError, match="lies inside the run"):
        check_target(inner, overwrite=True, keeps_unlisted=True)  # as `report` calls it


# ---- every command ----------------------------------------------------------------------------

def test_update_into_its_own_run_is_refused_in_a_new_process(untouched: Path,
                                                              tmp_path: Path) -> None:
    new = tmp_path / "new.csv"
    new.write_text("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4\n"
                   "S99,P1,ICI-1,PR,5.0,1,0\nS99,P1,ICI-2,SD,4.0,0,0\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "rechallenge.analysis.cli", "update", str(untouched),
         "--new-sites", str(new), "--out", str(untouched / "updated"), "--quiet"],
        capture_output=True, text=True)
    assert refused(result.returncode, result.stderr, untouched), result.stderr
    assert "lies inside the run" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("out", ["sub", ".", ".."], ids=["inside", "equal", "holding"])
def test_update_out_inside_equal_to_or_holding_the_run_is_refused(untouched: Path, tmp_path: Path,
                                                                   out: str, capsys) -> None:
    new = tmp_path / "new.csv"
    new.write_text("site,patient_id,line,best_response\nS99,P1,ICI-1,PR\n", encoding="utf-8")
    target = (untouched / out).resolve()
    code = main(["update", str(untouched), "--new-sites", str(new), "--out", str(target),
                 "--overwrite", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "must go to a new directory" in err if out == "." else str(untouched) in err


def test_analyze_of_a_runs_data_copy_into_the_run_is_refused(untouched: Path, capsys) -> None:
    code = main(["analyze", str(untouched / PATIENTS_COPY), "--out", str(untouched / "again"),
                 "--quiet"])
    assert refused(code, capsys.readouterr().err, untouched)


def test_analyze_into_any_earlier_run_is_refused(untouched: Path, tmp_path: Path,
                                                 capsys) -> None:
    data = tmp_path / "patients.csv"
    shutil.copy(untouched / PATIENTS_COPY, data)
    code = main(["analyze", str(data), "--out", str(untouched / "runs" / "new"), "--quiet"])
    assert refused(code, capsys.readouterr().err, untouched)


@pytest.mark.parametrize("where", ["inside", "equal", "holding"])
def test_design_out_inside_equal_to_or_holding_the_run_is_refused(untouched: Path, where: str,
                                                                  capsys) -> None:
    out = {"inside": untouched / "plan", "equal": untouched, "holding": untouched.parent}[where]
    code = main(["design", str(untouched), *DESIGN, "--out", str(out)])
    captured = capsys.readouterr()
    assert refused(code, captured.err, untouched) and captured.out == ""
    assert not [p for p in untouched.parent.iterdir() if p.suffix in (".csv", ".json", ".md")]


def test_design_out_inside_another_run_is_refused(untouched: Path, tmp_path: Path,
                                                  capsys) -> None:
    other = stand_in_run(tmp_path / "other", untouched)
    code = main(["design", str(untouched), *DESIGN, "--out", str(other / "plan")])
    assert refused(code, capsys.readouterr().err, other)
    assert not (other / "plan").exists()


def test_simulate_into_a_run_is_refused_before_any_work(untouched: Path, capsys) -> None:
    code = main(["simulate", "sbc", "--out", str(untouched / "sbc"), "--n-sims", "1", "--quiet"])
    assert refused(code, capsys.readouterr().err, untouched)


def test_reconstruct_into_a_run_or_over_its_input_is_refused(untouched: Path, tmp_path: Path,
                                                             capsys) -> None:
    from test_reconstruct_cli import AT_RISK, CURVE

    curve, at_risk = tmp_path / "curve.csv", tmp_path / "at_risk.csv"
    curve.write_text(CURVE)
    at_risk.write_text(AT_RISK)
    args = ["reconstruct", str(curve), "--at-risk", str(at_risk), "--site", "S15", "--line",
            "ICI-2", "--overwrite"]
    assert refused(main([*args, "--out", str(untouched / "site.csv")]),
                   capsys.readouterr().err, untouched)
    assert main([*args, "--out", str(curve)]) == 1
    err = capsys.readouterr().err
    assert "would replace the input" in err and "Traceback" not in err
    assert curve.read_text() == CURVE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["at_risk.csv", "curve.csv"]


@pytest.mark.parametrize("command", ["analyze", "update", "design", "simulate", "reconstruct"])
def test_the_rule_is_in_the_help_of_out(command: str, capsys) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "inside" in text[text.index("--out"):]

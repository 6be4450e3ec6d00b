"""Reading, checking and cleaning a digitised curve and its at-risk table (no reconstruction)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rechallenge.data import DataValidationError
from rechallenge.data.curve_input import curve_inputs_from_frames, read_curve_inputs

CURVE = "time,survival\n0,1\n1,0.9\n2,0.8\n3,0.6\n5,0.5\n6,0.5\n"
AT_RISK = "time,n_at_risk\n0,10\n2,8\n4,4\n6,2\n"


def _files(tmp_path: Path, curve: str = CURVE, at_risk: str = AT_RISK) -> tuple[Path, Path]:
    (tmp_path / "curve.csv").write_text(curve)
    (tmp_path / "at_risk.csv").write_text(at_risk)
    return tmp_path / "curve.csv", tmp_path / "at_risk.csv"


def _issues(tmp_path: Path, curve: str = CURVE, at_risk: str = AT_RISK, **kw) -> list:
    with pytest.raises(DataValidationError) as info:
        read_curve_inputs(*_files(tmp_path, curve, at_risk), **kw)
    return list(info.value.issues)


def test_clean_input_is_read_sorted_and_starts_at_one(tmp_path: Path) -> None:
    shuffled = "time,survival\n3,0.6\n1,0.9\n5,0.5\n2,0.8\n6,0.5\n"  # no point at 0, any order
    inputs = read_curve_inputs(*_files(tmp_path, shuffled))
    assert inputs.curve["time"].tolist() == [0, 1, 2, 3, 5, 6]
    assert inputs.curve["survival"].tolist() == [1, 0.9, 0.8, 0.6, 0.5, 0.5]
    assert not inputs.percent and inputs.adjusted_points == 0
    assert inputs.at_risk["n_at_risk"].tolist() == [10, 8, 4, 2]


def test_percent_is_detected_or_given(tmp_path: Path) -> None:
    percent = "time,survival\n0,100\n1,90\n2,80\n6,50\n"
    inputs = read_curve_inputs(*_files(tmp_path, percent))
    assert inputs.percent and inputs.curve["survival"].tolist() == [1, 0.9, 0.8, 0.5]
    assert read_curve_inputs(*_files(tmp_path, percent), percent=True).percent
    # Told percent, a proportion curve starts at 1% and is rejected rather than misread.
    issues = _issues(tmp_path, "time,survival\n0,1\n2,0.9\n6,0.8\n", percent=True)
    assert (issues[0].row, issues[0].column) == (2, "survival")


def test_percent_above_100_and_proportion_above_1_are_errors(tmp_path: Path) -> None:
    issues = _issues(tmp_path, "time,survival\n0,100\n1,130\n6,50\n")
    assert [(i.row, i.column, i.value) for i in issues] == [(3, "survival", "130")]
    assert "100 (percent)" in issues[0].expected
    issues = _issues(tmp_path, "time,survival\n0,1\n1,1.5\n6,0.5\n", percent=False)
    assert issues[0].row == 3 and "--percent" in issues[0].expected


def test_digitiser_jitter_is_cleaned(tmp_path: Path) -> None:
    # Step corners read out of order (bottom at 2.99 before top at 3.01) and a 1-point wobble.
    jitter = ("time,survival\n0,1.004\n1,0.9\n1.5,0.905\n2,0.8\n2.99,0.6\n3.01,0.8\n"
              "5,0.5\n6,0.5\n")
    inputs = read_curve_inputs(*_files(tmp_path, jitter))
    assert inputs.adjusted_points == 2
    s = inputs.curve["survival"].to_numpy()
    assert np.all(np.diff(s) <= 0) and s[0] == 1.0
    assert inputs.curve.set_index("time")["survival"][3.01] == 0.6


def test_sharp_rise_is_an_error_with_row_and_column(tmp_path: Path) -> None:
    rising = "time,survival\n0,1\n1,0.9\n2,0.6\n3,0.75\n5,0.5\n6,0.5\n"
    issues = _issues(tmp_path, rising)
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.file, issue.row, issue.column, issue.value) == (
        str(tmp_path / "curve.csv"), 5, "survival", "0.75")
    assert "never rises" in issue.expected and "row 4" in issue.expected
    assert str(tmp_path / "curve.csv") + ", row 5, column 'survival'" in str(issue)


def test_negative_values_and_bad_cells_are_all_reported(tmp_path: Path) -> None:
    curve = "time,survival\n0,1\n-0.5,0.9\n2,-0.1\n3,abc\n6,0.5\n"
    at_risk = "time,n_at_risk\n0,10\n2,-3\n4,2.5\n"
    issues = _issues(tmp_path, curve, at_risk)
    found = {(Path(i.file).name, i.row, i.column, i.value) for i in issues}
    assert found == {("curve.csv", 3, "time", "-0.5"), ("curve.csv", 4, "survival", "-0.1"),
                     ("curve.csv", 5, "survival", "abc"), ("at_risk.csv", 3, "n_at_risk", "-3"),
                     ("at_risk.csv", 4, "n_at_risk", "2.5")}
    # Curve problems first, then the at-risk table's, each in row order.
    assert [Path(i.file).name for i in issues][:3] == ["curve.csv"] * 3


def test_missing_columns_are_named(tmp_path: Path) -> None:
    issues = _issues(tmp_path, "t,s\n0,1\n1,0.5\n", "time,at_risk\n0,10\n")
    assert {(Path(i.file).name, i.column) for i in issues} == {
        ("curve.csv", "time"), ("curve.csv", "survival"), ("at_risk.csv", "n_at_risk")}


def test_at_risk_times_must_match_the_curve(tmp_path: Path) -> None:
    # A time past the end of the curve with patients still at risk.
    issues = _issues(tmp_path, at_risk="time,n_at_risk\n0,10\n2,8\n4,4\n8,2\n")
    assert [(Path(i.file).name, i.row, i.column, i.value) for i in issues] == [
        ("at_risk.csv", 5, "time", "8")]
    assert "ends at 6" in issues[0].expected
    # A row with nobody at risk past the end says nothing new: dropped, not an error.
    inputs = read_curve_inputs(*_files(tmp_path, at_risk="time,n_at_risk\n0,10\n4,4\n8,0\n"))
    assert inputs.at_risk["time"].tolist() == [0, 4]


def test_curve_on_another_time_scale_is_an_error(tmp_path: Path) -> None:
    days = "time,survival\n0,1\n30,0.9\n60,0.8\n90,0.6\n150,0.5\n180,0.5\n"
    issues = _issues(tmp_path, days)
    assert issues[0].column == "time" and "days against months" in issues[0].expected


def test_at_risk_table_rules(tmp_path: Path) -> None:
    issues = _issues(tmp_path, at_risk="time,n_at_risk\n1,10\n2,8\n2,7\n4,9\n")
    assert [(i.row, i.column) for i in issues] == [(2, "time"), (4, "time"), (5, "n_at_risk")]
    assert "time 0" in issues[0].expected and "never increases" in issues[2].expected


def test_curve_must_start_at_one(tmp_path: Path) -> None:
    issues = _issues(tmp_path, "time,survival\n0,0.8\n1,0.7\n6,0.5\n")
    assert (issues[0].row, issues[0].column) == (2, "survival")


def test_frames_are_numbered_as_csv_rows() -> None:
    curve = pd.DataFrame({"time": [0.0, 1.0, 2.0], "survival": [1.0, 0.5, 0.9]})
    at_risk = pd.DataFrame({"time": [0.0, 1.0], "n_at_risk": [4, 2]})
    with pytest.raises(DataValidationError) as info:
        curve_inputs_from_frames(curve, at_risk)
    assert [(i.file, i.row) for i in info.value.issues] == [("<curve DataFrame>", 4)]

"""``rechallenge reconstruct`` against absurd sizes, degenerate curves and a hostile environment:
every problem is a message (file, row, value; exit 1, no traceback) found before any file is
written, a degenerate curve is refused or flagged rather than reconstructed as nonsense, and the
files get the user's umask.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.cli.reconstruct import output_paths
from rechallenge.data.curve_input import MAX_AT_RISK, MAX_AT_RISK_ROWS, MAX_CURVE_POINTS

GOOD_CURVE = "time,survival\n0,1\n2,0.8\n4,0.5\n6,0.4\n"
GOOD_AT_RISK = "time,n_at_risk\n0,20\n2,15\n4,9\n"
LABELS = ["--site", "S15", "--line", "ICI-2"]


def _run(tmp_path: Path, curve: str, at_risk: str, *extra: str) -> tuple[int, Path]:
    (tmp_path / "curve.csv").write_text(curve)
    (tmp_path / "at_risk.csv").write_text(at_risk)
    out = tmp_path / "out" / "patients.csv"
    status = main(["reconstruct", str(tmp_path / "curve.csv"), "--at-risk",
                   str(tmp_path / "at_risk.csv"), *LABELS, "--out", str(out), *extra])
    return status, out


def _written(out: Path) -> list[Path]:
    """Outputs and temporary files left beside them."""
    folder = out.parent
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_number_at_risk_of_10_to_the_12_is_refused_before_any_work(tmp_path, capsys) -> None:
    status, out = _run(tmp_path, GOOD_CURVE, "time,n_at_risk\n0,1000000000000\n2,15\n")
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert (f"{tmp_path / 'at_risk.csv'}, row 2, column 'n_at_risk': got '1000000000000', "
            f"expected a whole number of patients from 0 to {MAX_AT_RISK:,}") in err, err
    assert _written(out) == []


@pytest.mark.parametrize("which, text, expected", [
    ("curve", "time,survival\n0,1\n" + "".join(
        f"{1 + i * 1e-3:.3f},{1 - i * 1e-5:.5f}\n" for i in range(MAX_CURVE_POINTS)),
     f"curve.csv: expected at most {MAX_CURVE_POINTS:,} digitised points (the file has "
     f"{MAX_CURVE_POINTS + 1:,} data rows)"),
    ("at_risk", "time,n_at_risk\n" + "".join(
        f"{i * 1e-3:.3f},20\n" for i in range(MAX_AT_RISK_ROWS + 1)),
     f"at_risk.csv: expected at most {MAX_AT_RISK_ROWS:,} at-risk rows (the file has "
     f"{MAX_AT_RISK_ROWS + 1:,} data rows)"),
    ("curve", "time,survival\n0,1\n2,0.8\n1e9,0.5\n",
     "curve.csv, row 4, column 'time': got '1e9', expected a time from 0 to 1,200 months"),
])
def test_every_size_of_the_input_has_a_limit(tmp_path, capsys, which, text, expected) -> None:
    curve, at_risk = (text, GOOD_AT_RISK) if which == "curve" else (GOOD_CURVE, text)
    status, out = _run(tmp_path, curve, at_risk)
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert expected in err, err
    assert _written(out) == []


def test_times_are_limited_in_the_unit_given(tmp_path, capsys) -> None:
    # 40,000 days is past 100 years; 40,000 is also refused in weeks, and 1,000 days is fine.
    status, _ = _run(tmp_path, "time,survival\n0,1\n2,0.8\n40000,0.5\n",
                     "time,n_at_risk\n0,20\n20000,9\n", "--time-unit", "days")
    err = capsys.readouterr().err
    assert status == 1 and "expected a time from 0 to 36,525 days" in err, err
    status, out = _run(tmp_path, "time,survival\n0,1\n200,0.8\n1000,0.5\n",
                       "time,n_at_risk\n0,20\n500,9\n", "--time-unit", "days")
    assert status == 0, capsys.readouterr().err


def test_a_curve_whose_points_all_sit_at_one_time_is_refused(tmp_path, capsys) -> None:
    status, out = _run(tmp_path, "time,survival\n5,1\n5,0.5\n5,0.2\n", "time,n_at_risk\n0,20\n")
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert f"{tmp_path / 'curve.csv'}, column 'time': got '5'" in err, err
    assert "every digitised point (rows 2, 3, 4) is at this one time" in err
    assert _written(out) == []


def test_a_drop_after_nobody_is_at_risk_is_refused_not_reported_as_no_events(
    tmp_path, capsys
) -> None:
    # Today's main reconstructs this as 20 censored patients and 0 events, without a word,
    # although the curve falls by 80%.
    status, out = _run(tmp_path, "time,survival\n0,1\n5,1\n5,0.2\n",
                       "time,n_at_risk\n0,20\n5,0\n")
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert (f"{tmp_path / 'curve.csv'}, row 4, column 'survival': got '0.2', expected no drop at "
            f"or after time 5: {tmp_path / 'at_risk.csv'} row 3 gives 0 patients at risk") in err
    assert _written(out) == []


@pytest.mark.parametrize("curve, events, expected", [
    ("time,survival\n0,1\n3,1\n6,1\n", "4", "never falls below 1"),
    ("time,survival\n0,1\n3,0.8\n6,0.5\n", "0", "falls to 0.5: each drop is an event"),
])
def test_events_the_curve_cannot_have_are_refused(tmp_path, capsys, curve, events,
                                                   expected) -> None:
    status, out = _run(tmp_path, curve, "time,n_at_risk\n0,20\n", "--total-events", events)
    err = capsys.readouterr().err
    assert status == 1 and f"--total-events) = {events}" in err and expected in err, err
    assert _written(out) == []


def test_a_reconstruction_that_departs_from_the_curve_is_flagged(tmp_path, capsys) -> None:
    # Heavy censoring early on is carried into the last interval, so everybody is censored
    # before the curve's last drop: 3 events where the curve falls 90%.
    status, out = _run(tmp_path, "time,survival\n0,1\n2,0.9\n8,0.9\n10,0.1\n",
                       "time,n_at_risk\n0,40\n3,20\n6,10\n")
    captured = capsys.readouterr()
    assert status == 0 and out.exists()
    assert ("warning: the reconstruction departs from the digitised curve: at time 10 "
            f"({tmp_path / 'curve.csv'} row 5) the curve reads 0.1") in captured.err, captured
    # A curve it follows gets no warning.
    status, _ = _run(tmp_path, GOOD_CURVE, GOOD_AT_RISK, "--overwrite")
    assert status == 0 and "warning" not in capsys.readouterr().err


def test_a_single_step_curve_is_reconstructed_whole(tmp_path, capsys) -> None:
    # Every event at one time: today's main writes two of the three files, then fails drawing
    # the plot and exits 1.
    status, out = _run(tmp_path, "time,survival\n0,1\n5,1\n5,0.2\n", "time,n_at_risk\n0,20\n")
    assert status == 0, capsys.readouterr().err
    assert "20 pseudo patients (16 events, 4 censored)" in capsys.readouterr().out
    assert all(p.exists() for p in output_paths(out))


def test_labels_are_checked_before_any_work_and_no_unwritten_file_is_named(
    tmp_path, capsys
) -> None:
    (tmp_path / "curve.csv").write_text(GOOD_CURVE)
    (tmp_path / "at_risk.csv").write_text(GOOD_AT_RISK)
    out = tmp_path / "patients.csv"
    status = main(["reconstruct", str(tmp_path / "curve.csv"), "--at-risk",
                   str(tmp_path / "at_risk.csv"), "--site", " ", "--line", "ICI-9",
                   "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert "site (--site): got ' ', expected a label" in err
    assert "line (--line): got 'ICI-9', expected one of the line labels ICI-1, ICI-2" in err
    assert str(out) not in err and not out.exists()


def test_an_input_is_never_an_output(tmp_path, capsys) -> None:
    (tmp_path / "curve.csv").write_text(GOOD_CURVE)
    (tmp_path / "at_risk.csv").write_text(GOOD_AT_RISK)
    for target in ("curve.csv", "at_risk.csv"):
        status = main(["reconstruct", str(tmp_path / "curve.csv"), "--at-risk",
                       str(tmp_path / "at_risk.csv"), *LABELS, "--out", str(tmp_path / target),
                       "--overwrite"])
        err = capsys.readouterr().err
        assert status == 1 and "would replace the input" in err, err
    assert (tmp_path / "curve.csv").read_text() == GOOD_CURVE
    assert (tmp_path / "at_risk.csv").read_text() == GOOD_AT_RISK


def test_a_failure_while_drawing_leaves_no_file(tmp_path, capsys, monkeypatch) -> None:
    import rechallenge.analysis.plots.reconstruction as plots

    def broken(*args, **kwargs):
        raise ValueError("cannot draw this curve")

    monkeypatch.setattr(plots, "plot_reconstruction", broken)
    status, out = _run(tmp_path, GOOD_CURVE, GOOD_AT_RISK)
    err = capsys.readouterr().err
    assert status == 1 and "cannot draw this curve" in err and "no file was written" in err
    assert _written(out) == []


def test_a_full_disk_leaves_no_file_and_names_no_temporary_file(
    tmp_path, capsys, monkeypatch
) -> None:
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:  # the plot, after both tables were staged
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    status, out = _run(tmp_path, GOOD_CURVE, GOOD_AT_RISK)
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert (f"error: No space left on device while writing into {out.parent}; none of the three "
            "files was written") in err, err
    assert ".tmp" not in err and _written(out) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_the_files_get_the_users_umask(tmp_path, capsys, umask, mode) -> None:
    previous = os.umask(umask)
    try:
        status, out = _run(tmp_path, GOOD_CURVE, GOOD_AT_RISK)
    finally:
        os.umask(previous)
    assert status == 0, capsys.readouterr().err
    assert [oct(p.stat().st_mode & 0o777) for p in output_paths(out)] == [oct(mode)] * 3


def test_help_states_the_limits(capsys) -> None:
    assert main(["reconstruct", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for limit in (f"{MAX_CURVE_POINTS:,} digitised points", f"{MAX_AT_RISK_ROWS:,} at-risk rows",
                  f"{MAX_AT_RISK:,} patients at risk", "100 years"):
        assert limit in text, limit

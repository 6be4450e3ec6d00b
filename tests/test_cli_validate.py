"""``rechallenge validate`` and the command-line skeleton, through ``main([...])``."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from rechallenge.analysis.cli import COMMANDS, main

HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")
GOOD = [
    "S01,P01,ICI-1,PR,5.2,1,0,ici_alone,1,M,64",
    "S01,P01,ICI-2,PD,3.1,1,1,dual_ici,2,M,64",
    "S02,P02,ICI-1,NE,1.0,0,0,,1,F,70",
    "S02,P02,ICI-2,SD,8.0,0,0,ici_targeted,3,F,70",
]
AGG_HEADER = "site,line,endpoint,n,events,median_months,median_lower,median_upper"


def write(tmp_path: Path, rows: list[str], name: str, header: str = HEADER) -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def test_valid_file_prints_ok_and_exits_0(tmp_path, capsys):
    path = write(tmp_path, GOOD, "p.csv")
    assert main(["validate", path]) == 0
    out = capsys.readouterr().out
    assert out == f"OK: {path}: 4 rows, 2 patients, 2 sites\n"


def test_every_issue_is_printed_and_exit_is_1(tmp_path, capsys):
    rows = [GOOD[0].replace("5.2", "-2.0"), GOOD[1].replace(",PD,", ",XX,"), *GOOD[2:]]
    path = write(tmp_path, rows, "bad.csv")
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out
    assert "2 problems in the input data" in out and "the header is row 1" in out
    assert f"1. {path}, row 2, column 'ttp_months': got '-2.0', expected a number of months > 0" in out
    assert f"2. {path}, row 3, column 'best_response': got 'XX'" in out
    assert "OK:" not in out


def test_good_files_are_ok_beside_bad_ones(tmp_path, capsys):
    good = write(tmp_path, GOOD[:2], "good.csv")
    bad = write(tmp_path, [GOOD[2].replace(",F,", ",Z,")], "bad.csv")
    missing = str(tmp_path / "missing.csv")
    assert main(["validate", good, bad, missing]) == 1
    out = capsys.readouterr().out
    assert f"OK: {good}: 2 rows, 1 patient, 1 site" in out
    assert f"{bad}, row 2, column 'sex': got 'Z'" in out
    assert f"{missing}: expected an existing file" in out


def test_aggregate_files_and_problems_between_files(tmp_path, capsys):
    patients = write(tmp_path, GOOD, "p.csv")
    agg = write(tmp_path, ["S09,ICI-1,response,10,2,,,", "S09,ICI-2,ttp,10,,5,3,7"], "agg.csv",
                header=AGG_HEADER)
    assert main(["validate", patients, "--aggregate", agg]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"OK: {patients}: 4 rows, 2 patients, 2 sites",
        f"OK: {agg}: 2 rows, 1 site (aggregate counts)",
    ]
    overlap = write(tmp_path, ["S01,ICI-1,response,1,1,,,"], "overlap.csv", header=AGG_HEADER)
    assert main(["validate", patients, "--aggregate", overlap]) == 1
    out = capsys.readouterr().out
    assert f"OK: {patients}" in out
    assert "site S01 line ICI-1 endpoint response is given both patient by patient" in out


def test_lines_option(tmp_path, capsys):
    rows = [r.replace("ICI-1", "first").replace("ICI-2", "second") for r in GOOD]
    path = write(tmp_path, rows, "p.csv")
    assert main(["validate", path]) == 1
    assert "one of the line labels ICI-1, ICI-2" in capsys.readouterr().out
    assert main(["validate", path, "--lines", "first,second"]) == 0


def test_endpoints_option_relaxes_required_columns(tmp_path, capsys):
    path = write(tmp_path, ["S01,P01,ICI-1,PR"], "p.csv", header="site,patient_id,line,best_response")
    assert main(["validate", path]) == 1
    assert main(["validate", path, "--endpoints", "response,disease_control"]) == 0
    assert "OK:" in capsys.readouterr().out


def test_config_supplies_files_lines_and_endpoints(tmp_path, capsys):
    rows = [r.replace("ICI-1", "L1").replace("ICI-2", "L2") for r in GOOD]
    write(tmp_path, rows, "p.csv")
    config = tmp_path / "run.toml"
    config.write_text('[data]\npatients = ["p.csv"]\nlines = ["L1", "L2"]\n'
                      '[analysis]\nendpoints = ["response"]\n', encoding="utf-8")
    assert main(["validate", "--config", str(config)]) == 0
    assert "p.csv: 4 rows, 2 patients, 2 sites" in capsys.readouterr().out
    # the command line wins over the config
    assert main(["validate", "--config", str(config), "--lines", "ICI-1,ICI-2"]) == 1
    assert "one of the line labels ICI-1, ICI-2" in capsys.readouterr().out
    assert main(["validate", "--config", str(tmp_path / "missing.toml")]) == 1
    assert "config file not found" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["validate"],                                     # no file at all
    ["validate", "p.csv", "--lines", "ICI-1,,ICI-2"],  # empty label
    ["validate", "p.csv", "--lines", "A,a"],           # labels equal ignoring case
    ["validate", "p.csv", "--endpoints", "survival"],
    ["validate", "--nonsense"],
    ["no-such-command"],
    [],
])
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rechallenge {version('rechallenge')}"
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out


def test_commands_are_registered_through_the_dispatch_table():
    assert "validate" in COMMANDS
    assert callable(COMMANDS["validate"].register) and callable(COMMANDS["validate"].run)


@pytest.mark.integration  # the installed script, run as a new process
def test_the_script_entry_point_exits_with_mains_status(tmp_path):
    # console_main (the installed ``rechallenge`` script) ends the process with main's status.
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rechallenge.analysis.cli", *args],
                              capture_output=True, text=True)

    assert run("--version").returncode == 0
    assert run("validate", write(tmp_path, GOOD, "p.csv")).returncode == 0
    bad = run("validate", write(tmp_path, [GOOD[0].replace("PR", "XX")], "bad.csv"))
    assert bad.returncode == 1 and "XX" in bad.stdout + bad.stderr
    assert run("no-such-command").returncode == 2


def test_every_command_reports_an_input_or_disk_problem_the_same_way(capsys):
    from rechallenge.analysis.cli.common import EXIT_FAILURE, report_problem

    disk = OSError(28, "No space left on device", "run/figures/a.pdf")
    assert report_problem(disk, consequence="nothing was changed") == EXIT_FAILURE
    assert capsys.readouterr().err == ("error: No space left on device (run/figures/a.pdf); "
                                       "nothing was changed\n")
    # An error made with a message only (e.g. "the study exists") is told by its message.
    report_problem(FileExistsError("out holds a study; pass --resume"))
    assert capsys.readouterr().err == "error: out holds a study; pass --resume\n"
    report_problem(ValueError("--n must be positive"))
    assert capsys.readouterr().err == "error: --n must be positive\n"


def test_a_file_that_is_not_a_folder_is_a_message_not_a_traceback(tmp_path, capsys):
    """The reconstruct command makes --out's folder; a file in its place is an OSError, told by
    its reason and path (not errno and repr)."""
    (tmp_path / "taken").write_text("a file, not a folder")
    curve = write(tmp_path, ["0,100", "2,50", "4,20"], "curve.csv", header="time,survival")
    at_risk = write(tmp_path, ["0,10", "2,5"], "at_risk.csv", header="time,n_at_risk")
    status = main(["reconstruct", curve, "--at-risk", at_risk, "--site", "S15", "--line", "ICI-2",
                   "--out", str(tmp_path / "taken" / "x.csv")])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: ") and f"({tmp_path / 'taken'})" in err, err
    assert "Errno" not in err
    assert (tmp_path / "taken").read_text() == "a file, not a folder"

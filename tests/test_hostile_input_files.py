"""Files that are not tables: FIFOs, devices, directories, sockets, huge files, other encodings.

Each is refused with the package's own message (file named, exit 1, no traceback) before it is
read, by every command that reads a user's file. A command that would block on a FIFO is run in a
thread with a deadline, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import codecs
import os
import socket
import threading
from pathlib import Path

import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.settings import json_files
from rechallenge.data import DataValidationError, load, read_patients, schema
from rechallenge.data.files import InputFileError, check_readable_regular_file

HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")
GOOD = [
    "S01,P01,ICI-1,PR,5.2,1,0,ici_alone,1,M,64",
    "S01,P01,ICI-2,PD,3.1,1,1,dual_ici,2,M,64",
]
DEADLINE = 60.0  # seconds; every refusal here takes well under one

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")


def write(path: Path, header: str = HEADER, rows: list[str] = GOOD) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def run_cli(args: list[str]) -> int:
    """``main(args)`` with a deadline: a reader blocked on a FIFO fails instead of hanging."""
    result: list[int] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(main([str(a) for a in args]))
        except BaseException as exc:  # reported below, in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), f"{args[0]} still running after {DEADLINE} s (blocked reading?)"
    if failure:
        raise failure[0]
    return result[0]


def assert_refused(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    assert code == 1
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    for needle in needles:
        assert needle in text, text
    return text


# ---- not a regular file ----------------------------------------------------------------------

def test_validate_refuses_a_fifo_a_device_a_directory_and_a_socket_at_once(tmp_path, capsys):
    pipe = fifo(tmp_path / "pipe.csv")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    sock_path = tmp_path / "s.csv"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(sock_path))
        good = write(tmp_path / "good.csv")
        code = run_cli(["validate", good, pipe, "/dev/zero", folder, sock_path])
    finally:
        server.close()
    text = assert_refused(
        capsys, code, "4 problems",
        f"{pipe}: expected a regular file; this is a named pipe (FIFO)",
        "/dev/zero: expected a regular file; this is a character device",
        f"{folder}: expected a file; this is a directory",
        f"{sock_path}: expected a regular file; this is a socket")
    assert f"OK: {good}" in text


def test_validate_aggregate_fifo_and_config_fifo_are_refused(tmp_path, capsys):
    assert_refused(capsys, run_cli(["validate", "--aggregate", fifo(tmp_path / "c.csv")]),
                   "c.csv: expected a regular file; this is a named pipe")
    assert_refused(capsys, run_cli(["validate", "--config", fifo(tmp_path / "a.toml")]),
                   "a.toml: expected a regular file; this is a named pipe")
    assert_refused(capsys, run_cli(["validate", "--config", "/dev/zero"]),
                   "/dev/zero: expected a regular file; this is a character device")


def test_analyze_refuses_every_unreadable_data_file_before_any_work(tmp_path, capsys):
    out = tmp_path / "run"
    code = run_cli(["analyze", fifo(tmp_path / "p.csv"), "/dev/zero", "--aggregate", tmp_path,
                    "--out", out, "--quiet"])
    assert_refused(capsys, code, "3 problems", "p.csv: expected a regular file; this is a named",
                   "/dev/zero: expected a regular file", f"{tmp_path}: expected a file")
    assert not out.exists()


def test_update_refuses_unreadable_new_files_before_reading_the_run(tmp_path, capsys):
    out = tmp_path / "updated"
    # The earlier run does not even exist: the new files are checked first, all of them at once.
    code = run_cli(["update", tmp_path / "no_run", "--new-sites", fifo(tmp_path / "new.tab"),
                    "/dev/zero", "--out", out, "--quiet"])
    assert_refused(capsys, code, "new.tab: expected a regular file; this is a named pipe",
                   "/dev/zero: expected a regular file")
    assert not out.exists()


def test_reconstruct_refuses_a_fifo_curve_and_a_device_at_risk_table(tmp_path, capsys):
    out = tmp_path / "rec.csv"
    code = run_cli(["reconstruct", fifo(tmp_path / "curve.csv"), "--at-risk", "/dev/zero",
                    "--site", "S20", "--line", "ICI-2", "--out", out])
    assert_refused(capsys, code, "curve.csv: expected a regular file; this is a named pipe",
                   "/dev/zero: expected a regular file; this is a character device")
    assert not out.exists()


def test_simulate_refuses_a_fifo_truth_file(tmp_path, capsys):
    code = run_cli(["simulate", "coverage", "--truth", fifo(tmp_path / "truth.json"),
                    "--out", tmp_path / "sims", "--n-sims", "2", "--quiet"])
    assert_refused(capsys, code, "truth.json: expected a regular file; this is a named pipe")


def test_the_helpers_refuse_before_opening(tmp_path):
    pipe = fifo(tmp_path / "p.json")
    with pytest.raises(json_files.JSONFileError, match="named pipe"):
        json_files.read_json(pipe)
    with pytest.raises(InputFileError, match="character device") as info:
        check_readable_regular_file("/dev/zero")
    assert info.value.path == "/dev/zero"
    with pytest.raises(FileNotFoundError):
        check_readable_regular_file(tmp_path / "missing.csv")
    from rechallenge.analysis.run.manifest import file_sha256

    with pytest.raises(InputFileError, match="named pipe"):
        file_sha256(pipe)
    good = write(tmp_path / "p.csv")
    assert check_readable_regular_file(good, max_bytes=10**6) == good
    link = tmp_path / "link.csv"
    link.symlink_to(good)  # a link to a regular file is read
    assert len(read_patients(link)) == 2


# ---- sizes -------------------------------------------------------------------------------------

def test_a_file_beyond_the_size_limit_is_refused_before_reading(tmp_path, capsys):
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:  # sparse: no disk space, no reading time
        handle.truncate(schema.MAX_TABLE_BYTES + 1)
    assert_refused(capsys, run_cli(["validate", huge]),
                   f"{huge}: expected a file of at most 128 MiB",
                   f"({schema.MAX_TABLE_BYTES + 1:,} bytes) (it is refused before reading)")


def test_rows_beyond_the_limit_stop_the_reading(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(schema, "MAX_TABLE_ROWS", 3)
    rows = [GOOD[0].replace("P01", f"P{i:05d}") for i in range(5_000)]
    path = write(tmp_path / "long.csv", rows=rows)
    # Bytes that are not UTF-8 far beyond the limit: never read, so never reported.
    with path.open("ab") as handle:
        handle.write(b"S01,P99,ICI-1,PR,5.2,1,0,\xff\xfe,1,M,64\n")
    assert_refused(capsys, run_cli(["validate", path]),
                   f"{path}, row 5: expected at most 3 data rows (blank rows not counted); the "
                   "file has more (the reading stopped at row 5)")


def test_the_row_limit_holds_for_all_files_together(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "MAX_TABLE_ROWS", 3)
    first = write(tmp_path / "a.csv")
    second = write(tmp_path / "b.csv", rows=[r.replace("S01,P01", "S02,P02") for r in GOOD])
    with pytest.raises(DataValidationError) as info:
        load.load_study([first, second])
    (issue,) = info.value.issues
    assert issue.file == str(second) and issue.row == 3
    assert "in all input files together (2 were read from the files before this one, of 3)" in (
        issue.expected)


def test_a_line_beyond_the_limit_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "MAX_LINE_CHARACTERS", 200)
    path = tmp_path / "one_line.csv"
    path.write_text(HEADER + "\n" + "," * 10_000)  # a line of separators, no line break
    with pytest.raises(DataValidationError) as info:
        read_patients(path)
    assert [i.expected for i in info.value.issues] == [
        "lines of at most 200 characters; line 2 is longer (is this a table of the study?)"]


def test_a_header_beyond_the_column_limit_is_refused(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(schema.MAX_TABLE_COLUMNS + 1)) + "\n1\n")
    with pytest.raises(DataValidationError) as info:
        read_patients(path)
    assert f"a header of at most {schema.MAX_TABLE_COLUMNS:,} columns" in str(info.value)


def test_config_and_json_files_have_size_limits(tmp_path, monkeypatch, capsys):
    from rechallenge.analysis.settings.config import MAX_CONFIG_BYTES

    config = tmp_path / "big.toml"
    config.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    assert_refused(capsys, run_cli(["validate", "--config", config]),
                   f"{config}: expected a file of at most 1 MiB")
    monkeypatch.setattr(json_files, "MAX_JSON_BYTES", 10)
    record = tmp_path / "r.json"
    record.write_text('{"a": [1, 2, 3, 4, 5]}')  # 22 bytes
    with pytest.raises(json_files.JSONFileError, match="at most 10 bytes; this one is 22 bytes"):
        json_files.read_json(record)


# ---- encodings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("codec, bom, name", [
    ("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32 (little-endian)"),
    ("utf-32-be", codecs.BOM_UTF32_BE, "UTF-32 (big-endian)"),
    ("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16 (little-endian)"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16 (big-endian)"),
    ("utf-32-le", b"", "UTF-32 (little-endian, without a byte-order mark)"),
    ("utf-16-le", b"", "UTF-16 (little-endian, without a byte-order mark)"),
])
def test_utf16_and_utf32_files_are_named_as_what_they_are(tmp_path, capsys, codec, bom, name):
    path = tmp_path / "wide.csv"
    path.write_bytes(bom + ("\n".join([HEADER, *GOOD]) + "\n").encode(codec))
    assert_refused(capsys, run_cli(["validate", path]),
                   f"{path}: expected UTF-8 text; the file is {name} (save it as 'CSV UTF-8')")

"""Every command runs in a hostile environment: a home folder that cannot be written (library
caches pointed to a private temporary folder) and a terminal that is not UTF-8 (labels printed
with backslash escapes, never a traceback, never a failure after the files were written).

The commands run in a new process (``python -m rechallenge.analysis.cli``), as a user runs them:
the caches must be set before the libraries are imported.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import rechallenge.data
from rechallenge.analysis.cli.environment import (
    PRIVATE_FOLDER,
    redirect_unwritable_caches,
    tolerant_streams,
    writable,
)

#: A site label no ASCII or latin-1 terminal can show whole.
LABEL = "Zürich–東京"
#: What the escapes of LABEL look like on an ASCII stream.
ESCAPED = "Z\\xfcrich\\u2013\\u6771\\u4eac"
#: Settings that would move a cache away from HOME: removed, so HOME alone decides.
CACHE_SETTINGS = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR", "PYTENSOR_FLAGS",
                  "PYTENSORRC", "NUMBA_CACHE_DIR", "DASK_TEMPORARY_DIRECTORY")
SHIPPED = Path(rechallenge.data.__file__).parent / "synthetic_scheiner2023.csv"
TINY_CONFIG = """[data]
patients = ["{data}"]
[analysis]
endpoints = ["response"]
comparators = false
sensitivity = false
[sampler]
draws = 100
tune = 100
chains = 2
"""


# ---- helpers ----------------------------------------------------------------------------------

def home_under_a_file(tmp_path: Path) -> Path:
    """A HOME in which nothing can be created, even by root: its parent is a regular file."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n")
    return blocker / "home"


@pytest.fixture
def unwritable_home(tmp_path: Path) -> Path:
    """A HOME that cannot be written by any user, root included (a chmod 0555 folder would not
    stop root, under which CI runs): its parent is a regular file."""
    home = home_under_a_file(tmp_path)
    assert not writable(home / ".cache")
    return home


def environment(home: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment with HOME (when given) and ``extra``; no cache settings."""
    env = {k: v for k, v in os.environ.items() if k not in CACHE_SETTINGS}
    if home is not None:
        env["HOME"] = str(home)
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``rechallenge ARGS`` in a new process; its output decoded leniently (it may be ASCII)."""
    return subprocess.run([sys.executable, "-m", "rechallenge.analysis.cli", *args], env=env,
                          cwd=cwd, capture_output=True, encoding="utf-8", errors="replace")


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text, text
        assert "UnicodeEncodeError" not in text and "OSError" not in text, text


def labelled_data(folder: Path, name: str = "patients.csv") -> Path:
    """The shipped data with site S01 relabelled LABEL."""
    path = folder / name
    text = SHIPPED.read_text(encoding="utf-8")
    path.write_text(text.replace("\nS01,", f"\n{LABEL},"), encoding="utf-8")
    return path


# ---- the caches, in this process --------------------------------------------------------------

def test_writable_sees_a_file_in_the_way_without_creating_anything(tmp_path: Path) -> None:
    assert writable(tmp_path) and writable(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()
    home = home_under_a_file(tmp_path)
    assert not writable(home) and not writable(home / ".cache" / "arviz")


def test_unwritable_caches_go_to_a_private_folder_that_later_commands_reuse(tmp_path: Path) -> None:
    environ = {"HOME": str(home_under_a_file(tmp_path)), "PYTENSOR_FLAGS": "floatX=float64"}
    setup = redirect_unwritable_caches(environ)
    assert setup.notes == []
    assert set(setup.redirected) == {"XDG_CACHE_HOME", "MPLCONFIGDIR", "PYTENSOR_FLAGS"}
    root = Path(tempfile.gettempdir()) / PRIVATE_FOLDER.format(uid=os.getuid())
    for folder in map(Path, setup.redirected.values()):
        assert folder.parent == root and writable(folder)
        info = folder.stat()
        assert info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077 == 0
    assert environ["XDG_CACHE_HOME"] == str(root / "cache")
    assert environ["MPLCONFIGDIR"] == str(root / "matplotlib")
    # The user's own flags are kept; the compile folder is added after them (later wins).
    assert environ["PYTENSOR_FLAGS"] == f"floatX=float64,base_compiledir={root / 'pytensor'}"
    # Once pointed, nothing is left to change: the next command finds the same folders.
    again = dict(environ)
    assert redirect_unwritable_caches(again).redirected == {} and again == environ


def test_writable_caches_and_the_users_settings_are_left_alone(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "PYTENSOR_FLAGS": f"compiledir={tmp_path / 'pt'}",
               "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    before = dict(environ)
    assert redirect_unwritable_caches(environ).redirected == {}
    assert environ == before


def test_an_unwritable_folder_the_user_set_is_replaced_through_the_same_setting(
        tmp_path: Path) -> None:
    blocked = home_under_a_file(tmp_path)
    environ = {"HOME": str(tmp_path), "PYTENSOR_FLAGS": f"compiledir={blocked / 'pt'}",
               "NUMBA_CACHE_DIR": str(blocked / "numba"), "XDG_CACHE_HOME": str(blocked),
               "DASK_TEMPORARY_DIRECTORY": str(blocked / "dask")}
    setup = redirect_unwritable_caches(environ)
    assert set(setup.redirected) == {"XDG_CACHE_HOME", "PYTENSOR_FLAGS", "NUMBA_CACHE_DIR",
                                     "DASK_TEMPORARY_DIRECTORY"}
    assert environ["PYTENSOR_FLAGS"].endswith(f",compiledir={setup.redirected['PYTENSOR_FLAGS']}")
    assert all(writable(Path(environ[name])) for name in ("XDG_CACHE_HOME", "NUMBA_CACHE_DIR",
                                                          "DASK_TEMPORARY_DIRECTORY"))


def test_a_shared_folder_in_the_private_folders_place_is_not_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another user could have made it to plant compiled code: a fresh folder is used, said so.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / PRIVATE_FOLDER.format(uid=os.getuid())
    shared.mkdir()
    shared.chmod(0o777)
    environ = {"HOME": str(home_under_a_file(tmp_path))}
    setup = redirect_unwritable_caches(environ)
    folders = {Path(f).parent for f in setup.redirected.values()}
    assert len(folders) == 1 and shared not in folders
    assert len(setup.notes) == 1 and str(shared) in setup.notes[0]
    assert not any(shared.iterdir())


def test_a_stream_that_lacks_a_character_writes_its_escape() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    tolerant_streams((stream,))
    stream.write(LABEL)
    stream.flush()
    assert raw.getvalue().decode("ascii") == ESCAPED
    assert stream.encoding == "ascii"


# ---- the commands, in a new process -----------------------------------------------------------

@pytest.mark.integration  # a command run as a new process
def test_validate_runs_with_an_unwritable_home(unwritable_home: Path, tmp_path: Path) -> None:
    result = cli("validate", str(labelled_data(tmp_path)), env=environment(unwritable_home))
    assert_no_traceback(result)
    assert result.returncode == 0 and "OK:" in result.stdout


@pytest.mark.integration  # reads the session's small run
def test_design_runs_with_an_unwritable_home(small_run: Path, unwritable_home: Path,
                                             tmp_path: Path) -> None:
    out = tmp_path / "design"
    result = cli("design", str(small_run), "--endpoint", "response", "--line", "ICI-2",
                 "--confidence", "0.9", "--n", "20", "--threshold", "0.2", "--out", str(out),
                 env=environment(unwritable_home))
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert (out / "design.json").is_file() and (out / "oc_one_sample.png").is_file()
    assert "mkdir -p failed" not in result.stderr  # Matplotlib found a folder it can write


@pytest.mark.integration  # a command run as a new process
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_validate_prints_labels_the_terminal_cannot_show(tmp_path: Path, encoding: str) -> None:
    data = labelled_data(tmp_path)
    rows = data.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "twice.csv"  # the first patient-line twice: a problem naming the label
    bad.write_text("\n".join([*rows[:3], rows[1]]) + "\n", encoding="utf-8")
    env = environment(PYTHONIOENCODING=encoding)
    result = cli("validate", str(bad), env=env)
    assert_no_traceback(result)
    assert result.returncode == 1 and "\\u6771\\u4eac" in result.stdout
    named = labelled_data(tmp_path, f"{LABEL}.csv")  # a file name it cannot show either
    result = cli("validate", str(named), env=env)
    assert_no_traceback(result)
    assert result.returncode == 0 and "OK:" in result.stdout and "\\u6771" in result.stdout

@pytest.mark.integration  # a command run as a new process

def test_reconstruct_prints_a_label_the_terminal_cannot_show_after_writing(tmp_path: Path) -> None:
    # Today's failure was worse than a traceback: exit 1 after every file was written.
    from test_reconstruct_cli import AT_RISK, CURVE

    (tmp_path / "curve.csv").write_text(CURVE)
    (tmp_path / "at_risk.csv").write_text(AT_RISK)
    out = tmp_path / "site.csv"
    result = cli("reconstruct", str(tmp_path / "curve.csv"), "--at-risk",
                 str(tmp_path / "at_risk.csv"), "--site", LABEL, "--line", "ICI-2", "--out",
                 str(out), env=environment(PYTHONIOENCODING="ascii"))
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert f"site {ESCAPED}" in result.stdout and out.is_file()
    assert LABEL in out.read_text(encoding="utf-8")  # the files keep the label as it is


@pytest.mark.integration  # reads the session's small run
def test_design_prints_an_output_folder_the_terminal_cannot_show(small_run: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / f"design {LABEL}"
    result = cli("design", str(small_run), "--endpoint", "response", "--line", "ICI-2",
                 "--confidence", "0.9", "--n", "20", "--threshold", "0.2", "--out", str(out),
                 env=environment(PYTHONIOENCODING="ascii"))
    assert_no_traceback(result)
    assert result.returncode == 0 and f"Written to {tmp_path}/design {ESCAPED}" in result.stdout


@pytest.mark.integration
def test_analyze_report_and_design_with_an_unwritable_home_and_an_ascii_terminal(
        tmp_path: Path) -> None:
    """One tiny run through the three commands that import ArviZ, Matplotlib and PyTensor."""
    env = environment(home_under_a_file(tmp_path), PYTHONIOENCODING="ascii")
    data = labelled_data(tmp_path)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG.format(data=data.name), encoding="utf-8")
    run = tmp_path / f"run {LABEL}"
    result = cli("analyze", "--config", str(config), "--out", str(run), "--allow-unconverged",
                 env=env)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert f"Report: {tmp_path}/run {ESCAPED}/report.md" in result.stdout
    assert (run / "manifest.json").is_file()

    result = cli("report", str(run), "--quiet", env=env)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr

    out = tmp_path / "design"
    result = cli("design", str(run), "--endpoint", "response", "--line", "ICI-2",
                 "--confidence", "0.9", "--n", "20", "--threshold", "0.2", "--out", str(out),
                 env=env)
    assert_no_traceback(result)
    assert result.returncode == 0 and (out / "design.json").is_file()

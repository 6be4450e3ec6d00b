"""Every file ``report`` and ``update`` read from a run is one the run wrote (issue 28, item 3).

The manifest's hashes are checked for the files it lists; a file put into the run afterwards
(not listed) must not be read either, or it would be used unchecked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.run.manifest import RunDirectoryError
from rechallenge.analysis.run.run_reader import read_run

pytestmark = pytest.mark.integration

QUIET = lambda _message: None  # noqa: E731


def _copy(small_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    return run


def _unlist(run: Path, name: str) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["files"][name]
    (run / "manifest.json").write_text(json.dumps(manifest))


def test_report_and_update_refuse_a_data_copy_the_run_did_not_write(
        small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = _copy(small_run, tmp_path)
    _unlist(run, "data/aggregates.csv")
    with pytest.raises(RunDirectoryError, match=r"does not list .*data/aggregates\.csv"):
        read_run(run)  # what update reads
    new = tmp_path / "new.csv"
    new.write_text("site,line,endpoint,n,events\nN1,ICI-2,response,10,3\n")
    assert main(["update", str(run), "--new-sites", str(new), "--out",
                 str(tmp_path / "updated"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "does not list" in err and "aggregates.csv" in err and "Traceback" not in err
    assert not (tmp_path / "updated").exists()


def test_report_refuses_an_update_folder_put_into_a_plain_run(
        small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = _copy(small_run, tmp_path)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    folder = run / "update"
    folder.mkdir()
    (folder / "source.json").write_text(json.dumps({"source_run": "elsewhere", "new_sites": []}))
    (folder / "before_summary.csv").write_text("endpoint,quantity,line\n")
    (folder / "conflict.csv").write_text("site\n")
    assert main(["report", str(run), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "does not list" in err and "update/source.json" in err and "Traceback" not in err
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()
             if p.relative_to(run).parts[0] != "update"}
    assert after == before  # refused before anything was rebuilt

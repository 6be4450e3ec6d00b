"""Finished work survives (issue: trust): a run whose outputs fail after sampling is kept and
``report`` finishes it without sampling; ``report`` keeps a user's files and refuses a run whose
own files changed; ``update`` refuses an earlier run whose fits or data changed."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import small_config

from rechallenge.analysis.cli import main
from rechallenge.analysis.run import pipeline
from rechallenge.analysis.run.manifest import RunDirectoryError
from rechallenge.analysis.run.pipeline import analyze, rebuild_report
from rechallenge.analysis.run.run_object import Run
from rechallenge.analysis.run.rundir import IncompleteRunError

pytestmark = pytest.mark.integration

QUIET = lambda _message: None  # noqa: E731


def _response_only():
    config = small_config(comparators=False, sensitivity=False)
    return replace(config, analysis=replace(config.analysis, endpoints=("response",)))


def test_a_failed_figure_keeps_the_fits_and_report_finishes_the_run(tmp_path: Path, monkeypatch, engine) -> None:
    real = pipeline.build_outputs

    def fails_after_some_outputs(staging: Path, *args, **kwargs):
        real(staging, *args, **kwargs)
        raise RuntimeError("the forest plot could not be drawn")

    monkeypatch.setattr(pipeline, "build_outputs", fails_after_some_outputs)
    out = tmp_path / "run"
    with pytest.raises(IncompleteRunError, match="forest plot") as failure:
        analyze(_response_only(), out, allow_unconverged=True, progress=QUIET, engine=engine)
    assert failure.value.kept == out.resolve()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["fits"] == ["response"]
    fit_bytes = (out / "fits" / "response.nc").read_bytes()

    monkeypatch.setattr(pipeline, "build_outputs", real)
    monkeypatch.setattr(pipeline, "fit_all", lambda *a, **k: pytest.fail("sampled again"))
    assert main(["report", str(out), "--scheduler", engine.scheduler.address, "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and "error" not in manifest
    assert (out / "fits" / "response.nc").read_bytes() == fit_bytes
    assert (out / "report.html").is_file() and (out / "tables" / "sites_response.csv").is_file()


def test_report_keeps_files_the_user_added(small_run: Path, tmp_path: Path, engine) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    (run / "notes.txt").write_text("reviewer comments")
    (run / "figures" / "my_edit.png").write_bytes(b"\x89PNG user figure")
    rebuilt = rebuild_report(run, progress=QUIET, engine=engine)
    assert isinstance(rebuilt, Run) and rebuilt.out == run and rebuilt.endpoints == ("response", "ttp")
    assert (run / "notes.txt").read_text() == "reviewer comments"
    assert (run / "figures" / "my_edit.png").read_bytes() == b"\x89PNG user figure"


def test_report_refuses_a_run_whose_files_changed(small_run: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    table = run / "tables" / "sites_response.csv"
    table.write_text(table.read_text().replace("S01", "S99"))
    assert main(["report", str(run), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "sites_response.csv: changed" in err and "Traceback" not in err
    assert "S99" in table.read_text()  # refused: nothing was rewritten


def test_update_refuses_an_earlier_run_whose_fit_changed(small_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    with open(run / "fits" / "ttp.nc", "ab") as handle:
        handle.write(b"\0")
    new = tmp_path / "new.csv"
    new.write_text("site,line,endpoint,n,events\nN1,ICI-2,response,10,3\n")
    from rechallenge.analysis.run.update import update_run

    with pytest.raises(RunDirectoryError, match=r"ttp\.nc: changed"):
        update_run(run, [new], out=tmp_path / "updated", progress=QUIET)
    assert not (tmp_path / "updated").exists()

"""Run directories never destroy data (issue: trust): what --overwrite may replace, commits that
re-check their target, failures that keep finished work, and leftovers of killed runs.

Fast: runs are stand-ins (a manifest and a file), nothing is sampled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.run.fitio import WrongFitError, load_fit, save_fit
from rechallenge.analysis.run.inputs import input_file_hashes
from rechallenge.analysis.run.manifest import (
    RUN_FORMAT,
    STATUS_INCOMPLETE,
    RunDirectoryError,
    hash_tree,
    read_manifest,
    verify_run,
)
from rechallenge.analysis.run.rundir import (
    IncompleteRunError,
    RunExistsError,
    atomic_run_directory,
    check_target,
    recover_leftovers,
)
from rechallenge.analysis.settings.config import DataConfig, RunConfig
from rechallenge.models.fit_settings import VOCABULARY


@pytest.fixture
def tiny_fit() -> az.InferenceData:
    """A hand-made fit with the provenance attributes a saved fit needs."""
    rng = np.random.default_rng(5)
    idata = az.from_dict(posterior={"mu": rng.normal(size=(2, 20))})
    idata.posterior.attrs.update(rechallenge_model="binary", rechallenge_data_hash="abc123",
                                 rechallenge_vocabulary=str(VOCABULARY))
    return idata


def make_run(path: Path, *, status: str = "complete", text: str = "earlier run") -> Path:
    """A stand-in run: one file and a manifest that lists it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "marker.txt").write_text(text)
    manifest = {"format": RUN_FORMAT, "fits": [], "status": status, "files": hash_tree(path)}
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "precious.csv").write_text("a,b\n1,2\n")
    with pytest.raises(RunDirectoryError, match="not a rechallenge run"):
        check_target(study, overwrite=True)
    with pytest.raises(RunExistsError, match="--overwrite"):
        check_target(study, overwrite=False)
    assert (study / "precious.csv").read_text() == "a,b\n1,2\n"


def test_cli_refuses_before_sampling_and_leaves_the_folder(tmp_path: Path, capsys) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "precious.csv").write_text("keep me")
    assert main(["analyze", "--out", str(study), "--overwrite", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "not a rechallenge run" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]
    assert (study / "precious.csv").read_text() == "keep me"


def test_overwrite_refuses_the_current_directory_and_its_parents(tmp_path: Path, monkeypatch) -> None:
    work = tmp_path / "project" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for target in (".", "..", str(tmp_path)):
        with pytest.raises(RunDirectoryError, match="current directory"):
            check_target(target, overwrite=True)


def test_overwrite_refuses_a_run_that_holds_an_input(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    with pytest.raises(RunDirectoryError, match="an input of this run"):
        check_target(run, overwrite=True, protected=[run / "marker.txt"])
    with pytest.raises(RunDirectoryError, match="an input of this run"):
        check_target(tmp_path, overwrite=True, protected=[run])  # a parent of an earlier run


def test_overwrite_refuses_a_run_with_files_the_user_added(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    (run / "notes.txt").write_text("my notes")
    with pytest.raises(RunDirectoryError, match="notes.txt"):
        check_target(run, overwrite=True)


def test_overwrite_replaces_a_run_once_the_new_one_is_complete(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    with atomic_run_directory(run, overwrite=True) as staging:
        assert (run / "marker.txt").read_text() == "earlier run"
        (staging / "new.txt").write_text("new run")
    assert sorted(p.name for p in run.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_run_that_appeared_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RunDirectoryError, match="appeared while"):
        with atomic_run_directory(out) as staging:
            (staging / "mine.txt").write_text("second run")
            make_run(out, text="first run")  # a concurrent `analyze --out run` finished first
    assert (out / "marker.txt").read_text() == "first run"
    assert (tmp_path / "run.unsaved-1" / "mine.txt").read_text() == "second run"


def test_a_run_replaced_meanwhile_is_not_replaced_again(tmp_path: Path) -> None:
    out = make_run(tmp_path / "run")
    with pytest.raises(RunDirectoryError, match="changed while"):
        with atomic_run_directory(out, overwrite=True) as staging:
            (staging / "mine.txt").write_text("mine")
            make_run(out, text="the other run")  # another --overwrite committed first
    assert (out / "marker.txt").read_text() == "the other run"
    assert (tmp_path / "run.unsaved-1" / "mine.txt").read_text() == "mine"


def _mark_incomplete(staging: Path) -> None:
    (staging / "fits").mkdir()
    (staging / "fits" / "response.nc").write_text("saved fit")
    manifest = {"format": RUN_FORMAT, "fits": ["response"], "status": STATUS_INCOMPLETE}
    (staging / "manifest.json").write_text(json.dumps({**manifest, "files": hash_tree(staging)}))


def test_failure_before_the_fits_are_saved_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        with atomic_run_directory(tmp_path / "run") as staging:
            (staging / "config.toml").write_text("")
            raise ZeroDivisionError
    assert list(tmp_path.iterdir()) == []


def test_failure_after_the_fits_are_saved_keeps_a_resumable_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(IncompleteRunError, match="rechallenge report") as failure:
        with atomic_run_directory(out) as staging:
            _mark_incomplete(staging)
            raise OSError(28, "No space left on device", str(staging / "figures" / "a.pdf"))
    assert failure.value.kept == out.resolve()
    assert "No space left on device" in str(failure.value)
    assert read_manifest(out)["status"] == STATUS_INCOMPLETE
    assert (out / "fits" / "response.nc").read_text() == "saved fit"


def test_an_unfinished_replacement_keeps_the_earlier_run_and_the_fits(tmp_path: Path) -> None:
    out = make_run(tmp_path / "run")
    with pytest.raises(IncompleteRunError) as failure:
        with atomic_run_directory(out, overwrite=True) as staging:
            _mark_incomplete(staging)
            raise ValueError("a figure could not be drawn")
    assert (out / "marker.txt").read_text() == "earlier run"
    assert failure.value.kept == tmp_path.resolve() / "run.incomplete-1"
    assert (failure.value.kept / "fits" / "response.nc").is_file()


def test_leftovers_of_killed_runs_are_recovered_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "run"
    make_run(tmp_path / "run.replacing-1")  # killed between the two renames of a replacement
    empty = tmp_path / ".run.partial-abc"  # killed while sampling
    empty.mkdir()
    fitted = tmp_path / ".run.partial-def"  # killed while drawing figures
    fitted.mkdir()
    _mark_incomplete(fitted)
    messages = recover_leftovers(out)
    assert (out / "marker.txt").read_text() == "earlier run"
    assert not empty.exists() and not fitted.exists()
    assert (tmp_path / "run.incomplete-1" / "fits" / "response.nc").is_file()
    assert len(messages) == 3 and any("restored the earlier run" in m for m in messages)


def test_a_replaced_run_left_beside_a_finished_one_is_removed(tmp_path: Path) -> None:
    make_run(tmp_path / "run", text="new")
    make_run(tmp_path / "run.replacing-1", text="old")
    assert "removed" in recover_leftovers(tmp_path / "run")[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_live_runs_staging_folder_is_left_alone(tmp_path: Path) -> None:
    with atomic_run_directory(tmp_path / "run") as staging:
        assert recover_leftovers(tmp_path / "run") == []
        assert staging.is_dir()


def test_an_invalid_manifest_names_the_file(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    text = (run / "manifest.json").read_text()
    (run / "manifest.json").write_text(text[: len(text) // 2])
    with pytest.raises(RunDirectoryError, match=r"manifest\.json: not a valid run manifest"):
        read_manifest(run)
    (run / "manifest.json").write_text(json.dumps({"format": RUN_FORMAT, "fits": ["../../etc"]}))
    with pytest.raises(RunDirectoryError, match="outside the run"):
        read_manifest(run)


def test_changed_files_are_named(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    manifest = read_manifest(run)
    assert verify_run(run, manifest) is True
    (run / "marker.txt").write_text("edited")
    with pytest.raises(RunDirectoryError, match=r"marker\.txt: changed"):
        verify_run(run, manifest)
    assert verify_run(run, manifest, parts=("fits/",)) is True


def test_input_hashes_are_keyed_by_path(tmp_path: Path) -> None:
    for folder, text in (("a", "x\n1\n"), ("b", "x\n2\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "site.csv").write_text(text)
    config = RunConfig(data=DataConfig(patients=(str(tmp_path / "a" / "site.csv"),
                                                 str(tmp_path / "b" / "site.csv"))))
    hashes = input_file_hashes(config)
    assert len({h["path"] for h in hashes}) == 2 and len({h["sha256"] for h in hashes}) == 2


def test_a_fit_file_records_which_fit_it_holds(tmp_path: Path, tiny_fit) -> None:
    path = save_fit(tiny_fit, tmp_path / "response.nc", key="response")
    assert "rechallenge_fit_key" not in tiny_fit.posterior.attrs  # the fit itself is unchanged
    assert load_fit(path, expected_key="response").posterior.attrs["rechallenge_fit_key"] == "response"
    os.replace(path, tmp_path / "ttp.nc")
    with pytest.raises(WrongFitError, match="holds the fit 'response', not 'ttp'"):
        load_fit(tmp_path / "ttp.nc", expected_key="ttp")


def test_disk_errors_reach_the_user_without_a_traceback(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["analyze", "--out", str(blocker / "run"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_update_out_obeys_the_same_rules(tmp_path: Path) -> None:
    from rechallenge.analysis.run.update import update_run

    earlier = make_run(tmp_path / "earlier")
    new = tmp_path / "new.csv"
    new.write_text("site,line,endpoint,n,events\nN1,ICI-2,response,10,3\n")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match="not a rechallenge run"):
        update_run(earlier, [new], out=folder, overwrite=True)
    with pytest.raises(RunDirectoryError, match="an input of this run"):
        update_run(earlier, [new], out=tmp_path, overwrite=True)  # holds the earlier run
    assert (folder / "keep.txt").read_text() == "mine" and (earlier / "marker.txt").exists()

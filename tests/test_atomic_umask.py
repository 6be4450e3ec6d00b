"""Files written through ``rechallenge.data.atomic`` get the mode any new file of the user gets
(``0o666`` less the umask), not the private 0600 of a temporary file; a group of files is
written all or none.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rechallenge.data.atomic import (
    current_umask,
    file_mode,
    write_atomic,
    write_files_atomic,
    write_text_atomic,
)


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_the_umask_is_read_without_changing_it(umask: int) -> None:
    assert current_umask() == umask
    assert current_umask() == umask
    assert file_mode() == 0o666 & ~umask


def test_every_writer_gives_the_umask_mode(tmp_path: Path, umask: int) -> None:
    expected = 0o666 & ~umask
    write_text_atomic(tmp_path / "a.json", "{}\n")
    write_atomic(tmp_path / "b.csv", lambda tmp: Path(tmp).write_text("x\n"))
    write_files_atomic({tmp_path / "c.csv": b"c\n", tmp_path / "d.png": b"d"})
    # A file that existed with another mode gets the umask's mode when replaced.
    (tmp_path / "e.txt").write_text("old")
    os.chmod(tmp_path / "e.txt", 0o600)
    write_text_atomic(tmp_path / "e.txt", "new")
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(["a.json", "b.csv", "c.csv", "d.png", "e.txt"], expected)


def test_a_group_is_written_all_or_none(tmp_path: Path) -> None:
    (tmp_path / "kept.csv").write_text("before")
    with pytest.raises(TypeError):
        write_files_atomic({tmp_path / "kept.csv": b"after", tmp_path / "new.csv": b"x",
                            tmp_path / "bad.png": "not bytes"})  # type: ignore[dict-item]
    assert (tmp_path / "kept.csv").read_text() == "before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv"]


def test_a_run_directory_gets_the_umask_mode(tmp_path: Path, umask: int) -> None:
    # tempfile.mkdtemp makes the staging folder 0700; the finished run must be the user's usual
    # folder mode (0755 under 022, 0750 under 027), not a fixed 0755.
    from rechallenge.analysis.run.rundir import atomic_run_directory

    out = tmp_path / "run"
    with atomic_run_directory(out) as staging:
        (staging / "report.md").write_text("# a run\n")
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask

"""Safe, atomic run directories.

A run is written into a hidden staging directory beside its destination and renamed into place
only when complete, so a run that fails or is killed never leaves a half-written run and never
touches an earlier one. The rules a user can rely on:

* ``--overwrite`` replaces only a run of this package (a folder whose ``manifest.json`` says so,
  see :mod:`run_manifest`) that holds no file the run did not write; never the current directory,
  a folder holding the inputs, or any other folder.
* A run is never written inside an earlier run, nor over a run it reads
  (:mod:`run_nesting`).
* The commit re-checks the destination: a run that appeared there meanwhile, or a replaced run
  that changed meanwhile, is never silently replaced; the new run is then kept beside it.
* A run that fails after its fits were saved (``manifest.json`` with status ``incomplete`` in the
  staging directory) is kept, at the destination or beside it, so ``rechallenge report`` can
  finish it without sampling again.
* Staging (``.NAME.partial-*``) and replaced (``NAME.replacing-*``) folders left by a SIGKILL are
  recovered on the next run to the same destination: an earlier run is put back, saved fits are
  kept, the rest is removed, and each step is reported. A live run's folders are recognised by the
  lock it holds on them (``fcntl.flock``, released by the kernel when a process dies).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from rechallenge.analysis.run.manifest import (
    MANIFEST,
    RunDirectoryError,
    file_sha256,
    is_resumable,
    is_run_directory,
    read_manifest,
    unlisted_files,
)
from rechallenge.analysis.run.run_nesting import check_outside_runs
from rechallenge.data.atomic import directory_mode

Report = Callable[[str], None]


class RunExistsError(FileExistsError):
    """The run directory exists and overwriting was not requested."""


class IncompleteRunError(RuntimeError):
    """The run failed after its fits were saved; the fits were kept at :attr:`kept`.

    ``rechallenge report KEPT`` finishes the run from them without sampling again.
    """

    def __init__(self, cause: BaseException, kept: Path) -> None:
        super().__init__(
            f"{_describe(cause)}\nThe fits were saved: the unfinished run is at {kept}. Fix the "
            f"problem, then `rechallenge report {kept}` finishes it without sampling again.")
        self.cause = cause
        self.kept = kept


def write_json(path: Path, payload: Any) -> None:
    """Write JSON with stable key order."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def check_target(
    out: str | Path,
    *,
    overwrite: bool,
    protected: Sequence[str | Path] = (),
    keeps_unlisted: bool = False,
) -> str | None:
    """Refuse a destination that a run must not be written to (before any work is done).

    Parameters
    ----------
    out
        The run directory to create or replace.
    overwrite
        Whether an existing run at ``out`` may be replaced.
    protected
        Paths that must survive the run (its input files, the earlier run of an update): ``out``
        must be none of them and contain none of them.
    keeps_unlisted
        The caller copies files the run did not write into the new run (``report``), so they
        do not stand in the way.

    Returns
    -------
    str or None
        The SHA-256 of the manifest of the run to be replaced (checked again at the commit), or
        ``None`` when ``out`` does not exist.

    Raises
    ------
    RunExistsError
        ``out`` exists and ``overwrite`` is false.
    RunDirectoryError
        ``out`` is the current directory or one of its parents, lies inside a run, is or holds an
        input or the run an input belongs to (:func:`run_nesting.check_outside_runs`), is not a
        run of this package, or holds files the run did not write.
    """
    out = Path(out).resolve()
    cwd = Path.cwd().resolve()
    if out in cwd.parents or (out == cwd and not is_run_directory(out)):
        raise RunDirectoryError(
            f"{out} is the current directory or one of its parents; give --out a new folder "
            "for the run (e.g. runs/NAME)")
    for path in protected:
        inside = Path(path).resolve()
        if inside == out or out in inside.parents:
            raise RunDirectoryError(
                f"{out} holds {inside}, an input of this run; give --out a new folder for the run")
    check_outside_runs(out, reads=protected)
    if not out.exists() and not out.is_symlink():
        return None
    if not overwrite:
        raise RunExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    if out.is_symlink() or not is_run_directory(out):
        raise RunDirectoryError(
            f"{out} exists and is not a rechallenge run (no valid {MANIFEST}); --overwrite only "
            "replaces a run directory. Choose a new folder for --out.")
    extra = [] if keeps_unlisted else unlisted_files(out, read_manifest(out))
    if extra:
        raise RunDirectoryError(
            f"{out} holds files the run did not write, which --overwrite would delete: "
            f"{', '.join(extra)}. Move them out of the run, or choose another --out.")
    return file_sha256(out / MANIFEST)


@contextmanager
def atomic_run_directory(
    out: str | Path,
    *,
    overwrite: bool = False,
    protected: Sequence[str | Path] = (),
    report: Report | None = None,
    keeps_unlisted: bool = False,
) -> Iterator[Path]:
    """Yield a staging directory that becomes ``out`` when the block completes.

    Parameters
    ----------
    out
        Final run directory.
    overwrite
        Replace an existing run at ``out`` (after the new run is complete); see
        :func:`check_target` for what may be replaced.
    protected
        Paths the run must not replace or contain (its inputs).
    report
        Called with a sentence for each leftover of an earlier killed run that was recovered.
    keeps_unlisted
        As for :func:`check_target`.

    Raises
    ------
    IncompleteRunError
        The block failed after writing a manifest with status ``incomplete`` (fits saved): the
        staging directory was kept as a run, at ``out`` or beside it.

    Notes
    -----
    SIGTERM and SIGHUP are turned into ``SystemExit`` while the block runs, so the staging
    directory is handled on ``kill`` as it is on Ctrl-C or an error.
    """
    out = Path(out).resolve()
    for message in recover_leftovers(out):
        (report or (lambda _m: None))(message)
    replaced = check_target(out, overwrite=overwrite, protected=protected,
                            keeps_unlisted=keeps_unlisted)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    lock = _lock(staging)
    previous = _install_termination_handlers()
    try:
        try:
            yield staging
        except BaseException as exc:
            if not is_resumable(staging):
                shutil.rmtree(staging, ignore_errors=True)
                raise
            kept = _keep(staging, out)
            raise IncompleteRunError(exc, kept) from exc
        _commit(staging, out, replaced)
    finally:
        os.close(lock)
        _restore_handlers(previous)


def _commit(staging: Path, out: Path, replaced: str | None) -> None:
    """Move the finished staging directory into place, replacing the run ``replaced`` names."""
    os.chmod(staging, directory_mode())  # mkdtemp made it 0700; a run gets the umask
    if replaced is None:
        _rename_or_keep(staging, out)
        return
    # Rename the old run aside (a visible name, so a kill between the two renames never leaves
    # it only in a hidden folder), check it is the run seen at the start, then move the new run
    # in. The lock on the old run tells a concurrent recovery that it is being replaced.
    try:
        old = os.open(out, os.O_RDONLY)
    except FileNotFoundError:
        _rename_or_keep(staging, out)  # removed meanwhile: nothing left to replace
        return
    try:
        try:
            fcntl.flock(old, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            kept = _keep(staging, out, suffix="unsaved")
            raise RunDirectoryError(
                f"{out} is being replaced by another run; this run was kept at {kept}") from None
        aside = _free_name(out, "replacing")
        os.rename(out, aside)
        if not (aside / MANIFEST).is_file() or file_sha256(aside / MANIFEST) != replaced:
            os.rename(aside, out)
            kept = _keep(staging, out, suffix="unsaved")
            raise RunDirectoryError(
                f"{out} changed while this run was written (another run replaced it); it was left "
                f"as it is and this run was kept at {kept}")
        try:
            os.rename(staging, out)
        except OSError:
            os.rename(aside, out)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        os.close(old)


def _rename_or_keep(staging: Path, out: Path) -> None:
    """``rename(staging, out)``, which fails when a run appeared at ``out`` meanwhile."""
    try:
        os.rename(staging, out)
    except OSError as exc:
        if not out.exists():
            raise
        kept = _keep(staging, out, suffix="unsaved")
        raise RunDirectoryError(
            f"{out} appeared while this run was written (another run?); it was left as it is and "
            f"this run was kept at {kept}") from exc


def _keep(staging: Path, out: Path, *, suffix: str = "incomplete") -> Path:
    """Make ``staging`` visible: at ``out`` if free, else at ``out.SUFFIX-N``."""
    os.chmod(staging, directory_mode())  # mkdtemp made it 0700; a run gets the umask
    if not out.exists():
        try:
            os.rename(staging, out)
            return out
        except OSError:
            pass
    target = _free_name(out, suffix)
    os.rename(staging, target)
    return target


def _free_name(out: Path, suffix: str) -> Path:
    for n in range(1, 10_000):
        candidate = out.with_name(f"{out.name}.{suffix}-{n}")
        if not candidate.exists():
            return candidate
    raise RunDirectoryError(f"{out.parent}: too many {out.name}.{suffix}-N folders; tidy them up")


def recover_leftovers(out: str | Path) -> list[str]:
    """Recover what runs killed with SIGKILL left beside ``out``; one sentence per action.

    * ``NAME.replacing-N`` (an earlier run being replaced): put back at ``out`` if ``out`` is
      missing, else removed (the replacement had finished).
    * ``.NAME.partial-*`` with saved fits: kept as ``NAME.incomplete-N`` (finish it with
      ``rechallenge report``); without: removed (nothing was finished).

    Folders locked by a live run are left alone.
    """
    out = Path(out).resolve()
    if not out.parent.is_dir():
        return []
    messages = []
    for path in sorted(out.parent.glob(f"{out.name}.replacing-*")):
        if not path.is_dir() or _is_live(path):
            continue
        if not out.exists() and is_run_directory(path):
            os.rename(path, out)
            messages.append(f"restored the earlier run {out} from {path.name} (a run was killed "
                            "while replacing it)")
        else:
            shutil.rmtree(path, ignore_errors=True)
            messages.append(f"removed {path.name}, an earlier run already replaced at {out}")
    for path in sorted(out.parent.glob(f".{out.name}.partial-*")):
        if not path.is_dir() or _is_live(path):
            continue
        if is_resumable(path):
            kept = _free_name(out, "incomplete")
            os.rename(path, kept)
            messages.append(f"an earlier run of {out} was killed after saving its fits; they are "
                            f"kept in {kept}: `rechallenge report {kept}` finishes it")
        else:
            shutil.rmtree(path, ignore_errors=True)
            messages.append(f"removed {path.name}, left by an earlier run of {out} that was "
                            "killed before it finished")
    return messages


def _lock(directory: Path) -> int:
    """Hold an exclusive lock on ``directory`` for as long as the returned descriptor is open."""
    fd = os.open(directory, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _is_live(directory: Path) -> bool:
    """Whether another process holds the lock of a staging or replaced folder."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return True  # cannot tell: leave it alone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _install_termination_handlers() -> dict[int, Any]:
    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _raise_exit)
        except ValueError:  # not the main thread: leave handlers alone
            pass
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)

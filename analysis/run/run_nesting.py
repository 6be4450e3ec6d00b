"""An earlier run is never written into: no output goes inside a run, and no output replaces or
holds a run the command reads.

A run directory is finished when it is committed: its manifest lists every file it wrote with
its hash, ``report`` and ``update`` check them, and ``--overwrite`` refuses a run holding files
it did not write. An output placed inside a run (``update RUN --out RUN/new``, ``design RUN
--out RUN/plan``, a reconstructed table written into a run) would change the earlier run behind
its manifest's back. Every command that writes checks its destination with
:func:`check_outside_runs` before any work: ``analyze``, ``update`` and ``report`` through
:func:`rechallenge.analysis.run.rundir.check_target`, ``design``, ``simulate`` and ``reconstruct``
directly. A folder is a run when it holds a run manifest (:func:`manifest.is_run_directory`);
a simulation study is not a run (``simulate --resume`` continues it in place).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rechallenge.analysis.run.manifest import RunDirectoryError, is_run_directory


def enclosing_run(path: str | Path) -> Path | None:
    """The nearest folder above ``path`` (``path`` itself excluded) that is a run, if any.

    Every parent up to the file system root is looked at; a parent that cannot be read is not
    a run.
    """
    for parent in Path(path).resolve().parents:
        if _is_run(parent):
            return parent
    return None


def run_of(path: str | Path) -> Path | None:
    """The run ``path`` belongs to: ``path`` itself when it is a run, else :func:`enclosing_run`."""
    path = Path(path).resolve()
    return path if _is_run(path) else enclosing_run(path)


def check_outside_runs(out: str | Path, *, reads: Iterable[str | Path] = (),
                       option: str = "--out") -> None:
    """Refuse an output that lies inside a run, or is or holds a run the command reads.

    Parameters
    ----------
    out
        The folder or file the command writes.
    reads
        The command's inputs (files or folders): the runs they belong to (:func:`run_of`) must
        not be ``out`` nor lie inside ``out``.
    option
        How the user named ``out``, for the message.

    Raises
    ------
    RunDirectoryError
        With a message naming the run and what to do instead.
    """
    target = Path(out).resolve()
    outer = enclosing_run(target)
    if outer is not None:
        raise RunDirectoryError(
            f"{option} {target} lies inside the run {outer}; an earlier run is never written "
            f"into (its manifest lists every file it holds). Give {option} a path outside it.")
    for path in reads:
        run = run_of(path)
        if run is not None and (run == target or target in run.parents):
            where = "is" if run == target else "holds"
            raise RunDirectoryError(
                f"{option} {target} {where} the run {run}, which this command reads; an earlier "
                f"run is never written into. Give {option} a new path outside it.")


def _is_run(folder: Path) -> bool:
    try:
        return is_run_directory(folder)
    except OSError:  # a parent this user may not enter
        return False

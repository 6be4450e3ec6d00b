"""Atomic run directories.

A run is written into a hidden staging directory beside its destination and renamed into place
only when complete, so a run that fails or is killed leaves no partial directory and never
touches an earlier run. An existing destination is replaced only when the caller asks, and then
only after the new run has been fully written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any


class RunExistsError(FileExistsError):
    """The run directory exists and overwriting was not requested."""


def write_json(path: Path, payload: Any) -> None:
    """Write JSON with stable key order."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


@contextmanager
def atomic_run_directory(out: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging directory that becomes ``out`` when the block completes.

    Parameters
    ----------
    out
        Final run directory.
    overwrite
        Replace an existing ``out`` (after the new run is complete). Without it an existing
        ``out`` raises :class:`RunExistsError` before any work is done.

    Notes
    -----
    SIGTERM and SIGHUP are turned into ``SystemExit`` while the block runs, so the staging
    directory is removed on ``kill`` as it is on Ctrl-C (KeyboardInterrupt) or an error. SIGKILL
    cannot be caught; its staging directory (``.<name>.partial-*``) is hidden and never mistaken
    for a run.
    """
    out = Path(out).resolve()
    if out.exists() and not overwrite:
        raise RunExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    previous = _install_termination_handlers()
    try:
        yield staging
        _commit(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _restore_handlers(previous)


def _commit(staging: Path, out: Path) -> None:
    """Move the finished staging directory into place, replacing ``out`` if it exists."""
    if out.exists():
        # Rename the old run aside first so that at every instant one complete run is at `out`
        # or at the aside path; remove it only after the new run is in place.
        aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        aside.rmdir()
        os.replace(out, aside)
        try:
            os.replace(staging, out)
        except BaseException:
            os.replace(aside, out)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(staging, out)
    os.chmod(out, 0o755)


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

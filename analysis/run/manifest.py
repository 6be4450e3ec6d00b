"""The manifest of a run directory: what makes a folder a run, and whether its files are intact.

``manifest.json`` is the run's identity card. It carries ``"format": "rechallenge-run"``, the
status (``"complete"``, or ``"incomplete"`` when the fits were saved but the outputs failed), and
``"files"``: the SHA-256 of every file the run wrote. A folder is a run of this package only when
its manifest says so; only such a folder may be replaced by ``--overwrite``, and a run whose files
no longer match their hashes is refused by ``report`` and ``update`` (the file is named).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rechallenge.analysis.settings.json_files import JSONFileError, read_json
from rechallenge.data.files import check_readable_regular_file

MANIFEST = "manifest.json"
#: The value of ``manifest["format"]`` that marks a folder as a run of this package.
RUN_FORMAT = "rechallenge-run"
STATUS_COMPLETE = "complete"
STATUS_INCOMPLETE = "incomplete"
#: Keys every manifest written before ``format`` existed has; such runs are still recognised.
_LEGACY_KEYS = frozenset({"fits", "config", "versions", "input_hashes"})
#: A fit's name is also its file name under ``fits/``: no separators, no dots, no dot-dot.
FIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
#: What ``update`` reads from an earlier run; ``report`` checks every file the run wrote.
INPUT_PARTS = ("config.toml", "data/", "fits/")


class RunDirectoryError(ValueError):
    """A folder that is not a (valid, intact) run, or a run directory that must not be used."""


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The manifest of ``run_dir``, checked to be a rechallenge run manifest.

    Raises
    ------
    RunDirectoryError
        No manifest, unreadable, truncated or invalid JSON, or not a run manifest; the message
        names the file.
    """
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise RunDirectoryError(f"{Path(run_dir)}: not a run directory (no {MANIFEST})")
    try:
        manifest = read_json(path)
    except JSONFileError as exc:
        raise RunDirectoryError(f"{path}: not a valid run manifest ({exc.problem}; "
                                "truncated?)") from None
    if not _is_run_manifest(manifest):
        raise RunDirectoryError(f"{path}: not a rechallenge run manifest")
    bad = [name for name in manifest["fits"] if not isinstance(name, str) or not FIT_NAME.match(name)]
    if bad:
        raise RunDirectoryError(
            f"{path}: fit name(s) {bad!r} are not plain names (letters, digits, '_' and '-'); "
            "a fit name must not point outside the run")
    return manifest


def _is_run_manifest(manifest: object) -> bool:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("fits"), list):
        return False
    return manifest.get("format") == RUN_FORMAT or _LEGACY_KEYS <= set(manifest)


def is_run_directory(path: str | Path) -> bool:
    """Whether ``path`` is a directory holding a valid rechallenge run manifest."""
    path = Path(path)
    if not path.is_dir():
        return False
    try:
        read_manifest(path)
    except (RunDirectoryError, OSError):
        return False
    return True


def is_resumable(path: str | Path) -> bool:
    """Whether ``path`` holds a run whose fits were saved but whose outputs were not finished."""
    try:
        return read_manifest(path).get("status") == STATUS_INCOMPLETE
    except (RunDirectoryError, OSError):
        return False


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (bounded memory for large fits).

    A FIFO or a device (``/dev/zero``) would never end: anything but a regular file is refused
    before it is opened (:class:`~rechallenge.data.files.InputFileError`, a ValueError).
    """
    digest = hashlib.sha256()
    with open(check_readable_regular_file(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_tree(root: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``root`` except the manifest."""
    return {name: file_sha256(root / name) for name in hash_tree_names(root)}


def unlisted_files(run_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Files in ``run_dir`` that the run did not write (a user's notes, edited copies, ...).

    Empty for a run made before file hashes were recorded: it lists nothing to compare with.
    """
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return []
    return [name for name in hash_tree_names(run_dir) if name not in listed]


def hash_tree_names(root: Path) -> list[str]:
    """Relative posix paths of every file under ``root`` except the manifest, sorted."""
    return [p.relative_to(root).as_posix() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() != MANIFEST]


def check_listed(run_dir: Path, manifest: dict[str, Any], names: Iterable[str]) -> None:
    """Refuse to read a file of the run that the run did not write.

    :func:`verify_run` checks the files the manifest lists; a file a command reads must also
    *be* listed, or a file put into the run afterwards (an ``update/`` folder in a plain run,
    a ``map_prior.json`` in a run without partial pooling) would be read unchecked.

    Parameters
    ----------
    run_dir, manifest
        The run and its manifest (:func:`read_manifest`).
    names
        Relative posix paths the command is about to read; those that do not exist are left to
        the reader (it says they are missing).

    Raises
    ------
    RunDirectoryError
        Naming every existing file that the manifest does not list. Nothing is checked for a
        run made before file hashes were recorded.
    """
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return
    unlisted = [name for name in names if name not in listed and (run_dir / name).exists()]
    if unlisted:
        raise RunDirectoryError(
            f"{run_dir}: the run's manifest ({run_dir / MANIFEST}) does not list "
            + ", ".join(str(run_dir / name) for name in unlisted)
            + ": the run did not write it and it will not be read. Move it out of the run, or "
              "make a new run.")


def recorded_hash(run_dir: Path, manifest: dict[str, Any], name: str) -> str | None:
    """The SHA-256 the manifest records for the run's file ``name``, which a command will read.

    The command compares it with the hash of the bytes it reads (a design reads
    ``map_prior.json`` once, hashes and parses the same bytes).

    Returns
    -------
    str or None
        ``None`` for a run made before file hashes were recorded (nothing to compare with) and
        for a file that neither exists nor is listed (the reader says it is missing).

    Raises
    ------
    RunDirectoryError
        The file exists but the run did not write it (:func:`check_listed`).
    """
    check_listed(run_dir, manifest, [name])
    listed = manifest.get("files")
    if not isinstance(listed, dict) or name not in listed:
        return None
    return str(listed[name])


def verify_run(run_dir: Path, manifest: dict[str, Any], *, parts: Iterable[str] | None = None) -> bool:
    """Check the files a run wrote against the hashes in its manifest.

    Parameters
    ----------
    run_dir, manifest
        The run and its manifest (:func:`read_manifest`).
    parts
        Only files whose path starts with one of these (e.g. :data:`INPUT_PARTS`); all files
        when ``None``.

    Returns
    -------
    bool
        ``False`` for a run made before file hashes were recorded (nothing to check), else ``True``.

    Raises
    ------
    RunDirectoryError
        Naming every file that is missing or whose contents changed.
    """
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return False
    prefixes = tuple(parts) if parts is not None else ("",)
    problems = []
    for name, expected in sorted(listed.items()):
        if not name.startswith(prefixes):
            continue
        path = run_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif file_sha256(path) != expected:
            problems.append(f"{path}: changed since the run wrote it")
    if problems:
        raise RunDirectoryError(
            f"{run_dir}: the run's files do not match its manifest ({run_dir / MANIFEST}):\n  "
            + "\n  ".join(problems)
            + "\nRestore the original files (move edited copies to new names: files the run did "
              "not write are kept), or make a new run.")
    return True

"""Writing a file so that a reader never sees half of it: through a temporary file in the same
folder, renamed into place only when complete (a failure removes the temporary file).

The temporary file is created private (``tempfile.mkstemp`` gives mode 0600); before the rename
it gets the mode any new file of the user gets, ``0o666`` less the process's umask, so a file
written here is readable by whoever the user's umask lets read it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["write_atomic", "write_text_atomic", "write_files_atomic", "current_umask",
           "file_mode", "directory_mode"]

#: Serialises the fallback way of reading the umask (set and restore), which is process-wide.
_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's file-mode creation mask, read without changing it where the system allows.

    Linux reports it in ``/proc/self/status`` (kernel 4.7 and later). Elsewhere the only way is to
    set a mask and put the old one back; that is done under a lock, and only threads of this
    process that create files in the same instant could see the temporary mask.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new regular file under the current umask (``0o644`` under umask 022)."""
    return 0o666 & ~current_umask()


def directory_mode() -> int:
    """Mode of a new directory under the current umask (``0o755`` under umask 022)."""
    return 0o777 & ~current_umask()


def _stage(path: Path, write: Callable[[str], object], mode: int) -> str:
    """Write a temporary file beside ``path`` with ``write`` and give it ``mode``; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        with open(tmp, "rb") as written:  # on disk before the rename makes it visible
            os.fsync(written.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: str | Path, write: Callable[[str], object]) -> None:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    Parameters
    ----------
    path
        The file to create or replace; its folder is created if needed. It gets the mode of a
        new file under the user's umask (:func:`file_mode`).
    write
        Writes the whole file to the path it is given (e.g. ``frame.to_csv``).
    """
    path = Path(path)
    tmp = _stage(path, write, file_mode())
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8, line endings as given) to ``path`` atomically."""
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(text.encode("utf-8")))


def _bytes_writer(data: bytes) -> Callable[[str], object]:
    return lambda tmp: Path(tmp).write_bytes(data)


def write_files_atomic(contents: Mapping[Path, bytes]) -> None:
    """Write several files so that either all of them are renamed into place or none is.

    Every file is first written whole to its temporary file; only when all are on disk are they
    renamed, one after the other (renames within a folder do not fail for want of space). A
    failure while writing removes every temporary file and leaves the destinations untouched.

    Parameters
    ----------
    contents
        The bytes of each destination file.
    """
    mode = file_mode()
    staged: dict[Path, str] = {}
    try:
        for path, data in contents.items():
            staged[Path(path)] = _stage(Path(path), _bytes_writer(data), mode)
        for path, tmp in list(staged.items()):
            os.replace(tmp, path)
            del staged[path]
    finally:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)

"""Files a user names, checked before they are read: regular files of a bounded size only.

A named pipe (FIFO) makes a reader wait for a writer forever, a character device such as
``/dev/zero`` never ends, and a directory or a socket is no table. Each is refused from its
metadata (``os.stat``, which neither opens nor reads it) before any reader opens it, and so is a
regular file larger than the reader's limit, so no input can block a command or fill its memory.

Every reader of a user's file calls :func:`file_problem` (readers that collect every problem) or
:func:`check_readable_regular_file` (readers that raise) before opening it. The encoding of a text
file is told from its first bytes by :func:`text_encoding`, UTF-32 byte-order marks before UTF-16
ones (the UTF-32 little-endian mark begins with the UTF-16 one).
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Final, Union

from . import schema
from .errors import DataValidationError, ValidationIssue

__all__ = ["InputFileError", "file_problem", "check_readable_regular_file", "check_table_files",
           "text_encoding", "ENCODING_PROBE_BYTES", "size_text"]

PathLike = Union[str, "os.PathLike[str]"]

#: Bytes :func:`text_encoding` needs from the start of a file.
ENCODING_PROBE_BYTES: Final = 4

_NUL_PATH: Final = "a file path without NUL characters"
#: Byte-order marks, longest first where one begins another (UTF-32 LE starts with UTF-16 LE's).
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "UTF-32 (little-endian)"),
    (codecs.BOM_UTF32_BE, "UTF-32 (big-endian)"),
    (codecs.BOM_UTF16_LE, "UTF-16 (little-endian)"),
    (codecs.BOM_UTF16_BE, "UTF-16 (big-endian)"),
)


class InputFileError(ValueError):
    """A file that is not read: not a regular file, or larger than the reader's limit.

    A :class:`ValueError`, so the command line reports it as bad input (exit 1, no traceback).

    Parameters
    ----------
    path
        The file as the user named it.
    expected
        What was expected, phrased to follow "expected" (as in
        :class:`~rechallenge.data.errors.ValidationIssue`).
    """

    def __init__(self, path: PathLike, expected: str) -> None:
        self.path = str(path)
        self.expected = expected
        super().__init__(f"{self.path}: expected {expected}")


def size_text(size: int) -> str:
    """A size in bytes as people read it: ``'512 bytes'``, ``'2.5 MiB (2,621,440 bytes)'``."""
    if size < 2**20:
        return f"{size:,} bytes"
    return f"{f'{size / 2**20:,.1f}'.removesuffix('.0')} MiB ({size:,} bytes)"


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), which would make the reader wait for a writer"
    if stat.S_ISCHR(mode):
        return "a character device (such as /dev/zero or a terminal), which may never end"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return f"not a regular file (file type {stat.S_IFMT(mode):#o})"


def file_problem(path: PathLike, *, max_bytes: int | None = None) -> str | None:
    """Why ``path`` is not read, or ``None`` for a regular file within ``max_bytes``.

    Only the file's metadata is consulted (symbolic links are followed): nothing is opened, so a
    FIFO or a device cannot block or flood the check.

    Parameters
    ----------
    path
        The file as the user named it.
    max_bytes
        Largest size accepted; ``None`` for no limit.

    Returns
    -------
    str or None
        Text that follows "expected" in a message (e.g. ``"a regular file; this is a named pipe
        (FIFO), ..."``), or ``None`` when the file may be read.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "an existing file; nothing was found at this path"
    except NotADirectoryError:
        return "an existing file; a part of this path that should be a folder is a file"
    except PermissionError:
        return "a readable file; permission to look it up was denied"
    except OSError as exc:  # a name too long, a loop of symbolic links, ...
        return f"a readable file; {exc.strerror or exc}"
    except ValueError:  # os.stat refuses a path with a NUL character
        return _NUL_PATH
    return _stat_problem(info, max_bytes)


def _stat_problem(info: os.stat_result, max_bytes: int | None) -> str | None:
    """Why a file of this metadata is not read, or ``None``."""
    if stat.S_ISDIR(info.st_mode):
        return "a file; this is a directory"
    if not stat.S_ISREG(info.st_mode):
        return f"a regular file; this is {_kind(info.st_mode)}"
    if max_bytes is not None and info.st_size > max_bytes:
        return (f"a file of at most {size_text(max_bytes)}; this one is "
                f"{size_text(info.st_size)} (it is refused before reading)")
    return None


def check_readable_regular_file(path: PathLike, *, max_bytes: int | None = None) -> Path:
    """``path`` as a :class:`~pathlib.Path` when it is a regular file within ``max_bytes``.

    Call it before opening a file a user named. A missing file raises the error opening it would
    (so callers that handle a missing file keep doing so); anything else that is not read raises
    :class:`InputFileError`.

    Parameters
    ----------
    path
        The file as the user named it.
    max_bytes
        Largest size accepted; ``None`` for no limit.

    Returns
    -------
    pathlib.Path
        The same path.

    Raises
    ------
    OSError
        Nothing exists at ``path`` (:class:`FileNotFoundError`), or it cannot be looked up.
    InputFileError
        It is a directory, a FIFO, a device or a socket, or larger than ``max_bytes``.
    """
    file = Path(path)
    try:
        info = os.stat(file)  # a missing or unreachable file raises as opening it would
    except ValueError:
        raise InputFileError(path, _NUL_PATH) from None
    problem = _stat_problem(info, max_bytes)
    if problem is not None:
        raise InputFileError(path, problem)
    return file


def text_encoding(start: bytes) -> str | None:
    """The encoding a text file's first bytes show when it is not UTF-8, else ``None``.

    Parameters
    ----------
    start
        At least the first :data:`ENCODING_PROBE_BYTES` bytes of the file (fewer if it is shorter).

    Returns
    -------
    str or None
        ``"UTF-32 (little-endian)"``, ``"UTF-16 (big-endian)"``, ... from a byte-order mark,
        or from the zero bytes that UTF-16 and UTF-32 text without a mark begins with (an ASCII
        character is one byte and one, two or three zero bytes); ``None`` otherwise.
    """
    for bom, name in _BOMS:  # UTF-32 before UTF-16: FF FE 00 00 begins with FF FE
        if start.startswith(bom):
            return name
    head = start[:ENCODING_PROBE_BYTES]
    if len(head) == 4:
        if head[0] and not any(head[1:]):
            return "UTF-32 (little-endian, without a byte-order mark)"
        if head[3] and not any(head[:3]):
            return "UTF-32 (big-endian, without a byte-order mark)"
        if head[0] and head[2] and not head[1] and not head[3]:
            return "UTF-16 (little-endian, without a byte-order mark)"
        if head[1] and head[3] and not head[0] and not head[2]:
            return "UTF-16 (big-endian, without a byte-order mark)"
    return None


def check_table_files(paths: Iterable[PathLike]) -> None:
    """Refuse, all at once, the data tables among ``paths`` that are not read (before any work).

    For commands that hash or sort their input tables before loading them: each path that is
    not a regular file of at most ``schema.MAX_TABLE_BYTES`` gets the message the loader would
    give it, so a FIFO or ``/dev/zero`` is never opened and every such file is named together.

    Raises
    ------
    DataValidationError
        Listing each file that is missing, not a regular file or too large.
    """
    issues = [ValidationIssue(str(path), None, None, None, problem) for path in paths
              if (problem := file_problem(path, max_bytes=schema.MAX_TABLE_BYTES)) is not None]
    if issues:
        raise DataValidationError(issues)

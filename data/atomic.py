"""Writing a file so that a reader never sees half of it: through a temporary file in the same
folder, renamed into place only when complete (a failure removes the temporary file).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | Path, write: Callable[[str], object]) -> None:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    Parameters
    ----------
    path
        The file to create or replace; its folder is created if needed.
    write
        Writes the whole file to the path it is given (e.g. ``frame.to_csv``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as written:  # on disk before the rename makes it visible
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8, line endings as given) to ``path`` atomically."""
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(text.encode("utf-8")))

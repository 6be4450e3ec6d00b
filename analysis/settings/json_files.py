"""JSON files read with errors that name the file: a run's manifest, a study's records, a
``--truth`` file. A truncated or hand-edited file is then a message saying which file and where,
not a bare ``Expecting value: line 1 column 1`` from the standard library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from rechallenge.data.files import InputFileError, check_readable_regular_file

#: Largest JSON file read (a run's manifest, a study's records, a --truth file are far smaller);
#: a larger one is refused before it is opened (docs/run_directory.md, docs/simulation.md).
MAX_JSON_BYTES: Final = 64 * 2**20


class JSONFileError(ValueError):
    """A file that is not UTF-8 JSON; ``problem`` says what is wrong and where.

    A :class:`ValueError`, so the command line reports it as bad input (exit 1).
    """

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def read_json(path: str | Path) -> Any:
    """The JSON value in ``path``.

    Anything but a regular file of at most :data:`MAX_JSON_BYTES` (a FIFO, a device such as
    ``/dev/zero``, a directory) is refused before it is opened.

    Raises
    ------
    JSONFileError
        The file is not a regular file, is too large, is not UTF-8 text, or not valid JSON (the
        line and column are named).
    OSError
        The file cannot be read (:class:`FileNotFoundError` when it does not exist).
    """
    path = Path(path)
    try:
        check_readable_regular_file(path, max_bytes=MAX_JSON_BYTES)
    except InputFileError as exc:
        raise JSONFileError(path, f"expected {exc.expected}") from None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise JSONFileError(path, f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise JSONFileError(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                  f"{exc.msg})") from None

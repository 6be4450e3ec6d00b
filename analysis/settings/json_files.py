"""JSON files read with errors that name the file: a run's manifest, a study's records, a
``--truth`` file. A truncated or hand-edited file is then a message saying which file and where,
not a bare ``Expecting value: line 1 column 1`` from the standard library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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

    Raises
    ------
    JSONFileError
        The file is not UTF-8 text, or not valid JSON (the line and column are named).
    OSError
        The file cannot be read.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise JSONFileError(path, f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise JSONFileError(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                  f"{exc.msg})") from None

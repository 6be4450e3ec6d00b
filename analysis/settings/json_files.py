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

#: Deepest nesting of arrays and objects accepted. The package's own files nest a handful of
#: levels; the bound keeps the parser and any code that walks the value (``repr`` included)
#: far from Python's recursion limit, whatever a hand-edited file holds.
MAX_JSON_DEPTH = 64


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
        The file is not a regular file, is too large, is not UTF-8 text, not valid JSON (the
        line and column are named), or nested deeper than :data:`MAX_JSON_DEPTH`.
    OSError
        The file cannot be read (:class:`FileNotFoundError` when it does not exist).
    """
    path = Path(path)
    try:
        check_readable_regular_file(path, max_bytes=MAX_JSON_BYTES)
    except InputFileError as exc:
        raise JSONFileError(path, f"expected {exc.expected}") from None
    try:
        return parse_json(path.read_text(encoding="utf-8"), path)
    except UnicodeDecodeError as exc:
        raise JSONFileError(path, f"not UTF-8 text ({exc.reason})") from None


def parse_json(text: str, path: str | Path) -> Any:
    """The JSON value of ``text``, read from ``path`` (named in every error).

    For a caller that has the file's text already (e.g. to hash the very bytes it parses).

    Raises
    ------
    JSONFileError
        Not valid JSON, an integer too long to convert, or nesting deeper than
        :data:`MAX_JSON_DEPTH`.
    """
    path = Path(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JSONFileError(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                  f"{exc.msg})") from None
    except RecursionError:
        raise JSONFileError(path, _too_deep()) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise JSONFileError(path, f"not valid JSON ({exc})") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise JSONFileError(path, _too_deep())
    return value


def _too_deep() -> str:
    return (f"arrays or objects nested more than {MAX_JSON_DEPTH} levels deep; "
            "not a file this package reads")


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value: 0 for a scalar, 1 for a flat list or object.

    Iterative, so that it cannot itself exhaust the stack.
    """
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest

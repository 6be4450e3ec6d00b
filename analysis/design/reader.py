"""Read the MAP prior of one binary endpoint and line from a run directory.

A run writes ``map_prior.json`` (see ``docs/map_prior.md``); this module reads its bytes once,
hashes them, compares the hash with the one the run's manifest records (when the caller gives
it: the manifest belongs to the run layer, above this one), and parses the same bytes with
:func:`~rechallenge.analysis.map_prior.record.load_map_prior`. Every problem a user can cause (no
such run, no prior in it, a file edited since the run wrote it, JSON of the wrong shape, an
unknown endpoint or line, a time-to-event endpoint) is a :class:`DesignInputError` with a message
naming the file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rechallenge.analysis.design.beta_mixture import vague_prior
from rechallenge.analysis.map_prior.export import MAP_PRIOR_FILE
from rechallenge.analysis.map_prior.mixtures import BetaMixture
from rechallenge.analysis.map_prior.record import MapPriorFormatError, load_map_prior
from rechallenge.analysis.settings.json_files import JSONFileError

#: Largest ``map_prior.json`` read: a run's is a few kilobytes per endpoint and line.
MAX_MAP_PRIOR_BYTES = 16 * 2**20

PriorChoice = Literal["robust", "map", "vague"]
PRIOR_CHOICES: tuple[PriorChoice, ...] = ("robust", "map", "vague")


class DesignInputError(ValueError):
    """A design input (run directory, endpoint, line, setting) cannot be used."""


@dataclass(frozen=True)
class MapPrior:
    """The MAP prior of one endpoint and line, as the run recorded it.

    Attributes
    ----------
    endpoint, line
        Which prior.
    mixture
        The fitted MAP mixture (no vague component).
    robust
        ``mixture`` robustified: the vague component is the last one.
    robust_weight
        Prior weight of the vague component.
    ess, robust_ess
        Effective sample sizes as recorded (``{"elir": ..., "moment": ...}``).
    source_run_hash
        Hash of the run the prior came from, as the file records it.
    file, file_sha256
        The file read and the SHA-256 of the bytes that were parsed.
    checked
        Whether those bytes matched the hash in the run's manifest (``False``: no recorded
        hash was given, e.g. a run made before runs recorded file hashes).
    """

    endpoint: str
    line: str
    mixture: BetaMixture
    robust: BetaMixture
    robust_weight: float
    ess: dict[str, float]
    robust_ess: dict[str, float]
    source_run_hash: str
    file: str = ""
    file_sha256: str = ""
    checked: bool = False

    def inputs(self, run_dir: str | Path) -> dict[str, Any]:
        """What a design's record says it read: the run directory and the prior file."""
        return {"run_dir": str(Path(run_dir).resolve()),
                "map_prior": {"file": MAP_PRIOR_FILE, "sha256": self.file_sha256,
                              "checked_against_manifest": self.checked}}


def _read_bytes(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_MAP_PRIOR_BYTES`.

    Opened without blocking and checked on the open descriptor: a FIFO or device put in the
    file's place is refused, never read (a FIFO would block, ``/dev/zero`` never end).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DesignInputError(f"{path} is not a regular file")
        data = handle.read(MAX_MAP_PRIOR_BYTES + 1)
    if len(data) > MAX_MAP_PRIOR_BYTES:
        raise DesignInputError(f"{path} is larger than {MAX_MAP_PRIOR_BYTES // 2**20} MiB; "
                               "not a run's MAP prior record")
    return data


def _record(run_dir: Path, recorded_sha256: str | None) -> tuple[dict[str, Any], str]:
    """The parsed record of ``run_dir`` and the SHA-256 of the bytes parsed."""
    if not run_dir.exists():
        raise DesignInputError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise DesignInputError(f"{run_dir} is not a directory")
    path = run_dir / MAP_PRIOR_FILE
    if not path.exists():
        raise DesignInputError(
            f"{run_dir} has no {MAP_PRIOR_FILE} (runs with partial pooling write one)")
    data = _read_bytes(path)
    found = hashlib.sha256(data).hexdigest()
    if recorded_sha256 is not None and found != recorded_sha256:
        raise DesignInputError(
            f"{path} changed since the run wrote it: the run's manifest records sha256 "
            f"{recorded_sha256}, the file has sha256 {found}. A design must use the prior the "
            "run made: restore the file, or make a new run")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DesignInputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        return load_map_prior(text, str(path)), found
    except JSONFileError as exc:  # names the file already
        raise DesignInputError(str(exc)) from None
    except MapPriorFormatError as exc:
        raise DesignInputError(f"{path}: {exc}") from None


def read_map_prior(run_dir: str | Path, endpoint: str, line: str, *,
                   recorded_sha256: str | None = None) -> MapPrior:
    """The MAP prior of ``endpoint`` and ``line`` recorded in ``run_dir``.

    Parameters
    ----------
    run_dir
        A run directory holding ``map_prior.json``.
    endpoint
        A binary endpoint recorded there (e.g. ``"response"``).
    line
        A treatment line recorded there (e.g. ``"ICI-2"``).
    recorded_sha256
        The SHA-256 the run's manifest records for ``map_prior.json``
        (:func:`rechallenge.analysis.run.manifest.recorded_hash`); the file's bytes must match
        it. ``None`` checks nothing (and the result says so).

    Raises
    ------
    DesignInputError
        If the run, the file, the endpoint or the line is missing, the file is not the one the
        run wrote, is not a MAP prior record (each wrong key named), or the endpoint is not
        binary (its prior is not a Beta mixture).
    """
    record, found = _record(Path(run_dir), recorded_sha256)
    endpoints = record["endpoints"]
    binary = [e for e, lines in endpoints.items()
              if all(isinstance(v["mixture"], BetaMixture)
                     and isinstance(v["robust_mixture"], BetaMixture) for v in lines.values())]
    if endpoint not in endpoints:
        raise DesignInputError(f"unknown endpoint {endpoint!r}; the run has MAP priors for "
                               f"{', '.join(binary) or 'no binary endpoint'}")
    if endpoint not in binary:
        raise DesignInputError(f"endpoint {endpoint!r} is not binary; design works with "
                               f"{', '.join(binary) or 'binary endpoints only'}")
    lines = endpoints[endpoint]
    if line not in lines:
        raise DesignInputError(f"unknown line {line!r} for {endpoint}; choose from "
                               f"{', '.join(lines)}")
    entry = lines[line]
    return MapPrior(endpoint=endpoint, line=line, mixture=entry["mixture"],
                    robust=entry["robust_mixture"], robust_weight=float(entry["robust_weight"]),
                    ess=dict(entry["ess"]), robust_ess=dict(entry["robust_ess"]),
                    source_run_hash=str(record["source_run_hash"]),
                    file=str(Path(run_dir) / MAP_PRIOR_FILE), file_sha256=found,
                    checked=recorded_sha256 is not None)


def select_prior(map_prior: MapPrior, choice: PriorChoice) -> BetaMixture:
    """The prior a design uses: ``robust`` (default of the commands), ``map`` or ``vague``."""
    if choice == "robust":
        return map_prior.robust
    if choice == "map":
        return map_prior.mixture
    if choice == "vague":
        return vague_prior()
    raise DesignInputError(f"unknown prior {choice!r}; choose from {', '.join(PRIOR_CHOICES)}")

"""Read the MAP prior of one binary endpoint and line from a run directory.

A run writes ``map_prior.json`` (see ``docs/map_prior.md``); this module reads it with
:func:`~rechallenge.analysis.map_prior.record.load_map_prior` and turns every problem a user can cause
(no such run, no prior in it, an unknown endpoint or line, a time-to-event endpoint) into a
:class:`DesignInputError` with a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rechallenge.analysis.design.beta_mixture import vague_prior
from rechallenge.analysis.map_prior.export import MAP_PRIOR_FILE
from rechallenge.analysis.map_prior.mixtures import BetaMixture
from rechallenge.analysis.map_prior.record import load_map_prior

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
        Hash of the run the prior came from.
    """

    endpoint: str
    line: str
    mixture: BetaMixture
    robust: BetaMixture
    robust_weight: float
    ess: dict[str, float]
    robust_ess: dict[str, float]
    source_run_hash: str


def _record(run_dir: Path) -> dict[str, Any]:
    if not run_dir.exists():
        raise DesignInputError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise DesignInputError(f"{run_dir} is not a directory")
    path = run_dir / MAP_PRIOR_FILE
    if not path.is_file():
        raise DesignInputError(
            f"{run_dir} has no {MAP_PRIOR_FILE} (runs with partial pooling write one)")
    try:
        return load_map_prior(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        # json.JSONDecodeError is a ValueError; a bad mixture raises ValueError too.
        raise DesignInputError(f"{path} is not a readable MAP prior record: {exc}") from None


def read_map_prior(run_dir: str | Path, endpoint: str, line: str) -> MapPrior:
    """The MAP prior of ``endpoint`` and ``line`` recorded in ``run_dir``.

    Parameters
    ----------
    run_dir
        A run directory holding ``map_prior.json``.
    endpoint
        A binary endpoint recorded there (e.g. ``"response"``).
    line
        A treatment line recorded there (e.g. ``"ICI-2"``).

    Raises
    ------
    DesignInputError
        If the run, the file, the endpoint or the line is missing, or the endpoint is not
        binary (its prior is not a Beta mixture).
    """
    record = _record(Path(run_dir))
    endpoints = record["endpoints"]
    binary = [e for e, lines in endpoints.items()
              if all(isinstance(v["mixture"], BetaMixture) for v in lines.values())]
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
                    source_run_hash=str(record.get("source_run_hash", "")))


def select_prior(map_prior: MapPrior, choice: PriorChoice) -> BetaMixture:
    """The prior a design uses: ``robust`` (default of the commands), ``map`` or ``vague``."""
    if choice == "robust":
        return map_prior.robust
    if choice == "map":
        return map_prior.mixture
    if choice == "vague":
        return vague_prior()
    raise DesignInputError(f"unknown prior {choice!r}; choose from {', '.join(PRIOR_CHOICES)}")

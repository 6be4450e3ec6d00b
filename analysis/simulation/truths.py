"""The true values of coverage and precision studies: values given by the user, checked for
every family at once, and the changes a design cell makes to them (the later-line effect of a
precision study, the between-site SD of a coverage profile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rechallenge.analysis.settings.families import FamilySimulator
from rechallenge.analysis.settings.json_files import read_json
from rechallenge.analysis.simulation.generators import (
    Hyper,
    ModelOptions,
    ModelRef,
    simulator_of,
    truth_problems,
)


def checked_truth(
    truth: Mapping[str, Hyper] | str | Path, families: Sequence[str], options: ModelOptions,
    lines: tuple[str, ...], models: Mapping[str, FamilySimulator] | None = None,
) -> dict[str, Hyper]:
    """The given true values (read from JSON when a path), checked for every family.

    Raises
    ------
    ValueError
        The file is not UTF-8 JSON (:class:`~rechallenge.analysis.settings.json_files.JSONFileError`),
        or the values do not fit the models (every problem listed, after the file's name).
    OSError
        The file cannot be read.
    """
    source = "true values"
    if isinstance(truth, (str, Path)):
        source = str(truth)
        truth = read_json(truth)
    if not isinstance(truth, Mapping):
        raise ValueError(f"{source}: expected an object of true values per family "
                         f"({', '.join(families)}), got {type(truth).__name__}")
    problems = [p for f in families
                for p in truth_problems(truth, f, options, lines, (models or {}).get(f))]
    if problems:
        raise ValueError(f"{source}: {len(problems)} problem(s) with the true values:\n"
                         + "\n".join(f"  - {p}" for p in problems))
    return {f: dict(truth[f]) for f in families}


def with_effect(family: ModelRef, hyper: Hyper, effect: float) -> Hyper:
    """True values with every later line at the first line's location plus ``effect``.

    The line intercept ``mu``: a log odds ratio of the typical site (binary) or a log time ratio
    of the typical site (TTP; with equal shapes, also the log ratio of its medians).
    """
    name = simulator_of(family).location
    location = list(hyper[name])
    return {**hyper, name: [location[0]] + [location[0] + effect] * (len(location) - 1)}


def with_tau(hyper: Hyper, tau: float) -> Hyper:
    """True values with the between-site SD of every line set to ``tau``."""
    return {**hyper, "tau": [float(tau)] * len(list(hyper["tau"]))}

"""Derived draws and importance weights computed once per fit, for every reader in a process.

A run's main fit is read by its summary, its prior-sensitivity variants, its contrast figure and
its MAP prior; each needs the same derived draws (new-site predictive draws included, so they
are not cheap) and the sensitivity needs the same Pareto-smoothed weights. They are computed the
first time they are asked for and kept beside the fit for as long as the fit lives.

InferenceData is neither hashable nor meant to carry caches, so the values are kept here, keyed
by the fit's identity and dropped when the fit is garbage collected (``weakref.finalize``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import arviz as az

T = TypeVar("T")

_VALUES: dict[int, dict[Hashable, Any]] = {}


def once_per_fit(idata: az.InferenceData, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` the first time ``key`` is asked of ``idata``; the same value afterwards.

    Callers must not modify what they get back (it is shared).
    """
    values = _VALUES.get(id(idata))
    if values is None:
        values = _VALUES[id(idata)] = {}
        # The fit's id may be reused once it is gone: forget its values with it.
        weakref.finalize(idata, _VALUES.pop, id(idata), None)
    if key not in values:
        values[key] = compute()
    return values[key]


def kept_values(idata: az.InferenceData) -> dict[Hashable, Any]:
    """Every value computed for ``idata`` so far, by key (to hand them to another process)."""
    return dict(_VALUES.get(id(idata), {}))


def keep_values(idata: az.InferenceData, values: dict[Hashable, Any]) -> None:
    """Keep ``values`` for ``idata`` as if computed here: what another process computed for
    the same fit (the fit read back from its file holds the same numbers).
    """
    for key, value in values.items():
        once_per_fit(idata, key, _constant(value))


def computed_count(idata: az.InferenceData) -> int:
    """How many values are kept for ``idata``."""
    return len(_VALUES.get(id(idata), {}))


def kept_fits() -> int:
    """How many fits have values kept (a fit that is gone has none)."""
    return len(_VALUES)


def _constant(value: T) -> Callable[[], T]:
    return lambda: value

"""nutpie compilations kept per model structure, in this process: models that differ only in data
share one.

A builder names the structure of each model it builds (:mod:`rechallenge.models.structure`).
The first model of a structure is compiled with ``nutpie.compile_pymc_model`` and kept as the
structure's *template*; every later fit of that structure (another endpoint, a sensitivity
refit, a nested comparator, a repeated run) samples the template's compilation with its own
``pm.Data`` values, through public means only:

* nutpie's ``compiled.with_data(...)`` gives the log density the fit's data;
* ``pm.set_data`` puts the same values into the template for the duration of the fit, because
  nutpie draws each chain's jittered initial point from the template model's initial-point
  function, which reads the template's data (a support point depends on prior scales).

So a fit is the same, draw for draw, whichever model of its structure was compiled first
(``tests/test_sampling.py``). The cache lives in one process: on a Dask cluster every worker
keeps its own (nutpie's compiled callbacks cannot be sent between processes), and the run sends
all fits of one structure to one task (:mod:`rechallenge.analysis.run.fitting`). PyTensor keeps
the numba code of each graph on disk (its compile directory), which later processes reuse.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymc as pm

from .info import model_info

#: Compilations kept in one process (least recently used dropped first).
COMPILED_CACHE_SIZE = 16


@dataclass
class CompiledStructure:
    """One nutpie compilation, the template model it was made from, and functions derived
    from the same structure (:func:`per_structure`).

    ``lock`` is held while a fit uses the template (its data are the fit's then).
    """

    key: str
    template: pm.Model
    compiled: Any
    lock: threading.RLock = field(default_factory=threading.RLock)
    derived: dict[str, Any] = field(default_factory=dict)


_cache: OrderedDict[str, CompiledStructure] = OrderedDict()
_cache_lock = threading.Lock()


def shared_inputs(model: pm.Model) -> dict[str, Any]:
    """The model's ``pm.Data`` containers and shared dimension lengths, by name, sorted.

    The inputs besides the free values in which two models of one structure may differ.
    """
    from pytensor.compile.sharedvalue import SharedVariable

    shared = {d.name: d for d in model.data_vars}
    for dim, length in model.dim_lengths.items():
        if isinstance(length, SharedVariable):
            shared.setdefault(length.name or dim, length)
    return dict(sorted(shared.items()))


def data_values(model: pm.Model) -> dict[str, np.ndarray]:
    """The current values of the model's ``pm.Data`` containers, by name."""
    return {d.name: np.asarray(d.get_value()) for d in model.data_vars}


def compiled_structure(model: pm.Model) -> CompiledStructure:
    """The compilation of ``model``'s structure in this process, compiling it on a miss."""
    import nutpie

    key = model_info(model).structure
    with _cache_lock:
        entry = _cache.get(key) if key else None
        if entry is None:
            entry = CompiledStructure(key, model, nutpie.compile_pymc_model(model))
            if key:  # a model without a key (not from a builder of ours) is never shared
                _cache[key] = entry
                while len(_cache) > COMPILED_CACHE_SIZE:
                    _cache.popitem(last=False)
        else:
            _cache.move_to_end(key)
        return entry


@contextmanager
def bound(model: pm.Model) -> Iterator[Any]:
    """Nutpie's compiled model for ``model``: its structure's compilation with its data.

    Inside the block the structure's template holds ``model``'s data values (for the initial
    point nutpie draws from it); they are put back on leaving. Sample inside the block.
    """
    entry = compiled_structure(model)
    values = data_values(model)
    with entry.lock:
        template = entry.template
        original = data_values(template) if template is not model else {}
        if original:
            pm.set_data(values, model=template)
        try:
            compiled = entry.compiled
            shared = {name: values[name] for name in compiled.shared_data if name in values}
            yield compiled.with_data(**shared)
        finally:
            if original:
                pm.set_data(original, model=template)


def per_structure(model: pm.Model, key: str, build: Callable[[pm.Model], Any]) -> Any | None:
    """``build(model)``, made once per compiled structure and shared by the models of it.

    For functions of a model's structure other than the log density nutpie samples (e.g. the
    elementwise log-likelihood): whatever ``build`` returns must take each model's ``pm.Data``
    values as inputs. ``None`` when ``model``'s structure has no nutpie compilation in this
    process (then there is nothing to share it with).
    """
    structure = model_info(model).structure
    with _cache_lock:
        entry = _cache.get(structure) if structure else None
    if entry is None:
        return None
    with entry.lock:
        if key not in entry.derived:
            entry.derived[key] = build(model)
        return entry.derived[key]


def compiled_structures() -> int:
    """Number of model structures this process holds a nutpie compilation for."""
    return len(_cache)


def is_compiled(model: pm.Model) -> bool:
    """Whether this process holds a nutpie compilation for ``model``'s structure."""
    structure = model_info(model).structure
    return bool(structure) and structure in _cache


def clear_compiled_cache() -> None:
    """Forget every compiled model of this process (the next fit of each structure recompiles)."""
    with _cache_lock:
        _cache.clear()

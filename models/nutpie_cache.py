"""nutpie compilations kept per model *structure*: models that differ only in data share one.

Compiling a model for nutpie (numba) takes seconds; sampling it takes well under a second on the
shipped data. Two models have the same structure when their log-density graphs compute the same
function of the free values and the ``pm.Data`` containers (same ops, same constants) and their
coords, dims, variable names and data shapes agree; e.g. the three binary endpoints of one study,
or one model refitted under other prior values. Such models share one compilation: each fit
passes its own ``pm.Data`` values (nutpie's ``with_data``) and its own initial point.

Only in-process: nutpie's compiled C callbacks cannot be saved. PyTensor caches the numba code of
the graph itself on disk (``~/.pytensor``), which the per-model C callback then links; the
callbacks are this package's leaner ones (:mod:`.nutpie_wrappers`) unless
:data:`LEAN_WRAPPERS` is off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm

from .nutpie_wrappers import lean_wrappers

#: Compilations kept in one process (least recently used dropped first).
COMPILED_CACHE_SIZE = 16
#: Compile with :mod:`.nutpie_wrappers`' C callbacks (same values, 2-4 s less per structure);
#: off, nutpie's own (the benchmark's modes before this change).
LEAN_WRAPPERS = True


@dataclass
class _Compiled:
    """One nutpie compilation and the model graph it was compiled from.

    ``derived`` holds other functions of the same structure, compiled once for every model that
    shares this compilation (see :func:`per_structure`).
    """

    signature: tuple
    outputs: list[Any]
    inputs: list[Any]
    compiled: Any
    derived: dict[str, Any] = dataclasses.field(default_factory=dict)


_compiled: "OrderedDict[tuple, list[_Compiled]]" = OrderedDict()
_by_model: "weakref.WeakKeyDictionary[pm.Model, _Compiled]" = weakref.WeakKeyDictionary()
_initial_points: "weakref.WeakKeyDictionary[pm.Model, Callable]" = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _structure_signature(model: pm.Model) -> tuple:
    """Everything about a model that its graph does not show but a compilation fixes."""
    def labels(values: Any) -> tuple:
        return tuple(np.asarray(values).tolist()) if values is not None else ()

    return (
        tuple((name, labels(values)) for name, values in model.coords.items()),
        tuple(sorted((name, tuple(dims or ())) for name, dims in model.named_vars_to_dims.items())),
        tuple(rv.name for rv in model.free_RVs),
        tuple(v.name for v in model.value_vars),
        tuple(d.name for d in model.deterministics),
        tuple(rv.name for rv in model.observed_RVs),
        tuple((name, str(v.type), np.shape(v.get_value()))
              for name, v in shared_inputs(model).items()),
        bool(model.check_bounds),
    )


def _structure_graph(model: pm.Model) -> tuple[list[Any], list[Any]]:
    """The graphs nutpie compiles (log density, traced values) and their inputs."""
    outputs = [model.logp(), *model.unobserved_value_vars]
    inputs = [*model.value_vars, *shared_inputs(model).values()]
    return outputs, inputs


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


def _lookup(model: pm.Model, signature: tuple) -> _Compiled | None:
    """A compilation of a model with the same structure as ``model``, if one is cached."""
    known = _by_model.get(model)
    if known is not None and known.signature == signature:
        return known
    candidates = _compiled.get(signature, [])
    if not candidates or not _can_share(candidates[0].compiled):
        return None
    outputs, inputs = _structure_graph(model)
    for entry in candidates:
        # Same ops on the same inputs, same constants: the same function of the free values
        # and the pm.Data containers, whose values each fit passes in.
        if same_computation(entry.outputs, outputs, entry.inputs, inputs):
            return entry
    return None


def _can_share(compiled: Any) -> bool:
    """Whether this nutpie version lets a fit swap in its own data and initial point."""
    if not dataclasses.is_dataclass(compiled):
        return False
    names = {f.name for f in dataclasses.fields(compiled)}
    return {"initial_point_func", "shape_info", "shared_data"} <= names and hasattr(
        compiled, "with_data")


def _apply_nodes(outputs: list[Any]) -> list[Any]:
    try:
        from pytensor.graph.traversal import toposort
    except ImportError:  # PyTensor before 2.31
        from pytensor.graph.basic import graph_inputs, io_toposort

        return io_toposort(list(graph_inputs(outputs)), outputs)
    return list(toposort(outputs))


def _same_op(a: Any, b: Any) -> bool:
    from pytensor.compile.builders import OpFromGraph

    if a == b:
        return True
    # OpFromGraph (e.g. PyMC's AllocDiag) compares by identity: compare what it computes.
    if isinstance(a, OpFromGraph) and type(a) is type(b):
        try:
            settings_equal = all(
                getattr(a, name, None) == getattr(b, name, None)
                for name in ("is_inline", "lop_overrides", "rop_overrides", "grad_overrides",
                             "kwargs", "destroy_map")
            )
        except Exception:  # noqa: BLE001 - incomparable settings: treat as different
            return False
        return bool(settings_equal) and same_computation(
            a.inner_outputs, b.inner_outputs, a.inner_inputs, b.inner_inputs
        )
    return False


def same_computation(
    xs: list[Any], ys: list[Any], in_xs: list[Any], in_ys: list[Any]
) -> bool:
    """Whether graphs ``xs`` and ``ys`` compute the same function of ``in_xs`` / ``in_ys``.

    Node by node in topological order: equal ops (an ``OpFromGraph`` by its inner graph), inputs
    that correspond, equal constants (values included) and equal types. Any other root variable
    must be the very same object. Like PyTensor's ``equal_computations``, which however treats
    two copies of an ``OpFromGraph`` as different.
    """
    from pytensor.graph.basic import Constant

    if len(xs) != len(ys) or len(in_xs) != len(in_ys):
        return False
    mapping = {x: y for x, y in zip(in_xs, in_ys, strict=True)}
    if any(x.type != y.type for x, y in mapping.items()):
        return False

    def match(x: Any, y: Any) -> bool:
        if x in mapping:
            return mapping[x] is y
        if isinstance(x, Constant):
            return isinstance(y, Constant) and x.type == y.type and bool(x.equals(y))
        return x is y

    nodes_x, nodes_y = _apply_nodes(list(xs)), _apply_nodes(list(ys))
    if len(nodes_x) != len(nodes_y):
        return False
    for nx, ny in zip(nodes_x, nodes_y, strict=True):
        if len(nx.inputs) != len(ny.inputs) or len(nx.outputs) != len(ny.outputs):
            return False
        if not _same_op(nx.op, ny.op):
            return False
        if not all(match(a, b) for a, b in zip(nx.inputs, ny.inputs, strict=True)):
            return False
        for a, b in zip(nx.outputs, ny.outputs, strict=True):
            if a.type != b.type:
                return False
            mapping[a] = b
    return all(match(x, y) for x, y in zip(xs, ys, strict=True))


def compiled_nutpie_model(model: pm.Model) -> Any:
    """nutpie's compiled log density for ``model``'s structure, compiling only on a cache miss.

    The returned object may come from another model of the same structure: pass the model's own
    data and initial point (as :func:`fit` does) before sampling it.
    """
    import nutpie

    signature = _structure_signature(model)
    with _cache_lock:
        entry = _lookup(model, signature)
        if entry is None:
            outputs, inputs = _structure_graph(model)
            with lean_wrappers() if LEAN_WRAPPERS else contextlib.nullcontext():
                compiled = nutpie.compile_pymc_model(model)
            entry = _Compiled(signature, outputs, inputs, compiled)
            _compiled.setdefault(signature, []).append(entry)
            while compiled_structures() > COMPILED_CACHE_SIZE:
                oldest = next(iter(_compiled))
                _compiled[oldest].pop(0)
                if not _compiled[oldest]:
                    del _compiled[oldest]
        if signature in _compiled:
            _compiled.move_to_end(signature)
        _by_model[model] = entry
        return entry.compiled


def per_structure(model: pm.Model, key: str, build: Callable[[pm.Model], Any]) -> Any | None:
    """``build(model)``, made once per compiled structure and shared by the models of it.

    For functions of a model's structure other than the log density nutpie samples (e.g. the
    elementwise log-likelihood): whatever ``build`` returns must take each model's ``pm.Data``
    values as inputs, as nutpie's compilation does. ``None`` when ``model`` has no nutpie
    compilation in this process (then there is nothing to share it with).
    """
    entry = _by_model.get(model)
    if entry is None or entry.signature != _structure_signature(model):
        return None
    with _cache_lock:
        if key not in entry.derived:
            entry.derived[key] = build(model)
        return entry.derived[key]


def compiled_structures() -> int:
    """Number of model structures this process holds a nutpie compilation for."""
    return sum(len(entries) for entries in _compiled.values())


def is_compiled(model: pm.Model) -> bool:
    """Whether this process holds a nutpie compilation for ``model``'s structure."""
    if not _compiled:
        return False
    with _cache_lock:
        return _lookup(model, _structure_signature(model)) is not None


def clear_compiled_cache() -> None:
    """Forget every compiled model of this process (the next fit of each structure recompiles)."""
    with _cache_lock:
        _compiled.clear()
        _by_model.clear()
        _initial_points.clear()


def _initial_point_function(model: pm.Model, compiled: Any) -> Callable[[int], np.ndarray]:
    """``model``'s own jittered initial point as nutpie's flat vector (what nutpie would build).

    A compilation shared between models must still start each model where that model starts:
    the support point depends on prior values (``pm.Data``), and the fit must not depend on which
    model was compiled first.
    """
    from pymc.initial_point import make_initial_point_fn

    fn = _initial_points.get(model)
    if fn is not None:
        return fn
    point_fn = make_initial_point_fn(
        model=model, default_strategy="support_point", jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    shapes = [tuple(shape) for shape in compiled.shape_info[2][: len(names)]]
    lock = threading.Lock()

    def flat_initial_point(seed: int | None = None) -> np.ndarray:
        with lock:  # nutpie calls it from its chain threads
            point = point_fn(seed)
        parts = []
        for name, shape in zip(names, shapes, strict=True):
            value = np.asarray(point[name], dtype="float64")
            if value.shape != shape:
                raise ValueError(
                    f"initial value of {name} has shape {value.shape}, expected {shape}")
            parts.append(value.ravel())
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.empty(0))

    _initial_points[model] = flat_initial_point
    return flat_initial_point


def prepared_for(model: pm.Model) -> Any:
    """The compilation for ``model``'s structure, with ``model``'s data and initial point."""
    compiled = compiled_nutpie_model(model)
    # The compilation may be another model's of the same structure, or this model's with other
    # data: always pass this model's current pm.Data values and initial point.
    shared = shared_inputs(model)
    compiled = compiled.with_data(
        **{name: np.asarray(shared[name].get_value()) for name in compiled.shared_data}
    )
    if not _can_share(compiled):
        # Only ever this model's own compilation (see _lookup), whose initial point function
        # reads the model's current data.
        return compiled
    return dataclasses.replace(
        compiled, initial_point_func=_initial_point_function(model, compiled)
    )

"""Leaner C callbacks around nutpie's numba log density: the same function, compiled in less time.

nutpie (0.16) compiles every PyMC model in two steps: PyTensor turns the log density and its
gradient into a numba function (cached on disk by PyTensor, about 1.3 s per structure on the
shipped data), then nutpie wraps that function in a C callback (``numba.cfunc``) that reads the
``pm.Data`` values from a record of pointers and writes the gradient into nutpie's buffer. The
wrapper, not the model, took most of each structure's 9-10 s:

* it copies the gradient with ``out[...] = grad``, whose broadcasting error message makes numba
  compile its string formatting once per process (about 1.3 s);
* it reads each ``pm.Data`` container through its own literal-indexed overload, one small numba
  compilation per container (about 0.07 s each, eleven to fourteen per model here).

This module builds the same callbacks from generated source: the record is read as the flat
array of 8-byte words it is (offsets computed here from nutpie's record dtype), the gradient is
copied element by element, and the callback returns the same codes as nutpie's (``0`` success,
``-1`` wrong dimension, ``1`` error, ``3`` non-finite gradient, ``4`` non-finite log density;
the expansion ``0`` or ``-1``/``-2``). Compiling a structure then takes about 5.5-6 s instead
of 7.8-10 s (``benchmarks/run.py``; docs/performance.md). The values are bit for bit nutpie's
(``tests/test_nutpie_wrappers.py``).

:func:`lean_wrappers` swaps the two wrapper builders into nutpie for the duration of one
compilation. It leaves nutpie untouched, and nutpie's own wrappers are used, when this nutpie
does not have the builders this module replaces, or when a record field is not an 8-byte word.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

#: The nutpie builders replaced, with the parameters this module's versions take.
_REPLACED: dict[str, tuple[str, ...]] = {
    "_make_c_logp_func": ("n_dim", "logp_fn", "user_data", "shared_logp", "shared_data"),
    "_make_c_expand_func": (
        "n_dim", "n_expanded", "expand_fn", "user_data", "shared_vars", "shared_data"),
}
_swap_lock = threading.Lock()

# The pm.Data arrays are read before ``try``: numba's lowering of try/except grows steeply with
# the statements inside it (a few dozen reads took minutes to compile). Nothing outside can
# raise: every reshape is checked against the stored size first.
_LOGP_SOURCE = """
def logp_numba(dim, x_, out_, logp_, user_data_):
    if dim != n_dim:
        return -1
    words = numba.carray(user_data_, (n_words,), np.uint64)
{read_data}
    try:
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_dim,))
        logp = numba.carray(logp_, ())
        logp_val, grad = inner(x{data_args})
        if grad.shape[0] != n_dim:
            return 1
        logp[()] = logp_val
        finite = True
        for i in range(n_dim):
            value = grad[i]
            out[i] = value
            if not np.isfinite(value):
                finite = False
        if not finite:
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SOURCE = """
def expand_numba(dim, expanded, x_, out_, user_data_):
    if dim != n_dim:
        return -1
    if expanded != n_expanded:
        return -1
    words = numba.carray(user_data_, (n_words,), np.uint64)
{read_data}
    try:
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_expanded,))
        (values,) = inner(x{data_args})
        if values.shape[0] != n_expanded:
            return -2
        for i in range(n_expanded):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
"""


def record_word_offsets(record_dtype: np.dtype) -> tuple[dict[tuple[str, str], int], int] | None:
    """Offsets, in 8-byte words, of the fields of nutpie's user-data record.

    The record is ``shared.data.<name>`` (address), ``shared.size.<name>`` (number of elements)
    and ``shared.shape.<name>`` (one word per dimension). Returns ``({(part, name): offset},
    number of words)``, or ``None`` if any field is not an unsigned 8-byte integer (then the
    record cannot be read as words and nutpie's own wrappers are used).
    """
    if "shared" not in (record_dtype.names or ()):
        return None
    shared, shared_offset = record_dtype.fields["shared"][:2]
    offsets: dict[tuple[str, str], int] = {}
    for part in ("data", "size", "shape"):
        if part not in (shared.names or ()):
            return None
        sub, sub_offset = shared.fields[part][:2]
        for name in sub.names or ():
            field, field_offset = sub.fields[name][:2]
            start = shared_offset + sub_offset + field_offset
            if field.base != np.dtype(np.uint64) or start % 8:
                return None
            offsets[(part, name)] = start // 8
    if record_dtype.itemsize % 8:
        return None
    return offsets, record_dtype.itemsize // 8


def _read_data_lines(
    names: Sequence[str],
    shared_data: Mapping[str, np.ndarray],
    offsets: Mapping[tuple[str, str], int],
    error_code: int,
) -> tuple[str, str, dict[str, Any]]:
    """Source lines that view each ``pm.Data`` array in place, and the call's extra arguments.

    A size that does not match the shape returns ``error_code`` (the callback's code for an
    error, where nutpie's own callback would have raised in its reshape).
    """
    lines: list[str] = []
    constants: dict[str, Any] = {}
    for i, name in enumerate(names):
        value = shared_data[name]
        constants[f"dtype_{i}"] = np.dtype(value.dtype)
        data, size = offsets[("data", name)], offsets[("size", name)]
        dims = [f"words[{offsets[('shape', name)] + d}]" for d in range(value.ndim)]
        elements = " * ".join(dims) if dims else "1"
        lines += [
            f"    if words[{size}] != {elements}:",
            f"        return {error_code}",
            f"    flat_{i} = numba.carray(address_as_void_pointer(words[{data}]), "
            f"words[{size}], dtype_{i})",
            f"    array_{i} = flat_{i}.reshape(({''.join(d + ', ' for d in dims)}))",
        ]
    return "\n".join(lines), "".join(f", array_{i}" for i in range(len(names))), constants


def _python_callback(
    source: str,
    name: str,
    inner: Callable,
    names: Sequence[str],
    shared_data: Mapping[str, np.ndarray],
    offsets: Mapping[tuple[str, str], int],
    constants: Mapping[str, Any],
    error_code: int,
) -> Callable:
    """The Python function (not yet compiled) of a callback, from its source template."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer

    read_data, data_args, dtypes = _read_data_lines(names, shared_data, offsets, error_code)
    namespace: dict[str, Any] = {
        "numba": numba, "np": np, "inner": inner,
        "address_as_void_pointer": address_as_void_pointer, **dtypes, **constants,
    }
    code = source.format(read_data=read_data, data_args=data_args)
    exec(compile(code, f"<rechallenge nutpie {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]


def _logp_builder(original: Callable) -> Callable:
    def make_c_logp_func(n_dim, logp_fn, user_data, shared_logp, shared_data):  # noqa: ANN001
        layout = record_word_offsets(user_data.dtype)
        if layout is None:
            return original(n_dim, logp_fn, user_data, shared_logp, shared_data)
        import numba

        offsets, n_words = layout
        double = numba.types.CPointer(numba.types.double)
        signature = numba.types.int64(numba.types.uint64, double, double, double,
                                      numba.types.voidptr)
        function = _python_callback(_LOGP_SOURCE, "logp_numba", logp_fn, shared_logp,
                                    shared_data, offsets, {"n_dim": n_dim, "n_words": n_words},
                                    error_code=1)
        return function, signature

    return make_c_logp_func


def _expand_builder(original: Callable) -> Callable:
    def make_c_expand_func(n_dim, n_expanded, expand_fn, user_data, shared_vars,  # noqa: ANN001
                           shared_data):
        layout = record_word_offsets(user_data.dtype)
        if layout is None:
            return original(n_dim, n_expanded, expand_fn, user_data, shared_vars, shared_data)
        import numba

        offsets, n_words = layout
        double = numba.types.CPointer(numba.types.double)
        signature = numba.types.int64(numba.types.uint64, numba.types.uint64, double, double,
                                      numba.types.voidptr)
        function = _python_callback(
            _EXPAND_SOURCE, "expand_numba", expand_fn, shared_vars, shared_data, offsets,
            {"n_dim": n_dim, "n_expanded": n_expanded, "n_words": n_words}, error_code=-2)
        return function, signature

    return make_c_expand_func


def _replaceable(module: Any) -> bool:
    """Whether ``module`` has the builders this module replaces, with the expected parameters."""
    if not hasattr(module, "address_as_void_pointer"):
        return False
    for name, parameters in _REPLACED.items():
        function = getattr(module, name, None)
        if function is None or tuple(inspect.signature(function).parameters) != parameters:
            return False
    return True


@contextlib.contextmanager
def lean_wrappers() -> Iterator[bool]:
    """Compile nutpie models inside this block with this module's callbacks.

    Yields whether the lean callbacks are in use (``False``: this nutpie is not the one they were
    written for, and its own are used). nutpie's builders are put back on leaving.
    """
    try:
        from nutpie import compile_pymc
    except ImportError:
        yield False
        return
    if not _replaceable(compile_pymc):
        yield False
        return
    with _swap_lock:
        originals = {name: getattr(compile_pymc, name) for name in _REPLACED}
        compile_pymc._make_c_logp_func = _logp_builder(originals["_make_c_logp_func"])
        compile_pymc._make_c_expand_func = _expand_builder(originals["_make_c_expand_func"])
        try:
            yield True
        finally:
            for name, function in originals.items():
                setattr(compile_pymc, name, function)

"""The ``"jax"`` backend: BlackJAX's NUTS on the model's log density compiled by JAX, once per
model structure, with the ``pm.Data`` values as arguments.

Public means only: PyMC's :func:`pymc.sampling.jax.get_jaxified_graph` turns the model's log
density (and the map from unconstrained values to the posterior's variables and deterministics)
into a JAX function, after PyTensor's public ``clone_replace`` has put a symbolic input in place
of each ``pm.Data`` container; BlackJAX's ``window_adaptation`` and ``nuts`` sample it. One chain
(adaptation and draws) is one ``jax.jit`` program of (PRNG key, data), traced and compiled once
per structure in a process and called once per chain: every model of the structure (the three
binary endpoints of a run, their nested comparators, every simulated dataset of a study) reuses
it with its own data. Chains run one after the other: on the one core a worker has, a vectorised
(``vmap``) NUTS waits at every step for the chain with the longest trajectory
(``docs/performance.md``).

A later process need not trace anything: the chain program is exported (``jax.export``, public)
and stored beside JAX's cache under a name that hashes everything it depends on
(:func:`program_file`); a process that finds it runs the stored program, and JAX's persistent
compilation cache gives it the compiled code (:func:`configure_jax`). Both live in
``$RECHALLENGE_JAX_CACHE_DIR``, else JAX's own ``$JAX_COMPILATION_CACHE_DIR``, else
``rechallenge/jax`` under the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``; the
command line points that folder somewhere writable when the home folder is not).

Initial points are Stan's: uniform on (-2, 2) in the unconstrained space, per chain. A fit's
draws depend on its seed, its data and the structure only; not on which model of the structure
came first.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pymc as pm

from .info import model_info

#: Environment variable naming the folder of JAX's persistent compilation cache.
CACHE_ENV = "RECHALLENGE_JAX_CACHE_DIR"
#: Compiled structures kept in one process (least recently used dropped first).
JAX_CACHE_SIZE = 16
#: Sampler statistics kept per draw, under ArviZ's names.
STAT_NAMES = ("diverging", "n_steps", "tree_depth", "energy", "acceptance_rate", "lp",
              "step_size")

_configured = False
_config_lock = threading.Lock()


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of JAX's persistent compilation cache (see the module's docstring)."""
    env = os.environ if environ is None else environ
    for name in (CACHE_ENV, "JAX_COMPILATION_CACHE_DIR"):
        if env.get(name):
            return Path(env[name]).expanduser()
    root = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return root / "rechallenge" / "jax"


def configure_jax() -> None:
    """64-bit floats (PyMC's) and the persistent compilation cache, once per process.

    Every program is cached, however quickly it compiled (``min_compile_time_secs = 0``): the
    point is a later process, which would trace and compile it again otherwise.
    """
    global _configured
    with _config_lock:
        if _configured:
            return
        import jax

        jax.config.update("jax_enable_x64", True)
        folder = cache_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # JAX then runs without a persistent cache (it warns once)
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        _configured = True


@dataclass
class JaxStructure:
    """One structure's compiled chain program and what it needs to read a model.

    ``run_chain(key, data)`` returns ``(draws, stats)``: the posterior's variables (constrained)
    and deterministics, each ``(draws, *shape)``, and :data:`STAT_NAMES`, each ``(draws,)``.
    """

    key: str
    data_names: tuple[str, ...]
    output_names: tuple[str, ...]
    run_chain: Callable[..., Any]
    derived: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


_cache: OrderedDict[tuple[str, int, int, float], JaxStructure] = OrderedDict()
_cache_lock = threading.Lock()
_programs_made = 0


def _jax_functions(model: pm.Model) -> tuple[Callable, Callable, tuple[str, ...], tuple[int, ...],
                                             tuple[tuple[int, ...], ...]]:
    """JAX functions of (unconstrained values..., data...): the log density, and the posterior's
    variables and deterministics.
    """
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph
    from pytensor.graph.replace import clone_replace

    data_vars = list(model.data_vars)
    # Static shapes: shapes that follow from the data's shapes (not values) stay constants, as
    # JAX needs; the structure key already fixes every pm.Data shape.
    inputs = [pt.tensor(name=f"{d.name}__input", dtype=d.type.dtype,
                        shape=np.shape(d.get_value())) for d in data_vars]
    replace = dict(zip(data_vars, inputs, strict=True))
    value_vars = list(model.value_vars)
    [logp] = clone_replace([model.logp(jacobian=True)], replace=replace)
    names = tuple(rv.name for rv in model.unobserved_RVs)
    outputs = clone_replace(model.replace_rvs_by_values(model.unobserved_RVs), replace=replace)
    logp_fn = get_jaxified_graph(inputs=[*value_vars, *inputs], outputs=[logp])
    out_fn = get_jaxified_graph(inputs=[*value_vars, *inputs], outputs=outputs)
    point = model.initial_point()
    shapes = tuple(tuple(np.shape(point[v.name])) for v in value_vars)
    return logp_fn, out_fn, names, tuple(int(np.prod(s)) for s in shapes), shapes


def _build(model: pm.Model, key: str, tune: int, draws: int, target_accept: float) -> JaxStructure:
    import blackjax
    import jax
    import jax.numpy as jnp

    logp_fn, out_fn, names, sizes, shapes = _jax_functions(model)
    offsets = np.cumsum((0, *sizes))
    dim = int(offsets[-1])

    def unflatten(x: Any) -> list[Any]:
        return [x[offsets[i]:offsets[i + 1]].reshape(shape) for i, shape in enumerate(shapes)]

    def run_chain(rng_key: Any, data: tuple[Any, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        def logdensity(x: Any) -> Any:
            return logp_fn(*unflatten(x), *data)[0]

        init_key, warmup_key, draw_key = jax.random.split(rng_key, 3)
        position = jax.random.uniform(init_key, (dim,), minval=-2.0, maxval=2.0,
                                      dtype=jnp.float64)
        warmup = blackjax.window_adaptation(blackjax.nuts, logdensity,
                                            target_acceptance_rate=target_accept)
        (state, parameters), _ = warmup.run(warmup_key, position, num_steps=tune)
        kernel = blackjax.nuts(logdensity, **parameters)

        def step(state: Any, step_key: Any) -> tuple[Any, Any]:
            state, info = kernel.step(step_key, state)
            values = out_fn(*unflatten(state.position), *data)
            stats = (info.is_divergent, info.num_integration_steps,
                     info.num_trajectory_expansions, info.energy, info.acceptance_rate,
                     state.logdensity)
            return state, (tuple(values), stats)

        _, (values, stats) = jax.lax.scan(step, state, jax.random.split(draw_key, draws))
        step_size = jnp.full((draws,), parameters["step_size"])
        return dict(zip(names, values, strict=True)), dict(
            zip(STAT_NAMES, (*stats, step_size), strict=True))

    return JaxStructure(key, tuple(d.name for d in model.data_vars), names, jax.jit(run_chain))


def compiled_structure(model: pm.Model, tune: int, draws: int,
                       target_accept: float) -> JaxStructure:
    """The chain program of ``model``'s structure in this process, made on a miss.

    On a miss the program is read from the folder of exported programs when an earlier process
    stored it (:func:`program_file`), else traced from the model and stored there. Either way it
    runs through ``jax.jit`` of the exported program, whose compilation JAX's persistent cache
    keeps: a later process neither builds the JAX graph nor traces the sampler.
    """
    global _programs_made
    configure_jax()
    structure = model_info(model).structure
    cache_key = (structure, int(tune), int(draws), float(target_accept))
    with _cache_lock:
        entry = _cache.get(cache_key) if structure else None
        if entry is None:
            _programs_made += 1
            entry = _load_or_build(model, structure, tune, draws, target_accept)
            if structure:  # a model without a key (not from a builder of ours) is never shared
                _cache[cache_key] = entry
                while len(_cache) > JAX_CACHE_SIZE:
                    _cache.popitem(last=False)
        else:
            _cache.move_to_end(cache_key)
        return entry


def program_file(model: pm.Model, tune: int, draws: int, target_accept: float) -> Path | None:
    """Where the exported chain program of ``model``'s structure is stored (``None``: a model
    without a structure key is never stored).

    The name hashes everything the program depends on: the structure key (the builder's options,
    constants, coords and ``pm.Data`` shapes), the sampler's settings, the versions of JAX,
    BlackJAX, PyMC and PyTensor, and the source of the model builders themselves (a changed
    builder never meets an old program).
    """
    structure = model_info(model).structure
    if not structure:
        return None
    from importlib import metadata

    digest = hashlib.sha256()
    digest.update(f"{structure}|{int(tune)}|{int(draws)}|{float(target_accept)!r}".encode())
    for package in ("jax", "jaxlib", "blackjax", "pymc", "pytensor"):
        digest.update(f"|{package}={metadata.version(package)}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return cache_dir() / "programs" / f"chain-{digest.hexdigest()[:32]}.jaxexport"


def _load_or_build(model: pm.Model, structure: str, tune: int, draws: int,
                   target_accept: float) -> JaxStructure:
    import jax

    path = program_file(model, tune, draws, target_accept)
    exported = None
    if path is not None and path.is_file():
        try:
            exported = jax.export.deserialize(bytearray(path.read_bytes()))
        except Exception:  # noqa: BLE001 - a damaged or foreign file: made again below
            exported = None
    data_names = tuple(d.name for d in model.data_vars)
    names = tuple(rv.name for rv in model.unobserved_RVs)
    if exported is None:
        built = _build(model, structure, tune, draws, target_accept)
        specs = (jax.ShapeDtypeStruct((2,), np.uint32),
                 tuple(jax.ShapeDtypeStruct(np.shape(model[name].get_value()),
                                            np.asarray(model[name].get_value()).dtype)
                       for name in data_names))
        exported = jax.export.export(cast(Any, built.run_chain))(*specs)
        if path is not None:
            _write_atomic(path, bytes(exported.serialize()))
    return JaxStructure(structure, data_names, names, jax.jit(exported.call))


def _write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` whole or not at all (another process may read the file meanwhile)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except OSError:
        pass  # not stored: a later process traces the program again


def sample_jax(
    model: pm.Model,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    timings: dict[str, float],
) -> Any:
    """Sample ``model`` with its structure's compiled chain program; an ``az.InferenceData``.

    ``timings["compile"]``: finding or making the program, its first trace and compile included
    (the first chain's sampling time is subtracted: the second chain's is the estimate);
    ``timings["sample"]``: tuning and draws of every chain.
    """
    import arviz as az
    import jax

    start = time.perf_counter()
    before = compiled_jax_programs()
    entry = compiled_structure(model, tune, draws, target_accept)
    made = compiled_jax_programs() != before
    data = tuple(np.asarray(model[name].get_value()) for name in entry.data_names)
    # Raw uint32 keys: the exported program's argument type.
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(np.uint32(seed)), chains),
                      dtype=np.uint32)
    per_chain = []
    seconds = []
    with entry.lock:
        for chain in range(chains):
            begin = time.perf_counter()
            out = jax.block_until_ready(entry.run_chain(keys[chain], data))
            per_chain.append(jax.device_get(out))
            seconds.append(time.perf_counter() - begin)
    total = time.perf_counter() - start
    if made and len(seconds) > 1:
        # The first call also compiled (or loaded) the program: its sampling is taken to last
        # as long as the other chains' on average.
        timings["sample"] = float(np.mean(seconds[1:])) * chains
    else:
        timings["sample"] = sum(seconds)
    timings["compile"] = max(total - timings["sample"], 0.0)

    posterior = {name: np.stack([np.asarray(c[0][name]) for c in per_chain])
                 for name in entry.output_names}
    stats = {name: np.stack([np.asarray(c[1][name]) for c in per_chain]) for name in STAT_NAMES}
    stats["diverging"] = stats["diverging"].astype(bool)
    coords = {name: list(values) for name, values in model.coords.items() if values is not None}
    dims = {name: list(model.named_vars_to_dims.get(name, ())) for name in entry.output_names}
    idata = az.from_dict(posterior=posterior, sample_stats=stats, coords=coords, dims=dims)
    idata.posterior.attrs["sampling_time"] = timings["sample"]
    return idata


def per_structure(model: pm.Model, key: str, build: Callable[[pm.Model], Any]) -> Any | None:
    """``build(model)``, made once per structure this process compiled for JAX (see
    :func:`rechallenge.models.nutpie_cache.per_structure`); ``None`` when it compiled none.
    """
    structure = model_info(model).structure
    with _cache_lock:
        entry = next((e for (s, *_), e in _cache.items() if s == structure), None) \
            if structure else None
    if entry is None:
        return None
    with entry.lock:
        if key not in entry.derived:
            entry.derived[key] = build(model)
        return entry.derived[key]


def compiled_jax_programs() -> int:
    """Number of chain programs this process made or loaded (one per structure and settings)."""
    return _programs_made


def compiled_jax_structures() -> int:
    """Number of model structures this process holds a JAX program for."""
    return len({key[0] for key in _cache})


def clear_jax_cache() -> None:
    """Forget every compiled program of this process (JAX's disk cache is kept)."""
    with _cache_lock:
        _cache.clear()

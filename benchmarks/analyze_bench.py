"""The full analysis side by side for ``benchmarks/run.py``: per sampler backend cold with empty
and with warm compile caches and warm in-process, the NumPyro reference of the four headline
models, an earlier commit's ``analyze``, and fits per minute of ``rechallenge simulate sbc`` per
backend (see run.py's docstring, points 1-3 and 6).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


#: Rows of the side-by-side analysis table, in order.
ANALYZE_ROWS = ("cold, empty caches", "cold, warm caches", "warm, in-process",
                "numpyro, 4 headline models, cold", "main (earlier commit), cold")


def cache_env(cache_dir: Path) -> dict[str, str]:
    """The environment of a process whose compile caches live in ``cache_dir``.

    PyTensor's compile directory (C and numba code of the graphs, ``base_compiledir``) and
    numba's own cache directory (``NUMBA_CACHE_DIR``, for functions jitted with ``cache=True``)
    are the persistent caches the libraries document; an empty ``cache_dir`` is a new machine.
    """
    env = dict(os.environ)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",")
             if f and not f.startswith("base_compiledir=")]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={cache_dir / 'pytensor'}"])
    env["NUMBA_CACHE_DIR"] = str(cache_dir / "numba")
    # The jax backend's compiled and exported programs (rechallenge.models.jax_backend).
    env["RECHALLENGE_JAX_CACHE_DIR"] = str(cache_dir / "jax")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    return env


def no_jax_cache_env() -> dict[str, str]:
    """The environment without a persistent JAX compilation cache (the NumPyro reference)."""
    env = dict(os.environ)
    for name in ("JAX_COMPILATION_CACHE_DIR", "RECHALLENGE_JAX_CACHE_DIR"):
        env.pop(name, None)
    return env


def timed_command(label: str, command: list[str], *, env: dict[str, str] | None = None,
                  manifest: Path | None = None, cwd: Path | None = None) -> dict:
    """Wall time of ``command`` in a new process, with the manifest's stage timings."""
    load = load1()
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{proc.stderr[-3000:]}")
    row = {"mode": label, "seconds": seconds, "load_before": load, "load_after": load1(),
           "timings": {}, "gate_passed": None, "stdout": proc.stdout[-2000:]}
    if manifest is not None:
        data = json.loads(manifest.read_text())
        row.update(timings=data["timings_seconds"], gate_passed=data["gate"]["passed"],
                   engine=data.get("engine"))
    return row


def analyze_command(out: Path, backend: str | None = None) -> list[str]:
    return [sys.executable, "-m", "rechallenge.analysis.cli", "analyze", "--out", str(out),
            "--overwrite", "--quiet", *(("--backend", backend) if backend else ())]


def analyze_in_process(out: Path, repeat: int, backend: str = "nutpie") -> dict:
    """``analyze`` ``repeat`` times in this process on one Dask client (the workers keep their
    compiled structures between runs: the second run is the warm one).
    """
    from rechallenge.analysis.run.engine import EngineSettings, open_client
    from rechallenge.analysis.run.pipeline import analyze
    from rechallenge.analysis.settings.config import RunConfig

    runs = []
    with open_client(EngineSettings()) as client:
        for i in range(repeat):
            load = load1()
            start = time.perf_counter()
            result = analyze(RunConfig().with_sampler(backend=backend), out / f"run{i}",
                             overwrite=True, allow_unconverged=True,
                             progress=lambda message: None, engine=client)
            runs.append({"seconds": time.perf_counter() - start, "load_before": load,
                         "load_after": load1(), "gate_passed": result.gate.passed,
                         "timings": result.manifest["timings_seconds"]})
    return {"runs": runs}


def earlier_commit(commit: str, workdir: Path) -> tuple[Path, dict[str, str]]:
    """A checkout of ``commit`` and the environment that imports ``rechallenge`` from it.

    ``git worktree add --detach`` into ``workdir``; the package maps ``rechallenge.models`` to
    ``models/`` (and so on) through setuptools' package-dir, so a directory of symlinks
    ``rechallenge/{models,analysis,data}`` on ``PYTHONPATH`` makes this venv import the earlier
    code (its dependencies are this venv's). Remove it with ``git worktree remove``.
    """
    checkout = workdir / f"rechallenge-{commit}"
    subprocess.run(["git", "-C", str(HERE.parent), "worktree", "add", "--detach", str(checkout),
                    commit], check=True, capture_output=True)
    shim = workdir / f"pythonpath-{commit}" / "rechallenge"
    shim.mkdir(parents=True)
    for part in ("models", "analysis", "data"):
        (shim / part).symlink_to(checkout / part)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(shim.parent)
    return checkout, env


def analyze_rows(workdir: Path, *, numpyro_python: str | None, main_commit: str | None,
                 warm: bool, backends: tuple[str, ...] = ("nutpie",)) -> list[dict]:
    """The side-by-side rows of :data:`ANALYZE_ROWS` (those asked for), measured in turn, the
    first three per backend (each backend with caches of its own).
    """
    rows = []
    for backend in backends:
        caches = workdir / f"caches-{backend}"
        for label in ("cold, empty caches", "cold, warm caches"):
            # The first run fills the empty caches, the second reads them.
            log(f"analyze {backend}, {label} (load {load1()})")
            out = workdir / (f"{backend}-" + label.replace(", ", "-").replace(" ", "-"))
            rows.append(timed_command(f"{backend}: {label}", analyze_command(out, backend),
                                      env=cache_env(caches), manifest=out / "manifest.json"))
            log(f"  {rows[-1]['seconds']:.1f} s")
        if warm:
            log(f"analyze {backend}, warm, in-process (load {load1()})")
            load = load1()
            proc = subprocess.run([sys.executable, str(HERE / "run.py"), "--_analyze",
                                   str(workdir / f"warm-{backend}"), "2", backend],
                                  capture_output=True, text=True, env=cache_env(caches))
            if proc.returncode != 0:
                raise RuntimeError(f"warm analyze failed:\n{proc.stderr[-3000:]}")
            second = json.loads(proc.stdout.strip().splitlines()[-1])["runs"][-1]
            rows.append({"mode": f"{backend}: warm, in-process", "seconds": second["seconds"],
                         "load_before": load, "load_after": load1(),
                         "timings": second["timings"], "gate_passed": second["gate_passed"]})
            log(f"  {rows[-1]['seconds']:.1f} s")
    if numpyro_python:
        log(f"numpyro headline models (load {load1()})")
        from rechallenge.data import example_study

        csv = workdir / "patients-14.csv"
        example_study().patients.to_csv(csv, index=False)
        # Without a persistent compilation cache: every JIT compilation in the process.
        row = timed_command("numpyro, 4 headline models, cold", [
            numpyro_python, str(HERE / "numpyro_models.py"), str(csv), "headline"],
            env=no_jax_cache_env())
        row["detail"] = json.loads(row.pop("stdout").strip().splitlines()[-1])
        rows.append(row)
        log(f"  {rows[-1]['seconds']:.1f} s")
    if main_commit:
        log(f"analyze at {main_commit} (load {load1()})")
        checkout, env = earlier_commit(main_commit, workdir)
        try:
            out = workdir / "main"
            # That commit's own default caches (~/.pytensor), warm from earlier runs of it.
            rows.append(timed_command(f"main ({main_commit}), cold", analyze_command(out),
                                      env=env, manifest=out / "manifest.json", cwd=workdir))
        finally:
            subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force",
                            str(checkout)], capture_output=True)
        log(f"  {rows[-1]['seconds']:.1f} s")
    return rows


def sbc_rows(workdir: Path, backends: tuple[str, ...], n_sims: int) -> list[dict]:
    """``rechallenge simulate sbc`` of the binary family on one local worker, per backend.

    A new process each (start-up included, as the issue's baseline), with the caches the
    backend's analyze rows filled; fits per minute per worker = simulations / minutes.
    """
    rows = []
    for backend in backends:
        config = workdir / f"sbc-{backend}.toml"
        config.write_text(f'[sampler]\nbackend = "{backend}"\n')
        out = workdir / f"sbc-{backend}"
        log(f"simulate sbc, {backend}, {n_sims} simulations, 1 worker (load {load1()})")
        row = timed_command(f"{backend}", [
            sys.executable, "-m", "rechallenge.analysis.cli", "simulate", "sbc", "--config",
            str(config), "--workers", "1", "--n-sims", str(n_sims), "--families", "binary",
            "--out", str(out), "--quiet"], env=cache_env(workdir / f"caches-{backend}"))
        results = [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]
        row.update(n_sims=n_sims, fits_per_minute=n_sims / (row["seconds"] / 60),
                   sample=sum(r.get("timings", {}).get("sample", 0.0) for r in results),
                   compile=sum(r.get("timings", {}).get("compile", 0.0) for r in results),
                   errors=sum(r.get("error") is not None for r in results))
        row.pop("stdout", None)
        rows.append(row)
        log(f"  {row['seconds']:.1f} s, {row['fits_per_minute']:.0f} fits/min")
    return rows


def sbc_table(rows: list[dict], fmt: Callable[..., str]) -> str:
    """Fits per minute per worker of each backend's SBC study, against the first backend's."""
    base = rows[0]["fits_per_minute"] if rows else float("nan")
    lines = ["| backend | simulations | wall time | fits/min/worker | / first | compile* | "
             "tune+draw* | errors | load |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['n_sims']} | {fmt(r['seconds'], 1)} | "
                     f"{fmt(r['fits_per_minute'], 0)} | {fmt(r['fits_per_minute'] / base)} | "
                     f"{fmt(r['compile'], 1)} | {fmt(r['sample'], 1)} | {r['errors']} | "
                     f"{r['load_before']:.1f}-{r['load_after']:.1f} |")
    return "\n".join(lines)


STAGES = ("fit_total", "fit_step:compile", "fit_step:sample", "fit_step:log_likelihood",
          "save_fits", "report")


def analyze_table(rows: list[dict], fmt: Callable[..., str]) -> str:
    """The side-by-side table; ``/ NumPyro`` is each wall time over the NumPyro reference's."""
    reference = next((r["seconds"] for r in rows if r["mode"].startswith("numpyro")), None)
    lines = ["| run | wall time | / NumPyro | fit stage | compile* | tune+draw* | log-lik* | "
             "save fits* | outputs | gate | load |",
             "|---|" + "---:|" * 8 + "---|---|"]
    for r in rows:
        t = r.get("timings", {})
        ratio = fmt(r["seconds"] / reference, 2) if reference else "-"
        cells = [fmt(t.get(k, float("nan")), 1) for k in STAGES]
        gate = "-" if r.get("gate_passed") is None else ("pass" if r["gate_passed"] else "FAIL")
        lines.append(f"| {r['mode']} | {fmt(r['seconds'], 1)} | {ratio} | " + " | ".join(cells)
                     + f" | {gate} | {r['load_before']:.1f}-{r['load_after']:.1f} |")
    return "\n".join(lines)

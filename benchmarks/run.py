"""Where the time goes: the full analysis side by side with references, and per-model fits.

    make bench                                   # everything below (30-60 min on 2 cores)
    python benchmarks/run.py --sizes none --numpyro-python .venv/bin/python --main-commit a90add7
    python benchmarks/run.py --quick             # shipped data: per-model fits and the analysis
    python benchmarks/run.py --sizes 140,1400 --backends nutpie --no-analyze

Printed as Markdown (progress on stderr); ``--json FILE`` also saves the raw figures.

1. ``rechallenge analyze`` of the shipped data, the full default analysis (4 endpoints, a main
   fit and 2 comparators each = 12 fits, the sensitivity variants reweighted or, where their
   Pareto k is too high, refitted; report), side by side in one run:
   *cold, empty caches* (a new process whose PyTensor compile directory and numba cache
   directory are empty temporary directories, as on a new machine); *cold, warm caches* (a new
   process reading the caches the first run filled); *warm, in-process* (a second ``analyze`` in
   one process on the same Dask client, whose workers keep their compiled structures). Each
   process starts its own local Dask cluster, as the command does.
2. With ``--numpyro-python PATH`` (a Python with jax and numpyro; not dependencies of the
   package, ``pip install jax numpyro`` into a venv of your own), the hand-written NumPyro
   reference (``benchmarks/numpyro_models.py``): the four headline models (response, disease
   control, toxicity, TTP; partial pooling) fitted in one new process, compilation included. The
   targets compare the analysis with it: warm caches <= 1.0x, empty caches <= 1.5x.
3. With ``--main-commit COMMIT``, the same ``analyze`` command at an earlier commit: checked out
   with ``git worktree add --detach`` into the temporary directory and imported from there
   through a ``PYTHONPATH`` directory of symlinks (``rechallenge/models`` -> ``models`` and so
   on: the package-dir mapping of pyproject.toml), with this venv's dependencies and that
   commit's own default caches; the worktree is removed afterwards.
4. Per model fit (binary response and TTP, partial pooling, 4 chains x 1000 + 1000 unless told),
   each in a new process: build, compile, tune+draw, prior, posterior predictive, log-likelihood,
   diagnostics, report, minimum bulk ESS and ESS per second of tune+draw. Study sizes: 14 is the
   shipped data (58 patients), other sizes simulated studies of that many sites with 20 patients
   each (``benchmarks/simulate.py``, seeded). PyMC compiles inside ``pm.sample``: its tune+draw
   is PyMC's ``sampling_time``, its compile column the rest of ``pm.sample``. With
   ``--numpyro-python`` the NumPyro models are also fitted per size (parallel and vectorized).
6. ``rechallenge simulate sbc`` of the binary family (``--sbc-sims``, default 60) on one local
   worker, per backend of ``--analyze-backends``: a new process with that backend's warm caches;
   fits per minute per worker.
5. The machine: cores, CPU, the 1-minute load average before and after each measurement (others
   may use the machine: compare figures measured at low load).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHIPPED = 14
sys.path.insert(0, str(HERE))
from analyze_bench import (  # noqa: E402
    analyze_in_process,
    analyze_rows,
    analyze_table,
    sbc_rows,
    sbc_table,
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


# --------------------------------------------------------------------------- one model fit


def study_of(size: int):
    """The shipped data (size 14) or a simulated study of ``size`` sites x 20 patients."""
    from rechallenge.data import example_study

    if size == SHIPPED:
        return example_study()
    sys.path.insert(0, str(HERE))
    from simulate import simulate_study

    return simulate_study(size)


def fit_one(size: int, model_name: str, backend: str, draws: int, tune: int, chains: int,
            target_accept: float | None = None) -> dict:
    """Build, fit, diagnose and summarise one model; seconds per stage and ESS per second.

    ``target_accept``: the sampler's acceptance target, ``None`` for the package default (the
    backend is then labelled with the target, e.g. ``nutpie (target 0.8)``).
    """
    import arviz as az

    from rechallenge.analysis.settings.config import RunConfig
    from rechallenge.analysis.summaries.diagnostics import parameter_diagnostics
    from rechallenge.analysis.summaries.endpoint_results import site_table, summarise
    from rechallenge.models.binary import build_binary_model
    from rechallenge.models.sampling import fit
    from rechallenge.models.ttp import build_ttp_model

    label = backend if target_accept is None else f"{backend} (target {target_accept:g})"
    row: dict[str, Any] = {"size": size, "model": model_name, "backend": label,
                           "draws": draws, "tune": tune, "chains": chains, "load_before": load1()}
    study = study_of(size)
    row["patients"] = int(study.patients[["site", "patient_id"]].drop_duplicates().shape[0])
    endpoint = "response" if model_name == "binary" else "ttp"
    start = time.perf_counter()
    if model_name == "binary":
        model = build_binary_model(study, endpoint)
    else:
        model = build_ttp_model(study)
    row["build"] = time.perf_counter() - start
    steps: dict[str, float] = {}
    start = time.perf_counter()
    settings = {} if target_accept is None else {"target_accept": target_accept}
    idata = fit(model, draws=draws, tune=tune, chains=chains, backend=backend, timings=steps,
                **settings)
    row["fit_total"] = time.perf_counter() - start
    if backend == "pymc":
        sampling = float(idata.sample_stats.attrs["sampling_time"])
        steps["compile"] = steps["sample"] - sampling
        steps["sample"] = sampling
    row.update({k: steps.get(k, float("nan")) for k in
                ("compile", "sample", "prior", "posterior_predictive", "log_likelihood")})
    start = time.perf_counter()
    parameter_diagnostics(idata, model=endpoint)
    row["diagnostics"] = time.perf_counter() - start
    config = RunConfig()
    start = time.perf_counter()
    summarise(idata, endpoint, config)
    site_table(idata, endpoint, config)
    row["report"] = time.perf_counter() - start
    free = [rv.name for rv in model.free_RVs]
    ess = az.ess(idata.posterior[free], method="bulk")
    row["min_ess_bulk"] = float(min(float(ess[v].min()) for v in free))
    row["ess_per_s"] = row["min_ess_bulk"] / row["sample"]
    row["divergences"] = int(idata.sample_stats["diverging"].sum())
    # Leapfrog steps (gradient evaluations) per draw, after tuning: with the seconds per draw it
    # tells a longer trajectory from a costlier gradient.
    stats = idata.sample_stats
    row["steps_per_draw"] = float(stats["n_steps" if "n_steps" in stats else "tree_size"].mean())
    row["load_after"] = load1()
    return row


def numpyro_one(python: str, size: int, model_name: str, method: str, draws: int, tune: int,
                chains: int, workdir: Path) -> dict:
    """The hand-written NumPyro model on the same study, in the other Python."""
    csv = workdir / f"patients-{size}.csv"
    if not csv.exists():
        study_of(size).patients.to_csv(csv, index=False)
    load = load1()
    proc = subprocess.run([python, str(HERE / "numpyro_models.py"), str(csv), model_name, method,
                           str(draws), str(tune), str(chains)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"numpyro ({model_name}, {size}) failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    nan = float("nan")
    # Compile = first run (JIT + sampling) - second run (sampling). When sampling dominates, run
    # to run noise can make it negative: then it is not measurable here and shown as "-".
    compile_s = out["first_run"] - out["sample"]
    return {"size": size, "model": model_name, "backend": f"numpyro ({out['chain_method']})",
            "build": nan, "compile": compile_s if compile_s > 0 else nan, "sample": out["sample"],
            "prior": nan, "posterior_predictive": nan, "log_likelihood": nan,
            "diagnostics": nan, "report": nan, "min_ess_bulk": out["min_ess_bulk"],
            "ess_per_s": out["ess_per_s"], "divergences": out["divergences"],
            "steps_per_draw": out.get("steps_per_draw", nan),
            "load_before": load, "load_after": load1(), "jax": out["jax"]}


# --------------------------------------------------------------------------- driver and tables


def run_subprocess_json(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib import metadata

    versions = {p: metadata.version(p) for p in ("pymc", "pytensor", "nutpie", "numba", "arviz",
                                                 "jax", "blackjax")}
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(terse=True), "versions": versions}


def fmt(value: float, digits: int = 2) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.{digits}f}"


def fit_table(rows: list[dict]) -> str:
    head = ("| sites | model | backend | build | compile | tune+draw | prior | post. pred. | "
            "log-lik | diagnostics | report | min bulk ESS | ESS/s | steps/draw | div. | load |")
    lines = [head, "|" + "---:|" * 3 + "---:|" * 13]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['model']} | {r['backend']} | {fmt(r['build'])} | "
            f"{fmt(r['compile'])} | {fmt(r['sample'])} | {fmt(r['prior'])} | "
            f"{fmt(r['posterior_predictive'])} | {fmt(r['log_likelihood'])} | "
            f"{fmt(r['diagnostics'])} | {fmt(r['report'])} | {fmt(r['min_ess_bulk'], 0)} | "
            f"{fmt(r['ess_per_s'], 0)} | {fmt(r.get('steps_per_draw', float('nan')), 1)} | "
            f"{r['divergences']} | "
            f"{r['load_before']:.1f}-{r['load_after']:.1f} |")
    return "\n".join(lines)


def scaling_table(rows: list[dict]) -> str:
    lines = ["| model | backend | tune+draw 140 sites | tune+draw 1,400 sites | "
             "ratio (10 = linear) |",
             "|---|---|---:|---:|---:|"]
    by = {(r["size"], r["model"], r["backend"]): r for r in rows}
    for (size, model, backend), r in sorted(by.items()):
        if size != 140 or (1400, model, backend) not in by:
            continue
        big = by[(1400, model, backend)]
        lines.append(f"| {model} | {backend} | {fmt(r['sample'])} | {fmt(big['sample'])} | "
                     f"{fmt(big['sample'] / r['sample'], 1)} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def relative_table(rows: list[dict]) -> str:
    """ESS per second of each package backend over the best NumPyro run of the same study.

    Also the seconds per leapfrog step (tune+draw seconds over chains x iterations x steps per
    draw; warm-up assumed to take as many steps per draw as sampling): with the steps per draw
    it tells a costlier gradient from a longer trajectory.
    """
    lines = ["| sites | model | backend | ESS/s | NumPyro ESS/s (best) | ratio (>= 1: as fast) | "
             "us per step | NumPyro us per step | load |",
             "|---:|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r["backend"].startswith("numpyro"):
            continue
        refs = [q for q in rows if q["backend"].startswith("numpyro")
                and (q["size"], q["model"]) == (r["size"], r["model"])]
        if not refs:
            continue
        best = max(refs, key=lambda q: q["ess_per_s"])
        lines.append(
            f"| {r['size']} | {r['model']} | {r['backend']} | {fmt(r['ess_per_s'], 0)} | "
            f"{fmt(best['ess_per_s'], 0)} ({best['backend']}) | "
            f"{fmt(r['ess_per_s'] / best['ess_per_s'])} | {fmt(step_us(r), 0)} | "
            f"{fmt(step_us(best), 0)} | {r['load_before']:.1f}-{r['load_after']:.1f}, "
            f"{best['load_before']:.1f}-{best['load_after']:.1f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def step_us(row: dict) -> float:
    iterations = row.get("chains", 4) * (row.get("draws", 1000) + row.get("tune", 1000))
    steps = row.get("steps_per_draw", float("nan"))
    return 1e6 * row["sample"] / (iterations * steps)


def output_scaling_table(rows: list[dict]) -> str:
    """Diagnostics and summaries (report) from 140 to 1,400 sites against the growth of rows."""
    lines = ["| model | backend | diagnostics 140 / 1,400 sites | ratio | report 140 / 1,400 sites | "
             "ratio | rows ratio |", "|---|---|---:|---:|---:|---:|---:|"]
    by = {(r["size"], r["model"], r["backend"]): r for r in rows
          if not r["backend"].startswith("numpyro")}
    for (size, model, backend), r in sorted(by.items()):
        big = by.get((1400, model, backend))
        if size != 140 or big is None:
            continue
        lines.append(
            f"| {model} | {backend} | {fmt(r['diagnostics'])} / {fmt(big['diagnostics'])} | "
            f"{fmt(big['diagnostics'] / r['diagnostics'], 1)} | {fmt(r['report'])} / "
            f"{fmt(big['report'])} | {fmt(big['report'] / r['report'], 1)} | "
            f"{fmt(big['patients'] / r['patients'], 1)} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="shipped data only; analyze baseline and default")
    parser.add_argument("--sizes", default=None,
                        help="comma list of site counts (14 = shipped data), or 'none'")
    parser.add_argument("--backends", default="nutpie,jax",
                        help="comma list of the per-model fits' backends: nutpie,jax,pymc")
    parser.add_argument("--analyze-backends", default="nutpie,jax",
                        help="comma list of the backends of the full analysis and SBC rows")
    parser.add_argument("--sbc-sims", type=int, default=60,
                        help="simulations of the binary SBC study per backend (0: none)")
    parser.add_argument("--models", default="binary,ttp", help="comma list: binary,ttp")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=None,
                        help="sampler acceptance target for the per-model fits (default: the "
                        "package's)")
    parser.add_argument("--no-analyze", action="store_true",
                        help="skip the full analysis (cold empty/warm caches, warm in-process)")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm in-process run")
    parser.add_argument("--main-commit", default=None, metavar="COMMIT",
                        help="also time `analyze` at this earlier commit (e.g. a90add7), checked "
                             "out into a temporary git worktree")
    parser.add_argument("--numpyro-python", default=None, metavar="PYTHON",
                        help="a Python with jax and numpyro: add hand-written NumPyro models")
    parser.add_argument("--numpyro-methods", default="parallel,vectorized",
                        help="NumPyro chain methods of the per-model reference fits (comma list)")
    parser.add_argument("--json", type=Path, default=None, help="also save the raw figures here")
    parser.add_argument("--_one", help=argparse.SUPPRESS)
    parser.add_argument("--_analyze", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._one:
        spec = json.loads(args._one)
        print(json.dumps(fit_one(**spec)))
        return 0
    if args._analyze:
        out, repeat, backend = args._analyze
        print(json.dumps(analyze_in_process(Path(out), int(repeat), backend)))
        return 0

    sizes_text = args.sizes or ("14" if args.quick else "14,140,1400")
    sizes = [] if sizes_text == "none" else [int(s) for s in sizes_text.split(",")]
    backends = [b for b in args.backends.split(",") if b]
    models = [m for m in args.models.split(",") if m]

    results: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv),
                               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "fits": [],
                               "analyze": [], "sbc": []}
    numpyro_methods = [m for m in args.numpyro_methods.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="rechallenge-bench-") as tmp:
        # The NumPyro reference of a study runs right after the package's fits of it, so the two
        # compared in a ratio see about the same load on a shared machine.
        for size in sizes:
            for model in models:
                for backend in backends:
                    log(f"fit: {size} sites, {model}, {backend} (load {load1()})")
                    spec = {"size": size, "model_name": model, "backend": backend,
                            "draws": args.draws, "tune": args.tune, "chains": args.chains,
                            "target_accept": args.target_accept}
                    row = run_subprocess_json(["--_one", json.dumps(spec)])
                    log(f"  tune+draw {row['sample']:.2f} s, compile {row['compile']:.2f} s, "
                        f"ESS/s {row['ess_per_s']:.0f}")
                    results["fits"].append(row)
                for method in numpyro_methods if args.numpyro_python else ():
                    log(f"fit: {size} sites, {model}, numpyro {method} (load {load1()})")
                    row = numpyro_one(args.numpyro_python, size, model, method, args.draws,
                                      args.tune, args.chains, Path(tmp))
                    log(f"  tune+draw {row['sample']:.2f} s, ESS/s {row['ess_per_s']:.0f}")
                    results["fits"].append(row)
        analyze_backends = tuple(b for b in args.analyze_backends.split(",") if b)
        if not args.no_analyze:
            results["analyze"] = analyze_rows(Path(tmp), numpyro_python=args.numpyro_python,
                                              main_commit=args.main_commit, warm=not args.no_warm,
                                              backends=analyze_backends)
        if args.sbc_sims > 0:
            results["sbc"] = sbc_rows(Path(tmp), analyze_backends, args.sbc_sims)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report(results))
    return 0


def report(results: dict) -> str:
    m = results["machine"]
    parts = [f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['platform']}; "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
             f"Command: `{results['command']}` ({results['started']} - {results['finished']})"]
    if results["fits"]:
        parts += ["", "Per model fit (seconds; ESS/s = min bulk ESS over the free parameters / "
                  "tune+draw seconds; load = 1-min load average before-after):", "",
                  fit_table(results["fits"])]
        relative = relative_table(results["fits"])
        if relative:
            parts += ["", "Sampling speed against the hand-written NumPyro model of the same "
                      "study (ESS/s ratio; us per leapfrog step, approximate):", "", relative]
        scaling = scaling_table(results["fits"])
        if scaling:
            parts += ["", "Scaling of tune+draw from 140 to 1,400 sites:", "", scaling]
        outputs = output_scaling_table(results["fits"])
        if outputs:
            parts += ["", "Diagnostics and summaries from 140 to 1,400 sites (seconds; rows "
                      "ratio = patients ratio, the likelihood rows grow with it):", "", outputs]
    if results["analyze"]:
        parts += ["", "`rechallenge analyze`, shipped data, full default analysis, side by side "
                  "(seconds; wall time of a new process unless in-process; stage columns from "
                  "the run's manifest, * = summed over the fits or tasks, which overlap in time "
                  "on two workers; / NumPyro = wall time over the NumPyro reference's):", "",
                  analyze_table(results["analyze"], fmt)]
    if results.get("sbc"):
        parts += ["", "`rechallenge simulate sbc`, binary family, one local worker, a new process "
                  "(start-up included; * = summed over the simulations' fits):", "",
                  sbc_table(results["sbc"], fmt)]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())

"""nutpie's numba and JAX backends side by side: compile and sample each default structure.

    python benchmarks/nutpie_backends.py            # needs jax in the same Python for the JAX rows

For the binary (response) and TTP main models of the shipped data, in one process per backend
(so each pays its own imports): seconds of ``nutpie.compile_pymc_model`` and of two fits
(4 chains x (1,000 tuning + 1,000 draws)) of the compiled model. The default analysis samples 12
fits of these two structures, so the sampling column matters more than the compile column.
Prints a Markdown table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

BACKENDS = ("numba", "jax")


def one(backend: str) -> list[dict]:
    """Compile and sample both structures with ``backend`` in this process."""
    start = time.perf_counter()
    import nutpie

    from rechallenge.data import example_study
    from rechallenge.models.binary import build_binary_model
    from rechallenge.models.ttp import build_ttp_model

    imports = time.perf_counter() - start
    study = example_study()
    options = {"backend": "jax", "gradient_backend": "jax"} if backend == "jax" else {}
    rows = []
    for name, build in (("binary", lambda: build_binary_model(study, "response")),
                        ("ttp", lambda: build_ttp_model(study))):
        model = build()
        start = time.perf_counter()
        compiled = nutpie.compile_pymc_model(model, **options)
        compile_s = time.perf_counter() - start
        fits = []
        for seed in (1, 2):
            start = time.perf_counter()
            nutpie.sample(compiled, draws=1000, tune=1000, chains=4, progress_bar=False, seed=seed)
            fits.append(time.perf_counter() - start)
        rows.append({"backend": backend, "model": name, "imports": imports,
                     "compile": compile_s, "fit_1": fits[0], "fit_2": fits[1]})
    return rows


def main() -> int:
    if len(sys.argv) > 1:
        print(json.dumps(one(sys.argv[1])))
        return 0
    rows = []
    for backend in BACKENDS:
        proc = subprocess.run([sys.executable, __file__, backend], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{backend}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows += json.loads(proc.stdout.strip().splitlines()[-1])
    print("| backend | model | imports | compile | fit 1 | fit 2 |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['model']} | {r['imports']:.2f} | {r['compile']:.2f} | "
              f"{r['fit_1']:.2f} | {r['fit_2']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

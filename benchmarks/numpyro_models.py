"""Hand-written NumPyro versions of the two partial-pooling models, as a speed reference.

Run with a Python that has ``jax``, ``numpyro``, ``pandas`` and ``arviz`` (not dependencies of
the package; ``benchmarks/run.py --numpyro-python PATH`` calls this file)::

    python benchmarks/numpyro_models.py patients.csv binary [parallel|vectorized]
    python benchmarks/numpyro_models.py patients.csv ttp [parallel|vectorized]
    python benchmarks/numpyro_models.py patients.csv headline

``headline`` fits the four headline models once each (response, disease control, toxicity:
binary; TTP), compilation included, as the reference for the full analysis's time (the driver
times the whole process, interpreter start and imports included).

The likelihoods and priors are the package's defaults written out by hand: binary response
(collapsed to site-line counts) with ``mu ~ N(0, 1.5)``, ``tau ~ HalfNormal(1)``, and TTP
(censored Weibull in log space) with ``mu ~ N(log 6, 1)``, ``log_shape ~ N(0, 0.5)``,
``tau ~ HalfNormal(0.5)``; both with non-centred site effects correlated between the two lines by
``r = 2 Beta(2, 2) - 1`` (LKJ(2) for two lines). Prints one JSON line: seconds of the first run
(JIT compilation included) and of a second run (sampling only), minimum bulk ESS over the free
parameters and ESS per second of the second run.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LINES = ("ICI-1", "ICI-2")


def _site_effects(n_sites: int, tau_sd: float):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    tau = numpyro.sample("tau", dist.HalfNormal(tau_sd).expand([2]))
    r = 2.0 * numpyro.sample("corr01", dist.Beta(2.0, 2.0)) - 1.0
    z = numpyro.sample("z_site", dist.Normal(0.0, 1.0).expand([n_sites, 2]))
    # u[s] = diag(tau) L z[s] with L the Cholesky factor of [[1, r], [r, 1]].
    u0 = z[:, 0]
    u1 = r * z[:, 0] + jnp.sqrt(1.0 - r**2) * z[:, 1]
    return jnp.stack([u0, u1], axis=1) * tau


def binary_model(site, line, n, events, n_sites):
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(0.0, 1.5).expand([2]))
    u = _site_effects(n_sites, 1.0)
    numpyro.sample("y", dist.Binomial(total_count=n, logits=mu[line] + u[site, line]), obs=events)


def ttp_model(site, line, t, event, n_sites):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(np.log(6.0), 1.0).expand([2]))
    log_shape = numpyro.sample("log_shape", dist.Normal(0.0, 0.5).expand([2]))
    u = _site_effects(n_sites, 0.5)
    k = jnp.exp(log_shape)[line]
    log_t = jnp.log(t)
    z = k * (log_t - mu[line] - u[site, line])
    numpyro.factor("ttp", jnp.sum(event * (jnp.log(k) - log_t + z) - jnp.exp(z)))


def data(path: str, which: str, outcome: str = "response") -> tuple[dict, int]:
    frame = pd.read_csv(path)
    sites = sorted(frame["site"].astype(str).unique())
    site = pd.Categorical(frame["site"].astype(str), categories=sites).codes
    line = pd.Categorical(frame["line"], categories=list(LINES)).codes
    if which == "ttp":
        return {"site": site, "line": line, "t": frame["ttp_months"].to_numpy(float),
                "event": frame["progressed"].to_numpy(float)}, len(sites)
    if outcome == "toxicity":
        response = frame["trae_grade_3_4"].astype(int)
    else:
        good = ["CR", "PR"] if outcome == "response" else ["CR", "PR", "SD"]
        response = frame["best_response"].isin(good).astype(int)
    counts = (pd.DataFrame({"site": site, "line": line, "y": response})
              .groupby(["site", "line"]).agg(n=("y", "size"), events=("y", "sum")).reset_index())
    return {"site": counts["site"].to_numpy(), "line": counts["line"].to_numpy(),
            "n": counts["n"].to_numpy(), "events": counts["events"].to_numpy()}, len(sites)


def main(path: str, which: str, method: str = "parallel", draws: int = 1000, tune: int = 1000,
         chains: int = 4) -> dict:
    import arviz as az
    import jax
    from numpyro.infer import MCMC, NUTS

    values, n_sites = data(path, which)
    model = binary_model if which == "binary" else ttp_model
    if method == "parallel" and jax.local_device_count() < chains:
        method = "vectorized"
    mcmc = MCMC(NUTS(model, target_accept_prob=0.9), num_warmup=tune, num_samples=draws,
                num_chains=chains, chain_method=method, progress_bar=False)
    start = time.perf_counter()
    # The same extra fields in both runs: the second reuses the first's compiled sampler.
    mcmc.run(jax.random.PRNGKey(1), **values, n_sites=n_sites, extra_fields=("num_steps",))
    jax.block_until_ready(mcmc.get_samples())
    first = time.perf_counter() - start
    start = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(2), **values, n_sites=n_sites, extra_fields=("num_steps",))
    jax.block_until_ready(mcmc.get_samples())
    second = time.perf_counter() - start
    samples = mcmc.get_samples(group_by_chain=True)
    ess = az.ess(az.from_dict(posterior={k: np.asarray(v) for k, v in samples.items()}),
                 method="bulk")
    min_ess = float(min(float(ess[v].min()) for v in ess.data_vars))
    extra = mcmc.get_extra_fields()
    diverging = int(np.asarray(extra["diverging"]).sum())
    # Leapfrog steps (gradient evaluations) per draw after warm-up, as the nutpie rows report.
    steps_per_draw = float(np.asarray(extra["num_steps"]).mean())
    return {"model": which, "sites": n_sites, "chain_method": method,
            "first_run": first, "sample": second, "min_ess_bulk": min_ess,
            "ess_per_s": min_ess / second, "divergences": diverging,
            "steps_per_draw": steps_per_draw,
            "jax": jax.__version__}


def headline(path: str, draws: int = 1000, tune: int = 1000, chains: int = 4) -> dict:
    """The four headline models, one run each (JIT included), as an analysis would fit them."""
    import jax
    from numpyro.infer import MCMC, NUTS

    seconds = {}
    for endpoint in ("response", "disease_control", "toxicity", "ttp"):
        which = "ttp" if endpoint == "ttp" else "binary"
        values, n_sites = data(path, which, endpoint)
        model = binary_model if which == "binary" else ttp_model
        method = "parallel" if jax.local_device_count() >= chains else "vectorized"
        mcmc = MCMC(NUTS(model, target_accept_prob=0.9), num_warmup=tune, num_samples=draws,
                    num_chains=chains, chain_method=method, progress_bar=False)
        start = time.perf_counter()
        mcmc.run(jax.random.PRNGKey(1), **values, n_sites=n_sites)
        jax.block_until_ready(mcmc.get_samples())
        seconds[endpoint] = time.perf_counter() - start
    return {"model": "headline", "seconds": seconds, "jax": jax.__version__}


if __name__ == "__main__":
    if sys.argv[2] == "headline":
        print(json.dumps(headline(sys.argv[1], *map(int, sys.argv[3:]))))
        sys.exit(0)
    print(json.dumps(main(sys.argv[1], sys.argv[2], *sys.argv[3:4], *map(int, sys.argv[4:]))))

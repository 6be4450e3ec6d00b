"""Recovery of the Weibull TTP model from simulated multi-site censored data.

* ``integration``: one simulated site given patient by patient, or only as its Kaplan-Meier
  median with a 95% CI (the approximate log-median likelihood), gives similar pooled posteriors.
* ``slow``: 95% interval coverage over repeated simulations from the prior (compiled once,
  refitted with ``fit(model, data=...)``). Run with ``make test-slow``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from conftest import SEED

from rechallenge.analysis.summaries.ttp import marginal_weibull_median, site_medians, summarise_ttp
from rechallenge.data.frequentist import km_median
from rechallenge.data.study import Study
from rechallenge.models.sampling import fit
from rechallenge.models.ttp import build_ttp_model

LINES = ("ICI-1", "ICI-2")
#: Follow-up per row ~ Uniform(2, 30) months: administrative censoring as in a registry.
FOLLOW_UP = (2.0, 30.0)


def simulate_times(rng, log_scale, shape):
    """Weibull times censored at a uniform follow-up: (durations, censoring bounds)."""
    t = np.exp(log_scale) * rng.weibull(shape)
    follow = rng.uniform(*FOLLOW_UP, size=t.shape)
    event = t <= follow
    return np.where(event, t, follow), np.where(event, np.inf, follow)


def simulate_study(rng, sizes, *, mu, shape, tau, corr) -> pd.DataFrame:
    """Patients at sites of the given sizes, two lines each, correlated site effects."""
    cov = np.array([[tau[0] ** 2, corr * tau[0] * tau[1]], [corr * tau[0] * tau[1], tau[1] ** 2]])
    u = rng.multivariate_normal(np.zeros(2), cov, size=len(sizes))
    site = np.repeat(np.arange(len(sizes)), 2 * np.asarray(sizes))
    line = np.tile([0, 1], int(np.sum(sizes)))
    duration, upper = simulate_times(rng, np.asarray(mu)[line] + u[site, line],
                                     np.asarray(shape)[line])
    patient = np.repeat(np.arange(int(np.sum(sizes))), 2)
    return pd.DataFrame({
        "site": [f"S{s + 1:02d}" for s in site], "patient_id": [f"P{p + 1:03d}" for p in patient],
        "line": [LINES[i] for i in line], "ttp_months": duration,
        "progressed": np.isinf(upper).astype(int),
    })


def km_aggregate(rows: pd.DataFrame, site: str) -> pd.DataFrame:
    """Kaplan-Meier median with its log-log 95% CI per line, as a site would report it."""
    out = []
    for line in LINES:
        d = rows[(rows["site"] == site) & (rows["line"] == line)]
        ci = km_median(d["ttp_months"], d["progressed"], method="log-log")
        out.append({"site": site, "line": line, "endpoint": "ttp", "n": len(d),
                    "events": int(d["progressed"].sum()), "median_months": ci.median,
                    "median_lower": ci.lower, "median_upper": ci.upper})
    return pd.DataFrame(out)


@pytest.mark.integration
def test_a_site_as_kaplan_meier_median_gives_similar_pooled_posteriors():
    """Eight sites; the largest (40 patients) enters either as patients or as two medians + CIs.

    Tolerances, in posterior sds of the patient-level fit. Location quantities (mu, typical-site
    and population medians, tau): 0.5 sd. Were the reported median exactly as informative as the
    patient rows, only Monte Carlo error (~0.03 sd) would separate the fits; the Kaplan-Meier
    median of 40 patients differs from their Weibull median by sampling noise of ~0.1-0.15 on
    the log scale, and that site carries about a third of the weight of the pooled log scale, so
    shifts of 0.2-0.4 sd are expected and 0.5 sd still means "the same answer". The shape is
    informed by the site's patients but not by a median, so it may move further (1.5 sd) and must
    not become more precise. The site's own median must fall inside the other fit's interval.
    """
    rng = np.random.default_rng(SEED)
    rows = simulate_study(rng, [6, 8, 10, 12, 14, 16, 20, 40], mu=np.log([7.0, 8.0]),
                          shape=[1.3, 1.1], tau=[0.3, 0.3], corr=0.3)
    target = "S08"
    aggregates = km_aggregate(rows, target)
    patients = fit(build_ttp_model(Study(rows, lines=LINES)), seed=SEED)
    reported = fit(build_ttp_model(Study(rows[rows["site"] != target], aggregates, lines=LINES)),
                   seed=SEED)
    assert "log_median_obs" in reported.observed_data
    a, b = patients.posterior, reported.posterior
    for name, tol in (("mu", 0.5), ("tau", 0.5), ("shape", 1.5)):
        mean_a, mean_b = a[name].mean(("chain", "draw")), b[name].mean(("chain", "draw"))
        sd_a = a[name].std(("chain", "draw"))
        assert (abs(mean_b - mean_a) < tol * sd_a).all(), (name, mean_a.values, mean_b.values)
    assert (b["shape"].std(("chain", "draw")) >= a["shape"].std(("chain", "draw"))).all()
    sa, sb = summarise_ttp(patients, seed=SEED), summarise_ttp(reported, seed=SEED)
    for quantity in ("median_typical_site", "median_population"):
        qa = sa[sa["quantity"] == quantity].set_index("line")
        qb = sb[sb["quantity"] == quantity].set_index("line")
        assert (abs(qb["mean"] - qa["mean"]) < 0.5 * qa["sd"]).all(), quantity
    ma, mb = (m[m["site"] == target].set_index("line") for m in (site_medians(patients),
                                                                 site_medians(reported)))
    assert (mb["raw_source"] == "reported").all()
    assert ((ma["median"] > mb["lower"]) & (ma["median"] < mb["upper"])).all()


# --------------------------------------------------------------------------------------------
# Coverage (slow)

N_SIMULATIONS = 100
COVERED_QUANTITIES = ("mu", "shape", "tau", "median_population")


@pytest.mark.slow
def test_interval_coverage_is_nominal_over_simulations_from_the_prior():
    """95% equal-tailed intervals cover the truth ~95% of the time when truths come from the prior.

    Each simulation draws (mu, shape, tau, R, u_site) from the model's own prior (``pm.draw``)
    on the shipped study's structure (14 sites, 58 patients, 2 lines), simulates Weibull times
    with uniform follow-up censoring, and refits the model compiled once (2 chains x 500 draws
    after 500 tuning steps: bulk ESS ~700-1000, so the interval ends carry Monte Carlo error of a
    few hundredths of a posterior sd, negligible for coverage). Averaged over the prior, the
    posterior's 95% intervals cover the truth with probability exactly 0.95 if the sampler is
    right, so no asymptotics are involved.

    100 simulations x 8 quantities (mu, shape, tau and the population median, per line). Each
    quantity's coverage has binomial sd 0.022: it must lie in [0.88, 1] (3 sd below). The pooled
    coverage must lie within 0.95 +/- 0.035 (between 1.6 and 4.5 binomial sds, depending on how
    correlated the quantities of one simulation are). 140 s on a loaded 2-core machine.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    structure = simulate_study(rng, _shipped_sizes(), mu=np.log([6.0, 6.0]), shape=[1.0, 1.0],
                               tau=[0.3, 0.3], corr=0.0)
    model = build_ttp_model(Study(structure, lines=LINES))
    site_idx, line_idx = model["site_idx"].get_value(), model["line_idx"].get_value()
    names = ("mu", "shape", "tau", "site_corr", "u_site")
    truths = dict(zip(names, pm.draw([model[n] for n in names], draws=N_SIMULATIONS,
                                      random_seed=SEED)))
    covered = {q: np.zeros((N_SIMULATIONS, len(LINES)), dtype=bool) for q in COVERED_QUANTITIES}
    for i in range(N_SIMULATIONS):
        mu, shape, tau = truths["mu"][i], truths["shape"][i], truths["tau"][i]
        duration, upper = simulate_times(
            rng, mu[line_idx] + truths["u_site"][i][site_idx, line_idx], shape[line_idx])
        # Only the posterior is used: no prior, predictive or log-likelihood draws (leaving them
        # out changes no posterior draw; each step has its own derived seed).
        idata = fit(model, data={"duration": duration, "censor_upper": upper}, chains=2,
                    draws=500, tune=500, seed=SEED + i, groups=())
        post = idata.posterior
        draws = {q: post[q].transpose("chain", "draw", "line").to_numpy().reshape(-1, 2)
                 for q in ("mu", "shape", "tau")}
        draws["median_population"] = marginal_weibull_median(draws["mu"], draws["tau"],
                                                             draws["shape"])
        true = {"mu": mu, "shape": shape, "tau": tau,
                "median_population": marginal_weibull_median(mu, tau, shape)}
        for q in COVERED_QUANTITIES:
            lo, hi = np.quantile(draws[q], [0.025, 0.975], axis=0)
            covered[q][i] = (lo <= true[q]) & (true[q] <= hi)
    rates = {q: covered[q].mean(axis=0) for q in COVERED_QUANTITIES}
    pooled = np.mean([covered[q] for q in COVERED_QUANTITIES])
    elapsed = time.perf_counter() - started
    print(f"coverage {rates}, pooled {pooled:.3f}, {elapsed:.0f} s")
    for q, rate in rates.items():
        assert (rate >= 0.88).all(), (q, rate)
    assert abs(pooled - 0.95) <= 0.035, pooled


def _shipped_sizes() -> list[int]:
    """Patients per site of the shipped synthetic dataset (its structure, not its times)."""
    from importlib import resources

    frame = pd.read_csv(resources.files("rechallenge.data") / "synthetic_scheiner2023.csv")
    return frame.groupby("site")["patient_id"].nunique().tolist()

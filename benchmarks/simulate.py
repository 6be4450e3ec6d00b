"""Seeded simulated studies for the benchmarks: many sites, a fixed number of patients each.

Every patient is treated at both lines (ICI-1, then ICI-2) and has every column the models use:
best response (CR, PR, SD, PD), time to progression with administrative censoring, and grade 3-4
toxicity. Site effects are drawn from the models' own hierarchical form (correlated between the
lines), with values of the size seen in the shipped data, so the posteriors look like a real
analysis's and the sampler faces the same geometry, only with more sites.

    python benchmarks/simulate.py --sites 140 --out sim140.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from rechallenge.data import Study, schema
from rechallenge.data.validate import validate_patients

LINES = schema.DEFAULT_LINES
#: Seed of every simulated study unless the caller gives one.
SEED = 20230105

#: Log-odds of the typical site per line, between-site SD and the correlation of the lines.
RESPONSE = {"mu": (-1.3, -1.1), "tau": (0.5, 0.5), "corr": 0.3}
#: Disease control among non-responders (log-odds).
DISEASE_CONTROL = {"mu": (0.2, 0.0), "tau": (0.4, 0.4), "corr": 0.3}
TOXICITY = {"mu": (-1.8, -1.6), "tau": (0.4, 0.4), "corr": 0.3}
#: Weibull TTP: log scale (months) of the typical site, shape per line, site SD, correlation.
TTP = {"mu": (np.log(6.0), np.log(5.0)), "shape": (1.1, 1.0), "tau": (0.3, 0.3), "corr": 0.3}
#: Follow-up per patient and line ~ Uniform(2, 30) months (registry-like censoring).
FOLLOW_UP = (2.0, 30.0)


def _site_effects(rng: np.random.Generator, n_sites: int, tau: tuple, corr: float) -> np.ndarray:
    cov = np.array([[tau[0] ** 2, corr * tau[0] * tau[1]], [corr * tau[0] * tau[1], tau[1] ** 2]])
    return rng.multivariate_normal(np.zeros(2), cov, size=n_sites)


def simulate_patients(
    n_sites: int, patients_per_site: int = 20, *, seed: int = SEED
) -> pd.DataFrame:
    """Patient table (long format, two rows per patient) of a simulated study.

    Parameters
    ----------
    n_sites
        Number of sites, labelled ``S0001``, ``S0002``, ...
    patients_per_site
        Patients per site; each has a row at both lines.
    seed
        Seed of the generator; the same arguments give the same table.
    """
    if n_sites < 1 or patients_per_site < 1:
        raise ValueError("n_sites and patients_per_site must be positive")
    rng = np.random.default_rng(seed)
    n_patients = n_sites * patients_per_site
    site = np.repeat(np.arange(n_sites), 2 * patients_per_site)
    line = np.tile([0, 1], n_patients)
    patient = np.repeat(np.arange(n_patients), 2)

    def probability(spec: dict) -> np.ndarray:
        u = _site_effects(rng, n_sites, spec["tau"], spec["corr"])
        return 1.0 / (1.0 + np.exp(-(np.asarray(spec["mu"])[line] + u[site, line])))

    responded = rng.random(line.size) < probability(RESPONSE)
    stable = rng.random(line.size) < probability(DISEASE_CONTROL)
    best = np.where(responded, np.where(rng.random(line.size) < 0.15, "CR", "PR"),
                    np.where(stable, "SD", "PD"))
    toxicity = (rng.random(line.size) < probability(TOXICITY)).astype(int)

    u = _site_effects(rng, n_sites, TTP["tau"], TTP["corr"])
    log_scale = np.asarray(TTP["mu"])[line] + u[site, line]
    t = np.exp(log_scale) * rng.weibull(np.asarray(TTP["shape"])[line])
    follow = rng.uniform(*FOLLOW_UP, size=line.size)
    progressed = (t <= follow).astype(int)
    width = max(4, len(str(n_sites)))
    return pd.DataFrame({
        schema.SITE: [f"S{s + 1:0{width}d}" for s in site],
        schema.PATIENT_ID: [f"S{s + 1:0{width}d}-P{p + 1:06d}" for s, p in zip(site, patient)],
        schema.LINE: [LINES[i] for i in line],
        schema.BEST_RESPONSE: best,
        schema.TTP_MONTHS: np.round(np.where(progressed == 1, t, follow), 3).clip(min=0.01),
        schema.PROGRESSED: progressed,
        schema.TRAE_GRADE_3_4: toxicity,
    })


def simulate_study(n_sites: int, patients_per_site: int = 20, *, seed: int = SEED) -> Study:
    """:func:`simulate_patients`, validated as input files are, as a synthetic :class:`Study`."""
    patients = validate_patients(simulate_patients(n_sites, patients_per_site, seed=seed),
                                 source="simulated", lines=LINES)
    return Study(patients, lines=LINES, sources=(f"simulated: {n_sites} sites x "
                                                 f"{patients_per_site} patients, seed {seed}",),
                 synthetic=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=140)
    parser.add_argument("--patients", type=int, default=20, help="patients per site")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    args = parser.parse_args(argv)
    frame = simulate_patients(args.sites, args.patients, seed=args.seed)
    frame.to_csv(args.out, index=False, lineterminator="\n")
    print(f"{len(frame)} rows, {args.sites} sites -> {args.out}")


if __name__ == "__main__":
    main()

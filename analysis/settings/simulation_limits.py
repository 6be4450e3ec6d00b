"""The limits of a simulation study (``rechallenge simulate``), checked before any work: sizes
a user controls and the plausible range of true values.

Kept with the settings (standard library only) so the command line can quote the limits in
``--help`` without importing the simulation machinery.

Sizes: a simulation is a whole MCMC fit, and every one is a Dask task whose record is kept, so the
numbers of simulations, design cells, new sites and patients are bounded where a mistyped value
(``--n-sims 100000000000000000000``, ``--k-sites 1000000000``) would otherwise fill the memory
before the first fit. True values: a truth far outside what the models can describe (a logit of
1e308) makes every summary infinite, which no coverage verdict can describe.

Every limit is documented beside its option in ``docs/simulation.md`` and in
``rechallenge simulate --help``.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final

#: Simulations per family (per design cell for precision and coverage profiles).
MAX_N_SIMS: Final = 5_000
#: Simulations of one study in all: per family, per cell, summed.
MAX_TOTAL_SIMULATIONS: Final = 100_000
#: Values in each of ``--k-sites``, ``--n-patients`` and ``--tau``.
MAX_GRID_VALUES: Final = 20
#: New sites one precision cell adds.
MAX_K_SITES: Final = 100
#: Patients per new site of a precision cell.
MAX_N_PATIENTS: Final = 500
#: Posterior draws kept for an SBC rank (ranks lie in 0..thin); also at most the fit's draws.
MAX_THIN: Final = 1_000
#: Worker processes of a local cluster: this many, or the machine's cores if it has more.
MAX_WORKERS: Final = 64
#: Largest assumed ICI-2 vs ICI-1 effect of a precision study, in absolute value: a log odds
#: ratio (binary) or log time ratio (TTP) of 5 is a ratio of about 148.
MAX_EFFECT: Final = 5.0

#: Plausible true between-site SDs: (lowest, highest, what the bound means).
TAU_BOUNDS: Final[tuple[float, float, str]] = (0.0, 5.0, "a between-site SD from 0 to 5")
#: Plausible true values of the parameters every family shares, by name: (lowest, highest, what
#: the bound means). Each family's simulator bounds its own line parameters (``bounds``): the
#: line intercept ``mu`` is a logit (binary) or a log Weibull scale in months (TTP).
TRUTH_BOUNDS: Final[Mapping[str, tuple[float, float, str]]] = {
    "tau": TAU_BOUNDS,
    "sigma_patient": (0.0, 5.0, "a patient SD from 0 to 5"),
}
#: Names whose bounds are open (none of these; a family's simulator adds its own, e.g. the
#: Weibull shape).
OPEN_BOUNDS: Final[frozenset[str]] = frozenset()


def max_workers() -> int:
    """Most worker processes of a local cluster: :data:`MAX_WORKERS` or the cores, the larger."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(MAX_WORKERS, cores or 1)


def size_problems(
    kind: str, n_sims: int, thin: int, draws: int, families: int, k_sites: Sequence[int],
    n_patients: Sequence[int], tau_grid: Sequence[float], seed: int | None = None,
    effects: Mapping[str, float] | None = None, workers: int | None = None,
) -> list[str]:
    """Every size or option of a study outside its limits, each naming the option and value.

    Parameters
    ----------
    kind
        The study (``sbc``, ``coverage``, ``precision``).
    n_sims, thin
        Simulations per family or cell, and draws kept for a rank.
    draws
        Posterior draws of one fit (chains x draws): ``thin`` cannot exceed them.
    families
        Number of model families simulated.
    k_sites, n_patients, tau_grid
        The design cells' values (precision; coverage profile).
    seed, effects, workers
        The master seed, the assumed effects per family and the local workers, when given.

    Returns
    -------
    list of str
        Empty when the study is within every limit.
    """
    problems: list[str] = []
    if not 1 <= n_sims <= MAX_N_SIMS:
        problems.append(f"--n-sims (n_sims) = {n_sims}: expected 1 to {MAX_N_SIMS:,} simulations "
                        "per family (per design cell)")
    if not 2 <= thin <= min(MAX_THIN, draws):
        problems.append(f"--thin (thin) = {thin}: expected 2 to {min(MAX_THIN, draws):,} (at most "
                        f"{MAX_THIN:,}, and at most the {draws:,} posterior draws of a fit)")
    grids = {"--k-sites (k_sites)": (k_sites, 0, MAX_K_SITES, "new sites"),
             "--n-patients (n_patients)": (n_patients, 1, MAX_N_PATIENTS, "patients per new site")}
    for option, (values, low, high, what) in grids.items():
        problems += _grid_problems(option, values, low, high, what)
    if tau_grid:
        tau_low, tau_high, _ = TAU_BOUNDS
        bad = [t for t in tau_grid if not (math.isfinite(t) and tau_low < t <= tau_high)]
        if bad:
            problems.append(f"--tau (tau_grid) = {_listed(tau_grid)}: expected true between-site "
                            f"SDs above 0 and at most {tau_high:g}; {_not(bad)}")
        problems += _length_problems("--tau (tau_grid)", [f"{t:g}" for t in tau_grid])
    if seed is not None and seed < 0:
        problems.append(f"--seed (seed) = {seed}: expected a whole number >= 0")
    for family, effect in (effects or {}).items():
        if not (math.isfinite(effect) and abs(effect) <= MAX_EFFECT):
            problems.append(f"--{family}-effect (effects[{family!r}]) = {effect}: expected a "
                            f"finite effect from -{MAX_EFFECT:g} to {MAX_EFFECT:g}")
    if workers is not None and not 1 <= workers <= max_workers():
        problems.append(f"--workers = {workers}: expected 1 to {max_workers()} worker processes")
    cells = len(k_sites) * len(n_patients) if kind == "precision" else max(len(tau_grid), 1)
    total = n_sims * max(families, 1) * cells
    if not problems and total > MAX_TOTAL_SIMULATIONS:
        problems.append(f"--n-sims {n_sims} x {families} family(ies) x {cells} design cell(s) = "
                        f"{total:,} simulations: expected at most {MAX_TOTAL_SIMULATIONS:,} in "
                        "one study")
    return problems


def _grid_problems(option: str, values: Sequence[int], low: int, high: int,
                   what: str) -> list[str]:
    bad = [v for v in values if not low <= v <= high]
    problems = [f"{option} = {_listed(values)}: expected {what} from {low} to {high}; "
                f"{_not(bad)}"] if bad else []
    return problems + _length_problems(option, [str(v) for v in values])


def _length_problems(option: str, labels: Sequence[str]) -> list[str]:
    problems = []
    if len(labels) > MAX_GRID_VALUES:
        problems.append(f"{option}: {len(labels)} values; expected at most {MAX_GRID_VALUES}")
    repeated = sorted(v for v, count in Counter(labels).items() if count > 1)
    if repeated:
        problems.append(f"{option}: {', '.join(repeated)} given more than once; expected each "
                        "value once")
    return problems


def _not(bad: Sequence[object]) -> str:
    return f"{_listed(bad)} {'is' if len(bad) == 1 else 'are'} not"


def _listed(values: Sequence[object]) -> str:
    shown = [f"{v:g}" if isinstance(v, float) else str(v) for v in values[:8]]
    return ",".join(shown) + (f",... ({len(values)} values)" if len(values) > 8 else "")

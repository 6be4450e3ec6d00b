"""Draw parameters and outcomes from the models, written in NumPy from the models' definitions.

Two steps, so coverage and precision studies can fix the first:

1. :func:`draw_hyperparameters`: the population-level parameters from the prior (line means,
   between-site SDs ``tau``, the between-line correlation, shapes, patient SD);
2. :func:`draw_outcomes`: site effects and patient effects from their distributions given the
   hyperparameters, then one outcome per design row (0/1, or a Weibull time).

Each mirrors :func:`rechallenge.models.build_binary_model` and
:func:`rechallenge.models.build_ttp_model` (partial or complete pooling, optional patient effect,
shape per line or shared); that the two agree is what simulation-based calibration tests, and
``tests/test_simulation_units.py`` compares the prior draws with the builders' own prior draws.
Hyperparameters are a plain ``{name: list}`` mapping, so they can be written to JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm

from rechallenge.analysis.settings.simulation_limits import OPEN_BOUNDS, TRUTH_BOUNDS
from rechallenge.analysis.simulation.design import SimulationDesign
from rechallenge.models.dims import Pooling

#: The model families a study can simulate, and the poolings it supports.
FAMILIES = ("binary", "ttp")
POOLINGS = ("partial", "complete")

Hyper = dict[str, Any]


@dataclass(frozen=True)
class ModelOptions:
    """The options of the simulated (and fitted) model of one family.

    Parameters
    ----------
    pooling
        ``"partial"`` or ``"complete"`` (no pooling has no population to calibrate).
    patient_effect
        A patient effect: on the log-odds (binary) or on the log scale (TTP, a frailty).
    shared_shape
        TTP: one Weibull shape for every line.
    """

    pooling: Pooling = "partial"
    patient_effect: bool = False
    shared_shape: bool = False

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"simulation studies support pooling {POOLINGS}, got "
                             f"{self.pooling!r} (no pooling has no population quantity)")


def draw_hyperparameters(
    family: str, priors: Mapping[str, float], options: ModelOptions, n_lines: int,
    rng: np.random.Generator,
) -> Hyper:
    """Population-level parameters drawn from the prior of ``family``'s model.

    Parameters
    ----------
    family
        ``"binary"`` or ``"ttp"``.
    priors
        Resolved prior values (``Priors`` of the family).
    options
        Model options.
    n_lines
        Number of treatment lines.
    rng
        Source of randomness.

    Returns
    -------
    dict
        ``mu`` (the line intercepts) and, TTP, ``log_shape`` (one value when shared); with
        partial pooling ``tau`` and ``corr`` (a line-by-line matrix); with a patient effect
        ``sigma_patient``. Lists, JSON-ready.
    """
    hyper: Hyper = {}
    if family == "binary":
        hyper["mu"] = rng.normal(0.0, priors["mu_sd"], n_lines).tolist()
    elif family == "ttp":
        hyper["mu"] = rng.normal(priors["mu_mean"], priors["mu_sd"], n_lines).tolist()
        n_shapes = 1 if options.shared_shape else n_lines
        hyper["log_shape"] = rng.normal(0.0, priors["shape_log_sd"], n_shapes).tolist()
    else:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    if options.pooling == "partial":
        hyper["tau"] = np.abs(rng.normal(0.0, priors["tau_sd"], n_lines)).tolist()
        hyper["corr"] = _lkj(n_lines, priors["lkj_eta"], rng).tolist()
    if options.patient_effect:
        hyper["sigma_patient"] = float(abs(rng.normal(0.0, priors["sigma_patient_sd"])))
    return hyper


def truth_problems(
    truth: Mapping[str, Any], family: str, options: ModelOptions, lines: tuple[str, ...],
) -> list[str]:
    """Every problem with the true hyperparameters ``truth[family]`` (empty when usable).

    The names and shapes are those :func:`draw_hyperparameters` returns for the same options:
    one value per line for ``mu`` and ``tau``, one or one per line for ``log_shape``,
    a line-by-line correlation matrix ``corr``, one SD for a patient effect. Unknown names are
    problems too (a misspelt name would otherwise be ignored), and so are values that are not
    finite or lie outside the plausible range of
    :data:`~rechallenge.analysis.settings.simulation_limits.TRUTH_BOUNDS`.
    """
    hyper = truth.get(family)
    if not isinstance(hyper, Mapping):
        return [f"{family}: no true values (expected an object with the family's names)"]
    n = len(lines)
    per_line = f"{n} numbers, one per line ({', '.join(lines)})"
    expected: dict[str, str] = {"mu": per_line} if family == "binary" else {
        "mu": per_line,
        "log_shape": "1 number (shared shape)" if options.shared_shape else per_line}
    if options.pooling == "partial":
        expected.update(tau=f"{per_line}, at least 0", corr=f"a {n} x {n} correlation matrix")
    if options.patient_effect:
        expected["sigma_patient"] = "1 number >= 0"
    problems = [f"{family}: unknown name {name!r}; expected {', '.join(expected)}"
                for name in hyper if name not in expected]
    for name, what in expected.items():
        if name not in hyper:
            problems.append(f"{family}: {name!r} is missing (expected {what})")
            continue
        try:
            value = np.asarray(hyper[name], dtype=float)
        except (TypeError, ValueError):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} is not numeric ({what})")
            continue
        shape = {"corr": (n, n), "log_shape": (1 if options.shared_shape else n,),
                 "sigma_patient": ()}.get(name, (n,))
        if value.shape != shape and not (shape == () and value.shape == (1,)):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} has the wrong shape "
                            f"(expected {what})")
        elif not np.all(np.isfinite(value)):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} is not finite")
        elif name in ("tau", "sigma_patient") and np.any(value < 0):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} is negative (an SD)")
        elif name == "corr" and not _is_correlation(value):
            problems.append(f"{family}: 'corr' = {hyper[name]!r} is not a correlation matrix "
                            "(symmetric, unit diagonal, positive definite)")
        elif name in TRUTH_BOUNDS[family] and not _plausible(family, name, value):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} is implausible; expected "
                            f"{TRUTH_BOUNDS[family][name][2]}")
    return problems


def _plausible(family: str, name: str, value: np.ndarray) -> bool:
    low, high, _ = TRUTH_BOUNDS[family][name]
    if name in OPEN_BOUNDS:
        return bool(np.all((value > low) & (value < high)))
    return bool(np.all((value >= low) & (value <= high)))


def _is_correlation(matrix: np.ndarray) -> bool:
    if not (np.allclose(matrix, matrix.T) and np.allclose(np.diag(matrix), 1.0)):
        return False
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def draw_outcomes(
    family: str, hyper: Mapping[str, Any], design: SimulationDesign, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Site and patient effects given ``hyper``, then one outcome per design row.

    Returns
    -------
    outcomes, effects
        0/1 events (binary) or times in months before censoring (TTP), one per design row; and
        the drawn ``u_site`` (site, line) and patient effects.
    """
    site, line, patient = design.codes()
    n_sites, n_lines = len(design.sites), len(design.lines)
    z = rng.standard_normal((n_sites, n_lines))
    u_site = np.zeros((n_sites, n_lines))
    if "tau" in hyper:
        # Non-centred as in the models: u[s, :] = diag(tau) chol(R) z[s, :].
        chol = np.linalg.cholesky(np.asarray(hyper["corr"], dtype=float))
        u_site = (z @ chol.T) * np.asarray(hyper["tau"], dtype=float)
    sd = hyper.get("sigma_patient", 0.0)
    u_patient = rng.standard_normal(len(design.patients)) * float(sd)
    effects = {"u_site": u_site, "u_patient": u_patient}
    if family == "binary":
        eta = np.asarray(hyper["mu"])[line] + u_site[site, line] + u_patient[patient]
        return (rng.uniform(size=len(eta)) < 1.0 / (1.0 + np.exp(-eta))).astype(int), effects
    log_scale = np.asarray(hyper["mu"])[line] + u_site[site, line] + u_patient[patient]
    shape = np.exp(np.broadcast_to(np.asarray(hyper["log_shape"], dtype=float), (n_lines,)))
    # T = scale * E^(1/k), E ~ Exp(1): S(t) = exp(-(t / scale)^k), the models' Weibull.
    e = rng.standard_exponential(len(log_scale))
    return np.exp(log_scale + np.log(e) / shape[line]), effects


def simulated_study(family: str, design: SimulationDesign, outcomes: np.ndarray) -> Any:
    """The :class:`~rechallenge.data.Study` of simulated outcomes (censored for TTP)."""
    return design.binary_study(outcomes) if family == "binary" else design.ttp_study(outcomes)


def _lkj(n: int, eta: float, rng: np.random.Generator) -> np.ndarray:
    """A correlation matrix from LKJ(eta); for two lines ``r = 2 Beta(eta, eta) - 1``."""
    if n == 1:
        return np.eye(1)
    if n == 2:
        r = 2.0 * rng.beta(eta, eta) - 1.0
        return np.array([[1.0, r], [r, 1.0]])
    # More lines: PyMC's own LKJ draw, seeded from this generator.
    seed = int(rng.integers(2**31 - 1))
    return np.asarray(pm.draw(pm.LKJCorr.dist(n=n, eta=eta, return_matrix=True), random_seed=seed))

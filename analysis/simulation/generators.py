"""Draw parameters and outcomes from the models, written in NumPy from the models' definitions.

Two steps, so coverage and precision studies can fix the first:

1. :func:`draw_hyperparameters`: the population-level parameters from the prior (line means,
   between-site SDs ``tau``, the between-line correlation, shapes, patient SD);
2. :func:`draw_outcomes`: site effects and patient effects from their distributions given the
   hyperparameters, then one outcome per design row (0/1, or a Weibull time).

What is particular to a model (its line parameters, its outcome given the linear predictor) is
its family's simulator (:class:`~rechallenge.analysis.settings.families.FamilySimulator`,
looked up by key: ``"binary"``, ``"ttp"``); the site effects, patient effects, between-site SDs
and correlation are here, as in the builders' shared :mod:`rechallenge.models.effects`. A model
of another shape (the joint model, ``"joint"``) draws its parameters and whole studies itself
(:class:`~rechallenge.analysis.settings.family_hooks.DrawsWholeStudies`). Each mirrors its
builder (partial or complete pooling, optional patient effect, shape per line or shared); that
the two agree is what simulation-based calibration tests, and ``tests/test_simulation_units.py``
compares the prior draws with the builders' own prior draws.
Hyperparameters are a plain ``{name: list}`` mapping, so they can be written to JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm

from rechallenge.analysis.families import simulators
from rechallenge.analysis.settings.families import FamilySimulator
from rechallenge.analysis.settings.family_hooks import DrawsWholeStudies
from rechallenge.analysis.settings.simulation_limits import OPEN_BOUNDS, TRUTH_BOUNDS
from rechallenge.analysis.simulation.design import SimulationDesign
from rechallenge.data import Study
from rechallenge.models.dims import Pooling

#: The poolings a simulation study supports.
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
        A patient effect on the model's linear predictor (log-odds, log scale).
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


#: A model in simulation studies: its family's key (the registered simulator, ``"binary"``,
#: ``"ttp"``) or the simulator itself (one made for a study, such as a survival distribution's).
ModelRef = str | FamilySimulator


def simulator_of(family: ModelRef) -> FamilySimulator:
    """The simulator of model ``family``: the registered one of a key, or ``family`` itself.

    Raises
    ------
    ValueError
        No registered family has that key.
    """
    if not isinstance(family, str):
        return family
    known = simulators()
    if family not in known:
        raise ValueError(f"unknown family {family!r}; choose from {tuple(known)}")
    return known[family]


def draw_hyperparameters(
    family: ModelRef, priors: Mapping[str, float], options: ModelOptions, n_lines: int,
    rng: np.random.Generator,
) -> Hyper:
    """Population-level parameters drawn from the prior of ``family``'s model.

    Parameters
    ----------
    family
        The model's key (``"binary"`` or ``"ttp"``).
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
        The family's line parameters (``mu``, the line intercepts, and for TTP ``log_shape``,
        one value when shared); with partial pooling ``tau`` and ``corr`` (a line-by-line matrix);
        with a patient effect the family's patient SD. Lists, JSON-ready.
    """
    simulator = simulator_of(family)
    if isinstance(simulator, DrawsWholeStudies):  # the joint model: every parameter its own
        return simulator.draw_parameters(priors, n_lines, rng)
    hyper: Hyper = simulator.draw_line_parameters(priors, options.shared_shape, n_lines, rng)
    if options.pooling == "partial":
        hyper["tau"] = np.abs(rng.normal(0.0, priors["tau_sd"], n_lines)).tolist()
        hyper["corr"] = _lkj(n_lines, priors["lkj_eta"], rng).tolist()
    if options.patient_effect:
        hyper[simulator.patient_sd] = float(abs(rng.normal(0.0, priors[simulator.patient_prior])))
    return hyper


def truth_problems(
    truth: Mapping[str, Any], family: str, options: ModelOptions, lines: tuple[str, ...],
    simulator: FamilySimulator | None = None,
) -> list[str]:
    """Every problem with the true hyperparameters ``truth[family]`` (empty when usable).

    The names and shapes are those :func:`draw_hyperparameters` returns for the same options:
    the family's line parameters, ``tau`` one value per line, a line-by-line correlation matrix
    ``corr``, one SD for a patient effect. Unknown names are problems too (a misspelt name
    would otherwise be ignored), and so are values that are not finite or lie outside the
    plausible range (the family's bounds, and
    :data:`~rechallenge.analysis.settings.simulation_limits.TRUTH_BOUNDS`).
    """
    hyper = truth.get(family)
    if not isinstance(hyper, Mapping):
        return [f"{family}: no true values (expected an object with the family's names)"]
    simulator = simulator or simulator_of(family)
    n = len(lines)
    per_line = f"{n} numbers, one per line ({', '.join(lines)})"
    expected = simulator.expected_line_parameters(options.shared_shape, n, per_line)
    if options.pooling == "partial":
        expected.update(tau=((n,), f"{per_line}, at least 0"),
                        corr=((n, n), f"a {n} x {n} correlation matrix"))
    if options.patient_effect:
        expected[simulator.patient_sd] = ((), "1 number >= 0")
    bounds = {**TRUTH_BOUNDS, **simulator.bounds}
    open_bounds = OPEN_BOUNDS | simulator.open_bounds
    problems = [f"{family}: unknown name {name!r}; expected {', '.join(expected)}"
                for name in hyper if name not in expected]
    for name, (shape, what) in expected.items():
        if name not in hyper:
            problems.append(f"{family}: {name!r} is missing (expected {what})")
            continue
        try:
            value = np.asarray(hyper[name], dtype=float)
        except (TypeError, ValueError):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} is not numeric ({what})")
            continue
        if value.shape != shape and not (shape == () and value.shape == (1,)):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} has the wrong shape "
                            f"(expected {what})")
        elif not np.all(np.isfinite(value)):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} is not finite")
        elif (name == "tau" or name == simulator.patient_sd) and np.any(value < 0):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} is negative (an SD)")
        elif name == "corr" and not _is_correlation(value):
            problems.append(f"{family}: 'corr' = {hyper[name]!r} is not a correlation matrix "
                            "(symmetric, unit diagonal, positive definite)")
        elif name in bounds and not _plausible(bounds[name], value, name in open_bounds):
            problems.append(f"{family}: {name!r} = {hyper[name]!r} is implausible; expected "
                            f"{bounds[name][2]}")
    return problems


def _plausible(bounds: tuple[float, float, str], value: np.ndarray, open_bounds: bool) -> bool:
    low, high, _ = bounds
    if open_bounds:
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
    family: ModelRef, hyper: Mapping[str, Any], design: SimulationDesign, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Site and patient effects given ``hyper``, then one outcome per design row.

    Returns
    -------
    outcomes, effects
        One outcome per design row (0/1 events; times in months before censoring); and
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
    simulator = simulator_of(family)
    sd = hyper.get(simulator.patient_sd, 0.0)
    u_patient = rng.standard_normal(len(design.patients)) * float(sd)
    effects = {"u_site": u_site, "u_patient": u_patient}
    predictor = (np.asarray(hyper[simulator.location])[line] + u_site[site, line]
                 + u_patient[patient])
    return simulator.outcomes(predictor, line, hyper, n_lines, rng), effects


def simulated_study(family: ModelRef, design: SimulationDesign, outcomes: np.ndarray) -> Any:
    """The :class:`~rechallenge.data.Study` of simulated outcomes (censored for TTP)."""
    return simulator_of(family).study(design, outcomes)


def draw_study(
    family: ModelRef, hyper: Mapping[str, Any], design: SimulationDesign, rng: np.random.Generator
) -> Study:
    """A simulated study given ``hyper``: :func:`draw_outcomes` then :func:`simulated_study`,
    or the simulator's own draw of a whole study (the joint model's).
    """
    simulator = simulator_of(family)
    if isinstance(simulator, DrawsWholeStudies):
        return simulator.draw_study(hyper, design, rng)
    outcomes, _ = draw_outcomes(family, hyper, design, rng)
    return simulated_study(family, design, outcomes)


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

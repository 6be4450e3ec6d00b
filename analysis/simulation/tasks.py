"""One simulation as a task: simulate a study, build its model, fit, and summarise against truth.

A task is a small picklable record (:class:`SimulationTask`) and a function (:func:`run_task`)
that a Dask worker runs. Its randomness comes only from its own ``entropy`` (master seed, study
kind, family, cell and simulation index through :class:`numpy.random.SeedSequence`), so a
simulation gives the same numbers whichever worker runs it and in whatever order tasks finish.
Models of one design share one structure, so :func:`rechallenge.models.sampling.fit` compiles it
once per worker and refits every later simulation with new data.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pymc as pm

from rechallenge.analysis.settings.families import FamilySimulator
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.simulation.design import SimulationDesign
from rechallenge.analysis.simulation.generators import (
    Hyper,
    ModelOptions,
    ModelRef,
    draw_hyperparameters,
    draw_study,
    simulator_of,
)
from rechallenge.analysis.simulation.quantities import posterior_arrays, quantities, truth_arrays
from rechallenge.analysis.summaries.diagnostics import DEFAULT_THRESHOLDS, sampler_diagnostics
from rechallenge.data import Study
from rechallenge.models.fit_settings import SamplerSettings
from rechallenge.models.sampling import fit


def task_entropy(seed: int, kind: str, family: str, index: int, cell: str = "") -> tuple[int, ...]:
    """Entropy of one simulation's :class:`~numpy.random.SeedSequence`.

    The text parts enter through CRC-32, a fixed function (Python's ``hash`` of a string changes
    between processes).
    """
    return (int(seed), zlib.crc32(kind.encode()), zlib.crc32(family.encode()),
            zlib.crc32(cell.encode()), int(index))


@dataclass(frozen=True)
class SimulationTask:
    """Everything one simulation needs (sent to a worker).

    Parameters
    ----------
    name
        Record name (see :func:`~rechallenge.analysis.simulation.records.record_name`).
    kind, family, index
        Study kind (``sbc``, ``coverage``, ``precision``), model family and simulation index.
    entropy
        From :func:`task_entropy`.
    design
        The simulated study's design.
    endpoint
        Endpoint whose model is built (a binary endpoint for the binary family, or ``ttp``).
    options
        Model options, the same for simulating and fitting.
    sim_priors, fit_priors
        Prior values the data are simulated from and the model is fitted with (the same unless
        a mismatch is injected on purpose).
    sampler
        Sampler settings (the seed is replaced by the task's own).
    interval
        Credible interval recorded for coverage and width.
    thin
        Posterior draws kept for the SBC rank (ranks lie in 0..thin).
    truth
        Fixed true hyperparameters; ``None`` draws them from ``sim_priors`` (SBC).
    cell
        The design cell: ``{"k_sites": K, "n_patients": n}`` (precision), ``{"tau": t}``
        (coverage profile) or empty.
    run_id
        The invocation that submitted the task.
    simulator
        The model made for this study (``EndpointFamily.simulator_for``: for time to
        progression, the config's survival distribution with its settings fixed); ``None``: the
        family's registered simulator.
    """

    name: str
    kind: str
    family: str
    index: int
    entropy: tuple[int, ...]
    design: SimulationDesign
    endpoint: str
    options: ModelOptions
    sim_priors: Mapping[str, float]
    fit_priors: Mapping[str, float]
    sampler: SamplerSettings
    interval: Interval
    thin: int = 99
    truth: Hyper | None = None
    cell: Mapping[str, float] = field(default_factory=dict)
    run_id: str = ""
    simulator: FamilySimulator | None = None

    @property
    def model(self) -> ModelRef:
        """The simulated and refitted model: :attr:`simulator`, else the family's registered
        one (by its key).
        """
        return self.family if self.simulator is None else self.simulator


def build_family_model(
    study: Study, family: ModelRef, endpoint: str, options: ModelOptions, priors: Mapping[str, float]
) -> pm.Model:
    """The model of ``family`` for ``study`` with the given options and prior values."""
    return simulator_of(family).build_model(study, endpoint, options.pooling,
                                            options.patient_effect, options.shared_shape, priors)


def fit_settings(sampler: SamplerSettings, seed: int) -> dict[str, Any]:
    """Keyword arguments of :func:`~rechallenge.models.sampling.fit` for a task's fit."""
    return {"draws": sampler.draws, "tune": sampler.tune, "chains": sampler.chains, "seed": seed,
            "backend": sampler.backend, "target_accept": sampler.target_accept, "groups": ()}


def run_task(task: SimulationTask) -> dict[str, Any]:
    """Simulate, fit and summarise one simulation; return its record (JSON-ready).

    A fit that raises is recorded with its error rather than raised, so one failed simulation
    does not stop a study; it is counted, not retried (it would fail again with its seed).
    """
    start = time.perf_counter()
    data_seq, fit_seq = np.random.SeedSequence(task.entropy).spawn(2)
    rng = np.random.default_rng(data_seq)
    lines = task.design.lines
    hyper = task.truth if task.truth is not None else draw_hyperparameters(
        task.model, task.sim_priors, task.options, len(lines), rng)
    record: dict[str, Any] = {
        "name": task.name, "kind": task.kind, "family": task.family, "index": task.index,
        "cell": dict(task.cell), "run_id": task.run_id, "worker": _worker(), "truth": hyper,
        "error": None,
    }
    try:
        study = draw_study(task.model, hyper, task.design, rng)
        model = build_family_model(study, task.model, task.endpoint, task.options,
                                   task.fit_priors)
        timings: dict[str, float] = {}
        seed = int(fit_seq.generate_state(1)[0])
        idata = fit(model, timings=timings, **fit_settings(task.sampler, seed))
    except Exception as exc:  # noqa: BLE001 - recorded and counted; the study goes on
        record.update(error=f"{type(exc).__name__}: {exc}",
                      seconds=time.perf_counter() - start)
        return record
    posterior = quantities(task.model, posterior_arrays(idata, task.model), lines)
    true = quantities(task.model, truth_arrays(hyper), lines)
    record["quantities"] = {
        name: summarise_quantity(draws, float(true[name][0]), task.interval, task.thin)
        for name, draws in posterior.items()
    }
    record["convergence"] = convergence(idata, record["quantities"])
    record["timings"] = timings
    record["seconds"] = time.perf_counter() - start
    return record


def summarise_quantity(
    draws: np.ndarray, truth: float, interval: Interval, thin: int
) -> dict[str, float | int | bool]:
    """Rank of the truth among thinned draws, interval, coverage, median and diagnostics.

    Parameters
    ----------
    draws
        Posterior draws, shape (chain, draw).
    truth
        The true value.
    interval
        The credible interval.
    thin
        Number of draws kept, equally spaced over the chains' draws, for the rank (thinning
        reduces autocorrelation so the ranks of a calibrated model are uniform on 0..thin).
    """
    flat = np.asarray(draws, dtype=float).reshape(-1)
    if flat.size < thin:
        raise ValueError(f"{flat.size} draws cannot be thinned to {thin}")
    kept = flat[np.arange(thin) * (flat.size // thin)]
    lower, upper = interval.bounds(flat)
    return {
        "truth": truth,
        "rank": int(np.sum(kept < truth)),
        "median": float(np.median(flat)),
        "lower": lower,
        "upper": upper,
        "covered": bool(lower <= truth <= upper),
        "r_hat": float(az.rhat(np.asarray(draws, dtype=float))),
        "ess_bulk": float(az.ess(np.asarray(draws, dtype=float), method="bulk")),
        "ess_tail": float(az.ess(np.asarray(draws, dtype=float), method="tail")),
    }


def convergence(idata: az.InferenceData, summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The convergence gate of one simulation's fit (the package's thresholds).

    Checked over the recorded quantities: R-hat, bulk and tail ESS; and for the fit: divergent
    transitions and E-BFMI. ``reasons`` lists each criterion that failed.
    """
    t = DEFAULT_THRESHOLDS
    stats = sampler_diagnostics(idata, model="simulation")
    r_hat = max(float(q["r_hat"]) for q in summaries.values())
    ess_bulk = min(float(q["ess_bulk"]) for q in summaries.values())
    ess_tail = min(float(q["ess_tail"]) for q in summaries.values())
    reasons = [reason for reason, failed in (
        ("r_hat", not r_hat <= t.r_hat_max),
        ("ess_bulk", not ess_bulk >= t.ess_bulk_min),
        ("ess_tail", not ess_tail >= t.ess_tail_min),
        ("divergences", int(stats["divergences"]) > t.divergences_max),
        ("bfmi", np.isfinite(stats["bfmi_min"]) and float(stats["bfmi_min"]) < t.bfmi_min),
    ) if failed]
    return {"passed": not reasons, "reasons": reasons, "r_hat_max": r_hat,
            "ess_bulk_min": ess_bulk, "ess_tail_min": ess_tail,
            "divergences": int(stats["divergences"]), "bfmi_min": float(stats["bfmi_min"])}


def run_pilot(
    study: Study, family: ModelRef, endpoint: str, options: ModelOptions,
    priors: Mapping[str, float], sampler: SamplerSettings,
) -> Hyper:
    """Fit the study's own data and return the posterior medians of the hyperparameters.

    The default true values of coverage and precision studies: a design that looks like the
    data the study has.
    """
    model = build_family_model(study, family, endpoint, options, priors)
    idata = fit(model, **fit_settings(sampler, sampler.seed))
    arrays = posterior_arrays(idata, family)
    hyper: Hyper = {}
    for name, values in arrays.items():
        median = np.median(values.reshape((-1,) + values.shape[2:]), axis=0)
        hyper[name] = median.tolist() if median.ndim else float(median)
    if "corr" in hyper:
        # An elementwise median of correlation matrices is a correlation matrix for two lines;
        # keep the unit diagonal exact.
        corr = np.asarray(hyper["corr"], dtype=float)
        np.fill_diagonal(corr, 1.0)
        hyper["corr"] = corr.tolist()
    return hyper


def _worker() -> str:
    """Address of the Dask worker running the task (``"local"`` outside a worker)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:
        return "local"

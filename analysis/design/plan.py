"""The design jobs, as the command line runs them: read the prior, compute, write.

Each function checks its settings and sizes (:mod:`.limits`) first, then reads the MAP prior of
one endpoint and line from a run directory (checked against the hash the run's manifest records,
when ``recorded_sha256`` is given), computes the design, refuses a rule that cannot decide
(:mod:`.rules`) and, when ``out`` is given, writes its files there (see :mod:`.outputs`). They
return a :class:`DesignResult` with the JSON record and the tables, so a script gets the same
numbers as the files. Every record names the inputs it used: the run directory, and
``map_prior.json`` with the SHA-256 of the bytes that were parsed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rechallenge.analysis.design.beta_mixture import vague_prior
from rechallenge.analysis.design.conflict import conflict_one_sample, conflict_two_sample
from rechallenge.analysis.design.limits import MAX_PATIENTS, check_count, check_true_rates
from rechallenge.analysis.design.one_sample import (
    OneSampleDesign,
    check_probability,
    rate_grid,
    rule_number,
)
from rechallenge.analysis.design.outputs import (
    one_sample_markdown,
    staged_outputs,
    two_sample_markdown,
    write_csv,
    write_figure,
    write_json,
    write_text,
)
from rechallenge.analysis.design.plots import plot_oc_one_sample, plot_two_sample
from rechallenge.analysis.design.reader import MapPrior, PriorChoice, read_map_prior, select_prior
from rechallenge.analysis.design.rules import check_one_sample_rule, check_two_sample_rule
from rechallenge.analysis.design.sample_size import find_n
from rechallenge.analysis.design.two_sample import QUAD_EPS, TwoSampleDesign
from rechallenge.analysis.map_prior.mixtures import BetaMixture

ONE_SAMPLE_OC_METHOD = "exact (binomial sum over 0..n responders, conjugate Beta-mixture update)"
#: Rates of the two-sample OC table: 0.00, 0.05, ..., 1.00 in each arm.
TWO_SAMPLE_STEP = 0.05


@dataclass(frozen=True)
class DesignResult:
    """A computed design: ``record`` is design.json's content, ``tables`` the CSV tables by
    file name, ``out`` where they were written (``None`` if not).
    """

    record: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    out: Path | None = None


def prior_record(choice: PriorChoice, prior: BetaMixture, map_prior: MapPrior) -> dict[str, Any]:
    """The prior as recorded in design.json: mixture, mean and effective sample sizes."""
    record: dict[str, Any] = {"choice": choice, "mixture": prior.to_dict(), "mean": prior.mean(),
              "ess": {"elir": float(prior.ess("elir")), "moment": float(prior.ess("moment"))}}
    if choice == "robust":
        record["robust_weight"] = map_prior.robust_weight
        record["robust_component"] = "last (vague Beta component)"
    return record


def _common(map_prior: MapPrior, design: str, rule: str, run_dir: str | Path) -> dict[str, Any]:
    return {"design": design, "endpoint": map_prior.endpoint, "line": map_prior.line,
            "source_run_hash": map_prior.source_run_hash, "inputs": map_prior.inputs(run_dir),
            "decision_rule": rule}


def _one_sample_record(map_prior: MapPrior, choice: PriorChoice, prior: BetaMixture,
                       design: OneSampleDesign, run_dir: str | Path) -> dict[str, Any]:
    rule = (f"success when P(rate > {rule_number(design.threshold)} | data) > "
            f"{rule_number(design.confidence)} with {design.n} patients")
    return {**_common(map_prior, "one-sample", rule, run_dir), "n": design.n,
            "threshold": design.threshold, "confidence": design.confidence,
            "boundary": design.boundary(),
            "boundary_meaning": "smallest number of responders that gives success "
                                "(n + 1 if none does)",
            "prior": prior_record(choice, prior, map_prior), "oc_method": ONE_SAMPLE_OC_METHOD,
            "prob_success_at_threshold": float(design.oc(design.threshold)[0])}


def _write_one_sample(out: Path, record: dict[str, Any], tables: dict[str, pd.DataFrame],
                      design: OneSampleDesign, choice: str, points: Iterable[float]) -> None:
    with staged_outputs(out) as stage:
        files = [write_csv(frame, stage, name) for name, frame in tables.items()]
        oc = tables["oc_one_sample.csv"]
        files += write_figure(plot_oc_one_sample(
            oc, n=design.n, boundary=record["boundary"], threshold=design.threshold,
            confidence=design.confidence, prior=choice), stage, "oc_one_sample")
        record["files"] = [*files, "design.json", "design.md"]
        write_json(record, stage, "design.json")
        write_text(one_sample_markdown(record, oc, sorted(set(points))), stage, "design.md")


def _one_sample_tables(map_prior: MapPrior, design: OneSampleDesign,
                       true_rates: Iterable[float]) -> dict[str, pd.DataFrame]:
    grid = rate_grid(true_rates)
    oc = pd.DataFrame({"true_rate": grid, "prob_success": design.oc(grid)})
    conflict = conflict_one_sample(map_prior.robust, map_prior.mixture, n=design.n,
                                   threshold=design.threshold, confidence=design.confidence,
                                   true_rates=grid)
    return {"oc_one_sample.csv": oc, "conflict_one_sample.csv": conflict}


def design_one_sample(run_dir: str | Path, *, endpoint: str, line: str, n: int,
                      threshold: float, confidence: float, prior: PriorChoice = "robust",
                      true_rates: Iterable[float] = (), out: str | Path | None = None,
                      recorded_sha256: str | None = None) -> DesignResult:
    """One-sample design: boundary, exact OC on 0.00..1.00 (plus ``true_rates``), conflict.

    Parameters
    ----------
    run_dir
        Run directory holding ``map_prior.json``.
    endpoint, line
        Which MAP prior (a binary endpoint).
    n, threshold, confidence
        Success when ``P(rate > threshold | data) > confidence`` with ``n`` patients.
    prior
        ``"robust"`` (the run's robust MAP prior), ``"map"`` or ``"vague"`` (Beta(1, 1)).
    true_rates
        Extra true rates for the OC table.
    out
        Directory for ``oc_one_sample.csv``, ``conflict_one_sample.csv``, ``design.json``,
        ``oc_one_sample.png``/``.pdf`` and ``design.md``; ``None`` writes nothing.
    recorded_sha256
        The hash the run's manifest records for ``map_prior.json``
        (:func:`rechallenge.analysis.run.manifest.recorded_hash`); ``None`` checks nothing.

    Raises
    ------
    ValueError
        Bad settings or sizes (:mod:`.limits`), before the run is read.
    DesignInputError
        An unusable prior file, or a rule that no outcome meets or every outcome meets
        (:mod:`.rules`), before anything is written.
    """
    true_rates = list(true_rates)
    OneSampleDesign(vague_prior(), n, threshold, confidence)  # checks the settings
    check_true_rates(true_rates)
    map_prior = read_map_prior(run_dir, endpoint, line, recorded_sha256=recorded_sha256)
    chosen = select_prior(map_prior, prior)
    design = OneSampleDesign(chosen, n, threshold, confidence)
    check_one_sample_rule(design, prior)
    record = _one_sample_record(map_prior, prior, chosen, design, run_dir)
    tables = _one_sample_tables(map_prior, design, true_rates)
    if out is not None:
        _write_one_sample(Path(out), record, tables, design, prior,
                          [0.1, 0.2, 0.3, 0.4, 0.5, threshold, *true_rates])
    return DesignResult(record, tables, None if out is None else Path(out))


def design_sample_size(run_dir: str | Path, *, endpoint: str, line: str, null_rate: float,
                       alt_rate: float, alpha: float, power: float, confidence: float,
                       threshold: float | None = None, prior: PriorChoice = "robust",
                       max_n: int = 200, true_rates: Iterable[float] = (),
                       out: str | Path | None = None,
                       recorded_sha256: str | None = None) -> DesignResult:
    """Smallest ``n`` meeting ``alpha`` at ``null_rate`` and ``power`` at ``alt_rate``.

    The decision threshold defaults to ``null_rate``. The search stops at the first ``n`` that
    meets both targets, or after ``max_n`` (at most
    :data:`~rechallenge.analysis.design.limits.MAX_PATIENTS`). It is repeated with the vague
    prior, so the saving from borrowing is ``n(vague) - n(prior)``. When an ``n`` is found, the
    one-sample outputs of that ``n`` are written as by :func:`design_one_sample`, plus
    ``sample_size.csv`` (every ``n`` tried, per prior); ``record["n"]`` is ``None`` otherwise
    (and only ``sample_size.csv`` and ``design.json`` are written). ``recorded_sha256`` as
    for :func:`design_one_sample`.
    """
    true_rates = list(true_rates)
    threshold = null_rate if threshold is None else threshold
    check_probability("threshold", threshold)
    check_probability("confidence", confidence)
    check_count("max_n", max_n, MAX_PATIENTS)
    check_true_rates(true_rates)
    map_prior = read_map_prior(run_dir, endpoint, line, recorded_sha256=recorded_sha256)
    chosen = select_prior(map_prior, prior)
    settings = {"threshold": threshold, "confidence": confidence, "null_rate": null_rate,
                "alt_rate": alt_rate, "alpha": alpha, "power": power, "max_n": max_n}
    priors = {prior: chosen} if prior == "vague" else {prior: chosen, "vague": vague_prior()}
    results = {name: find_n(p, **settings) for name, p in priors.items()}  # type: ignore[arg-type]
    table = pd.concat([r.table.assign(prior=name) for name, r in results.items()],
                      ignore_index=True)[["prior", *results[prior].table.columns]]
    smallest = {name: r.row() for name, r in results.items()}
    n_found, n_vague = results[prior].n, results["vague"].n
    sample_size = {**{k: settings[k] for k in ("null_rate", "alt_rate", "alpha", "power",
                                                "max_n")},
                   "search": "n = 1, 2, ... up to max_n; each prior's search stops at the first "
                             "n that meets both targets",
                   "smallest_n": smallest,
                   "saving": (n_vague - n_found) if n_found and n_vague else None}
    tables = {"sample_size.csv": table}
    if n_found is None:
        rule = f"success when P(rate > {rule_number(threshold)} | data) > {rule_number(confidence)}"
        record = {**_common(map_prior, "one-sample sample size", rule, run_dir), "n": None,
                  "prior": prior_record(prior, chosen, map_prior), "sample_size": sample_size}
        if out is not None:
            with staged_outputs(out) as stage:
                record["files"] = [write_csv(table, stage, "sample_size.csv"), "design.json"]
                write_json(record, stage, "design.json")
        return DesignResult(record, tables, None if out is None else Path(out))
    design = OneSampleDesign(chosen, n_found, threshold, confidence)
    record = {**_one_sample_record(map_prior, prior, chosen, design, run_dir),
              "sample_size": sample_size}
    tables = {**_one_sample_tables(map_prior, design, [null_rate, alt_rate, *true_rates]),
              **tables}
    if out is not None:
        _write_one_sample(Path(out), record, tables, design, prior,
                          [null_rate, alt_rate, threshold, *true_rates])
    return DesignResult(record, tables, None if out is None else Path(out))


def design_two_sample(run_dir: str | Path, *, endpoint: str, line: str, n_control: int,
                      n_treatment: int, confidence: float, margin: float = 0.0,
                      prior: PriorChoice = "robust",
                      prior_treatment: BetaMixture | None = None,
                      out: str | Path | None = None,
                      recorded_sha256: str | None = None) -> DesignResult:
    """Two-sample design with the MAP prior (``prior`` choice) on the control arm.

    Writes ``oc_two_sample.csv`` (``control_rate, treatment_rate, prob_success`` on 0.00,
    0.05, ..., 1.00 in each arm), ``conflict_two_sample.csv``, ``design.json``,
    ``oc_two_sample.png``/``.pdf`` and ``design.md``. The treatment arm's prior defaults to
    Beta(1, 1). Each arm has at most
    :data:`~rechallenge.analysis.design.limits.MAX_ARM_PATIENTS` patients; ``recorded_sha256``
    and the errors as for :func:`design_one_sample`.
    """
    treat = vague_prior() if prior_treatment is None else prior_treatment
    TwoSampleDesign(treat, treat, n_control, n_treatment, margin, confidence)  # check settings
    map_prior = read_map_prior(run_dir, endpoint, line, recorded_sha256=recorded_sha256)
    # The three control priors' designs, each boundary (one integral per step) computed once.
    designs = {name: TwoSampleDesign(select_prior(map_prior, name), treat, n_control,
                                     n_treatment, margin, confidence)
               for name in ("robust", "map", "vague")}
    design = designs[prior]
    chosen = design.prior_control
    check_two_sample_rule(design, prior)
    grid = np.round(np.arange(0, 21) * TWO_SAMPLE_STEP, 2)
    pc, pt = (g.ravel() for g in np.meshgrid(grid, grid, indexing="ij"))
    oc = pd.DataFrame({"control_rate": pc, "treatment_rate": pt,
                       "prob_success": design.oc(pc, pt)})
    conflict = conflict_two_sample(map_prior.robust, map_prior.mixture, treat,
                                   n_control=n_control, n_treatment=n_treatment, margin=margin,
                                   confidence=confidence, control_rates=rate_grid(),
                                   designs=designs)
    mean = map_prior.mixture.mean()
    diff = np.round(np.arange(0, 101) * 0.01, 2)
    diff = diff[mean + diff <= 1]
    power = pd.DataFrame({"difference": diff})
    for name, d in designs.items():
        power[f"prob_success_{name}"] = d.oc(mean, mean + diff)
    rule = (f"success when P(rate_t - rate_c > {rule_number(margin)} | data) > "
            f"{rule_number(confidence)}")
    record = {**_common(map_prior, "two-sample", rule, run_dir), "n_control": n_control,
              "n_treatment": n_treatment, "margin": margin, "confidence": confidence,
              "boundary": design.boundary.tolist(),
              "boundary_meaning": "for y_c = 0..n_control control responders, the smallest "
                                  "number of treatment responders that gives success "
                                  "(n_treatment + 1 if none does)",
              "prior": prior_record(prior, chosen, map_prior),
              "prior_treatment": treat.to_dict(),
              "oc_method": ("posterior probability by adaptive quadrature (QUADPACK, "
                            f"tolerance {QUAD_EPS:g}); OC exact binomial sums over both arms"),
              "power_at_map_mean": {"control_rate": mean}}
    tables = {"oc_two_sample.csv": oc, "conflict_two_sample.csv": conflict,
              "power_two_sample.csv": power}
    if out is not None:
        with staged_outputs(out) as stage:
            files = [write_csv(frame, stage, name) for name, frame in tables.items()]
            files += write_figure(plot_two_sample(
                conflict, power, n_control=n_control, n_treatment=n_treatment, margin=margin,
                confidence=confidence), stage, "oc_two_sample")
            record["files"] = [*files, "design.json", "design.md"]
            write_json(record, stage, "design.json")
            write_text(two_sample_markdown(record, conflict), stage, "design.md")
    return DesignResult(record, tables, None if out is None else Path(out))

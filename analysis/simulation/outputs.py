"""Tables, figures, report and manifest of a simulation study, from its records alone.

Counting rules, stated in the report and the manifest:

* a simulation whose fit fails the convergence gate (the package's thresholds: R-hat <= 1.01,
  bulk and tail ESS >= 400 over the recorded quantities, no divergences, E-BFMI >= 0.3) is kept
  in every statistic and counted in ``convergence``: dropping it would make the calibration check
  conditional on the simulated data (Talts et al. 2018);
* a simulation whose fit raised an error has no posterior; it is left out of the statistics and
  counted as an error.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rechallenge.analysis.families import simulators
from rechallenge.analysis.plots.style import save_figure
from rechallenge.analysis.reporting.document import FigureRef, ReportContent, Section, write_report
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.settings.json_files import read_json
from rechallenge.analysis.simulation.calibration import coverage_table, precision_table, sbc_table
from rechallenge.analysis.simulation.figures import (
    coverage_figure,
    coverage_profile_figure,
    precision_figure,
    sbc_ecdf_figure,
)
from rechallenge.analysis.simulation.quantities import headline, split_key
from rechallenge.analysis.simulation.records import write_json_atomic
from rechallenge.models.fit_settings import package_versions

MANIFEST = "manifest.json"
ALPHA = 0.05


@dataclass(frozen=True)
class StudyOutputs:
    """What the outputs need besides the records."""

    kind: str
    spec: Mapping[str, Any]
    config: RunConfig
    designs: Mapping[str, Mapping[str, Any]]
    endpoints: Mapping[str, str]
    n_sims: int
    truths: Mapping[str, Any] | None
    run: Mapping[str, Any]
    out: Path | None = None


def quantity_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per simulation and quantity (records without a posterior are left out)."""
    rows = []
    for r in records:
        if r.get("error"):
            continue
        cell = r.get("cell") or {}
        for name, q in r["quantities"].items():
            rows.append({"family": r["family"], "name": r["name"], "index": r["index"],
                         "k_sites": cell.get("k_sites"), "n_patients": cell.get("n_patients"),
                         "tau": cell.get("tau"),
                         "quantity": name, "passed": r["convergence"]["passed"], **q})
    return pd.DataFrame(rows)


def convergence_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Per family: simulations, errors, gate failures in total and by criterion, fit seconds."""
    rows = []
    for r in records:
        reasons = [] if r.get("error") else r["convergence"]["reasons"]
        rows.append({"family": r["family"], "error": bool(r.get("error")),
                     "failed_gate": bool(reasons), "seconds": r.get("seconds"),
                     **{f"failed_{c}": c in reasons
                        for c in ("r_hat", "ess_bulk", "ess_tail", "divergences", "bfmi")}})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    table = frame.groupby("family", sort=False).agg(
        simulations=("error", "size"), errors=("error", "sum"), failed_gate=("failed_gate", "sum"),
        **{c: (c, "sum") for c in frame.columns if c.startswith("failed_") and c != "failed_gate"},
        mean_seconds=("seconds", "mean")).reset_index()
    return table


def write_outputs(
    out: Path, outputs: StudyOutputs, records: list[dict[str, Any]]
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Write tables, figures, ``report.md``/``report.html`` and ``manifest.json`` into ``out``."""
    interval = outputs.config.interval
    values = quantity_frame(records)
    convergence = convergence_frame(records)
    tables: dict[str, Table] = {"convergence": Table(
        "convergence", "Simulations per model family: fits that raised an error, and fits that "
        "failed the convergence gate (in total and by criterion; a fit can fail several). Failed "
        "fits are kept in every statistic.", convergence, digits=2)}
    figures: list[FigureRef] = []
    fig_dir = out / "figures"
    thin = int(outputs.spec["thin"])
    if outputs.kind == "sbc" and len(values):
        ranks = values[["family", "quantity", "rank"]]
        tests = sbc_table(ranks, thin, ALPHA)
        tables["sbc_uniformity"] = Table(
            "sbc_uniformity", f"SBC rank uniformity per quantity ({thin} thinned draws, ranks "
            f"0-{thin}): simultaneous ECDF test (p-value; in_band: the ECDF stays inside its "
            f"{1 - ALPHA:.0%} simultaneous band) and chi-square test on binned ranks.", tests)
        for family in tests["family"].unique():
            save_figure(sbc_ecdf_figure(ranks, tests, family=family, max_rank=thin, alpha=ALPHA),
                        fig_dir, f"sbc_ecdf_{family}")
            figures.append(FigureRef(f"sbc_ecdf_{family}", (
                f"SBC of the {family} model: ECDF of the ranks minus the uniform CDF per quantity, "
                f"with the {1 - ALPHA:.0%} simultaneous band (Säilynoja et al. 2022).")))
    if outputs.kind == "coverage" and len(values):
        table = coverage_table(values, interval.level)
        profile = "tau" in table
        tables["coverage"] = Table(
            "coverage", f"Coverage of the {interval.label} at fixed true values"
            f"{' (one block per true between-site SD tau)' if profile else ''}, with exact "
            f"{interval.percent} Clopper-Pearson bounds; bias and RMSE of the posterior median; "
            "nominal_inside: the nominal level lies within the bounds (verdict: consistent, "
            "conservative above them, too narrow below; not finite when the truth, bias, RMSE "
            "or width is infinite or undefined).", table)
        if profile:
            figures.extend(_profile_figures(table, interval, fig_dir))
        else:
            save_figure(coverage_figure(table, interval=interval), fig_dir, "coverage")
            figures.append(FigureRef("coverage", f"Coverage of the {interval.label} per quantity "
                                     f"with exact {interval.percent} bounds; the line marks the "
                                     "nominal level."))
    if outputs.kind == "precision" and len(values):
        table = precision_table(_headline(values), interval.level)
        tables["precision"] = Table(
            "precision", f"Expected width of the {interval.label} of the pooled quantity per "
            "line and of the contrast, and the probability that the contrast interval excludes "
            f"no effect (exact {interval.percent} bounds), by new sites K and patients per new "
            "site n, at the assumed effect.", table)
        for family in table["family"].unique():
            pooled, contrast, _ = headline(family)
            save_figure(precision_figure(table, family=family, pooled=pooled, contrast=contrast),
                        fig_dir, f"precision_{family}")
            figures.append(FigureRef(f"precision_{family}", (
                f"Precision of the {family} model as sites join: expected {interval.label} "
                "width (left) and P(contrast interval excludes no effect) (right).")))
    for table in tables.values():
        table.write(out / "tables")
    manifest = _manifest(outputs, records, convergence, tables)
    write_report(_report(outputs, tables, figures, manifest), out)
    write_json_atomic(out / MANIFEST, manifest)
    return {name: t.frame for name, t in tables.items()}, manifest


def _profile_figures(table: pd.DataFrame, interval: Interval, fig_dir: Path) -> list[FigureRef]:
    """One coverage-against-tau figure per family (headline quantities)."""
    refs = []
    for family in table["family"].unique():
        pooled, contrast, _ = headline(family)
        name = f"coverage_profile_{family}"
        save_figure(coverage_profile_figure(table, family=family, pooled=pooled,
                                            contrast=contrast, interval=interval), fig_dir, name)
        refs.append(FigureRef(name, (
            f"Coverage of the {interval.label} of the {family} model's pooled quantity per line "
            f"and contrast against the true between-site SD, with exact {interval.percent} "
            "bounds; the dashed line marks the nominal level.")))
    return refs


def _headline(values: pd.DataFrame) -> pd.DataFrame:
    """Pooled and contrast rows, with whether the contrast interval excludes no effect."""
    rows = []
    for family in simulators():
        pooled, contrast, null = headline(family)
        part = values[values["family"] == family].copy()
        names = part["quantity"].map(lambda q: split_key(q)[0])
        part = part[names.isin((pooled, contrast))].copy()
        is_contrast = part["quantity"].map(lambda q, c=contrast: split_key(q)[0] == c)
        excludes = (part["lower"] > null) | (part["upper"] < null)
        part["excludes_null"] = excludes.where(is_contrast).astype(float)
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


def _manifest(
    outputs: StudyOutputs, records: list[dict[str, Any]], convergence: pd.DataFrame,
    tables: Mapping[str, Table],
) -> dict[str, Any]:
    run = dict(outputs.run)
    ran, workers, seconds = run["ran_now"], max(run["workers"], 1), run["simulation_seconds"]
    if ran and seconds > 0:
        run["fits_per_minute"] = ran / seconds * 60
        run["fits_per_minute_per_worker"] = ran / seconds * 60 / workers
    return {
        "kind": outputs.kind, "spec": dict(outputs.spec), "config": outputs.config.to_dict(),
        "seed": outputs.spec["seed"], "n_sims_per_family_or_cell": outputs.n_sims,
        "designs": dict(outputs.designs), "endpoints": dict(outputs.endpoints),
        "truth": outputs.truths, "versions": package_versions(),
        "simulations": {"finished": len(records),
                        "errors": int(sum(bool(r.get("error")) for r in records)),
                        "first_error": next(({"name": r["name"], "error": r["error"]}
                                             for r in records if r.get("error")), None),
                        "failed_convergence_gate": int(convergence["failed_gate"].sum())
                        if len(convergence) else 0,
                        "by_family": convergence.to_dict(orient="records")},
        "counting": ("Fits failing the convergence gate (R-hat <= 1.01, bulk and tail ESS >= 400 "
                     "over the recorded quantities, no divergences, E-BFMI >= 0.3) are kept in "
                     "every statistic and counted here; fits that raised an error have no "
                     "posterior, are left out and counted as errors."),
        "this_invocation": run, "invocations": _previous_invocations(outputs.out) + [run],
        "tables": sorted(tables),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _previous_invocations(out: Path | None) -> list[dict[str, Any]]:
    """Invocations recorded by an earlier manifest of this study (a resumed study keeps them)."""
    path = None if out is None else out / MANIFEST
    if path is None or not path.is_file():
        return []
    previous = read_json(path)
    return list(previous.get("invocations", [previous.get("this_invocation", {})]))


def _report(
    outputs: StudyOutputs, tables: Mapping[str, Table], figures: list[FigureRef],
    manifest: Mapping[str, Any],
) -> ReportContent:
    sims = manifest["simulations"]
    run = manifest["this_invocation"]
    titles = {"sbc": "Simulation-based calibration", "coverage": "Interval coverage",
              "precision": "Precision as sites join"}
    cells = outputs.kind == "precision" or bool(outputs.spec.get("tau_grid"))
    header = (f"{titles[outputs.kind]}: {outputs.n_sims} simulations per family"
              f"{' and design cell' if cells else ''}, master seed "
              f"{outputs.spec['seed']}, families {', '.join(outputs.spec['families'])}",
              f"Interval: {outputs.config.interval.label}. Sampler: "
              f"{outputs.config.sampler.backend}, {outputs.config.sampler.chains} chains x "
              f"{outputs.config.sampler.draws} draws after {outputs.config.sampler.tune} tuning.")
    paragraphs = [
        f"{sims['finished']} simulations finished ({sims['errors']} raised an error, "
        f"{sims['failed_convergence_gate']} failed the convergence gate). "
        + manifest["counting"],
        f"This invocation ran {run['ran_now']} simulations on {run['workers']} workers in "
        f"{run['simulation_seconds']:.0f} s and skipped {run['skipped_finished']} finished ones"
        + (f" ({run['fits_per_minute_per_worker']:.1f} fits per minute per worker)."
           if "fits_per_minute_per_worker" in run else "."),
        "Simulated designs: " + "; ".join(
            f"{f}: {d['sites']} sites, {d['patients']} patients, {d['rows']} patient-line rows"
            for f, d in outputs.designs.items()) + ".",
    ]
    if outputs.truths is not None:
        paragraphs.append(f"True values: {outputs.truths.get('_source', 'given')} (truth.json).")
    if outputs.spec.get("tau_grid"):
        grid = ", ".join(f"{t:g}" for t in outputs.spec["tau_grid"])
        paragraphs.append(f"Coverage profile: the study was repeated with the between-site SD "
                          f"tau of every line set to each of {grid}, the other true values as "
                          "above; the coverage table has one block per tau.")
    sections = [Section("Study", tuple(paragraphs)),
                Section("Results", (), tuple(tables.values()), tuple(figures))]
    return ReportContent(f"rechallenge simulate {outputs.kind}", header, None, tuple(sections))

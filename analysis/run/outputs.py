"""The outputs stage of a run: diagnostics gate, tables, figures, prose and the report.

Shared by ``analyze`` (after fitting) and ``report`` (from saved fits), so both write the same
files from the same fits. The figures (a task per endpoint, the forest plots once the endpoint
results exist) and the MAP prior's mixture fits run as tasks on the engine while this (the
client) process computes the endpoint results and writes the tables; without a client all of it
runs here. The files are the same either way (``tests/test_pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import arviz as az
import pandas as pd
from distributed import Client

from rechallenge.analysis.map_prior.export import MAP_PRIOR_FILE
from rechallenge.analysis.map_prior.rbest import RBEST_DIR
from rechallenge.analysis.reporting import run_tables as rt
from rechallenge.analysis.reporting.document import FigureRef, ReportContent, Section, write_report
from rechallenge.analysis.reporting.docx_files import DOCUMENT_TIME
from rechallenge.analysis.reporting.docx_report import write_docx
from rechallenge.analysis.reporting.prose import methods_paragraph, results_sentences
from rechallenge.analysis.reporting.reader_set import ReaderTables, build_reader_tables, write_reader_tables
from rechallenge.analysis.reporting.reader_tables import words_table
from rechallenge.analysis.reporting.report_text import (
    glossary_section,
    unchecked_sentence,
    warnings_paragraph,
)
from rechallenge.analysis.reporting.run_figures import figure_jobs
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import counted, reader_text
from rechallenge.analysis.run.engine import submit
from rechallenge.analysis.run.family_tasks import run_families, with_families
from rechallenge.analysis.run.map_outputs import write_map_prior
from rechallenge.analysis.run.output_tasks import draw_figures, map_prior_or_note, write_figures
from rechallenge.analysis.run.update_files import before_after, load_update
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.fit_names import fit_key, fit_order
from rechallenge.analysis.summaries.captured import classify
from rechallenge.analysis.summaries.descriptive import response_by_prior_response
from rechallenge.analysis.summaries.diagnostics import (
    DEFAULT_THRESHOLDS,
    GateResult,
    derived_diagnostics,
    evaluate_gate,
    parameter_diagnostics,
    sampler_diagnostics,
)
from rechallenge.analysis.summaries.endpoint_results import EndpointResults, all_endpoint_results
from rechallenge.analysis.summaries.prior_reweighting import pareto_k_threshold
from rechallenge.data import Study, schema
from rechallenge.models.fit_settings import fit_attrs
from rechallenge.models.priors import study_size


def diagnostics_tables(
    fits: Mapping[str, az.InferenceData], results: Mapping[str, EndpointResults]
) -> tuple[pd.DataFrame, pd.DataFrame, GateResult]:
    """Diagnostics of every fit (parameters) and main fit (derived quantities), and the gate.

    The gate judges the main fits, whose numbers are reported; comparators and sensitivity refits
    are listed in the table but only inform.
    """
    frames, sampler_rows = [], []
    for key in sorted(fits, key=fit_order):
        idata = fits[key]
        frames.append(parameter_diagnostics(idata, model=key))
        sampler_rows.append(sampler_diagnostics(idata, model=key))
    for endpoint, result in results.items():
        frames.append(derived_diagnostics(result.summary, model=endpoint))
        frames.append(derived_diagnostics(result.sites, model=endpoint))
    diagnostics = pd.concat(frames, ignore_index=True)
    sampler = pd.DataFrame(sampler_rows)
    main = set(results)
    gate = evaluate_gate(
        diagnostics[diagnostics["model"].isin(main)],
        [row for row in sampler_rows if row["model"] in main],
        DEFAULT_THRESHOLDS,
    )
    return diagnostics, sampler, gate


def _update_section(update, results, config: RunConfig, figures) -> Section:
    source, before, conflicts = update
    after = pd.concat([r.summary for r in results.values()], ignore_index=True)
    moved = Table(
        "update_before_after",
        f"Headline quantities before and after adding the new sites (posterior medians with "
        f"{config.interval.label}s; posterior probabilities for P(later line > first line)); "
        f"the shift is the move in units of the earlier posterior SD.",
        before_after(before, after),
    )
    checked = Table(
        "update_conflict",
        f"Prior-data conflict check of each new site before the refit: its data against the "
        f"earlier run's predictive distribution for a new site ({config.interval.percent} "
        f"predictive intervals; two-sided predictive p-value, flagged below "
        f"{conflicts.attrs.get('alpha', 0.05) if hasattr(conflicts, 'attrs') else 0.05}). A "
        f"screening flag, not a test with error control.",
        conflicts,
    )
    flagged = (conflicts[conflicts["flagged"].astype(str).str.lower() == "true"]
               if len(conflicts) else conflicts)
    text = (
        f"New sites {', '.join(source['new_sites']) or '(none)'} were added to the earlier run "
        f"(run hash {source['source_run_hash'][:12]}) and every model was refitted on the "
        f"combined data. " + (
            f"{len(flagged)} site-endpoint-line combination(s) were flagged as surprising before "
            f"the refit: " + "; ".join(f"{r.site} {r.endpoint} {r.line} (p = {float(r.p_value):.3f})"
                                       for r in flagged.itertuples()) + "."
            if len(flagged) else "No new site was flagged as surprising by the conflict check.")
    ) + unchecked_sentence(conflicts) + "".join(
        f" The time-to-progression data of site {site} were reconstructed from a published "
        f"Kaplan-Meier curve and its numbers at risk ({label}): pseudo patient data that follow "
        f"the published curve, not the patients' own records."
        for site, label in source.get("reconstructed_sites", {}).items())
    return Section("Update with new sites", paragraphs=(text,), tables=(checked, moved),
                   figures=tuple(f for f in figures if f.name.startswith("forest")))


def _patient_counts(study: Study) -> tuple[int, bool]:
    """Patients with patient-level rows, and whether each of them has a row at every line."""
    if not len(study.patients):
        return 0, False
    lines = study.patients.groupby([schema.SITE, schema.PATIENT_ID], observed=True)[schema.LINE]
    per_patient = lines.nunique()
    return len(per_patient), bool((per_patient == len(study.lines)).all())


def _header(study: Study, config: RunConfig) -> tuple[str, ...]:
    data = (
        "Data: SYNTHETIC reconstruction of Scheiner et al., JHEP Reports 2023 (not patient data)"
        if study.synthetic else f"Data: {', '.join(study.sources) or 'user data'}"
    )
    n_patients, _ = _patient_counts(study)
    return (
        data,
        f"{counted(n_patients, 'patient')} with patient-level rows, "
        f"{counted(len(study.sites), 'site')}, lines "
        f"{', '.join(study.lines)}; data hash {study.data_hash()[:12]}",
        f"Intervals: {config.interval.label}s throughout (frequentist references: "
        f"{config.interval.percent} confidence intervals)",
        f"Sampler: {config.sampler.backend}, {config.sampler.chains} chains x "
        f"{config.sampler.draws} draws (+{config.sampler.tune} tuning), seed {config.sampler.seed}",
    )


@dataclass(frozen=True)
class ResultTables:
    """The gate and the tables of a run, as written to ``tables/``."""

    gate: GateResult
    descriptive: Table
    comparisons: list[Table]
    sites: list[Table]
    priors: Table
    overview: Table
    loo: Table | None
    loso: Table | None
    sensitivity: Table | None
    psens: Table | None
    cross: Table | None
    attrs: dict[str, dict[str, Any]]
    reader: ReaderTables
    #: Per fit, the library warnings its sampling raised, counted by kind.
    sampler_warnings: dict[str, dict[str, int]]


def build_outputs(
    staging: Path,
    study: Study,
    fits: Mapping[str, az.InferenceData],
    config: RunConfig,
    *,
    allow_unconverged: bool,
    client: Client | None = None,
    task_records: list[dict[str, Any]] | None = None,
    when: datetime = DOCUMENT_TIME,
) -> GateResult:
    """Write tables/, figures/, report.md and report.html into ``staging``; return the gate.

    Parameters
    ----------
    staging, study, fits, config
        Where to write, and the run's data, fits and config.
    allow_unconverged
        Whether the report is for fits that failed the gate at the user's request.
    client
        The engine: figures and the MAP prior run as its tasks while this process writes the
        tables. ``None``: everything in this process.
    task_records
        If given, the record of every task (where it ran, how long) is appended to it.
    when
        The run's document time, stamped on its Word files (the manifest's ``document_time``).
    """
    update = load_update(staging)
    new_sites = tuple(update[0]["new_sites"]) if update else ()
    jobs = figure_jobs(study, fits, config)
    # Only the main fits are drawn from; sent once to the cluster, not once per task.
    main = {fit_key(e): fits[fit_key(e)] for e in config.analysis.endpoints if fit_key(e) in fits}
    study_arg, main_arg = (study, main) if client is None else client.scatter(
        [study, main], hash=False)
    # Every figure but the forest plots needs only the fits: they start at once, one task per
    # endpoint, with the MAP prior; the forest plots follow once the results are there.
    endpoints = list(dict.fromkeys(job.endpoint for job in jobs))
    families = run_families(config)  # the workers' registry may lack a family of this process
    early = [submit(client, f"figures:{endpoint}", with_families, families, draw_figures,
                    [j for j in jobs if j.endpoint == endpoint and not j.needs_results],
                    study_arg, main_arg, None, config) for endpoint in endpoints]
    map_task = submit(client, "map_prior", with_families, families, map_prior_or_note,
                      study_arg, main_arg, config)
    results = all_endpoint_results(study, fits, config)
    late_jobs = [j for j in jobs if j.needs_results]
    late = [submit(client, "figures:forest", with_families, families, draw_figures, late_jobs,
                   study_arg, main_arg, results, config, highlight_sites=new_sites)
            ] if late_jobs else []
    tables = _write_tables(staging / "tables", study, fits, results, config, when)
    figures_dir = staging / "figures"
    drawn: dict[str, Any] = {}
    finished = [task.result() for task in (*early, *late, map_task)]
    for recorded in finished[:-1]:
        drawn.update({ref.name: ref for ref in write_figures(figures_dir, recorded.value)})
    map_json, map_note = finished[-1].value
    if task_records is not None:
        task_records += [recorded.record.to_dict() for recorded in finished]
    figures = [drawn[job.name] for job in jobs if job.name in drawn]
    _write_report(staging, study, results, config, tables, figures, update=update,
                  map_json=map_json, map_note=map_note, allow_unconverged=allow_unconverged,
                  when=when)
    return tables.gate


def _write_tables(
    tables_dir: Path,
    study: Study,
    fits: Mapping[str, az.InferenceData],
    results: Mapping[str, EndpointResults],
    config: RunConfig,
    when: datetime,
) -> ResultTables:
    """Diagnostics and every result table, written to ``tables_dir``; the gate and the tables."""
    interval = config.interval
    diagnostics, sampler, gate = diagnostics_tables(fits, results)

    Table("diagnostics", "Convergence diagnostics of every parameter and derived quantity.",
          diagnostics).write(tables_dir)
    overview = rt.diagnostics_overview(diagnostics, sampler)
    descriptive = rt.descriptive(study, interval)
    comparisons = [rt.comparison(r, study, interval) for r in results.values()]
    site_tables = [rt.sites(r, interval) for r in results.values()]
    attrs = {e: fit_attrs(fits[fit_key(e)]) for e in results}
    priors = rt.priors_table(attrs, {e: study_size(study, e) for e in attrs})
    loo = rt.concat_table(
        "loo", "PSIS-LOO comparison of partial, complete and no pooling per endpoint (elpd: higher "
        "is better; Pareto k > 0.7 marks unreliable rows).", [r.loo for r in results.values()])
    loso = rt.concat_table(
        "leave_one_site_out", "Leave-one-site-out PSIS per endpoint: expected log predictive "
        "density of each whole site and its Pareto k (k > 0.7: approximation unreliable).",
        [r.loso for r in results.values()])
    k_max = pareto_k_threshold(config.sampler.draws * config.sampler.chains)
    sensitivity = rt.concat_table(
        "sensitivity_priors", f"Headline quantities under the default heterogeneity prior and with "
        f"its scale halved and doubled (posterior medians and {interval.label}s); max_shift_sd is the "
        "largest move of a median in default posterior SDs. <variant>_method: the main posterior "
        "reweighted by Pareto-smoothed importance sampling, or refitted where the Pareto k of the "
        f"weights (<variant>_pareto_k) was above {k_max:.2f}.",
        [r.sensitivity for r in results.values()])
    psens = rt.concat_table(
        "sensitivity_power_scaling", "Power-scaling sensitivity (az.psens) of the top-level "
        "parameters to the prior and the likelihood; >= 0.05 is flagged (Kallioinen et al. 2023).",
        [r.power_scaling for r in results.values()])
    cross = None
    if len(study.patients) and len(study.lines) >= 2 and schema.BEST_RESPONSE in study.patients:
        frame = response_by_prior_response(study.patients, study.lines[0], study.lines[1],
                                           level=interval.level)
        cross = Table(
            "response_by_previous_response",
            f"Objective response at {study.lines[1]} by best response at {study.lines[0]} (crude "
            f"proportions with exact {interval.percent} confidence intervals).",
            frame.reset_index())
    all_tables = [t for t in (descriptive, *comparisons, *site_tables, priors, overview, loo, loso,
                              sensitivity, psens, cross) if t is not None]
    for table in all_tables:
        table.write(tables_dir)
    reader = build_reader_tables(
        results, study, interval, estimate=config.report.estimate, descriptive=descriptive,
        cross=cross, priors=priors, overview=overview, loo=loo, loso=loso,
        sensitivity=sensitivity, psens=psens)
    write_reader_tables(reader, tables_dir, when=when)
    return ResultTables(gate, descriptive, comparisons, site_tables, priors, overview, loo, loso,
                        sensitivity, psens, cross, attrs, reader,
                        {k: classify(fit_attrs(fits[k]).get("warnings", {}))
                         for k in sorted(fits, key=fit_order)})


def _write_report(
    staging: Path,
    study: Study,
    results: Mapping[str, EndpointResults],
    config: RunConfig,
    tables: ResultTables,
    figures: list[FigureRef],
    *,
    update: Any,
    map_json: str | None,
    map_note: str | None,
    allow_unconverged: bool,
    when: datetime,
) -> None:
    """The MAP prior file and table, the update section, prose and report.md/report.html."""
    interval, gate = config.interval, tables.gate
    map_table = None
    if map_json is not None:
        map_table = write_map_prior(staging, map_json, config)
    update_section = _update_section(update, results, config, figures) if update else None
    for table in ([map_table] if map_table else []) + list(update_section.tables if update_section else []):
        table.write(staging / "tables")
    if update_section is not None:
        update_section = replace(update_section,
                                 tables=tuple(words_table(t) for t in update_section.tables))

    banner = None
    if not gate.passed:
        banner = (
            "CONVERGENCE GATE FAILED: " + reader_text("; ".join(gate.failures))
            + (". Reported at the user's request (--allow-unconverged); do not use these numbers "
               "for inference." if allow_unconverged else ". Not for reporting.")
        )
    n_patients, every_line = _patient_counts(study)
    methods = methods_paragraph(
        fit_attrs=tables.attrs, interval=interval, thresholds=DEFAULT_THRESHOLDS,
        n_patients=n_patients, n_sites=len(study.sites), lines=study.lines,
        synthetic=study.synthetic,
        sensitivity=config.analysis.sensitivity, comparators=config.analysis.comparators,
        sensitivity_methods=[m for r in results.values() for m, _ in r.variant_methods.values()],
        max_pareto_k=pareto_k_threshold(config.sampler.draws * config.sampler.chains),
        every_line=every_line,
    )
    sentences = results_sentences({e: r.summary for e, r in results.items()}, study.lines, interval)
    shown = tables.reader
    reader_map = (words_table(replace(map_table, frame=map_table.frame.drop(columns="rbest_file")))
                  if map_table is not None else None)
    sections = [
        Section("Results", paragraphs=tuple(sentences), tables=(shown.headline,),
                figures=tuple(f for f in figures if f.name.startswith(("contrast", "survival")))),
        *([update_section] if update_section else []),
        Section("Site-level estimates", tables=shown.sites,
                figures=tuple(f for f in figures if f.name.startswith("forest"))),
        Section("Reference analysis (frequentist)",
                tables=tuple(t for t in (shown.descriptive, shown.cross) if t is not None)),
        Section("Methods", paragraphs=(methods,), tables=(shown.priors,)),
        Section("Convergence diagnostics",
                paragraphs=(reader_text(gate.message()), *warnings_paragraph(tables.sampler_warnings)),
                tables=(shown.overview,),
                figures=tuple(f for f in figures if f.name.startswith("rank"))),
        Section("Model checks",
                tables=tuple(t for t in (shown.loo, shown.loso, shown.sensitivity, shown.psens)
                             if t is not None),
                figures=tuple(f for f in figures if f.name.startswith("ppc"))),
        *([Section("Prior for a future study", paragraphs=(
            f"The predictive distribution for a new site, fitted by a mixture and robustified "
            f"with a vague component of weight {config.analysis.map_robust_weight:g}, is saved "
            f"in {MAP_PRIOR_FILE} and, for R, in RBesT's mixture format under "
            f"{RBEST_DIR}/, one file per endpoint and line, named in tables/map_prior.csv "
            f"(meta-analytic-predictive prior; see docs/map_prior.md)."
            + (" It comes from a single site: how sites differ is not in the data, so its "
               "spread is that of the heterogeneity prior." if len(study.sites) == 1 else ""),),
            tables=(reader_map,))] if reader_map is not None else []),
        *([Section("Prior for a future study", paragraphs=(map_note,))] if map_note else []),
        glossary_section(interval, study.lines),
    ]
    content = ReportContent(
        title="ICI rechallenge: Bayesian hierarchical analysis"
        + (" (SYNTHETIC DATA)" if study.synthetic else ""),
        header_lines=_header(study, config),
        banner=banner,
        sections=tuple(sections),
    )
    write_report(content, staging)
    write_docx(content, staging, when=when)

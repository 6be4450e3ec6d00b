"""The report of a run composed from its results, tables and figures: the header, the sections
in order, the methods paragraph, the results sentences (each endpoint's family words its own),
the update and MAP-prior sections. Writers render it (:mod:`document`, :mod:`docx_report`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from rechallenge.analysis.reporting.document import FigureRef, ReportContent, Section
from rechallenge.analysis.reporting.prose import methods_paragraph, results_sentences
from rechallenge.analysis.reporting.reader_tables import words_table
from rechallenge.analysis.reporting.report_text import (
    glossary_section,
    unchecked_sentence,
    warnings_paragraph,
)
from rechallenge.analysis.reporting.result_tables import ResultTables
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import counted, reader_text
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.summaries.diagnostics import DEFAULT_THRESHOLDS
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.prior_reweighting import pareto_k_threshold
from rechallenge.data import Study, schema


@dataclass(frozen=True)
class UpdateSection:
    """The update's section, with its machine tables (the report shows their reader versions)."""

    section: Section


@dataclass(frozen=True)
class MapPriorSection:
    """The exported MAP prior: its machine table and where its files are."""

    table: Table
    json_file: str
    rbest_dir: str


def update_section(source: Mapping[str, Any], shifts: pd.DataFrame, conflicts: pd.DataFrame,
                   config: RunConfig, figures: Sequence[FigureRef]) -> UpdateSection:
    """The section of an update: the new sites, their conflict check and the shifts.

    Parameters
    ----------
    source
        The update's record (``new_sites``, ``source_run_hash``, ``reconstructed_sites``).
    shifts
        Headline quantities before and after (``run.update_files.before_after``).
    conflicts
        The prior-data conflict table of the new sites.
    """
    moved = Table(
        "update_before_after",
        f"Headline quantities before and after adding the new sites (posterior medians with "
        f"{config.interval.label}s; posterior probabilities for P(later line > first line)); "
        f"the shift is the move in units of the earlier posterior SD.",
        shifts,
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
    return UpdateSection(Section("Update with new sites", paragraphs=(text,),
                                 tables=(checked, moved),
                                 figures=tuple(f for f in figures if f.name.startswith("forest"))))


def patient_counts(study: Study) -> tuple[int, bool]:
    """Patients with patient-level rows, and whether each of them has a row at every line."""
    if not len(study.patients):
        return 0, False
    lines = study.patients.groupby([schema.SITE, schema.PATIENT_ID], observed=True)[schema.LINE]
    per_patient = lines.nunique()
    return len(per_patient), bool((per_patient == len(study.lines)).all())


def report_header(study: Study, config: RunConfig) -> tuple[str, ...]:
    """The lines under the report's title: data, counts, intervals, sampler."""
    data = (
        "Data: SYNTHETIC reconstruction of Scheiner et al., JHEP Reports 2023 (not patient data)"
        if study.synthetic else f"Data: {', '.join(study.sources) or 'user data'}"
    )
    n_patients, _ = patient_counts(study)
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


def report_content(
    study: Study,
    results: Mapping[str, EndpointResults],
    config: RunConfig,
    tables: ResultTables,
    figures: Sequence[FigureRef],
    *,
    update: UpdateSection | None,
    map_prior: MapPriorSection | None,
    map_note: str | None,
    allow_unconverged: bool,
) -> ReportContent:
    """The report of a run: its header, sections, paragraphs, tables and figures in order.

    Parameters
    ----------
    study, results, config
        The run's data, endpoint results and config.
    tables
        The run's tables (:func:`~rechallenge.analysis.reporting.result_tables.result_tables`).
    figures
        The figures drawn, in report order.
    update
        The update section (:func:`update_section`) of an update, else ``None``.
    map_prior
        The exported MAP prior's table and file names, or ``None`` when none was exported
        (``map_note`` then says why, if there is a reason to give).
    allow_unconverged
        Whether the user asked for a report of a run that failed the convergence gate.
    """
    interval, gate = config.interval, tables.gate
    update_shown = (None if update is None else
                    replace(update.section, tables=tuple(words_table(t) for t in update.section.tables)))

    banner = None
    if not gate.passed:
        banner = (
            "CONVERGENCE GATE FAILED: " + reader_text("; ".join(gate.failures))
            + (". Reported at the user's request (--allow-unconverged); do not use these numbers "
               "for inference." if allow_unconverged else ". Not for reporting.")
        )
    n_patients, every_line = patient_counts(study)
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
    reader_map = (None if map_prior is None else words_table(replace(
        map_prior.table, frame=map_prior.table.frame.drop(columns="rbest_file"))))
    sections = [
        Section("Results", paragraphs=tuple(sentences), tables=(shown.headline,),
                figures=tuple(f for f in figures if f.name.startswith(("contrast", "survival")))),
        *([update_shown] if update_shown else []),
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
            f"in {map_prior.json_file} and, for R, in RBesT's mixture format under "
            f"{map_prior.rbest_dir}/, one file per endpoint and line, named in "
            f"tables/map_prior.csv "
            f"(meta-analytic-predictive prior; see docs/map_prior.md)."
            + (" It comes from a single site: how sites differ is not in the data, so its "
               "spread is that of the heterogeneity prior." if len(study.sites) == 1 else ""),),
            tables=(reader_map,))] if map_prior is not None and reader_map is not None else []),
        *([Section("Prior for a future study", paragraphs=(map_note,))] if map_note else []),
        glossary_section(interval, study.lines),
    ]
    content = ReportContent(
        title="ICI rechallenge: Bayesian hierarchical analysis"
        + (" (SYNTHETIC DATA)" if study.synthetic else ""),
        header_lines=report_header(study, config),
        banner=banner,
        sections=tuple(sections),
    )
    return content

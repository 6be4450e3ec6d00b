"""A run's manuscript: the main text a journal reads and the supplement beside it.

The main text (``report.*``) has the title block, the results in words, Table 1 (patients and
sites by line), Table 2 (the headline table), the figures of the contrasts, sites and time to
progression, a short methods section and the numbered references. The supplement
(``supplement.*``, tables and figures numbered S1, S2, ...) holds what a reviewer checks: the site
tables, the frequentist reference analysis, the priors, the convergence diagnostics, the model
checks, the MAP prior and the glossary. The main text names supplement tables by their number,
so the supplement is composed first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rechallenge.analysis.reporting.characteristics import characteristics_table
from rechallenge.analysis.reporting.document import FigureRef, ReportContent, Section
from rechallenge.analysis.reporting.family_tables import families_sentence
from rechallenge.analysis.reporting.prose import methods_paragraph, results_sentences
from rechallenge.analysis.reporting.reader_tables import map_prior_reader_table
from rechallenge.analysis.reporting.references import Citations
from rechallenge.analysis.reporting.report_content import (
    MapPriorSection,
    UpdateSection,
    patient_counts,
    report_header,
    update_reader_table,
)
from rechallenge.analysis.reporting.report_text import glossary_section, warnings_paragraph
from rechallenge.analysis.reporting.result_tables import ResultTables
from rechallenge.analysis.reporting.vocabulary import reader_text
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.summaries.diagnostics import DEFAULT_THRESHOLDS
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.prior_reweighting import pareto_k_threshold
from rechallenge.data import Study

#: The main text's title when the config gives none.
DEFAULT_TITLE = "Immune checkpoint inhibitor rechallenge: a Bayesian hierarchical analysis"


@dataclass(frozen=True)
class Manuscript:
    """The two documents of a run, each written as .md, .html and .docx."""

    main: ReportContent
    supplement: ReportContent


def _figures(figures: Sequence[FigureRef], *prefixes: str) -> tuple[FigureRef, ...]:
    return tuple(f for f in figures if f.name.startswith(prefixes))


def _banner(tables: ResultTables, allow_unconverged: bool) -> str | None:
    if tables.gate.passed:
        return None
    return ("CONVERGENCE GATE FAILED: " + reader_text("; ".join(tables.gate.failures))
            + (". Reported at the user's request (--allow-unconverged); do not use these numbers "
               "for inference." if allow_unconverged else ". Not for reporting."))


def _map_section(study: Study, config: RunConfig, figures: Sequence[FigureRef],
                 map_prior: MapPriorSection | None, map_note: str | None) -> list[Section]:
    if map_prior is not None:
        shown = map_prior_reader_table(map_prior.table, config.interval)
        return [Section("Prior for a future study", paragraphs=(
            f"The predictive distribution for a new site, fitted by a mixture and robustified "
            f"with a vague component of weight {config.analysis.map_robust_weight:g}, is saved "
            f"in {map_prior.json_file} and, for R, in RBesT's mixture format under "
            f"{map_prior.rbest_dir}/, one file per endpoint and line, named in "
            f"tables/map_prior.csv (meta-analytic-predictive prior; see docs/map_prior.md)."
            + (" It comes from a single site: how sites differ is not in the data, so its "
               "spread is that of the heterogeneity prior." if len(study.sites) == 1 else ""),),
            tables=(shown,), figures=_figures(figures, "map_prior"))]
    if map_note:
        return [Section("Prior for a future study", paragraphs=(map_note,))]
    return []


def supplement_content(study: Study, config: RunConfig, tables: ResultTables,
                       figures: Sequence[FigureRef], *, title: str, banner: str | None,
                       map_prior: MapPriorSection | None, map_note: str | None) -> ReportContent:
    """The supplement: site tables, reference analysis, priors, diagnostics, model checks, the
    MAP prior and the glossary, numbered S1, S2, ...
    """
    shown = tables.reader
    sections = [
        Section("Site-level estimates", tables=shown.sites),
        *(Section(heading, tables=(table,)) for heading, table in shown.own),
        Section("Frequentist reference analysis",
                tables=tuple(t for t in (shown.descriptive, shown.cross) if t is not None)),
        Section("Priors", tables=(shown.priors,)),
        Section("Convergence diagnostics",
                paragraphs=(reader_text(tables.gate.message()),
                            *warnings_paragraph(tables.sampler_warnings)),
                tables=(shown.overview,), figures=_figures(figures, "rank")),
        Section("Model checks",
                tables=tuple(t for t in (shown.loo, shown.loso, shown.sensitivity, shown.psens)
                             if t is not None),
                figures=_figures(figures, "ppc", "loo_pit")),
        Section("Survival distributions compared",
                tables=(shown.families,) if shown.families is not None else ()),
        *_map_section(study, config, figures, map_prior, map_note),
        glossary_section(config.interval, study.lines),
    ]
    return ReportContent(title=f"Supplementary material: {title}",
                         header_lines=report_header(study, config), banner=banner,
                         sections=tuple(s for s in sections if s.tables or s.paragraphs
                                        or s.figures or s.bullets),
                         numbering="S", authors=config.report.authors)


def _title_block(study: Study, config: RunConfig, when: datetime) -> tuple[str, ...]:
    people = (", ".join(config.report.authors),) if config.report.authors else ()
    return (*people, *config.report.affiliations, f"Date: {when:%d %B %Y}",
            *report_header(study, config))


def _supplement_pointer(supplement: ReportContent) -> str:
    numbered = supplement.numbered()
    n_tables = sum(len(t) for _, t, _ in numbered)
    n_figures = sum(len(f) for _, _, f in numbered)
    spans = [f"Tables S1 to S{n_tables}" if n_tables > 1 else "Table S1" if n_tables else "",
             f"Figures S1 to S{n_figures}" if n_figures > 1 else "Figure S1" if n_figures else ""]
    return ("The supplement holds the site-level estimates, the frequentist reference analysis, "
            "the priors, the convergence diagnostics and the model checks ("
            + ", ".join(s for s in spans if s) + ").")


def manuscript_content(
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
    when: datetime,
) -> Manuscript:
    """The main text and the supplement of a run.

    Parameters
    ----------
    study, results, config
        The run's data, endpoint results and config (its ``[report]`` title and authors).
    tables
        The run's tables (:func:`~rechallenge.analysis.reporting.result_tables.result_tables`).
    figures
        The figures drawn, in report order.
    update
        The update section (:func:`~.report_content.update_section`) of an update, else ``None``.
    map_prior, map_note
        The exported MAP prior's table and files, or ``None`` (``map_note`` then says why).
    allow_unconverged
        Whether the user asked for a report of a run that failed the convergence gate.
    when
        The run's document time (the title block's date).
    """
    title = config.report.title or DEFAULT_TITLE
    if study.synthetic:
        title += " (SYNTHETIC DATA)"
    banner = _banner(tables, allow_unconverged)
    supplement = supplement_content(study, config, tables, figures, title=title, banner=banner,
                                    map_prior=map_prior, map_note=map_note)
    priors_number = next((n for s, numbered, _ in supplement.numbered() for n, t in numbered
                          if t.name == tables.reader.priors.name), None)
    citations = Citations()
    n_patients, every_line = patient_counts(study)
    methods = methods_paragraph(
        fit_attrs=tables.attrs, interval=config.interval, thresholds=DEFAULT_THRESHOLDS,
        n_patients=n_patients, n_sites=len(study.sites), lines=study.lines,
        synthetic=study.synthetic,
        sensitivity=config.analysis.sensitivity, comparators=config.analysis.comparators,
        sensitivity_methods=[m for r in results.values() for m, _ in r.variant_methods.values()],
        max_pareto_k=pareto_k_threshold(config.sampler.draws * config.sampler.chains),
        every_line=every_line, citations=citations,
        priors_table=(supplement.label("Table", priors_number) if priors_number
                      else "the priors table"),
    )
    if map_prior is not None:
        methods += (" A meta-analytic-predictive prior for a future study "
                    f"{citations.cite('neuenschwander2010', 'schmidli2014')} was derived from the "
                    "predictive distribution for a new site (supplement).")
    update_shown = (None if update is None else replace(
        update.section, tables=tuple(update_reader_table(t, config.interval)
                                     for t in update.section.tables)))
    sentences = results_sentences({e: r.summary for e, r in results.items()}, study.lines,
                                  config.interval)
    if tables.families is not None:
        sentences.append(families_sentence(tables.families, study.lines, config.interval))
    table1 = characteristics_table(tables.descriptive, study, config.interval)
    results_figures = _figures(figures, "contrast", *(() if update_shown else ("forest",)),
                               "survival")
    sections = [
        Section("Results", paragraphs=(*sentences, _supplement_pointer(supplement)),
                tables=(table1, tables.reader.headline), figures=results_figures),
        *([update_shown] if update_shown else []),
        Section("Methods", paragraphs=(methods,)),
        Section("References", paragraphs=tuple(
            f"{n}. {text}" for n, text in enumerate(citations.listed(), start=1))),
    ]
    main = ReportContent(title=title, header_lines=_title_block(study, config, when),
                         banner=banner, sections=tuple(sections), authors=config.report.authors)
    return Manuscript(main, supplement)

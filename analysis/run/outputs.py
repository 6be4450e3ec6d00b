"""The outputs stage of a run: where each output is made and written (the tables and the report
are composed in the reporting layer: :mod:`~rechallenge.analysis.reporting.result_tables`,
:mod:`~rechallenge.analysis.reporting.manuscript`; this module only orchestrates).

Shared by ``analyze`` (after fitting) and ``report`` (from saved fits), so both write the same
files from the same fits. The figures (a task per endpoint, the forest plots once the endpoint
results exist) and the MAP prior's mixture fits run as tasks on the engine while this (the
client) process computes the endpoint results and writes the tables; without a client all of it
runs here. The files are the same either way (``tests/test_pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import arviz as az
import pandas as pd
from distributed import Client

from rechallenge.analysis.map_prior.export import MAP_PRIOR_FILE, map_prior_from_parts
from rechallenge.analysis.map_prior.rbest import RBEST_DIR
from rechallenge.analysis.reporting.document import FigureRef
from rechallenge.analysis.reporting.docx_files import DOCUMENT_TIME
from rechallenge.analysis.reporting.docx_report import write_document
from rechallenge.analysis.reporting.manuscript import manuscript_content
from rechallenge.analysis.reporting.reader_set import write_reader_tables
from rechallenge.analysis.reporting.report_content import (
    MapPriorSection,
    update_section,
)
from rechallenge.analysis.reporting.result_tables import ResultTables, result_tables
from rechallenge.analysis.reporting.run_figures import figure_jobs
from rechallenge.analysis.run.engine import submit
from rechallenge.analysis.run.family_tasks import run_families, with_families
from rechallenge.analysis.run.map_outputs import write_map_prior
from rechallenge.analysis.run.output_tasks import draw_figures, map_prior_part_or_note, write_figures
from rechallenge.analysis.run.update_files import UpdateRecord, before_after, load_update
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.summaries.diagnostics import GateResult
from rechallenge.analysis.summaries.endpoint_results import EndpointResults, all_endpoint_results
from rechallenge.data import Study


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
    update: UpdateRecord | None = None,
    sources: Mapping[str, Any] | None = None,
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
    update
        An update's record, in memory (``analyze`` of an update); ``None``: read from
        ``staging/update/`` if there (a rebuilt report).
    sources
        Per endpoint, where the engine's tasks find its main fit: the future of the fitting
        task that made it (``analyze``: the fit stays on its worker). ``None``: the main fits
        are sent to the engine once (a rebuilt report, whose fits were read here).
    """
    update = load_update(staging) if update is None else update
    new_sites = tuple(update[0]["new_sites"]) if update else ()
    jobs = figure_jobs(study, fits, config)
    study_arg = study if client is None else client.scatter(study, hash=False)
    if sources is None:
        # Only the main fits and the model variants are drawn from; sent once to the cluster,
        # not once per task.
        drawn_from = dict.fromkeys([*config.run_endpoints, *(job.source for job in jobs)])
        main = {key: fits[key] for key in drawn_from if key in fits}
        main_arg = main if client is None else client.scatter(main, hash=False)
        sources = {key: main_arg for key in drawn_from}
    # The endpoints whose fits are in one place, each place once, in the config's order.
    places: dict[int, list[str]] = {}
    for endpoint in config.run_endpoints:
        if endpoint in sources:
            places.setdefault(id(sources[endpoint]), []).append(endpoint)
    # Every figure but the forest plots needs only the fits: they start at once, one task per
    # endpoint, with the MAP prior; the forest plots follow once the results are there.
    drawn_fits = list(dict.fromkeys(job.source for job in jobs))
    families = run_families(config)  # the workers' registry may lack a family of this process
    early = [submit(client, f"figures:{key}", with_families, families, draw_figures,
                    [j for j in jobs if j.source == key and not j.needs_results],
                    study_arg, sources[key], None, config) for key in drawn_fits]
    map_tasks = [submit(client, f"map_prior:{'+'.join(group)}", with_families, families,
                        map_prior_part_or_note, sources[group[0]], config)
                 for group in places.values()
                 # The MAP prior is of [analysis] endpoints (not of a joint model beside them).
                 if set(group) & set(config.analysis.endpoints)
                 ] if config.analysis.pooling == "partial" else []
    results = all_endpoint_results(study, fits, config)
    late = []
    for group in places.values():
        late_jobs = [j for j in jobs if j.needs_results and j.endpoint in group]
        if late_jobs:
            late.append(submit(client, f"figures:forest:{'+'.join(group)}", with_families,
                               families, draw_figures, late_jobs, study_arg, sources[group[0]],
                               results, config, highlight_sites=new_sites))
    tables = result_tables(study, fits, results, config)
    for table in tables.machine:
        table.write(staging / "tables")
    write_reader_tables(tables.reader, staging / "tables", when=when)
    figures_dir = staging / "figures"
    drawn: dict[str, Any] = {}
    finished = [task.result() for task in (*early, *late)]
    for recorded in finished:
        drawn.update({ref.name: ref for ref in write_figures(figures_dir, recorded.value)})
    mapped = [task.result() for task in map_tasks]
    finished += mapped
    map_note = next((note for _, note, _ in (r.value for r in mapped) if note), None)
    map_json = (map_prior_from_parts([part for part, _, _ in (r.value for r in mapped)], study,
                                     config) if mapped and map_note is None else None)
    map_figures = ([ref for r in mapped for ref in write_figures(figures_dir, r.value[2])]
                   if map_json is not None else [])
    if task_records is not None:
        task_records += [recorded.record.to_dict() for recorded in finished]
    figures = [drawn[job.name] for job in jobs if job.name in drawn] + map_figures
    _write_report(staging, study, results, config, tables, figures, update=update,
                  map_json=map_json, map_note=map_note, allow_unconverged=allow_unconverged,
                  when=when)
    return tables.gate


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
    """The MAP prior's files, the update's tables, and report.md, report.html, report.docx."""
    map_prior = None
    if map_json is not None:
        map_prior = MapPriorSection(write_map_prior(staging, map_json, config), MAP_PRIOR_FILE,
                                    RBEST_DIR)
        map_prior.table.write(staging / "tables")
    update_shown = None
    if update:
        source, before, conflicts = update
        after = pd.concat([r.summary for r in results.values()], ignore_index=True)
        update_shown = update_section(source, before_after(before, after), conflicts, config,
                                      figures)
        for table in update_shown.section.tables:
            table.write(staging / "tables")
    manuscript = manuscript_content(study, results, config, tables, figures, update=update_shown,
                                    map_prior=map_prior, map_note=map_note,
                                    allow_unconverged=allow_unconverged, when=when)
    table1 = manuscript.main.sections[0].tables[0]
    table1.write(staging / "tables" / table1.folder)
    write_document(manuscript.main, staging, "report", when=when)
    write_document(manuscript.supplement, staging, "supplement", when=when)

"""Parts of a run's manuscript (:mod:`manuscript` composes them): the data lines under the
title, the patient counts, the update's section and the exported MAP prior's record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rechallenge.analysis.reporting.document import FigureRef, Section
from rechallenge.analysis.reporting.report_text import unchecked_sentence
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import counted
from rechallenge.analysis.settings.config import RunConfig
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

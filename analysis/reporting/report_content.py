"""Parts of a run's manuscript (:mod:`manuscript` composes them): the data lines under the
title, the patient counts, the update's section and the exported MAP prior's record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rechallenge.analysis.reporting.document import FigureRef, Section
from rechallenge.analysis.reporting.estimates import (
    decimal_text,
    interval_cell,
    quantity_scale,
)
from rechallenge.analysis.reporting.report_text import unchecked_sentence
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import counted, endpoint_label, quantity_label
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.intervals import Interval
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
        f"{conflicts.attrs.get('alpha', 0.05) if hasattr(conflicts, 'attrs') else 0.05}; "
        f"observed: events out of the site's patients for a binary endpoint, the Kaplan-Meier "
        f"median in months for time to progression). A screening flag, not a test with error "
        f"control.",
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


def update_reader_table(machine: Table, interval: Interval) -> Table:
    """An update's table for readers, in Table 2's style: each estimate with its interval in
    one cell, shifts and p-values to two decimals, yes/no for flags.
    """
    frame, rows = machine.frame, []
    if machine.name == "update_before_after":
        for _, r in frame.iterrows():
            scale = quantity_scale(str(r["quantity"]))
            rows.append({
                "Endpoint": endpoint_label(str(r["endpoint"])),
                "Quantity": quantity_label(str(r["quantity"]), str(r["line"]),
                                           endpoint=str(r["endpoint"])),
                "Line": "" if " vs " in str(r["line"]) else str(r["line"]),
                "Before": interval_cell(r["before"], r["before_lower"], r["before_upper"], scale),
                "After": interval_cell(r["after"], r["after_lower"], r["after_upper"], scale),
                "Shift (earlier posterior SDs)": _decimals(r["shift_sd"], 2)})
    else:
        for _, r in frame.iterrows():
            # A binary endpoint's check counts events out of the site's patients; a time's is
            # a median in months.
            counts = np.isfinite(float(r.get("n", np.nan)))
            digits = 0 if counts else 1
            predicted = interval_cell(r["predictive_mean"], r["predictive_lower"],
                                      r["predictive_upper"], "months")
            if counts and predicted:
                predicted = (f"{_decimals(r['predictive_mean'], 1)} ("
                             f"{_decimals(r['predictive_lower'], 0)} to "
                             f"{_decimals(r['predictive_upper'], 0)}) of {int(r['n'])}")
            observed = _decimals(r["observed"], digits)
            rows.append({
                "Site": str(r["site"]), "Endpoint": endpoint_label(str(r["endpoint"])),
                "Line": str(r["line"]),
                "Observed": f"{observed} of {int(r['n'])}" if counts and observed else observed,
                f"Predicted for a new site ({interval.percent} PI)": predicted,
                "Predictive p-value": _decimals(r["p_value"], 2),
                "Flagged": "yes" if str(r["flagged"]).lower() == "true" else "no",
                "Note": "" if pd.isna(r.get("note")) else str(r.get("note", ""))})
    return Table(machine.name, machine.caption, pd.DataFrame(rows))


def _decimals(value: Any, digits: int) -> str:
    number = float(value) if value is not None and value != "" else np.nan
    return decimal_text(number, digits) if np.isfinite(number) else ""


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

"""Report sections in words that are not tables: the glossary, the note on library warnings and
the sentence on what a conflict check could not judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from rechallenge.analysis.reporting.document import Section
from rechallenge.analysis.reporting.vocabulary import endpoint_label, fit_label, glossary
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.captured import describe_counts


def glossary_section(interval: Interval, lines: Sequence[str]) -> Section:
    """The glossary: one sentence per term the tables and sentences use."""
    first, later = (lines[0], lines[1]) if len(lines) >= 2 else (lines[0], "a later line")
    return Section("Glossary", bullets=tuple(
        f"{term}: {text}" for term, text in glossary(interval.label, first, later)))


def warnings_paragraph(counts: Mapping[str, Mapping[str, int]]) -> tuple[str, ...]:
    """A paragraph on the warnings the sampler raised per fit (none: no paragraph).

    Parameters
    ----------
    counts
        Per fit key, warning kind -> count (as recorded with each fit).
    """
    parts = [f"{fit_label(fit)}: {describe_counts(c)}" for fit, c in counts.items() if c]
    if not parts:
        return ()
    return ("Warnings raised by the sampling libraries during the fits (counted, not printed; "
            "the diagnostics above are the judgement): " + "; ".join(parts) + ".",)


def unchecked_sentence(conflicts: pd.DataFrame) -> str:
    """A sentence on the new sites' data the conflict check could not judge, with the reasons
    (their rows' ``note``; see :func:`rechallenge.analysis.summaries.conflict.not_checked`);
    empty when every row was checked.
    """
    notes = (conflicts["note"].fillna("").astype(str) if "note" in conflicts
             else pd.Series("", index=conflicts.index))
    unchecked = conflicts[notes != ""]
    if not len(unchecked):
        return ""
    return " Not checked: " + "; ".join(
        f"{r.site} {endpoint_label(str(r.endpoint)).lower()} at {r.line} "
        f"({str(r.note).removeprefix('not checked: ')})" for r in unchecked.itertuples()) + "."

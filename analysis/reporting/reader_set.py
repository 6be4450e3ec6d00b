"""The reader tables of a run, made from its machine tables and results, and where they go.

``tables/*.csv`` (with ``.md`` and ``.tex``) keep the machine names, for programs;
``tables/reader/`` holds what the report shows, in words, as CSV, Markdown and LaTeX, and the
headline table also as a Word document (``table2_headline.docx``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from rechallenge.analysis.reporting import reader_tables as rd
from rechallenge.analysis.reporting.docx_files import DOCUMENT_TIME
from rechallenge.analysis.reporting.docx_report import write_table_docx
from rechallenge.analysis.reporting.family_tables import families_reader_table
from rechallenge.analysis.reporting.headline import headline_table
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import endpoint_label
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.captured import describe_counts
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.family_comparison import observed_medians
from rechallenge.data import Study


@dataclass(frozen=True)
class ReaderTables:
    """What the report shows, each a reader :class:`Table` (``folder = "reader"``)."""

    headline: Table
    sites: tuple[Table, ...]
    descriptive: Table
    cross: Table | None
    priors: Table
    overview: Table
    loo: Table | None
    loso: Table | None
    sensitivity: Table | None
    psens: Table | None
    families: Table | None = None
    #: Tables a family adds of its own, each under its heading (the family's label).
    own: tuple[tuple[str, Table], ...] = ()

    def all(self) -> list[Table]:
        """Every table, in report order."""
        return [t for t in (self.headline, *self.sites, *(t for _, t in self.own),
                            self.descriptive, self.cross, self.priors, self.overview, self.loo,
                            self.loso, self.sensitivity, self.psens, self.families)
                if t is not None]


def warning_note(results: Mapping[str, EndpointResults], step: str) -> str:
    """A sentence on the library warnings one step raised, per endpoint; empty when none."""
    parts = []
    for endpoint, result in results.items():
        counts = result.warnings.get(step, {})
        if counts:
            parts.append(f"{endpoint_label(endpoint)}: {describe_counts(counts)}")
    return (" ArviZ warnings while computing it (counted, not printed): " + "; ".join(parts)
            + ".") if parts else ""


def build_reader_tables(
    results: Mapping[str, EndpointResults],
    study: Study,
    interval: Interval,
    *,
    estimate: str,
    descriptive: Table,
    cross: Table | None,
    priors: Table,
    overview: Table,
    loo: Table | None,
    loso: Table | None,
    sensitivity: Table | None,
    psens: Table | None,
    families: Table | None = None,
    own: Sequence[tuple[str, Table]] = (),
) -> ReaderTables:
    """The reader versions of a run's tables.

    Parameters
    ----------
    results, study, interval
        The run's results, data and interval.
    estimate
        The config's ``[report] estimate``.
    descriptive, cross, priors, overview, loo, loso, sensitivity, psens, families
        The machine tables (as written to ``tables/``).
    own
        The reader tables families add of their own, each with its heading.
    """
    def words(table: Table | None, note: str = "") -> Table | None:
        if table is None:
            return None
        return rd.words_table(table, caption=table.caption + note)

    return _filed(ReaderTables(
        headline=headline_table(results, study, interval, estimate=estimate),
        sites=tuple(rd.sites_table(r, interval, estimate=estimate) for r in results.values()),
        descriptive=rd.descriptive_table(descriptive, study.lines),
        cross=None if cross is None else rd.cross_reader_table(cross, study.lines, interval),
        priors=rd.priors_reader_table(priors),
        overview=rd.words_table(overview),
        loo=words(loo, warning_note(results, "loo")),
        loso=words(loso, warning_note(results, "leave_one_site_out")),
        sensitivity=None if sensitivity is None else rd.sensitivity_table(sensitivity, interval),
        psens=words(psens, warning_note(results, "power_scaling")),
        families=(None if families is None
                  else families_reader_table(families, study.lines, interval,
                                             observed_medians(study, interval))),
        own=tuple(own),
    ))


def _filed(tables: ReaderTables) -> ReaderTables:
    # The same tables, filed under tables/reader/ (their Files: line in the report says so).
    def move(t: Table) -> Table:
        return replace(t, folder=rd.READER_DIR)

    def move_any(t: Table | None) -> Table | None:
        return None if t is None else move(t)

    return ReaderTables(move(tables.headline), tuple(move(t) for t in tables.sites),
                        move(tables.descriptive), move_any(tables.cross), move(tables.priors),
                        move(tables.overview), move_any(tables.loo), move_any(tables.loso),
                        move_any(tables.sensitivity), move_any(tables.psens),
                        move_any(tables.families),
                        tuple((heading, move(t)) for heading, t in tables.own))


def write_reader_tables(tables: ReaderTables, tables_dir: Path, *,
                        when: datetime = DOCUMENT_TIME) -> list[Path]:
    """Write every reader table under ``tables_dir/reader/`` (CSV, MD, TeX; the headline also
    as DOCX, stamped with ``when``, the run's document time); return the paths.
    """
    directory = tables_dir / rd.READER_DIR
    paths = [p for t in tables.all() for p in t.write(directory)]
    directory.mkdir(parents=True, exist_ok=True)
    paths.append(write_table_docx(tables.headline, directory / f"{tables.headline.name}.docx",
                                  when=when))
    return paths

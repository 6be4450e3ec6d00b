"""The validated study: patient rows and aggregate rows together, with the line order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from . import schema
from .endpoints import rows_with_endpoint


@dataclass(frozen=True)
class Study:
    """Validated input of one analysis.

    Parameters
    ----------
    patients
        Validated patient table (long format); may be empty when every site sent counts only.
    aggregates
        Validated aggregate table; may be empty.
    lines
        Treatment-line labels in order (ICI-1 before ICI-2 by default).
    sources
        Human-readable descriptions of where the rows came from (file names), for reports.
    synthetic
        True when the data are the shipped synthetic reconstruction; reports say so.
    """

    patients: pd.DataFrame
    aggregates: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(schema.AGGREGATE_COLUMNS))
    )
    lines: tuple[str, ...] = schema.DEFAULT_LINES
    sources: tuple[str, ...] = ()
    synthetic: bool = False

    @property
    def sites(self) -> tuple[str, ...]:
        """Site labels present in patient or aggregate rows, sorted."""
        labels = set(self.patients[schema.SITE]) if len(self.patients) else set()
        if len(self.aggregates):
            labels |= set(self.aggregates[schema.SITE])
        return tuple(sorted(str(s) for s in labels))

    def data_hash(self) -> str:
        """SHA-256 of the rows and line order; stored in every fit and checked on reload."""
        digest = hashlib.sha256()
        digest.update("|".join(self.lines).encode())
        for frame in (self.patients, self.aggregates):
            digest.update(b"\x00")
            if len(frame):
                canonical = frame.reindex(sorted(frame.columns), axis=1)
                digest.update(canonical.to_csv(index=False, lineterminator="\n").encode())
        return digest.hexdigest()

    def for_endpoint(self, endpoint: str) -> Study:
        """The rows one endpoint's model uses: the patient rows that hold a value for it (all of
        them, except reconstructed TTP-only rows for a binary endpoint), and its counts.

        A site that sent counts only for other endpoints is then absent, rather than a site with
        no data; models of different endpoints may therefore have different sites.
        """
        aggregates = self.aggregates
        if len(aggregates):
            aggregates = aggregates[aggregates[schema.ENDPOINT] == endpoint].reset_index(drop=True)
        patients = rows_with_endpoint(self.patients, endpoint)
        return Study(patients, aggregates, self.lines, self.sources, self.synthetic)

    def combine(self, other: Study) -> Study:
        """Return a new study with the rows of both (used by updating; inputs are not mutated)."""
        if tuple(other.lines) != tuple(self.lines):
            raise ValueError(f"line order differs: {self.lines} vs {other.lines}")
        patients = pd.concat([self.patients, other.patients], ignore_index=True)
        aggregates = pd.concat([self.aggregates, other.aggregates], ignore_index=True)
        return Study(patients, aggregates, self.lines, self.sources + other.sources,
                     self.synthetic or other.synthetic)

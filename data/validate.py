"""Validation of the two input tables against the data contract.

Every check runs and every problem is collected; one
:class:`~rechallenge.data.errors.DataValidationError` listing all of them is raised at the end,
and data are returned only when nothing was found. The
rules live in :mod:`._patients` and :mod:`._aggregates`; this module runs them on one or more
inputs together and adds the checks that span both tables.

Normalisation (what is accepted beyond the literal contract, and how it is rewritten):

- header names are stripped and matched case-insensitively (``Site`` reads as ``site``);
- every cell is stripped of surrounding whitespace;
- ``line`` labels and ``best_response``/``sex`` codes are matched case-insensitively and rewritten
  in the contract's spelling (``ici-2`` -> ``ICI-2``, ``pr`` -> ``PR``);
- whole numbers may be written ``3`` or ``3.0``; flags ``0``/``1`` (or ``0.0``/``1.0``);
- in optional columns a blank cell, ``NA``, ``N/A``, ``NaN``, ``null`` or ``None`` means unknown;
  in required columns they are errors;
- columns outside the contract are kept, as stripped text;
- rows whose ``source`` starts with ``reconstructed:`` (pseudo patient data reconstructed from a
  published Kaplan-Meier curve) may leave ``best_response`` and ``trae_grade_3_4`` blank even when
  those endpoints are analysed: they count for time to progression only.

Refused whatever the column (see :mod:`._labels`): control characters, invisible format characters
and cells longer than ``schema.MAX_CELL_LENGTH`` (labels: ``schema.MAX_LABEL_LENGTH``), and a label
written two ways that differ only in case or surrounding spaces.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from . import schema
from ._aggregates import aggregate_dtypes, check_aggregate_rows, parse_aggregate_table
from ._labels import check_spellings
from ._patient_rows import check_patient_rows
from ._patients import (
    PATIENT_COLUMNS,
    parse_patient_table,
    patient_dtypes,
    required_patient_columns,
)
from ._tables import RawTable, check_endpoints, check_lines, sort_issues, table_from_frame
from .endpoints import endpoint_columns, registered_endpoints
from .errors import DataValidationError, ValidationIssue

__all__ = ["validate_patients", "validate_aggregate", "validate_tables", "check_tables",
           "combine_parts", "empty_patients", "empty_aggregates"]

Part = tuple[RawTable, pd.DataFrame]


def validate_patients(
    df: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    lines: Sequence[str] = schema.DEFAULT_LINES,
    endpoints: Sequence[str] = schema.ENDPOINTS,
) -> pd.DataFrame:
    """Validate an in-memory patient table and return it clean and typed.

    Parameters
    ----------
    df
        One row per patient per line, any dtypes (cells are read as text first, so the checks are
        those applied to a file).
    source
        Name used in messages. Rows are numbered as in a CSV written with
        ``df.to_csv(index=False)``: the first row of ``df`` is row 2.
    lines
        Allowed line labels, in order.
    endpoints
        Endpoints to be analysed; their columns (``schema.ENDPOINT_COLUMNS``) are required.

    Returns
    -------
    pandas.DataFrame
        New frame (``df`` is not modified) with a fresh ``RangeIndex``: site, patient_id, line,
        best_response, regimen_class, sex as ``str``; ttp_months and age ``float64``; required
        flags ``int64`` (flags of endpoints not analysed, if present, nullable ``Int64``);
        line_number ``Int64``.

    Raises
    ------
    DataValidationError
        Listing every problem found.
    """
    table, issues = table_from_frame(df, source)
    patients, _ = validate_tables([table] if table else [], [], lines=lines, endpoints=endpoints,
                                  issues=issues, sources=[source])
    return patients


def validate_aggregate(
    df: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    lines: Sequence[str] = schema.DEFAULT_LINES,
) -> pd.DataFrame:
    """Validate an in-memory aggregate table and return it clean and typed.

    Parameters
    ----------
    df
        Columns site, line, endpoint, n, and events (binary endpoints) or median_months,
        median_lower, median_upper (ttp rows).
    source
        Name used in messages (first row of ``df`` is row 2).
    lines
        Allowed line labels, in order.

    Returns
    -------
    pandas.DataFrame
        Every column of ``schema.AGGREGATE_COLUMNS``: site, line, endpoint ``str``; n ``int64``;
        events nullable ``Int64`` (may be missing on ttp rows); medians ``float64`` (NaN on
        binary rows).

    Raises
    ------
    DataValidationError
        Listing every problem found.
    """
    table, issues = table_from_frame(df, source)
    _, aggregates = validate_tables([], [table] if table else [], lines=lines,
                                    endpoints=schema.ENDPOINTS, issues=issues, sources=[source])
    return aggregates


def validate_tables(
    patient_tables: Sequence[RawTable],
    aggregate_tables: Sequence[RawTable],
    *,
    lines: Sequence[str],
    endpoints: Sequence[str],
    issues: list[ValidationIssue],
    sources: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check raw tables together and return the combined patient and aggregate tables.

    Parameters
    ----------
    patient_tables, aggregate_tables
        Inputs in the order the user gave them (earlier rows are the reference for duplicates).
    issues
        Problems already found while reading (missing files, encoding, ...); checks add to it.
    sources
        All input names in order, including those that could not be read, to order the report.

    Raises
    ------
    DataValidationError
        If ``issues`` is not empty at the end; nothing is returned then.
    """
    patient_parts, aggregate_parts = check_tables(
        patient_tables, aggregate_tables, lines=lines, endpoints=endpoints, issues=issues)
    if issues:
        raise DataValidationError(sort_issues(issues, sources))
    return combine_parts(patient_parts, aggregate_parts, endpoints=check_endpoints(endpoints))


def check_tables(
    patient_tables: Sequence[RawTable],
    aggregate_tables: Sequence[RawTable],
    *,
    lines: Sequence[str],
    endpoints: Sequence[str],
    issues: list[ValidationIssue],
) -> tuple[list[Part], list[Part]]:
    """Run every check on raw tables, appending problems to ``issues`` instead of raising.

    Returns
    -------
    tuple
        ``(raw table, parsed frame)`` per patient table and per aggregate table, in input order;
        a parsed frame holds ``None`` where a cell was missing or invalid.
    """
    lines = check_lines(lines)
    endpoints = check_endpoints(endpoints)
    patient_parts = [(t, parse_patient_table(t, lines, endpoints, issues)) for t in patient_tables]
    aggregate_parts = [(t, parse_aggregate_table(t, lines, issues)) for t in aggregate_tables]
    check_label_spellings(patient_parts, aggregate_parts, issues)
    check_patient_rows(patient_parts, lines, issues)
    check_aggregate_rows(aggregate_parts, issues)
    check_overlap(patient_parts, aggregate_parts, issues)
    return patient_parts, aggregate_parts


def combine_parts(
    patient_parts: Sequence[Part], aggregate_parts: Sequence[Part], *, endpoints: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The combined, typed patient and aggregate tables of inputs that passed every check."""
    required = required_patient_columns(endpoints)
    if patient_parts:
        patients = pd.concat([p for _, p in patient_parts], ignore_index=True)
        patients = patient_dtypes(patients, required)
    else:
        patients = empty_patients(endpoints)
    if aggregate_parts:
        aggregates = aggregate_dtypes(pd.concat([a for _, a in aggregate_parts], ignore_index=True))
    else:
        aggregates = empty_aggregates()
    return patients, aggregates


def check_label_spellings(
    patient_parts: Sequence[Part], aggregate_parts: Sequence[Part], issues: list[ValidationIssue]
) -> None:
    """Report sites (all files), patient ids (within a site) and regimen classes spelled two ways.

    Only the spelling is compared: ``S01``, ``s01`` and `` S01`` are reported, while a label that
    is written the same way everywhere (even with surrounding spaces, which are removed) passes.
    """
    def cells(parts: Sequence[Part], column: str, scoped: bool = False) -> list:
        found = []
        for table, parsed in parts:
            # The file's own columns: a parsed aggregate table has every contract column, also
            # those the file lacks (reported as missing already), and the scope needs the site.
            if column not in table.frame.columns or (
                    scoped and schema.SITE not in table.frame.columns):
                continue
            known = parsed[column].notna().to_numpy()
            if scoped:
                known &= parsed[schema.SITE].notna().to_numpy()
            scope = parsed[schema.SITE].to_numpy()[known] if scoped else None
            found.append((table.source, table.rows[known],
                          table.frame[column].to_numpy()[known], scope))
        return found

    check_spellings(cells([*patient_parts, *aggregate_parts], schema.SITE), schema.SITE,
                    "site labels", issues)
    check_spellings(cells(patient_parts, schema.PATIENT_ID, scoped=True), schema.PATIENT_ID,
                    "patient identifiers", issues)
    check_spellings(cells(patient_parts, schema.REGIMEN_CLASS), schema.REGIMEN_CLASS,
                    "regimen classes", issues)


def check_overlap(
    patient_parts: Sequence[Part], aggregate_parts: Sequence[Part], issues: list[ValidationIssue]
) -> None:
    """An aggregate row must not repeat a site, line and endpoint that has patient rows.

    Both would enter the likelihood, counting those patients twice. Patient rows count for an
    endpoint only where its columns hold values, so a site may send response patient by patient
    and toxicity as counts.
    """
    if not aggregate_parts:
        return  # nothing can overlap; spares a pass over every patient row
    given: dict[tuple[str, str, str], tuple[str, int]] = {}
    for table, parsed in patient_parts:
        for endpoint in registered_endpoints():
            columns = [*schema.PATIENT_KEY_COLUMNS, *endpoint_columns(endpoint)]
            if not all(c in parsed.columns for c in columns):
                continue
            known = parsed[columns].notna().all(axis=1).to_numpy()
            for row, site, line in zip(table.rows[known].tolist(), parsed.loc[known, schema.SITE],
                                       parsed.loc[known, schema.LINE]):
                given.setdefault((site, line, endpoint), (table.source, row))
    for table, parsed in aggregate_parts:
        if schema.ENDPOINT not in table.frame.columns:
            continue
        keys = parsed[list(schema.AGGREGATE_KEY_COLUMNS)].itertuples(index=False, name=None)
        for row, raw, key in zip(table.rows.tolist(), table.frame[schema.ENDPOINT], keys):
            if key in given:
                file, first = given[key]
                site, line, endpoint = key
                issues.append(ValidationIssue(
                    table.source, row, schema.ENDPOINT, raw,
                    f"counts only where there are no patient rows: site {site} line {line} "
                    f"endpoint {endpoint} is given both patient by patient ({file}, row {first}) "
                    "and as counts, which would count those patients twice"))


def empty_patients(endpoints: Sequence[str] = schema.ENDPOINTS) -> pd.DataFrame:
    """A patient table with no rows and the typed columns required for ``endpoints``."""
    required = required_patient_columns(check_endpoints(endpoints))
    columns = [c for c in PATIENT_COLUMNS if c in required]
    return patient_dtypes(pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}), required)


def empty_aggregates() -> pd.DataFrame:
    """An aggregate table with no rows and every typed column."""
    return aggregate_dtypes(pd.DataFrame({c: pd.Series([], dtype=object)
                                          for c in schema.AGGREGATE_COLUMNS}))

"""Rules of the patient table: one row per patient per treatment line.

:func:`parse_patient_table` checks the cells of one input and appends every problem to a shared
issue list instead of raising; what only shows across rows is checked in :mod:`._patient_rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import pandas as pd

from . import schema
from ._headers import PATIENTS, wrong_kind_problem
from ._labels import check_text_column
from ._parsers import (
    INVALID,
    MONTHS_EXPECTED,
    choice_parser,
    parse_flag,
    parse_months,
    parse_number,
    parse_text,
    whole_between,
)
from ._tables import RawTable, check_cells, check_required_columns, line_expected
from .endpoints import endpoint_columns, endpoint_definition, registered_endpoints
from .errors import ValidationIssue

#: Contract order of the patient columns (output columns follow it; unknown columns come last).
PATIENT_COLUMNS: tuple[str, ...] = (
    schema.SITE, schema.PATIENT_ID, schema.LINE, schema.BEST_RESPONSE, schema.TTP_MONTHS,
    schema.PROGRESSED, schema.TRAE_GRADE_3_4, *schema.PATIENT_OPTIONAL_COLUMNS,
)
_FLAGS = (schema.PROGRESSED, schema.TRAE_GRADE_3_4)
_FLOATS = (schema.TTP_MONTHS, schema.AGE)

Rule = tuple[Callable[[str], Any], str]


def _age(text: str) -> Any:
    value = parse_number(text)
    return value if value is not INVALID and 0 <= value <= schema.MAX_AGE else INVALID


def _rules(lines: Sequence[str]) -> dict[str, Rule]:
    """Parser and 'expected' text of every contract column."""
    return {
        schema.SITE: (parse_text, "a site label (not blank)"),
        schema.PATIENT_ID: (parse_text, "a patient identifier (not blank)"),
        schema.LINE: (choice_parser(lines), line_expected(lines)),
        schema.BEST_RESPONSE: (
            choice_parser(schema.RESPONSES),
            "one of CR, PR, SD, PD, NE (NE = not evaluable; case does not matter)",
        ),
        schema.TTP_MONTHS: (parse_months, MONTHS_EXPECTED),
        schema.PROGRESSED: (parse_flag, "0 or 1 (1 = progression observed, 0 = censored)"),
        schema.TRAE_GRADE_3_4: (
            parse_flag, "0 or 1 (1 = a grade 3-4 treatment-related adverse event in this line)"),
        schema.REGIMEN_CLASS: (parse_text, "a regimen class (free text, blank if unknown)"),
        schema.LINE_NUMBER: (whole_between(1, schema.MAX_LINE_NUMBER),
                             f"a whole number >= 1, at most {schema.MAX_LINE_NUMBER} "
                             "(blank if unknown)"),
        schema.SEX: (choice_parser(schema.SEXES), "M or F (case does not matter; blank if unknown)"),
        schema.AGE: (_age, f"an age in years from 0 to {schema.MAX_AGE:g} (blank if unknown)"),
        schema.SOURCE: (parse_text, "where the row came from (free text, blank if original "
                                    "patient data)"),
    }


def required_patient_columns(endpoints: Sequence[str]) -> dict[str, str]:
    """Required column -> reason, for an analysis of ``endpoints``."""
    required = {c: "a key column of the patient table" for c in schema.PATIENT_KEY_COLUMNS}
    for column in dict.fromkeys(c for e in endpoints for c in endpoint_columns(e)):
        needed_by = [repr(e) for e in endpoints if column in endpoint_columns(e)]
        noun = "endpoints" if len(needed_by) > 1 else "endpoint"
        required[column] = f"needed for the {noun} {' and '.join(needed_by)}"
    # Report missing columns in the order of the contract, not of the endpoints.
    return {c: required[c] for c in PATIENT_COLUMNS if c in required}


def reconstructed_rows(table: RawTable) -> frozenset[int]:
    """Row numbers whose ``source`` marks pseudo patient data reconstructed from a curve."""
    if schema.SOURCE not in table.frame.columns:
        return frozenset()
    return frozenset(row for row, raw in table.column(schema.SOURCE)
                     if raw.strip().lower().startswith(schema.RECONSTRUCTED_PREFIX))


def parse_patient_table(
    table: RawTable, lines: Sequence[str], endpoints: Sequence[str], issues: list[ValidationIssue]
) -> pd.DataFrame:
    """Parse the cells of one patient table, appending every problem to ``issues``.

    Returns
    -------
    pandas.DataFrame
        Parsed values (``None`` where missing or invalid) with :func:`patient_dtypes` applied,
        aligned row for row with ``table.frame``.
    """
    required = required_patient_columns(endpoints)
    wrong_kind = wrong_kind_problem(table.frame.columns, PATIENTS)
    if wrong_kind is not None:  # one message instead of every patient column missing
        issues.append(ValidationIssue(table.source, None, None, None, wrong_kind))
    else:
        check_required_columns(table, required, issues)
    reconstructed = reconstructed_rows(table)
    timed_columns = {c for e in registered_endpoints() for c in endpoint_columns(e)
                     if endpoint_definition(e).kind == "time_to_event"}
    data: dict[str, list[Any]] = {}
    for column, (parse, expected) in _rules(lines).items():
        if column in table.frame.columns:
            # A curve tells nothing about response or toxicity: reconstructed rows may leave
            # those cells blank, and the binary models then leave the rows out.
            optional = frozenset() if column in timed_columns else reconstructed
            data[column] = check_cells(table, column, parse, expected,
                                       required=column in required, issues=issues,
                                       optional_rows=optional)
    # Columns outside the contract travel along untouched (stripped text), e.g. a site's notes.
    extras = [c for c in table.frame.columns if c not in data]
    frame = pd.DataFrame(data, index=table.frame.index)
    for column in extras:
        check_text_column(table.source, table.rows, table.frame[column].to_numpy(), column, issues)
        frame[column] = [v.strip() for v in table.frame[column]]
    return patient_dtypes(frame, required)


def patient_dtypes(frame: pd.DataFrame, required: Collection[str]) -> pd.DataFrame:
    """Cast patient columns to their contract dtypes and order them.

    Text columns stay ``object`` (``str``, ``None`` when missing); times and age are ``float64``;
    flags are ``int64`` when the analysis requires them (then complete) and nullable ``Int64``
    otherwise; ``line_number`` is ``Int64``.
    """
    out = frame.copy()
    for column in out.columns:
        if column in _FLOATS:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
        elif column in _FLAGS or column == schema.LINE_NUMBER:
            values = pd.array(out[column].where(out[column].notna(), None).tolist(), dtype="Int64")
            complete = column in required and not values.isna().any()
            out[column] = values.astype("int64") if complete else values
        elif column in PATIENT_COLUMNS:
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    order = [c for c in PATIENT_COLUMNS if c in out.columns]
    return out[order + [c for c in out.columns if c not in order]]

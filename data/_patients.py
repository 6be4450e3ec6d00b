"""Rules of the patient table: one row per patient per treatment line.

:func:`parse_patient_table` checks the cells of one input; :func:`check_patient_rows` checks what
only shows across rows, possibly across files (duplicates, patient-level columns that change,
line numbers that go backwards). Both append to a shared issue list instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from . import schema
from ._labels import check_text_column
from ._parsers import (
    INVALID, MONTHS_EXPECTED, choice_parser, parse_flag, parse_months, parse_number, parse_text,
    whole_between,
)
from ._tables import RawTable, check_cells, check_required_columns, line_expected
from .errors import ValidationIssue, shown

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
    }


def required_patient_columns(endpoints: Sequence[str]) -> dict[str, str]:
    """Required column -> reason, for an analysis of ``endpoints``."""
    required = {c: "a key column of the patient table" for c in schema.PATIENT_KEY_COLUMNS}
    for column in dict.fromkeys(c for e in endpoints for c in schema.ENDPOINT_COLUMNS[e]):
        needed_by = [repr(e) for e in endpoints if column in schema.ENDPOINT_COLUMNS[e]]
        noun = "endpoints" if len(needed_by) > 1 else "endpoint"
        required[column] = f"needed for the {noun} {' and '.join(needed_by)}"
    # Report missing columns in the order of the contract, not of the endpoints.
    return {c: required[c] for c in PATIENT_COLUMNS if c in required}


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
    check_required_columns(table, required, issues)
    data: dict[str, list[Any]] = {}
    for column, (parse, expected) in _rules(lines).items():
        if column in table.frame.columns:
            data[column] = check_cells(table, column, parse, expected,
                                       required=column in required, issues=issues)
    # Columns outside the contract travel along untouched (stripped text), e.g. a site's notes.
    extras = [c for c in table.frame.columns if c not in data]
    frame = pd.DataFrame(data, index=table.frame.index)
    for column in extras:
        check_text_column(table.source, table.rows, table.frame[column].to_numpy(), column, issues)
        frame[column] = [v.strip() for v in table.frame[column]]
    return patient_dtypes(frame, required)


def patient_dtypes(frame: pd.DataFrame, required: Sequence[str]) -> pd.DataFrame:
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


def check_patient_rows(
    parts: Sequence[tuple[RawTable, pd.DataFrame]],
    lines: Sequence[str],
    issues: list[ValidationIssue],
) -> None:
    """Checks across rows and files: duplicates, patient-level changes, line-number order.

    Parameters
    ----------
    parts
        ``(raw table, parsed frame)`` per input, in the order given by the user; a row that
        appears earlier is the reference, a later row is the one reported.

    Notes
    -----
    Written with grouped column operations, not a loop over rows: a table of a million rows is
    checked in seconds. Only the rows reported are visited one by one.
    """
    rows = _stack(parts)
    if rows.empty:
        return
    key = [schema.SITE, schema.PATIENT_ID, schema.LINE]
    keyed = rows.dropna(subset=key)

    # Duplicate patient-line: report every later copy, pointing at the first.
    copies = keyed.duplicated(key)
    if copies.any():
        first = keyed.groupby(key, sort=False)[["_file", "_row"]].transform("first")
        for (_, rec), (_, ref) in zip(keyed[copies].iterrows(), first[copies].iterrows()):
            issues.append(ValidationIssue(
                rec["_file"], int(rec["_row"]), schema.LINE, rec["_raw_line"],
                f"one row per site, patient and line; site {rec[schema.SITE]!r}, patient "
                f"{rec[schema.PATIENT_ID]!r}, line {rec[schema.LINE]} already appears on "
                f"{_where(ref['_file'], ref['_row'], rec['_file'])}",
            ))

    # Patient-level columns: every non-missing value must equal the first one of that patient.
    patient = [schema.SITE, schema.PATIENT_ID]
    for column in schema.PATIENT_LEVEL_COLUMNS:
        if column not in rows.columns:
            continue
        # The line is not needed to know whose row it is, so rows with a bad line count too.
        known = rows.dropna(subset=patient)
        known = known[known[column].notna()]
        raw = f"_raw_{column}"
        first = known.groupby(patient, sort=False)[[column, raw, "_file", "_row"]].transform("first")
        changed = (known[column] != first[column]).to_numpy()
        for (_, rec), (_, ref) in zip(known[changed].iterrows(), first[changed].iterrows()):
            where = _where(ref["_file"], ref["_row"], rec["_file"])
            issues.append(ValidationIssue(
                rec["_file"], int(rec["_row"]), column, rec[raw],
                f"the same {column} as on {where} ({shown(ref[raw])}): {column} "
                "describes the patient and must not change between lines",
            ))

    # Line numbers must increase with the line order (ICI-2 comes after ICI-1).
    if schema.LINE_NUMBER in rows.columns:
        rank = {label: i for i, label in enumerate(lines)}
        numbered = keyed[keyed[schema.LINE_NUMBER].notna()].drop_duplicates(key)
        numbered = (numbered.assign(_rank=numbered[schema.LINE].map(rank))
                    .sort_values("_rank", kind="stable"))
        cols = [schema.LINE_NUMBER, schema.LINE, "_file", "_row"]
        prev = numbered.groupby(patient, sort=False)[cols].shift(1)
        has_prev = prev[schema.LINE_NUMBER].notna().to_numpy()
        back = numbered[has_prev][schema.LINE_NUMBER].to_numpy() <= \
            prev[has_prev][schema.LINE_NUMBER].to_numpy()
        later, earlier = numbered[has_prev][back], prev[has_prev][back]
        for (_, rec), (_, ref) in zip(later.iterrows(), earlier.iterrows()):
            issues.append(ValidationIssue(
                rec["_file"], int(rec["_row"]), schema.LINE_NUMBER, rec["_raw_line_number"],
                f"a line_number above {ref[schema.LINE_NUMBER]} ({ref[schema.LINE]} on "
                f"{_where(ref['_file'], ref['_row'], rec['_file'])}), because "
                f"{rec[schema.LINE]} comes after {ref[schema.LINE]}",
            ))


def _stack(parts: Sequence[tuple[RawTable, pd.DataFrame]]) -> pd.DataFrame:
    """All parsed rows with their file, row number and the raw text of the cross-row columns."""
    frames = []
    for table, parsed in parts:
        cols = [c for c in (*schema.PATIENT_KEY_COLUMNS, *schema.PATIENT_LEVEL_COLUMNS,
                            schema.LINE_NUMBER) if c in parsed.columns]
        frame = parsed[cols].astype(object).copy()
        frame["_file"] = table.source
        frame["_row"] = table.rows
        for column in (schema.LINE, *schema.PATIENT_LEVEL_COLUMNS, schema.LINE_NUMBER):
            if column in table.frame.columns:
                frame[f"_raw_{column}"] = table.frame[column].to_numpy()
        frames.append(frame)
    if not frames:
        return pd.DataFrame()
    stacked = pd.concat(frames, ignore_index=True)
    for column in schema.PATIENT_KEY_COLUMNS:  # a missing key column is reported elsewhere
        if column not in stacked.columns:
            stacked[column] = None
    return stacked.astype(object).where(stacked.notna(), None)


def _where(file: str, row: int, here: str) -> str:
    """'row 4' within the same file, 'other.csv, row 4' across files."""
    return f"row {row}" if file == here else f"{file}, row {row}"

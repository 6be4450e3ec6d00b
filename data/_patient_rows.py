"""Checks of the patient table across rows, possibly across files.

One row per site, patient and line; patient-level columns (sex, age) that do not change between a
patient's rows; line numbers that increase in line order. A row that appears earlier (in the
order of the files, then of the rows) is the reference; the later row is the one reported.

The checks work on integer codes of the key columns and grouped array operations, not on a loop
over rows, so a table of a million rows is checked in seconds and with little memory beyond the
table itself. Only the rows reported are visited one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema
from ._tables import RawTable
from .errors import ValidationIssue, shown


@dataclass
class _Rows:
    """Every patient row of every input, as aligned arrays."""

    file: np.ndarray      # source of each row (object)
    row: np.ndarray       # row number in its file
    values: dict[str, np.ndarray]   # parsed key and cross-row columns (object; None if missing)
    raw: dict[str, np.ndarray]      # raw text of the reported columns ("" where absent)

    def where(self, i: int, here: str) -> str:
        """'row 4' within the same file, 'other.csv, row 4' across files."""
        return f"row {self.row[i]}" if self.file[i] == here else f"{self.file[i]}, row {self.row[i]}"


def check_patient_rows(
    parts: Sequence[tuple[RawTable, pd.DataFrame]],
    lines: Sequence[str],
    issues: list[ValidationIssue],
) -> None:
    """Duplicates, patient-level changes and line-number order, appended to ``issues``.

    Parameters
    ----------
    parts
        ``(raw table, parsed frame)`` per input, in the order given by the user.
    lines
        Line labels in treatment order.
    """
    rows = _stack(parts)
    if rows is None or not len(rows.row):
        return
    site, pid, line = (rows.values[c] for c in schema.PATIENT_KEY_COLUMNS)
    patient = _codes(site, pid)
    line_code = _codes(line)
    keyed = (patient >= 0) & (line_code >= 0)
    patient_line = np.where(keyed, patient * (int(line_code.max()) + 1) + line_code, -1)

    # Duplicate patient-line: report every later copy, pointing at the first.
    first = _first_of_group(patient_line, keyed)
    for i in np.flatnonzero(keyed & (first != np.arange(len(first)))):
        ref = first[i]
        issues.append(ValidationIssue(
            rows.file[i], int(rows.row[i]), schema.LINE, rows.raw[schema.LINE][i],
            f"one row per site, patient and line; site {site[i]!r}, patient {pid[i]!r}, line "
            f"{line[i]} already appears on {rows.where(ref, rows.file[i])}"))

    # Patient-level columns: every non-missing value must equal the first one of that patient.
    for column in schema.PATIENT_LEVEL_COLUMNS:
        if column not in rows.values:
            continue
        values = rows.values[column]
        # The line is not needed to know whose row it is, so rows with a bad line count too.
        known = (patient >= 0) & pd.notna(values)
        first = _first_of_group(patient, known)
        later = np.flatnonzero(known & (first != np.arange(len(first))))
        changed = later[values[later] != values[first[later]]]
        raw = rows.raw[column]
        for i in changed:
            ref = first[i]
            issues.append(ValidationIssue(
                rows.file[i], int(rows.row[i]), column, raw[i],
                f"the same {column} as on {rows.where(ref, rows.file[i])} ({shown(raw[ref])}): "
                f"{column} describes the patient and must not change between lines"))

    # Line numbers must increase with the line order (ICI-2 comes after ICI-1).
    if schema.LINE_NUMBER in rows.values:
        _check_line_numbers(rows, lines, patient, patient_line, keyed, issues)


def _check_line_numbers(
    rows: _Rows, lines: Sequence[str], patient: np.ndarray, patient_line: np.ndarray,
    keyed: np.ndarray, issues: list[ValidationIssue],
) -> None:
    """Each numbered line of a patient after the previous one in line order has a higher number."""
    number = rows.values[schema.LINE_NUMBER]
    line = rows.values[schema.LINE]
    # The first row of each patient-line with a number; later copies are duplicates.
    numbered = keyed & pd.notna(number)
    numbered &= _first_of_group(patient_line, numbered) == np.arange(len(number))
    index = np.flatnonzero(numbered)
    rank = {label: i for i, label in enumerate(lines)}
    ranks = np.fromiter((rank[line[i]] for i in index), dtype=np.int64, count=len(index))
    # By patient, then line order, then input order (stable): each row follows its predecessor.
    order = index[np.lexsort((ranks, patient[index]))]
    same = patient[order[1:]] == patient[order[:-1]]
    earlier, later = order[:-1][same], order[1:][same]
    back = (number[later] <= number[earlier]).astype(bool)
    for prev, i in zip(earlier[back], later[back]):
        issues.append(ValidationIssue(
            rows.file[i], int(rows.row[i]), schema.LINE_NUMBER, rows.raw[schema.LINE_NUMBER][i],
            f"a line_number above {number[prev]} ({line[prev]} on "
            f"{rows.where(prev, rows.file[i])}), because {line[i]} comes after {line[prev]}"))


def _codes(*columns: np.ndarray) -> np.ndarray:
    """One integer per distinct combination of values; -1 where any value is missing."""
    code = np.zeros(len(columns[0]), dtype=np.int64)
    missing = np.zeros(len(columns[0]), dtype=bool)
    for column in columns:
        codes, uniques = pd.factorize(column)
        missing |= codes < 0
        code = code * (len(uniques) + 1) + codes
    if len(columns) > 1:  # keep codes small whatever the number of columns
        code = pd.factorize(code)[0]
    return np.where(missing, -1, code)


def _first_of_group(codes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Position of the first row (within ``mask``) of each row's group; -1 outside ``mask``."""
    first = np.full(len(codes), -1, dtype=np.int64)
    index = np.flatnonzero(mask)
    if len(index):
        firsts = pd.Series(index).groupby(codes[index], sort=False).transform("first")
        first[index] = firsts.to_numpy()
    return first


def _stack(parts: Sequence[tuple[RawTable, pd.DataFrame]]) -> _Rows | None:
    """All parsed rows with their file, row number and the raw text of the reported columns."""
    if not parts:
        return None
    parsed_columns = (*schema.PATIENT_KEY_COLUMNS, *schema.PATIENT_LEVEL_COLUMNS, schema.LINE_NUMBER)
    present = {c for _, parsed in parts for c in parsed.columns}
    values: dict[str, list[np.ndarray]] = {c: [] for c in parsed_columns
                                           if c in present or c in schema.PATIENT_KEY_COLUMNS}
    raw: dict[str, list[np.ndarray]] = {c: [] for c in (schema.LINE, *schema.PATIENT_LEVEL_COLUMNS,
                                                        schema.LINE_NUMBER)}
    for table, parsed in parts:
        n = len(parsed)
        for column, chunks in values.items():
            # A missing key column is reported elsewhere; its rows then take part in no check.
            chunks.append(_objects(parsed[column]) if column in parsed.columns
                          else np.full(n, None, dtype=object))
        for column, chunks in raw.items():
            chunks.append(table.frame[column].to_numpy(dtype=object)
                          if column in table.frame.columns else np.full(n, "", dtype=object))
    files = np.concatenate([np.full(len(p), t.source, dtype=object) for t, p in parts])
    numbers = np.concatenate([t.rows for t, _ in parts])
    return _Rows(files, numbers, {c: np.concatenate(v) for c, v in values.items()},
                 {c: np.concatenate(v) for c, v in raw.items()})


def _objects(column: pd.Series) -> np.ndarray:
    """Values as Python objects (int, float, str), ``None`` where missing."""
    values = column.to_numpy(dtype=object)
    values[pd.isna(values)] = None
    return values

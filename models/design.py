"""Covariate design matrices for meta-regression (shared by every model family)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rechallenge.data import schema

#: Reference level of categorical covariates whose levels the schema knows; otherwise the first
#: level in sorted order is the reference.
_KNOWN_LEVELS: dict[str, tuple[str, ...]] = {
    schema.REGIMEN_CLASS: schema.REGIMEN_CLASSES,
    schema.SEX: schema.SEXES,
}


def covariate_design(
    rows: pd.DataFrame, covariates: Sequence[str]
) -> tuple[np.ndarray, list[str], dict[str, float | list[str]]]:
    """Build the fixed-effect design matrix of the requested covariates.

    Categorical columns (object/string dtype) get treatment coding against a reference level
    (the first level in the schema's order, else the first in sorted order). Numeric columns are
    centred on their mean so that the intercepts keep their meaning (the log-odds or log-scale at
    an average value of the covariate).

    Parameters
    ----------
    rows
        Patient rows (one per patient and line).
    covariates
        Column names of ``rows``.

    Returns
    -------
    X : numpy.ndarray
        Shape (rows, columns), float.
    names : list of str
        Column names, ``"<covariate>"`` for numeric and ``"<covariate>[<level>]"`` for dummies.
    encoding : dict
        Per covariate, the centring constant (numeric) or the ordered levels (categorical), so the
        same coding can be applied to new data.

    Raises
    ------
    ValueError
        A covariate is missing from ``rows``, has missing values, or has a single level.
    """
    columns: list[np.ndarray] = []
    names: list[str] = []
    encoding: dict[str, float | list[str]] = {}
    problems = []
    for cov in covariates:
        if cov not in rows.columns:
            problems.append(f"covariate {cov!r} is not a column of the patient table")
            continue
        values = rows[cov]
        if values.isna().any():
            problems.append(f"covariate {cov!r} has missing values in {int(values.isna().sum())} rows")
            continue
        if pd.api.types.is_numeric_dtype(values):
            centre = float(values.mean())
            columns.append(values.to_numpy(dtype=float) - centre)
            names.append(cov)
            encoding[cov] = centre
            continue
        observed = set(values.astype(str))
        known = [lvl for lvl in _KNOWN_LEVELS.get(cov, ()) if lvl in observed]
        levels = known + sorted(observed - set(known))
        if len(levels) < 2:
            problems.append(f"covariate {cov!r} has a single level {levels}; it cannot be estimated")
            continue
        encoding[cov] = levels
        for level in levels[1:]:
            columns.append((values.astype(str) == level).to_numpy(dtype=float))
            names.append(f"{cov}[{level}]")
    if problems:
        raise ValueError("; ".join(problems))
    if not columns:
        return np.zeros((len(rows), 0)), [], {}
    return np.column_stack(columns), names, encoding

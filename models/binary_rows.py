"""Likelihood rows of the binary model: patient rows and aggregate rows in one table.

Every row of the likelihood is ``events ~ Binomial(n, p)``: a patient row is a Binomial with
``n = 1`` (a Bernoulli), an aggregate row (a site that shared only counts) has its own ``n``.
Without a patient effect the patient rows of one site, line and covariate pattern are exchangeable,
so they are collapsed to one Binomial row with the same sufficient statistics: the posterior is
unchanged and the log density is cheaper to evaluate.

All input checks of the binary model live here, so a bad study fails before any PyMC code runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rechallenge.data import schema
from rechallenge.data.endpoints import binary_outcome, endpoint_columns, endpoint_definition
from rechallenge.data.study import Study

from .design import covariate_design
from .dims import OBS, PATIENT, SITE, label_codes

#: ``source`` values of the rows.
PATIENT_SOURCE = "patients"
AGGREGATE_SOURCE = "aggregate"


@dataclass(frozen=True)
class BinaryRows:
    """The assembled likelihood rows of one binary endpoint.

    Attributes
    ----------
    frame
        One row per likelihood term, columns ``obs`` (unique label), ``site``, ``line``,
        ``patient`` (``"<site>/<patient_id>"`` or ``""`` for collapsed and aggregate rows),
        ``source`` (``"patients"`` or ``"aggregate"``), ``n`` and ``events``.
    X
        Covariate design, shape (rows, covariate columns); zero columns without covariates.
    covariate_names, covariate_encoding
        As returned by :func:`rechallenge.models.design.covariate_design`.
    sites, lines, patients
        Coordinate labels in model order (``patients`` is empty unless kept uncollapsed).
    collapsed
        True when patient rows were collapsed to site-line(-covariate pattern) counts.
    """

    frame: pd.DataFrame
    X: np.ndarray
    covariate_names: list[str]
    covariate_encoding: dict[str, float | list[str]]
    sites: tuple[str, ...]
    lines: tuple[str, ...]
    patients: tuple[str, ...] = field(default_factory=tuple)
    collapsed: bool = True

    def codes(self, column: str) -> np.ndarray:
        """Integer codes of ``site``, ``line`` or ``patient`` in coordinate order.

        The one place where labels become indices. Aggregate rows have no patient: code 0, which
        the model masks out.
        """
        if column != PATIENT:
            return label_codes(self.frame[column], self.sites if column == SITE else self.lines)
        codes = np.zeros(len(self.frame), dtype="int64")
        is_patient = (self.frame[PATIENT] != "").to_numpy()
        codes[is_patient] = label_codes(self.frame.loc[is_patient, PATIENT], self.patients)
        return codes

    @property
    def is_patient_row(self) -> np.ndarray:
        """1.0 for patient rows, 0.0 for aggregate rows."""
        return (self.frame["source"] == PATIENT_SOURCE).to_numpy(dtype=float)


def binary_rows(
    study: Study,
    endpoint: str,
    *,
    patient_effect: bool = False,
    covariates: Sequence[str] = (),
    collapse: bool | None = None,
) -> BinaryRows:
    """Assemble and check the likelihood rows of a binary endpoint.

    Parameters
    ----------
    study
        The validated study.
    endpoint
        A registered binary endpoint (:func:`rechallenge.data.endpoints.register_endpoint`).
    patient_effect
        Whether the model has a patient effect (rows must then stay one per patient and line).
    covariates
        Patient-table columns used as covariates.
    collapse
        ``None`` collapses whenever there is no patient effect; ``True`` demands it (an error
        with a patient effect); ``False`` keeps one row per patient and line.

    Returns
    -------
    BinaryRows

    Raises
    ------
    ValueError
        Unknown endpoint, missing endpoint columns or values, line labels outside
        ``study.lines`` or lines without rows, a site without rows for this endpoint, covariates
        combined with aggregate rows, a patient effect without patient rows, ``collapse=True``
        with a patient effect, or (uncollapsed) a patient-line row that occurs twice.
    """
    if endpoint_definition(endpoint).kind != "binary":
        raise ValueError(f"{endpoint!r} is not a binary endpoint")
    if collapse and patient_effect:
        raise ValueError(
            "collapse=True cannot be combined with a patient effect: the patient effect needs "
            "one likelihood row per patient and line"
        )
    collapse = not patient_effect if collapse is None else bool(collapse)
    covariates = list(covariates)
    lines = tuple(str(x) for x in study.lines)
    if not lines:
        raise ValueError("the study declares no treatment lines")
    if len(set(lines)) != len(lines):
        raise ValueError(f"duplicate line labels in study.lines: {lines}")

    patients = _patient_rows(study.patients, endpoint)
    aggregates = _aggregate_rows(study.aggregates, endpoint)
    if covariates and len(aggregates):
        raise ValueError(
            f"covariates {covariates} need a value per patient, but {len(aggregates)} aggregate "
            f"row(s) of {endpoint!r} carry none; drop the covariates or the aggregate rows"
        )
    if patient_effect and not len(patients):
        raise ValueError("a patient effect needs patient rows; the study has only aggregate rows")

    _check_lines(patients, aggregates, lines, endpoint)
    sites = study.sites
    _check_sites(patients, aggregates, sites, endpoint)

    if covariates:
        X, names, encoding = covariate_design(study.patients, covariates)
    else:
        X, names, encoding = np.zeros((len(patients), 0)), [], {}

    if collapse:
        frame, X = _collapse(patients, X, lines)
    else:
        frame = patients.assign(source=PATIENT_SOURCE).reset_index(drop=True)
        frame[OBS] = frame[PATIENT] + "/" + frame[schema.LINE]
        duplicated = frame[OBS][frame[OBS].duplicated()].unique().tolist()
        if duplicated:
            raise ValueError(f"patient-line rows occur more than once: {duplicated[:5]}")
    agg = aggregates.assign(
        patient="", source=AGGREGATE_SOURCE,
        obs=aggregates[schema.SITE] + "/" + aggregates[schema.LINE] + "/aggregate",
    )
    if len(agg):
        # Several aggregate rows for one site and line are allowed; number them to keep labels unique.
        dup = agg.groupby(OBS).cumcount()
        agg[OBS] = np.where(dup > 0, agg[OBS] + "#" + (dup + 1).astype(str), agg[OBS])
    columns = [OBS, schema.SITE, schema.LINE, PATIENT, "source", schema.N, schema.EVENTS]
    frame = pd.concat([frame[columns], agg[columns]], ignore_index=True)
    X = np.vstack([X, np.zeros((len(agg), X.shape[1]))])
    frame[schema.N] = frame[schema.N].astype("int64")
    frame[schema.EVENTS] = frame[schema.EVENTS].astype("int64")

    patient_labels = () if collapse else tuple(dict.fromkeys(frame.loc[frame[PATIENT] != "", PATIENT]))
    return BinaryRows(frame, X, names, encoding, sites, lines, patient_labels, collapse)


def _patient_rows(patients: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """One row per patient and line: site, line, patient label, n = 1, events = outcome."""
    columns = [schema.SITE, schema.LINE, PATIENT, schema.N, schema.EVENTS]
    if patients is None or not len(patients):
        return pd.DataFrame(columns=columns)
    needed = [schema.SITE, schema.PATIENT_ID, schema.LINE, *endpoint_columns(endpoint)]
    missing = [c for c in needed if c not in patients.columns]
    if missing:
        raise ValueError(f"the patient table lacks column(s) {missing} needed for {endpoint!r}")
    source = list(endpoint_columns(endpoint))
    bad = patients[source].isna().any(axis=1)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} patient row(s) have no value in {source} for {endpoint!r}; "
            "validate the data first (rechallenge.data.validate_patients)"
        )
    site = patients[schema.SITE].astype(str)
    return pd.DataFrame(
        {
            schema.SITE: site,
            schema.LINE: patients[schema.LINE].astype(str),
            PATIENT: site + "/" + patients[schema.PATIENT_ID].astype(str),
            schema.N: 1,
            schema.EVENTS: binary_outcome(patients, endpoint).to_numpy(dtype="int64"),
        },
        index=patients.index,
    )


def _aggregate_rows(aggregates: pd.DataFrame | None, endpoint: str) -> pd.DataFrame:
    columns = [schema.SITE, schema.LINE, schema.N, schema.EVENTS]
    if aggregates is None or not len(aggregates):
        return pd.DataFrame(columns=columns)
    rows = aggregates[aggregates[schema.ENDPOINT] == endpoint]
    if not len(rows):
        return pd.DataFrame(columns=columns)
    n = pd.to_numeric(rows[schema.N], errors="coerce")
    events = pd.to_numeric(rows[schema.EVENTS], errors="coerce")
    bad = n.isna() | events.isna() | (n < 0) | (events < 0) | (events > n) | (n % 1 != 0) | (events % 1 != 0)
    if bad.any():
        raise ValueError(
            f"aggregate row(s) of {endpoint!r} at index {list(rows.index[bad])} need integer "
            "0 <= events <= n"
        )
    return pd.DataFrame(
        {
            schema.SITE: rows[schema.SITE].astype(str),
            schema.LINE: rows[schema.LINE].astype(str),
            schema.N: n.astype("int64"),
            schema.EVENTS: events.astype("int64"),
        }
    ).reset_index(drop=True)


def _check_lines(
    patients: pd.DataFrame, aggregates: pd.DataFrame, lines: tuple[str, ...], endpoint: str
) -> None:
    seen = pd.concat([patients[schema.LINE], aggregates[schema.LINE]]).astype(str)
    unknown = sorted(set(seen) - set(lines))
    if unknown:
        raise ValueError(f"line label(s) {unknown} are not in the study's lines {list(lines)}")
    empty = [line for line in lines if line not in set(seen)]
    if empty:
        raise ValueError(
            f"line(s) {empty} of the study have no rows for {endpoint!r}; a line without data "
            "cannot be estimated: remove it from the study's lines"
        )


def _check_sites(
    patients: pd.DataFrame, aggregates: pd.DataFrame, sites: tuple[str, ...], endpoint: str
) -> None:
    seen = set(pd.concat([patients[schema.SITE], aggregates[schema.SITE]]).astype(str))
    empty = [s for s in sites if s not in seen]
    if empty:
        raise ValueError(
            f"site(s) {empty} have no rows for {endpoint!r} (their rows are for other endpoints); "
            "drop them from the study for this endpoint"
        )


def _collapse(
    patients: pd.DataFrame, X: np.ndarray, lines: tuple[str, ...]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Sum patient rows sharing site, line and covariate pattern into one Binomial row."""
    if not len(patients):
        return patients.assign(source=PATIENT_SOURCE, obs=""), X
    keyed = patients.reset_index(drop=True)
    pattern_cols = [f"_x{j}" for j in range(X.shape[1])]
    for j, col in enumerate(pattern_cols):
        keyed[col] = X[:, j]
    keyed["_line_order"] = keyed[schema.LINE].map({line: i for i, line in enumerate(lines)})
    keys = [schema.SITE, "_line_order", schema.LINE, *pattern_cols]
    grouped = (
        keyed.groupby(keys, sort=True, dropna=False)
        .agg(n=(schema.N, "sum"), events=(schema.EVENTS, "sum"))
        .reset_index()
    )
    grouped[PATIENT] = ""
    grouped["source"] = PATIENT_SOURCE
    pattern = grouped.groupby([schema.SITE, schema.LINE]).cumcount()
    several = grouped.groupby([schema.SITE, schema.LINE])[schema.N].transform("size") > 1
    base = grouped[schema.SITE] + "/" + grouped[schema.LINE]
    grouped[OBS] = np.where(several, base + "/pattern" + (pattern + 1).astype(str), base)
    return grouped, grouped[pattern_cols].to_numpy(dtype=float).reshape(len(grouped), X.shape[1])

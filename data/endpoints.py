"""Derived binary endpoints and site-by-line counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import schema


def binary_outcome(patients: pd.DataFrame, endpoint: str) -> pd.Series:
    """Return the 0/1 outcome of a binary endpoint for every patient row.

    Parameters
    ----------
    patients
        Validated patient table.
    endpoint
        One of :data:`rechallenge.data.schema.BINARY_ENDPOINTS`.

    Returns
    -------
    pandas.Series
        Integer 0/1 series aligned with ``patients``. NE counts as 0 (intention to treat).
    """
    if endpoint == "response":
        return patients[schema.BEST_RESPONSE].isin(schema.RESPONSE_EVENTS).astype(int)
    if endpoint == "disease_control":
        return patients[schema.BEST_RESPONSE].isin(schema.DISEASE_CONTROL_EVENTS).astype(int)
    if endpoint == "toxicity":
        return patients[schema.TRAE_GRADE_3_4].astype(int)
    raise ValueError(
        f"unknown binary endpoint {endpoint!r}; expected one of {schema.BINARY_ENDPOINTS}"
    )


def rows_with_endpoint(patients: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """The patient rows that hold a value for ``endpoint`` (all of its columns filled).

    Validated data leave an endpoint's columns blank only on rows reconstructed from a published
    curve, which carry time to progression alone; those rows are not patients of the binary
    endpoints, so every count, model and table of a binary endpoint takes its rows from here.
    """
    columns = list(schema.ENDPOINT_COLUMNS[endpoint])
    if not len(patients) or not all(c in patients.columns for c in columns):
        return patients
    known = patients[columns].notna().all(axis=1)
    return patients if known.all() else patients[known].reset_index(drop=True)


def with_binary_endpoints(patients: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``patients`` with a 0/1 column per derivable binary endpoint."""
    out = patients.copy()
    for endpoint in schema.BINARY_ENDPOINTS:
        if all(c in out.columns for c in schema.ENDPOINT_COLUMNS[endpoint]):
            out[endpoint] = binary_outcome(out, endpoint)
    return out


def site_line_counts(
    patients: pd.DataFrame, aggregates: pd.DataFrame | None, endpoint: str, lines: tuple[str, ...]
) -> pd.DataFrame:
    """Count events and patients per site and line, patient rows and aggregate rows together.

    Returns
    -------
    pandas.DataFrame
        Columns ``site, line, n, events, source`` where ``source`` is ``"patients"`` or
        ``"aggregate"``; one row per site, line and source with at least one patient.
    """
    frames = []
    if patients is not None and len(patients):
        y = binary_outcome(patients, endpoint)
        grouped = (
            pd.DataFrame({schema.SITE: patients[schema.SITE], schema.LINE: patients[schema.LINE],
                          "y": y.to_numpy()})
            .groupby([schema.SITE, schema.LINE], observed=True, sort=False)["y"]
            .agg(n="size", events="sum")
            .reset_index()
        )
        grouped["source"] = "patients"
        frames.append(grouped)
    if aggregates is not None and len(aggregates):
        agg = aggregates[aggregates[schema.ENDPOINT] == endpoint]
        if len(agg):
            agg = agg[[schema.SITE, schema.LINE, schema.N, schema.EVENTS]].copy()
            agg["source"] = "aggregate"
            frames.append(agg)
    if not frames:
        return pd.DataFrame(columns=[schema.SITE, schema.LINE, "n", "events", "source"])
    out = pd.concat(frames, ignore_index=True)
    out["n"] = out["n"].astype(int)
    out["events"] = out["events"].astype(int)
    order = {line: i for i, line in enumerate(lines)}
    out = out.sort_values([schema.SITE, schema.LINE],
                          key=lambda s: s.map(order) if s.name == schema.LINE else s)
    return out.reset_index(drop=True)


def paired_table(patients: pd.DataFrame, endpoint: str, lines: tuple[str, ...]) -> pd.DataFrame:
    """Wide table of one binary endpoint: one row per patient, one column per line (NaN if absent)."""
    y = binary_outcome(patients, endpoint)
    wide = (
        pd.DataFrame({schema.SITE: patients[schema.SITE], schema.PATIENT_ID: patients[schema.PATIENT_ID],
                      schema.LINE: patients[schema.LINE], endpoint: y.to_numpy()})
        .pivot(index=[schema.SITE, schema.PATIENT_ID], columns=schema.LINE, values=endpoint)
    )
    return wide.reindex(columns=list(lines)).astype(float).where(lambda d: ~np.isnan(d))

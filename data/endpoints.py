"""What each endpoint is in the data: its columns, its kind and, for a binary endpoint, its
0/1 outcome; and site-by-line counts.

The endpoints are a registry (:func:`register_endpoint`), filled here with the four of the
reference study and the joint endpoint of efficacy and toxicity (:data:`BENEFIT_RISK`). A new
binary endpoint read from a column of its own (for example grade 2-4 toxicity) is one
:class:`EndpointDefinition` registered beside its model family
(:mod:`rechallenge.analysis.families`); nothing else in the data layer names an endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from . import schema

#: What kind of outcome an endpoint records: a 0/1 event, a (possibly censored) time, or two
#: 0/1 outcomes of the same patients read together (``"joint"``: the benefit-risk model, whose
#: rows are those of two binary endpoints; it has no rows or counts of its own).
OutcomeKind = Literal["binary", "time_to_event", "joint"]


@dataclass(frozen=True)
class EndpointDefinition:
    """One endpoint as the data know it.

    Attributes
    ----------
    name
        The endpoint's name in configs, aggregate tables and file names (``"response"``).
    label
        The reader's label (``"Objective response (CR or PR)"``).
    columns
        Patient-table columns the endpoint is derived from (required when it is analysed).
    kind
        ``"binary"`` (events out of patients), ``"time_to_event"``, or ``"joint"`` (two binary
        endpoints of the same patients together; ``columns`` are those of the default pair).
    outcome
        For a binary endpoint: the 0/1 outcome of every patient row (NE counts as 0); a
        picklable callable (:class:`EventsIn`, :class:`Flag`) so the definition can travel to
        the engine's workers.
    """

    name: str
    label: str
    columns: tuple[str, ...]
    kind: OutcomeKind
    outcome: Callable[[pd.DataFrame], pd.Series] | None = None


_DEFINITIONS: dict[str, EndpointDefinition] = {}
#: The joint endpoint of efficacy and grade 3-4 toxicity (:mod:`rechallenge.models.joint`).
BENEFIT_RISK: Final = "benefit_risk"


def register_endpoint(definition: EndpointDefinition) -> EndpointDefinition:
    """Make ``definition`` known to the data layer (again: replaced); return it.

    Raises
    ------
    ValueError
        A binary endpoint without an outcome function.
    """
    if definition.kind == "binary" and definition.outcome is None:
        raise ValueError(f"binary endpoint {definition.name!r} needs an outcome function")
    _DEFINITIONS[definition.name] = definition
    return definition


def unregister_endpoint(name: str) -> None:
    """Forget endpoint ``name`` (a test's own endpoint, when the test ends)."""
    _DEFINITIONS.pop(name, None)


def endpoint_definition(name: str) -> EndpointDefinition:
    """The registered definition of ``name``.

    Raises
    ------
    ValueError
        ``name`` is not a registered endpoint.
    """
    try:
        return _DEFINITIONS[name]
    except KeyError:
        raise ValueError(f"unknown endpoint {name!r}; expected one of "
                         f"{registered_endpoints()}") from None


def registered_endpoints() -> tuple[str, ...]:
    """Every registered endpoint, in registration order (the built-ins in schema order)."""
    return tuple(_DEFINITIONS)


def endpoints_of_kind(kind: str) -> tuple[str, ...]:
    """The registered endpoints whose outcome is of ``kind`` (``"binary"`` or
    ``"time_to_event"``), in registration order.
    """
    return tuple(name for name, d in _DEFINITIONS.items() if d.kind == kind)


def endpoint_columns(name: str) -> tuple[str, ...]:
    """The patient-table columns endpoint ``name`` is derived from."""
    return endpoint_definition(name).columns


@dataclass(frozen=True)
class EventsIn:
    """A 0/1 outcome: whether ``column`` holds one of ``events`` (``best_response`` in CR, PR).

    A class rather than a closure, so that a definition can be sent to another process.
    """

    column: str
    events: frozenset[str]

    def __call__(self, patients: pd.DataFrame) -> pd.Series:
        """The outcome of every row."""
        return patients[self.column].isin(self.events).astype(int)


@dataclass(frozen=True)
class Flag:
    """A 0/1 outcome read from a column of 0/1 values (numbers, or their text)."""

    column: str

    def __call__(self, patients: pd.DataFrame) -> pd.Series:
        """The outcome of every row."""
        return pd.to_numeric(patients[self.column]).astype(int)


for _definition in (
    EndpointDefinition("response", schema.ENDPOINT_LABELS["response"], (schema.BEST_RESPONSE,),
                       "binary", EventsIn(schema.BEST_RESPONSE, schema.RESPONSE_EVENTS)),
    EndpointDefinition("disease_control", schema.ENDPOINT_LABELS["disease_control"],
                       (schema.BEST_RESPONSE,), "binary",
                       EventsIn(schema.BEST_RESPONSE, schema.DISEASE_CONTROL_EVENTS)),
    EndpointDefinition("toxicity", schema.ENDPOINT_LABELS["toxicity"], (schema.TRAE_GRADE_3_4,),
                       "binary", Flag(schema.TRAE_GRADE_3_4)),
    EndpointDefinition(schema.TTP_ENDPOINT, schema.ENDPOINT_LABELS[schema.TTP_ENDPOINT],
                       (schema.TTP_MONTHS, schema.PROGRESSED), "time_to_event"),
    # Fitted only when a config enables it ([benefit_risk]), never listed among a config's
    # endpoints; aggregate tables cannot name it (their endpoints are schema.ENDPOINTS).
    EndpointDefinition(BENEFIT_RISK, "Benefit and risk (efficacy and grade 3-4 toxicity)",
                       (schema.BEST_RESPONSE, schema.TRAE_GRADE_3_4), "joint"),
):
    register_endpoint(_definition)


def binary_outcome(patients: pd.DataFrame, endpoint: str) -> pd.Series:
    """Return the 0/1 outcome of a binary endpoint for every patient row.

    Parameters
    ----------
    patients
        Validated patient table.
    endpoint
        A registered binary endpoint (:func:`registered_endpoints`).

    Returns
    -------
    pandas.Series
        Integer 0/1 series aligned with ``patients``. NE counts as 0 (intention to treat).

    Raises
    ------
    ValueError
        ``endpoint`` is not a registered binary endpoint.
    """
    definition = endpoint_definition(endpoint)
    if definition.outcome is None:
        raise ValueError(f"{endpoint!r} is not a binary endpoint")
    return definition.outcome(patients)


def rows_with_endpoint(patients: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """The patient rows that hold a value for ``endpoint`` (all of its columns filled).

    Validated data leave an endpoint's columns blank only on rows reconstructed from a published
    curve, which carry time to progression alone; those rows are not patients of the binary
    endpoints, so every count, model and table of a binary endpoint takes its rows from here.
    """
    columns = list(endpoint_columns(endpoint))
    if not len(patients) or not all(c in patients.columns for c in columns):
        return patients
    known = patients[columns].notna().all(axis=1)
    return patients if known.all() else patients[known].reset_index(drop=True)


def with_binary_endpoints(patients: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``patients`` with a 0/1 column per derivable binary endpoint."""
    out = patients.copy()
    for endpoint in endpoints_of_kind("binary"):
        if all(c in out.columns for c in endpoint_columns(endpoint)):
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

"""Likelihood rows of the joint efficacy-toxicity (benefit-risk) model, and its vocabulary.

Two tables:

``pairs``
    One row per patient and line with *both* outcomes known: the 2 x 2 cell the patient fell in,
    coded ``cell = 2 * efficacy + safety`` (0: neither, 1: toxicity only, 2: efficacy only,
    3: both). These rows carry the within-patient dependence.
``margins``
    Rows that inform one outcome only, each ``events ~ Binomial(n, p)``: aggregate rows (a site
    that sent counts per endpoint; their patients are not linked across endpoints) and the patient
    rows with one of the two outcomes missing (they contribute the outcome they have, rather than
    being dropped: dropping them would discard information the margin holds).

Patient rows with neither outcome (TTP-only rows reconstructed from a published curve) are not
patients of this model and are left out, as in :func:`rechallenge.data.endpoints.rows_with_endpoint`.
All input checks live here, so a bad study fails before any PyMC code runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from rechallenge.data import schema
from rechallenge.data.endpoints import binary_outcome, endpoint_columns, endpoint_definition
from rechallenge.data.study import Study

from .dims import LINE, OBS, PATIENT, SITE, label_codes

#: The outcome axis: the labels are roles, not endpoint names, so that the joint models of
#: response and of disease control (each with toxicity) share one compiled structure.
OUTCOME: Final = "outcome"
OUTCOMES: Final[tuple[str, str]] = ("efficacy", "safety")
#: The (outcome, line) combinations of the site effects, outcome-major ("efficacy:ICI-1", ...),
#: with a second name for the axis of their correlation matrix and one for its pairs.
OUTCOME_LINE: Final = "outcome_line"
OUTCOME_LINE_B: Final = "outcome_line_b"
OUTCOME_LINE_PAIR: Final = "outcome_line_pair"
#: Rows of the margin table (one outcome each).
MARGIN_OBS: Final = "margin_obs"

PATIENT_SOURCE: Final = "patients"
AGGREGATE_SOURCE: Final = "aggregate"


@dataclass(frozen=True)
class JointRows:
    """The assembled likelihood rows of the joint model.

    Attributes
    ----------
    pairs
        Columns ``obs``, ``site``, ``line``, ``patient`` (``"<site>/<patient_id>"``),
        ``efficacy``, ``safety`` (0/1) and ``cell`` (``2 * efficacy + safety``).
    margins
        Columns ``margin_obs``, ``outcome`` (``"efficacy"`` or ``"safety"``), ``site``, ``line``,
        ``patient`` (``""`` for aggregate rows), ``source``, ``n`` and ``events``.
    sites, lines, patients
        Coordinate labels in model order: the sites with data for either endpoint (sorted), the
        study's lines, every patient of ``pairs`` and of the patient rows of ``margins``.
    efficacy, safety
        The endpoints read as the two outcomes.
    """

    pairs: pd.DataFrame
    margins: pd.DataFrame
    sites: tuple[str, ...]
    lines: tuple[str, ...]
    patients: tuple[str, ...]
    efficacy: str
    safety: str

    def codes(self, table: str, column: str) -> np.ndarray:
        """Integer codes of ``site``, ``line``, ``patient`` or ``outcome`` of ``table``
        (``"pairs"`` or ``"margins"``), in coordinate order.

        Aggregate rows have no patient: code 0, which the model masks out.
        """
        frame = self.pairs if table == "pairs" else self.margins
        labels = {SITE: self.sites, LINE: self.lines, OUTCOME: OUTCOMES}
        if column != PATIENT:
            return label_codes(frame[column], labels[column])
        codes = np.zeros(len(frame), dtype="int64")
        known = (frame[PATIENT] != "").to_numpy()
        codes[known] = label_codes(frame.loc[known, PATIENT], self.patients)
        return codes

    @property
    def outcome_lines(self) -> list[str]:
        """Labels of the (outcome, line) combinations, outcome-major."""
        return [f"{outcome}:{line}" for outcome in OUTCOMES for line in self.lines]


def joint_rows(study: Study, efficacy: str = "response", safety: str = "toxicity") -> JointRows:
    """Assemble and check the likelihood rows of the joint model.

    Parameters
    ----------
    study
        The validated study.
    efficacy, safety
        Two different registered binary endpoints.

    Returns
    -------
    JointRows

    Raises
    ------
    ValueError
        An endpoint that is not binary, the same endpoint twice, a patient table without the
        columns of both endpoints, no patient with both outcomes (the dependence would rest on
        the prior alone), line labels outside ``study.lines``, a line without data for one of
        the outcomes, a bad aggregate row, or a patient-line row that occurs twice.
    """
    for endpoint in (efficacy, safety):
        if endpoint_definition(endpoint).kind != "binary":
            raise ValueError(f"{endpoint!r} is not a binary endpoint")
    if efficacy == safety:
        raise ValueError(f"efficacy and safety must be different endpoints, both are {efficacy!r}")
    lines = tuple(str(x) for x in study.lines)
    if not lines or len(set(lines)) != len(lines):
        raise ValueError(f"the study's lines must be distinct and at least one: {lines}")

    pairs, partial = _patient_rows(study.patients, efficacy, safety)
    if not len(pairs):
        raise ValueError(
            f"no patient row has both {efficacy!r} and {safety!r}: the joint model needs patients "
            "with both outcomes"
        )
    margins = pd.concat([partial, _aggregate_rows(study.aggregates, efficacy, safety)],
                        ignore_index=True)
    # "<site>/<patient_id>/<line>/<outcome>" or "<site>/<line>/<outcome>/aggregate".
    is_aggregate = margins[PATIENT] == ""
    margins[MARGIN_OBS] = np.where(
        is_aggregate,
        margins[SITE] + "/" + margins[LINE] + "/" + margins[OUTCOME] + "/" + AGGREGATE_SOURCE,
        margins[PATIENT] + "/" + margins[LINE] + "/" + margins[OUTCOME])
    # Several aggregate rows for one site, line and endpoint are allowed: number them.
    repeat = margins.groupby(MARGIN_OBS).cumcount()
    margins[MARGIN_OBS] = np.where(repeat > 0, margins[MARGIN_OBS] + "#" + (repeat + 1).astype(str),
                                   margins[MARGIN_OBS])

    _check_lines(pairs, margins, lines)
    sites = tuple(sorted(set(pairs[SITE]) | set(margins[SITE])))
    patients = tuple(dict.fromkeys([*pairs[PATIENT], *margins.loc[margins[PATIENT] != "", PATIENT]]))
    return JointRows(pairs, margins, sites, lines, patients, efficacy, safety)


def _patient_rows(
    patients: pd.DataFrame, efficacy: str, safety: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows with both outcomes (``pairs``) and rows with one (as margin rows)."""
    pair_columns = [OBS, SITE, LINE, PATIENT, "efficacy", "safety", "cell"]
    margin_columns = [OUTCOME, SITE, LINE, PATIENT, "source", schema.N, schema.EVENTS]
    if patients is None or not len(patients):
        return pd.DataFrame(columns=pair_columns), pd.DataFrame(columns=margin_columns)
    needed = [schema.SITE, schema.PATIENT_ID, schema.LINE,
              *endpoint_columns(efficacy), *endpoint_columns(safety)]
    missing = [c for c in dict.fromkeys(needed) if c not in patients.columns]
    if missing:
        raise ValueError(f"the patient table lacks column(s) {missing} needed for "
                         f"{efficacy!r} and {safety!r}")
    site = patients[schema.SITE].astype(str)
    frame = pd.DataFrame({SITE: site, LINE: patients[schema.LINE].astype(str),
                          PATIENT: site + "/" + patients[schema.PATIENT_ID].astype(str)})
    for role, endpoint in zip(OUTCOMES, (efficacy, safety)):
        known = patients[list(endpoint_columns(endpoint))].notna().all(axis=1)
        # Only rows that hold a value are read: a blank would otherwise count as "no event".
        values = pd.Series(np.nan, index=patients.index)
        values[known] = binary_outcome(patients[known], endpoint).to_numpy(dtype=float)
        frame[role] = values.to_numpy()
    duplicated = frame[[PATIENT, LINE]].duplicated()
    if duplicated.any():
        shown = (frame.loc[duplicated, PATIENT] + "/" + frame.loc[duplicated, LINE]).unique()
        raise ValueError(f"patient-line rows occur more than once: {list(shown[:5])}")

    both = frame["efficacy"].notna() & frame["safety"].notna()
    pairs = frame[both].reset_index(drop=True)
    pairs["efficacy"] = pairs["efficacy"].astype("int64")
    pairs["safety"] = pairs["safety"].astype("int64")
    pairs["cell"] = 2 * pairs["efficacy"] + pairs["safety"]
    pairs[OBS] = pairs[PATIENT] + "/" + pairs[LINE]

    partial = []
    for role in OUTCOMES:
        other = OUTCOMES[1 - OUTCOMES.index(role)]
        rows = frame[frame[role].notna() & frame[other].isna()]
        partial.append(pd.DataFrame({OUTCOME: role, SITE: rows[SITE], LINE: rows[LINE],
                                     PATIENT: rows[PATIENT], "source": PATIENT_SOURCE,
                                     schema.N: 1, schema.EVENTS: rows[role].astype("int64")}))
    margins = pd.concat(partial, ignore_index=True)
    return pairs[pair_columns], margins[margin_columns]


def _aggregate_rows(aggregates: pd.DataFrame | None, efficacy: str, safety: str) -> pd.DataFrame:
    """Aggregate rows of the two endpoints as margin rows (other endpoints' rows are ignored)."""
    columns = [OUTCOME, SITE, LINE, PATIENT, "source", schema.N, schema.EVENTS]
    if aggregates is None or not len(aggregates):
        return pd.DataFrame(columns=columns)
    roles = {efficacy: OUTCOMES[0], safety: OUTCOMES[1]}
    rows = aggregates[aggregates[schema.ENDPOINT].isin(list(roles))]
    if not len(rows):
        return pd.DataFrame(columns=columns)
    n = pd.to_numeric(rows[schema.N], errors="coerce")
    events = pd.to_numeric(rows[schema.EVENTS], errors="coerce")
    bad = (n.isna() | events.isna() | (n < 0) | (events < 0) | (events > n) | (n % 1 != 0)
           | (events % 1 != 0))
    if bad.any():
        raise ValueError(f"aggregate row(s) at index {list(rows.index[bad])} need integer "
                         "0 <= events <= n")
    return pd.DataFrame({
        OUTCOME: rows[schema.ENDPOINT].map(roles).to_numpy(),
        SITE: rows[schema.SITE].astype(str).to_numpy(),
        LINE: rows[schema.LINE].astype(str).to_numpy(),
        PATIENT: "", "source": AGGREGATE_SOURCE,
        schema.N: n.astype("int64").to_numpy(), schema.EVENTS: events.astype("int64").to_numpy(),
    })


def _check_lines(pairs: pd.DataFrame, margins: pd.DataFrame, lines: tuple[str, ...]) -> None:
    seen = set(pairs[LINE]) | set(margins[LINE])
    unknown = sorted(seen - set(lines))
    if unknown:
        raise ValueError(f"line label(s) {unknown} are not in the study's lines {list(lines)}")
    for role in OUTCOMES:
        with_data = set(pairs[LINE]) | set(margins.loc[margins[OUTCOME] == role, LINE])
        empty = [line for line in lines if line not in with_data]
        if empty:
            raise ValueError(
                f"line(s) {empty} have no {role} data; a line without data cannot be estimated: "
                "remove it from the study's lines"
            )

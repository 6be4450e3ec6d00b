"""The design a simulation study reproduces: sites, patients per site and line, censoring.

A :class:`SimulationDesign` keeps the patient rows of a study without their outcomes (site,
patient, line) plus, for time to progression, a censoring time per row. Simulated outcomes are
put back into a :class:`~rechallenge.data.Study` of the same shape, so the model builders see
simulated data exactly as they see real data, and every simulated study of one design gives a
model of the same structure (the sampler compiles it once per worker).

Censoring pattern: a row censored in the data keeps its censoring time; a row with an observed
progression is followed up to the longest time observed at its line (administrative censoring at
the end of follow-up). A simulated time beyond its row's censoring time is censored there. Sites
added by :meth:`SimulationDesign.expanded` take the censoring times of the study's rows of the same
line in turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rechallenge.data import Study, schema
from rechallenge.data.endpoints import endpoint_definition

#: Column of the censoring time (months) of each design row.
CENSOR = "censor_months"
#: Label prefix of the sites a planned expansion adds (``N01``, ``N02``, ...).
NEW_SITE_PREFIX = "N"


@dataclass(frozen=True)
class SimulationDesign:
    """Patient rows without outcomes, and the line order.

    Parameters
    ----------
    rows
        Columns ``site``, ``patient_id``, ``line`` and :data:`CENSOR`, one row per patient and
        line, in a fixed order.
    lines
        Treatment-line labels in order.
    """

    rows: pd.DataFrame
    lines: tuple[str, ...]

    @classmethod
    def from_study(cls, study: Study, endpoint: str) -> SimulationDesign:
        """The design of ``study``'s patient rows for ``endpoint`` (aggregate rows are left out).

        Raises
        ------
        ValueError
            The study has no patient rows for the endpoint, or a site lacks a line (the simulated
            model would then differ in structure from one simulation to the next).
        """
        patients = study.for_endpoint(endpoint).patients
        if patients is None or len(patients) == 0:
            raise ValueError(f"the study has no patient rows for {endpoint!r} to simulate from")
        rows = patients[[schema.SITE, schema.PATIENT_ID, schema.LINE]].astype(str).copy()
        timed = endpoint_definition(endpoint).kind == "time_to_event"
        rows[CENSOR] = _censoring_times(patients) if timed else np.inf
        missing = rows.groupby(schema.SITE)[schema.LINE].nunique() < len(study.lines)
        if missing.any():
            raise ValueError("every site needs patients at every line to simulate its design; "
                             f"sites {sorted(missing[missing].index)} lack a line")
        return cls(rows.reset_index(drop=True), tuple(study.lines))

    @property
    def sites(self) -> tuple[str, ...]:
        """Site labels, sorted (the order of the models' ``site`` coordinate)."""
        return tuple(sorted(self.rows[schema.SITE].unique()))

    @property
    def patients(self) -> tuple[str, ...]:
        """Patient keys ``site/patient_id``, sorted."""
        return tuple(sorted(set(self.patient_keys())))

    def patient_keys(self) -> np.ndarray:
        """``site/patient_id`` of every row (patient ids need only be unique within a site)."""
        return (self.rows[schema.SITE] + "/" + self.rows[schema.PATIENT_ID]).to_numpy()

    def codes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Site, line and patient index of every row (in :attr:`sites`, ``lines``, patients)."""
        site = pd.Categorical(self.rows[schema.SITE], categories=self.sites).codes
        line = pd.Categorical(self.rows[schema.LINE], categories=list(self.lines)).codes
        patient = pd.Categorical(self.patient_keys(), categories=self.patients).codes
        return site.astype(int), line.astype(int), patient.astype(int)

    def expanded(self, k_sites: int, n_patients: int) -> SimulationDesign:
        """The design plus ``k_sites`` new sites of ``n_patients`` patients, each at every line.

        Parameters
        ----------
        k_sites
            Number of sites to add (0 returns this design).
        n_patients
            Patients per new site; each is treated at every line (the paired design).
        """
        if k_sites < 0 or n_patients < 1:
            raise ValueError(f"need k_sites >= 0 and n_patients >= 1, got {k_sites}, {n_patients}")
        if k_sites == 0:
            return self
        by_line = {line: self.rows.loc[self.rows[schema.LINE] == line, CENSOR].to_numpy()
                   for line in self.lines}
        new = []
        for k in range(k_sites):
            site = f"{NEW_SITE_PREFIX}{k + 1:02d}"
            for p in range(n_patients):
                for line in self.lines:
                    pool = by_line[line]
                    # Cycle through the study's censoring times of this line: the same follow-up
                    # pattern, deterministic, whatever the number of sites added.
                    censor = pool[(k * n_patients + p) % len(pool)]
                    new.append({schema.SITE: site, schema.PATIENT_ID: f"{site}-P{p + 1:03d}",
                                schema.LINE: line, CENSOR: censor})
        rows = pd.concat([self.rows, pd.DataFrame(new)], ignore_index=True)
        return SimulationDesign(rows, self.lines)

    def summary(self) -> dict[str, object]:
        """Sites, patients, rows and censored share (for manifests and reports)."""
        return {"sites": len(self.sites), "patients": len(self.patients), "rows": len(self.rows),
                "rows_with_finite_censoring": int(np.isfinite(self.rows[CENSOR]).sum())}

    def binary_study(self, events: np.ndarray, toxicity: np.ndarray | None = None) -> Study:
        """A study whose binary endpoints are ``events`` (0/1 per design row).

        Best response is written PR for an event and PD otherwise, and the toxicity flag equals
        the event, so response, disease control and toxicity all read ``events``; with
        ``toxicity`` (0/1 per row, the joint model's second outcome) the flag is that instead.
        """
        y = np.asarray(events, dtype=int)
        frame = self.rows[[schema.SITE, schema.PATIENT_ID, schema.LINE]].copy()
        frame[schema.BEST_RESPONSE] = np.where(y == 1, "PR", "PD")
        frame[schema.TTP_MONTHS] = 1.0
        frame[schema.PROGRESSED] = 1
        frame[schema.TRAE_GRADE_3_4] = y if toxicity is None else np.asarray(toxicity, dtype=int)
        return Study(frame, lines=self.lines, synthetic=True)

    def ttp_study(self, times: np.ndarray) -> Study:
        """A study whose times to progression are ``times`` censored at the design's times."""
        t = np.maximum(np.asarray(times, dtype=float), np.finfo(float).tiny)
        censor = self.rows[CENSOR].to_numpy(float)
        frame = self.rows[[schema.SITE, schema.PATIENT_ID, schema.LINE]].copy()
        frame[schema.BEST_RESPONSE] = "SD"
        frame[schema.TTP_MONTHS] = np.minimum(t, censor)
        frame[schema.PROGRESSED] = (t <= censor).astype(int)
        frame[schema.TRAE_GRADE_3_4] = 0
        return Study(frame, lines=self.lines, synthetic=True)


def _censoring_times(patients: pd.DataFrame) -> np.ndarray:
    """Observed time for censored rows; the line's longest observed time for the others."""
    t = pd.to_numeric(patients[schema.TTP_MONTHS]).to_numpy(float)
    censored = pd.to_numeric(patients[schema.PROGRESSED]).to_numpy(int) == 0
    longest = patients.assign(_t=t).groupby(schema.LINE)["_t"].transform("max").to_numpy(float)
    return np.where(censored, t, longest)

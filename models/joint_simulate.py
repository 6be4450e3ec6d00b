"""Studies simulated from the joint efficacy-toxicity model with known parameters.

The generative story of :func:`rechallenge.models.joint.build_joint_model`, forward: site
effects over the (outcome, line) combinations, a patient effect per outcome shared by the
patient's lines, and per patient and line a 2 x 2 cell from Dale's model. The result is a
:class:`~rechallenge.data.study.Study` whose patient table follows the package's schema (validated
by :func:`rechallenge.data.validate_patients`), so the builder reads it as it reads real data.
Used to check that the model recovers what it was given (``tests/test_joint_model.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rechallenge.data import schema, validate_patients
from rechallenge.data.study import Study

from .joint_dale import dale_cells_numpy, draw_cells


def simulate_joint_study(
    *,
    mu_eff: Sequence[float],
    mu_tox: Sequence[float],
    tau: Sequence[Sequence[float]] | np.ndarray,
    site_corr: np.ndarray,
    log_or: Sequence[float],
    sigma_patient: Sequence[float] = (0.0, 0.0),
    n_sites: int = 30,
    patients_per_site: int | Sequence[int] = 40,
    aggregate_sites: int = 0,
    lines: tuple[str, ...] = schema.DEFAULT_LINES,
    efficacy: str = "response",
    safety: str = "toxicity",
    seed: int = 0,
) -> Study:
    """Draw a study from the joint model with the given parameters.

    Parameters
    ----------
    mu_eff, mu_tox
        Log-odds of efficacy and toxicity at the typical site, one per line.
    tau
        Between-site SDs, shape (2, lines): row 0 efficacy, row 1 safety.
    site_corr
        Correlation of a site's effects over the (outcome, line) combinations, outcome-major
        (efficacy at each line, then safety at each line), shape (2 lines, 2 lines).
    log_or
        Within-patient log odds ratio of the two outcomes, one per line.
    sigma_patient
        SD of the patient effect of efficacy and of safety (shared by a patient's lines).
    n_sites
        Number of sites (labelled ``S01``, ``S02``, ...).
    patients_per_site
        Patients per site (each treated at every line), one number or one per site.
    aggregate_sites
        The last ``aggregate_sites`` sites report counts per line and endpoint only (aggregate
        rows), drawn from the same patients.
    lines
        Line labels.
    efficacy, safety
        The endpoints the outcomes are written as: efficacy ``"response"`` (CR/PR against SD/PD)
        or ``"disease_control"`` (CR/PR/SD against PD); safety ``"toxicity"``.
    seed
        Seed of every random draw.

    Returns
    -------
    rechallenge.data.study.Study
        ``synthetic=True``, ``sources=("simulated",)``.

    Raises
    ------
    ValueError
        Parameters of the wrong shape, a ``site_corr`` that is not a correlation matrix, or
        endpoints other than those above.
    """
    if efficacy not in ("response", "disease_control") or safety != "toxicity":
        raise ValueError("simulated outcomes are written as response or disease_control, "
                         f"and toxicity; got {efficacy!r}, {safety!r}")
    n_lines = len(lines)
    mu = np.array([mu_eff, mu_tox], dtype=float)
    tau_arr = np.asarray(tau, dtype=float)
    log_or_arr = np.asarray(log_or, dtype=float)
    sigma = np.asarray(sigma_patient, dtype=float)
    corr = np.asarray(site_corr, dtype=float)
    if mu.shape != (2, n_lines) or tau_arr.shape != (2, n_lines) or log_or_arr.shape != (n_lines,):
        raise ValueError(f"mu_eff, mu_tox, log_or need {n_lines} values and tau shape "
                         f"(2, {n_lines})")
    if sigma.shape != (2,) or (sigma < 0).any() or (tau_arr < 0).any():
        raise ValueError("sigma_patient needs 2 values; SDs must be >= 0")
    if corr.shape != (2 * n_lines, 2 * n_lines) or not np.allclose(np.diag(corr), 1.0):
        raise ValueError(f"site_corr must be a {2 * n_lines} x {2 * n_lines} correlation matrix")
    chol = np.linalg.cholesky(corr)  # raises LinAlgError if not positive definite
    sizes = np.broadcast_to(np.asarray(patients_per_site, dtype=int), (n_sites,))
    if not 0 <= aggregate_sites <= n_sites or (sizes < 1).any():
        raise ValueError("need 0 <= aggregate_sites <= n_sites and at least 1 patient per site")

    rng = np.random.default_rng(seed)
    sites = [f"S{k + 1:02d}" for k in range(n_sites)]
    u_site = ((rng.standard_normal((n_sites, 2 * n_lines)) @ chol.T)
              * tau_arr.reshape(-1)).reshape(n_sites, 2, n_lines)
    site_of = np.repeat(np.arange(n_sites), sizes)
    u_patient = rng.standard_normal((len(site_of), 2)) * sigma
    # (patient, outcome, line) log-odds; each patient is treated at every line.
    eta = mu[None] + u_site[site_of] + u_patient[:, :, None]
    p = 1.0 / (1.0 + np.exp(-eta))
    cells = draw_cells(dale_cells_numpy(p[:, 0, :], p[:, 1, :], log_or_arr[None, :]), rng)
    y_eff, y_tox = cells // 2, cells % 2
    # Within each outcome class, which category: CR/PR for a response, SD/PD otherwise (for
    # disease control, SD is an event, so responders are CR/PR/SD and the rest PD).
    event_words, other_words = ((["CR", "PR"], ["SD", "PD"]) if efficacy == "response"
                                else (["CR", "PR", "SD"], ["PD"]))
    words = np.where(y_eff == 1, rng.choice(event_words, size=y_eff.shape),
                     rng.choice(other_words, size=y_eff.shape))

    numbers = np.concatenate([np.arange(1, s + 1) for s in sizes])
    rows = pd.DataFrame({
        schema.SITE: np.repeat(np.array(sites)[site_of], n_lines),
        schema.PATIENT_ID: np.repeat([f"{sites[s]}-P{k:03d}" for s, k in zip(site_of, numbers)],
                                     n_lines),
        schema.LINE: np.tile(lines, len(site_of)),
        schema.BEST_RESPONSE: words.reshape(-1),
        schema.TRAE_GRADE_3_4: y_tox.reshape(-1),
    })
    aggregated = rows[schema.SITE].isin(sites[n_sites - aggregate_sites:]) if aggregate_sites \
        else pd.Series(False, index=rows.index)
    aggregates = _aggregates(rows[aggregated], y_eff.reshape(-1)[aggregated.to_numpy()],
                             efficacy, lines)
    patients = validate_patients(rows[~aggregated].reset_index(drop=True), source="simulated",
                                 lines=lines, endpoints=(efficacy, safety))
    return Study(patients, aggregates, lines=tuple(lines), sources=("simulated",), synthetic=True)


def _aggregates(
    rows: pd.DataFrame, y_eff: np.ndarray, efficacy: str, lines: tuple[str, ...]
) -> pd.DataFrame:
    """Counts per site, line and endpoint of the rows of aggregate-only sites."""
    if not len(rows):
        return pd.DataFrame(columns=list(schema.AGGREGATE_COLUMNS))
    frame = rows.assign(_eff=y_eff)
    parts = []
    for endpoint, column in ((efficacy, "_eff"), ("toxicity", schema.TRAE_GRADE_3_4)):
        counts = (frame.groupby([schema.SITE, schema.LINE], sort=False)[column]
                  .agg(n="size", events="sum").reset_index())
        counts[schema.ENDPOINT] = endpoint
        parts.append(counts)
    out = pd.concat(parts, ignore_index=True)
    for column in (schema.MEDIAN_MONTHS, schema.MEDIAN_LOWER, schema.MEDIAN_UPPER):
        out[column] = np.nan
    out[schema.N] = out[schema.N].astype("int64")
    out[schema.EVENTS] = out[schema.EVENTS].astype("int64")
    order = {line: k for k, line in enumerate(lines)}
    out = out.sort_values([schema.SITE, schema.ENDPOINT, schema.LINE],
                          key=lambda s: s.map(order) if s.name == schema.LINE else s)
    return out[list(schema.AGGREGATE_COLUMNS)].reset_index(drop=True)

"""The joint efficacy-toxicity model in simulation studies (SBC): its parameters drawn from the
priors :func:`rechallenge.models.joint.build_joint_model` puts on them, whole studies drawn from
those parameters, the recorded quantities, and the model refitted.

The joint model does not have the shape of the generic route of
:mod:`rechallenge.analysis.simulation.generators` (one outcome per design row from one linear
predictor, site effects over the lines): it draws two outcomes per patient and line, with site
effects over the (outcome, line) combinations. So its simulator draws parameters and studies
itself (:class:`~rechallenge.analysis.settings.family_hooks.DrawsWholeStudies`), which the
simulation layer takes instead of its generic steps; the generic route's per-row methods are not
called. The priors are read from :data:`rechallenge.models.joint_priors.JOINT_PRIORS` (resolved
with the config's overrides by the simulation study) and the LKJ prior's vine from
:func:`rechallenge.models.joint.lkj_partial_betas`; a patient's 2 x 2 cell is drawn by Dale's
model of :mod:`rechallenge.models.joint_dale`. Aggregate rows of the config's data (counts per
site, line and endpoint) are redrawn as counts of patients of their own, each margin apart, as
the model's likelihood reads them. SBC only: coverage and precision studies take true values
and a later-line effect on the generic route's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pymc as pm
from scipy.special import expit

from rechallenge.analysis.settings.config import DEFAULT_WEIGHTS, BenefitRiskConfig
from rechallenge.analysis.summaries.benefit_risk import OUTCOMES, net_benefit
from rechallenge.analysis.summaries.site_effects import population_average
from rechallenge.data import Study, schema
from rechallenge.models.dims import Pooling
from rechallenge.models.joint import build_joint_model, lkj_partial_betas
from rechallenge.models.joint_dale import dale_cells_numpy, draw_cells
from rechallenge.models.joint_rows import AGGREGATE_SOURCE, OUTCOME, joint_rows

#: The endpoints a simulated study can write the two outcomes as: efficacy as a best response
#: (``PR`` an event, ``PD`` not, so response and disease control both read it), safety as the
#: grade 3-4 toxicity flag.
EFFICACY_ENDPOINTS = ("response", "disease_control")
SAFETY_ENDPOINTS = ("toxicity",)


class JointSimulator:
    """Simulation of the joint model of an efficacy and a safety endpoint.

    Parameters
    ----------
    efficacy, safety
        The endpoints the outcomes are written as (:data:`EFFICACY_ENDPOINTS`,
        :data:`SAFETY_ENDPOINTS`).
    weights
        ``{"efficacy": w, "safety": w}`` of the recorded net benefit (the config's).
    aggregates
        Aggregate rows of the study the design comes from: columns ``site``, ``line``,
        ``outcome`` (``"efficacy"`` or ``"safety"``) and ``n``; redrawn in every simulation.

    Raises
    ------
    ValueError
        Endpoints a simulated study cannot be written as.
    """

    key = "joint"
    location = "mu_eff"
    patient_sd = "sigma_patient"
    patient_prior = "sigma_patient_sd"
    #: Read by coverage and precision studies only, which this model does not have.
    headline: tuple[str, str, float] = ("net_benefit_population",
                                        "difference_net_benefit_population", 0.0)
    default_effect = 0.0
    bounds: Mapping[str, tuple[float, float, str]] = MappingProxyType({})
    open_bounds: frozenset[str] = frozenset()
    prior_options: Mapping[str, Any] = MappingProxyType({})

    def __init__(self, efficacy: str = "response", safety: str = "toxicity",
                 weights: Mapping[str, float] | None = None,
                 aggregates: pd.DataFrame | None = None) -> None:
        if efficacy not in EFFICACY_ENDPOINTS or safety not in SAFETY_ENDPOINTS:
            raise ValueError(
                "simulation studies of the joint model write efficacy as "
                f"{' or '.join(EFFICACY_ENDPOINTS)} and safety as {' or '.join(SAFETY_ENDPOINTS)}"
                f"; [benefit_risk] names {efficacy!r} and {safety!r}")
        self.efficacy, self.safety = efficacy, safety
        w = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.weights = (float(w["efficacy"]), float(w["safety"]))
        columns = [schema.SITE, schema.LINE, OUTCOME, schema.N]
        self.aggregates = (pd.DataFrame(columns=columns) if aggregates is None
                           else aggregates[columns].reset_index(drop=True))

    @classmethod
    def for_study(cls, settings: BenefitRiskConfig, study: Study) -> JointSimulator:
        """The simulator of the config's joint model, with the aggregate rows of ``study``."""
        margins = joint_rows(study, settings.efficacy, settings.safety).margins
        aggregates = margins[margins["source"] == AGGREGATE_SOURCE]
        return cls(settings.efficacy, settings.safety, settings.weights, aggregates)

    def __repr__(self) -> str:
        return (f"JointSimulator({self.efficacy!r}, {self.safety!r}, weights={self.weights}, "
                f"aggregate rows={len(self.aggregates)})")

    # ----------------------------------------------------------------------- parameters
    def draw_parameters(self, priors: Mapping[str, float], n_lines: int,
                        rng: np.random.Generator) -> dict[str, Any]:
        """Every parameter of the joint model from its prior (JSON-ready lists).

        ``mu_eff``, ``mu_tox`` and ``log_or`` (line), ``tau`` (outcome, line), ``corr`` (the
        correlation of the site effects over the (outcome, line) combinations, outcome-major) and
        ``sigma_patient`` (outcome).
        """
        size = 2 * n_lines
        beta = lkj_partial_betas(size, float(priors["lkj_eta"]))
        partial = 2.0 * rng.beta(beta, beta) - 1.0
        chol = _vine_cholesky(partial, size)
        return {
            "mu_eff": rng.normal(0.0, priors["mu_sd"], n_lines).tolist(),
            "mu_tox": rng.normal(0.0, priors["mu_sd"], n_lines).tolist(),
            "tau": np.abs(rng.normal(0.0, priors["tau_sd"], (2, n_lines))).tolist(),
            "corr": (chol @ chol.T).tolist(),
            "sigma_patient": np.abs(rng.normal(0.0, priors["sigma_patient_sd"], 2)).tolist(),
            "log_or": rng.normal(0.0, priors["log_or_sd"], n_lines).tolist(),
        }

    # ----------------------------------------------------------------------- data
    def draw_study(self, hyper: Mapping[str, Any], design: Any, rng: np.random.Generator) -> Study:
        """A study of the design's patients (and the aggregate rows) given the parameters.

        Site effects over the (outcome, line) combinations, a patient effect per outcome shared
        by the patient's lines, and per patient and line a 2 x 2 cell from Dale's model.
        """
        lines = list(design.lines)
        n_lines = len(lines)
        sites = sorted(set(design.sites) | set(self.aggregates[schema.SITE]))
        site, line, patient = design.codes()
        site = np.searchsorted(sites, np.asarray(design.sites))[site]
        mu = np.array([hyper["mu_eff"], hyper["mu_tox"]], dtype=float)
        tau = np.asarray(hyper["tau"], dtype=float)
        sigma = np.asarray(hyper["sigma_patient"], dtype=float)
        chol = np.linalg.cholesky(np.asarray(hyper["corr"], dtype=float))
        # Non-centred as in the model: u[s] = diag(tau) chol(R) z[s], outcome-major.
        z = rng.standard_normal((len(sites), 2 * n_lines))
        u_site = ((z @ chol.T) * tau.reshape(-1)).reshape(len(sites), 2, n_lines)
        u_patient = rng.standard_normal((len(design.patients), 2)) * sigma
        # (row, outcome): the log-odds of each patient-line's two outcomes.
        eta = mu[:, line].T + u_site[site, :, line] + u_patient[patient]
        p = expit(eta)
        log_or = np.asarray(hyper["log_or"], dtype=float)[line]
        cells = draw_cells(dale_cells_numpy(p[:, 0], p[:, 1], log_or), rng)
        simulated = design.binary_study(cells // 2, toxicity=cells % 2)
        if not len(self.aggregates):
            return simulated
        return Study(simulated.patients, self._aggregate_counts(sites, lines, mu, u_site, sigma,
                                                                 rng),
                     lines=simulated.lines, synthetic=True)

    def _aggregate_counts(self, sites: list[str], lines: list[str], mu: np.ndarray,
                          u_site: np.ndarray, sigma: np.ndarray,
                          rng: np.random.Generator) -> pd.DataFrame:
        """Each aggregate row's events: ``n`` patients of their own, each with a patient effect
        (what the model's Binomial(n, average over the patient effect) reads).
        """
        rows = self.aggregates
        s = np.searchsorted(sites, rows[schema.SITE].to_numpy(str))
        j = np.array([lines.index(x) for x in rows[schema.LINE]], dtype=int)
        o = np.array([OUTCOMES.index(x) for x in rows[OUTCOME]], dtype=int)
        events = []
        for k, n in enumerate(rows[schema.N].to_numpy(int)):
            v = rng.standard_normal(n) * sigma[o[k]]
            p = expit(mu[o[k], j[k]] + u_site[s[k], o[k], j[k]] + v)
            events.append(int((rng.uniform(size=n) < p).sum()))
        endpoints = np.where(o == 0, self.efficacy, self.safety)
        frame = pd.DataFrame({schema.SITE: rows[schema.SITE].to_numpy(str),
                              schema.LINE: rows[schema.LINE].to_numpy(str),
                              schema.ENDPOINT: endpoints, schema.N: rows[schema.N].astype("int64"),
                              schema.EVENTS: np.asarray(events, dtype="int64")})
        for column in (schema.MEDIAN_MONTHS, schema.MEDIAN_LOWER, schema.MEDIAN_UPPER):
            frame[column] = np.nan
        return frame[list(schema.AGGREGATE_COLUMNS)]

    # ----------------------------------------------------------------------- quantities
    def parameter_arrays(self, posterior: Any) -> dict[str, np.ndarray]:
        """The parameters of a fit, named and shaped as :meth:`draw_parameters`' with a leading
        (chain, draw).
        """
        lines = [str(x) for x in posterior.coords["line"].to_numpy()]
        combos = [f"{o}:{line}" for o in OUTCOMES for line in lines]

        def get(name: str, *dims: str, **where: list[str]) -> np.ndarray:
            return posterior[name].sel(**where).transpose("chain", "draw", *dims).to_numpy()

        return {
            "mu_eff": get("mu_eff", "line", line=lines),
            "mu_tox": get("mu_tox", "line", line=lines),
            "tau": get("tau", "outcome", "line", outcome=list(OUTCOMES), line=lines),
            "corr": get("site_corr", "outcome_line", "outcome_line_b", outcome_line=combos,
                        outcome_line_b=combos),
            "sigma_patient": get("sigma_patient", "outcome", outcome=list(OUTCOMES)),
            "log_or": get("log_or", "line", line=lines),
        }

    def recorded_quantities(self, params: Mapping[str, np.ndarray],
                            lines: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
        """``{(name, label): array}`` in the vocabulary of the family's summary
        (:mod:`rechallenge.analysis.summaries.benefit_risk`): per line the log-odds of each
        outcome at the typical site, the within-patient log odds ratio, the between-site SDs and
        the between-site correlation of the two outcomes; the patient SDs; the
        population-averaged probabilities per line and, for each later line against the first,
        their differences and the net benefit's.
        """
        mu = np.stack([np.asarray(params["mu_eff"], dtype=float),
                       np.asarray(params["mu_tox"], dtype=float)], axis=-2)
        tau = np.asarray(params["tau"], dtype=float)
        sigma = np.asarray(params["sigma_patient"], dtype=float)
        corr = np.asarray(params["corr"], dtype=float)
        log_or = np.asarray(params["log_or"], dtype=float)
        n = len(lines)
        out: dict[tuple[str, str], np.ndarray] = {}
        for j, line in enumerate(lines):
            out[("mu_eff", line)], out[("mu_tox", line)] = mu[..., 0, j], mu[..., 1, j]
            out[("log_or", line)] = log_or[..., j]
        for o, outcome in enumerate(OUTCOMES):
            for j, line in enumerate(lines):
                out[(f"tau_{outcome}", line)] = tau[..., o, j]
        for o, outcome in enumerate(OUTCOMES):
            out[(f"sigma_patient_{outcome}", "all")] = sigma[..., o]
        for j, line in enumerate(lines):
            out[("site_corr_efficacy_safety", line)] = corr[..., j, n + j]
        # As the summary reads them: over the site and the patient effect of each outcome.
        p = population_average(expit, mu, np.sqrt(tau**2 + sigma[..., None] ** 2))
        for j, line in enumerate(lines):
            for o, outcome in enumerate(OUTCOMES):
                out[(f"probability_{outcome}_population", line)] = p[..., o, j]
        for j in range(1, n):
            label = f"{lines[j]} vs {lines[0]}"
            d_eff, d_tox = p[..., 0, j] - p[..., 0, 0], p[..., 1, j] - p[..., 1, 0]
            out[("difference_efficacy_population", label)] = d_eff
            out[("difference_safety_population", label)] = d_tox
            out[("difference_net_benefit_population", label)] = net_benefit(d_eff, d_tox,
                                                                            self.weights)
        return out

    # ----------------------------------------------------------------------- refit
    def build_model(self, study: Study, endpoint: str, pooling: Pooling, patient_effect: bool,
                    shared_shape: bool, priors: Mapping[str, float]) -> pm.Model:
        """The joint model refitted to one simulated study (partial pooling, patient effects
        and the within-patient odds ratio: the model a run fits, whatever the generic options).
        """
        return build_joint_model(study, efficacy=self.efficacy, safety=self.safety,
                                 priors=dict(priors))

    # ----------------------------------------------------------------------- generic route
    def _per_row(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not used: the joint model draws whole studies (:meth:`draw_study`)."""
        raise NotImplementedError("the joint model's simulator draws whole studies "
                                  "(draw_parameters, draw_study), not one outcome per row")

    draw_line_parameters = expected_line_parameters = outcomes = study = _per_row
    line_quantities = derived_quantities = posterior_line_parameters = _per_row


def _vine_cholesky(partial: np.ndarray, n: int) -> np.ndarray:
    """NumPy twin of :func:`rechallenge.models.joint.vine_cholesky`: the lower Cholesky factor
    of the correlation matrix with C-vine partial correlations ``partial`` (row-major pairs).
    """
    index = {pair: k for k, pair in enumerate((j, i) for j in range(n) for i in range(j + 1, n))}
    chol = np.zeros((n, n))
    for i in range(n):
        remaining = 1.0
        for j in range(i):
            rho = partial[index[(j, i)]]
            chol[i, j] = rho * np.sqrt(remaining)
            remaining *= 1.0 - rho**2
        chol[i, i] = np.sqrt(remaining)
    return chol

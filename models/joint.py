"""Joint model of efficacy and toxicity (benefit-risk) across sites and treatment lines.

Per patient ``j`` at site ``s`` and line ``l``, two binary outcomes, efficacy (response) and
safety (grade 3-4 toxicity), with logit margins::

    logit p_eff = mu_eff[l] + u_site[s, efficacy, l] + u_patient[j, efficacy]
    logit p_tox = mu_tox[l] + u_site[s, safety, l]   + u_patient[j, safety]
    cell = 2 y_eff + y_tox ~ Categorical(Dale(p_eff, p_tox, psi = exp(log_or[l])))

    u_site[s, :] ~ MvNormal(0, diag(tau) R diag(tau)) over the 2 x lines (outcome, line)
                   combinations, non-centred; R ~ LKJ(lkj_eta) through partial correlations
    u_patient[j, o] = sigma_patient[o] z[j, o],  z ~ Normal(0, 1)
    mu ~ Normal(0, mu_sd),  tau ~ HalfNormal(tau_sd),  sigma_patient ~ HalfNormal(sigma_patient_sd)
    log_or[l] ~ Normal(0, log_or_sd)            (dependence=False: log_or = 0)

Dale's bivariate logistic model (:mod:`rechallenge.models.joint_dale`) keeps the margins exactly
logistic and adds one odds ratio per line for the dependence of a patient's two outcomes given the
patient's effects. The patient effects of the two outcomes are independent of each other: a
patient contributes one pair of outcomes per line, and with two lines the data hold little
about a cross-outcome patient correlation beyond what ``log_or`` already carries (documented in
``docs/benefit_risk.md``). Aggregate rows (counts per site, line and endpoint) and patient rows
with one outcome missing enter through their margin, as in the binary model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import Interval

from rechallenge.data.endpoints import BENEFIT_RISK
from rechallenge.data.study import Study

from .binary import N_PATIENT_NODES
from .dims import LINE, OBS, PATIENT, SITE
from .info import ModelInfo, attach_info
from .joint_dale import dale_categorical
from .joint_priors import JOINT_PRIORS
from .joint_rows import (
    AGGREGATE_SOURCE,
    MARGIN_OBS,
    OUTCOME,
    OUTCOME_LINE,
    OUTCOME_LINE_B,
    OUTCOME_LINE_PAIR,
    OUTCOMES,
    JointRows,
    joint_rows,
)
from .priors import Priors, prior_data, resolve_priors
from .structure import structure_key

#: Model name stored in ``ModelInfo.name`` and the fit attrs.
MODEL_NAME: Final = "joint_partial_pooling"
#: What ``ModelInfo.endpoint`` says: the model reads two endpoints at once (the data layer's
#: joint endpoint).
ENDPOINT: Final = BENEFIT_RISK


def build_joint_model(
    study: Study,
    *,
    efficacy: str = "response",
    safety: str = "toxicity",
    priors: Priors | Mapping[str, float] | None = None,
    dependence: bool = True,
) -> pm.Model:
    """Build the joint hierarchical model of an efficacy and a toxicity endpoint (no sampling).

    Parameters
    ----------
    study
        Validated study: patient rows with both outcomes, patient rows with one, and aggregate
        rows of either endpoint.
    efficacy, safety
        The binary endpoints read as the two outcomes (``"response"`` or ``"disease_control"``;
        ``"toxicity"``).
    priors
        Overrides by name of :data:`~rechallenge.models.joint_priors.JOINT_PRIORS` (unknown
        names raise), or resolved priors.
    dependence
        Estimate the within-patient odds ratio of the two outcomes per line (``log_or``).
        ``False`` fixes ``log_or = 0``: the likelihood then factorises into the two margins.

    Returns
    -------
    pymc.Model
        With coords ``site``, ``line``, ``outcome``, ``outcome_line`` (and ``outcome_line_b``,
        ``outcome_line_pair``), ``patient``, ``obs`` (and ``margin_obs`` when there are margin
        rows); observed ``y`` (the 2 x 2 cell, dims ``obs``) and ``y_margin`` (dims
        ``margin_obs``); Deterministics ``p_eff`` and ``p_tox`` (site, line) for a typical
        patient, ``site_corr``, ``u_site``, ``u_patient`` (and ``odds_ratio``); and a
        :class:`~rechallenge.models.info.ModelInfo`.

    Raises
    ------
    ValueError
        Every data problem listed in :func:`rechallenge.models.joint_rows.joint_rows`.
    rechallenge.models.priors.UnknownPriorError
        A prior override with an unknown name.
    """
    resolved = resolve_priors(JOINT_PRIORS, priors, model="joint")
    rows = joint_rows(study, efficacy, safety)
    model = _model(rows, resolved, dependence=bool(dependence))
    n_aggregate = int((rows.margins["source"] == AGGREGATE_SOURCE).sum())
    options = {
        "efficacy": efficacy,
        "safety": safety,
        "dependence": bool(dependence),
        "patient_effect": True,
        "n_obs": len(rows.pairs),
        "n_margin_rows": len(rows.margins),
        "n_aggregate_rows": n_aggregate,
    }
    # The endpoint names only choose data: joint models of response and of disease control
    # (with toxicity) on one study share a structure.
    structural = {"dependence": bool(dependence), "margins": bool(len(rows.margins))}
    info = ModelInfo(
        name=MODEL_NAME, endpoint=ENDPOINT, options=options, priors=resolved,
        data_hash=study.data_hash(), lines=rows.lines, sites=rows.sites,
        structure=structure_key("joint", model, options=structural),
    )
    return attach_info(model, info)


def _model(rows: JointRows, priors: Priors, *, dependence: bool) -> pm.Model:
    n_lines = len(rows.lines)
    combos = rows.outcome_lines
    pairs = [f"{combos[i]},{combos[j]}" for i in range(len(combos))
             for j in range(i + 1, len(combos))]
    coords: dict[str, list[str]] = {
        SITE: list(rows.sites), LINE: list(rows.lines), OUTCOME: list(OUTCOMES),
        OUTCOME_LINE: combos, OUTCOME_LINE_B: combos, OUTCOME_LINE_PAIR: pairs,
        PATIENT: list(rows.patients), OBS: rows.pairs[OBS].tolist(),
    }
    if len(rows.margins):
        coords[MARGIN_OBS] = rows.margins[MARGIN_OBS].tolist()

    with pm.Model(coords=coords) as model:
        hyper = prior_data(priors)
        mu_eff = pm.Normal("mu_eff", 0.0, hyper["mu_sd"], dims=LINE)
        mu_tox = pm.Normal("mu_tox", 0.0, hyper["mu_sd"], dims=LINE)
        u_site = outcome_line_site_effects(
            n_lines=n_lines, tau_sd=hyper["tau_sd"], lkj_eta=hyper["lkj_eta"])
        # (site, outcome, line): the log-odds of a typical patient at each site.
        logit_site = pt.stack([mu_eff, mu_tox])[None, :, :] + u_site
        pm.Deterministic("p_eff", pm.math.invlogit(logit_site[:, 0, :]), dims=(SITE, LINE))
        pm.Deterministic("p_tox", pm.math.invlogit(logit_site[:, 1, :]), dims=(SITE, LINE))

        sigma = pm.HalfNormal("sigma_patient", sigma=hyper["sigma_patient_sd"], dims=OUTCOME)
        z_patient = pm.Normal("z_patient", 0.0, 1.0, dims=(PATIENT, OUTCOME))
        u_patient = pm.Deterministic("u_patient", z_patient * sigma[None, :],
                                     dims=(PATIENT, OUTCOME))

        site_idx = pm.Data("site_idx", rows.codes("pairs", SITE), dims=OBS)
        line_idx = pm.Data("line_idx", rows.codes("pairs", LINE), dims=OBS)
        patient_idx = pm.Data("patient_idx", rows.codes("pairs", PATIENT), dims=OBS)
        # The observed cells are data too, so a compiled model refits new data via pm.set_data.
        cell = pm.Data("cell", rows.pairs["cell"].to_numpy(dtype="int64"), dims=OBS)
        logit_eff = logit_site[site_idx, 0, line_idx] + u_patient[patient_idx, 0]
        logit_tox = logit_site[site_idx, 1, line_idx] + u_patient[patient_idx, 1]
        if dependence:
            log_or = pm.Normal("log_or", 0.0, hyper["log_or_sd"], dims=LINE)
            pm.Deterministic("odds_ratio", pt.exp(log_or), dims=LINE)
            log_or_row = log_or[line_idx]
        else:
            log_or_row = pt.zeros_like(logit_eff)
        dale_categorical("y", logit_p1=logit_eff, logit_p2=logit_tox, log_or=log_or_row,
                         observed=cell, dims=OBS)
        if len(rows.margins):
            _margin_likelihood(rows, logit_site, u_patient, sigma)
    return model


def _margin_likelihood(
    rows: JointRows,
    logit_site: pt.TensorVariable,
    u_patient: pt.TensorVariable,
    sigma: pt.TensorVariable,
) -> None:
    """``y_margin ~ Binomial(n, p)``: a patient's one known outcome, or an aggregate count.

    An aggregate row's patients are different, independent patients whose effects are unknown,
    so its count is exactly Binomial(n, E_u[invlogit(eta + u)]) given the site effects; the
    expectation over the patient effect is a Gauss-Hermite sum, as in the binary model.
    """
    site_idx = pm.Data("margin_site_idx", rows.codes("margins", SITE), dims=MARGIN_OBS)
    line_idx = pm.Data("margin_line_idx", rows.codes("margins", LINE), dims=MARGIN_OBS)
    outcome_idx = pm.Data("margin_outcome_idx", rows.codes("margins", OUTCOME), dims=MARGIN_OBS)
    patient_idx = pm.Data("margin_patient_idx", rows.codes("margins", PATIENT), dims=MARGIN_OBS)
    is_patient = pm.Data("margin_is_patient",
                         (rows.margins["source"] != AGGREGATE_SOURCE).to_numpy(dtype=float),
                         dims=MARGIN_OBS)
    n = pm.Data("margin_n", rows.margins["n"].to_numpy(dtype="int64"), dims=MARGIN_OBS)
    events = pm.Data("margin_events", rows.margins["events"].to_numpy(dtype="int64"),
                     dims=MARGIN_OBS)
    eta = logit_site[site_idx, outcome_idx, line_idx]
    nodes, weights = np.polynomial.hermite_e.hermegauss(N_PATIENT_NODES)
    weights = weights / weights.sum()
    p_average = pt.sum(weights * pm.math.invlogit(
        eta[:, None] + sigma[outcome_idx][:, None] * nodes[None, :]), axis=1)
    p_patient = pm.math.invlogit(eta + u_patient[patient_idx, outcome_idx])
    p_row = pt.switch(pt.eq(is_patient, 1.0), p_patient, p_average)
    pm.Binomial("y_margin", n=n, p=p_row, observed=events, dims=MARGIN_OBS)


def lkj_partial_betas(n: int, eta: pt.TensorLike) -> pt.TensorVariable:
    """Beta parameters of the C-vine partial correlations whose joint law makes R ~ LKJ(eta).

    Lewandowski, Kurowicka and Joe (2009, vine method): with the partial correlation of
    variables ``j < i`` given ``0..j-1`` distributed ``2 Beta(b_j, b_j) - 1`` independently,
    ``b_j = eta + (n - 2 - j) / 2``, the correlation matrix has density proportional to
    ``det(R)^(eta - 1)``. Returned in the row-major order of the pairs ``(j, i)``.
    """
    levels = np.array([j for j in range(n) for _ in range(j + 1, n)], dtype=float)
    return eta + (n - 2.0 - levels) / 2.0


def vine_cholesky(partial: pt.TensorVariable, n: int) -> pt.TensorVariable:
    """Lower Cholesky factor of the correlation matrix with C-vine partial correlations
    ``partial`` (row-major pairs ``(j, i)``, ``j < i``), in scalar operations.

    ``L[i, j] = partial(j, i) * sqrt(prod_{k<j} (1 - partial(k, i)^2))`` and
    ``L[i, i] = sqrt(prod_{k<i} (1 - partial(k, i)^2))``; rows of ``L`` have unit length.
    """
    index = {pair: k for k, pair in enumerate((j, i) for j in range(n) for i in range(j + 1, n))}
    zero = pt.as_tensor_variable(np.float64(0.0))
    one = pt.as_tensor_variable(np.float64(1.0))
    L: list[list[pt.TensorVariable]] = [[zero] * n for _ in range(n)]
    for i in range(n):
        remaining = one  # 1 - sum_{k<j} L[i, k]^2, as a product (no cancellation)
        for j in range(i):
            rho = partial[index[(j, i)]]
            L[i][j] = rho * pt.sqrt(remaining)
            remaining = remaining * (1.0 - rho**2)
        L[i][i] = pt.sqrt(remaining)
    return pt.stack([pt.stack(row) for row in L])


def outcome_line_site_effects(
    *, n_lines: int, tau_sd: pt.TensorLike, lkj_eta: pt.TensorLike
) -> pt.TensorVariable:
    """Add non-centred, correlated site effects over the (outcome, line) combinations.

    Variables created: ``tau`` (dims ``outcome, line``), ``site_partial_corr`` (the sampled
    C-vine partial correlations, dims ``outcome_line_pair``), ``site_corr`` (``outcome_line,
    outcome_line_b``), ``z_site`` and ``u_site`` (``site, outcome, line``). The LKJ prior is put
    on the partial correlations (:func:`lkj_partial_betas`) rather than through ``pm.LKJCorr``:
    the same prior, with no positive-definiteness check (which runs in numba object mode under
    nutpie, see :mod:`rechallenge.models.effects`) and a factor built from elementwise operations.

    Returns
    -------
    pytensor.tensor.TensorVariable
        ``u_site`` with shape (site, outcome, line).
    """
    size = 2 * n_lines
    tau = pm.HalfNormal("tau", sigma=tau_sd, dims=(OUTCOME, LINE))
    partial = pm.CustomDist("site_partial_corr", lkj_partial_betas(size, lkj_eta),
                            dist=_scaled_beta, transform=Interval(-1.0, 1.0),
                            dims=OUTCOME_LINE_PAIR)
    chol = vine_cholesky(partial, size)
    pm.Deterministic("site_corr", pt.dot(chol, chol.T), dims=(OUTCOME_LINE, OUTCOME_LINE_B))
    z = pm.Normal("z_site", 0.0, 1.0, dims=(SITE, OUTCOME, LINE))
    flat = pt.dot(z.reshape((z.shape[0], size)), chol.T) * tau.reshape((size,))
    return pm.Deterministic("u_site", flat.reshape((z.shape[0], 2, n_lines)),
                            dims=(SITE, OUTCOME, LINE))


def _scaled_beta(beta: pt.TensorVariable, size: pt.TensorVariable) -> pt.TensorVariable:
    """``2 Beta(beta, beta) - 1``: a symmetric law on (-1, 1)."""
    return 2.0 * pm.Beta.dist(beta, beta, size=size) - 1.0

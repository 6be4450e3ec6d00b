"""Hierarchical model for binary endpoints (response, disease control, grade 3-4 toxicity).

Partial pooling (the default)::

    events[i] ~ Binomial(n[i], p[i])                 (a patient row has n = 1)
    logit p[i] = mu[line[i]] + u_site[site[i], line[i]] (+ x[i] . beta) (+ u_patient[patient[i]])
    u_site[s, :] ~ MvNormal(0, diag(tau) R diag(tau))  non-centred, R ~ LKJ(lkj_eta)
    mu[line] ~ Normal(0, mu_sd),  tau[line] ~ HalfNormal(tau_sd)

Complete pooling drops ``u_site``; no pooling replaces ``mu + u_site`` by an independent log-odds
per site and line. The mathematical description, the reason for each prior and a worked example
are in ``docs/binary_model.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Final

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from rechallenge.data.study import Study

from .binary_rows import BinaryRows, binary_rows
from .dims import (
    COVARIATE,
    COVARIATE_EFFECTS,
    LINE,
    LINE_B,
    OBS,
    PATIENT,
    POOLING_NAMES,
    POOLINGS,
    SITE,
    CovariateEffects,
    Pooling,
    check_pooling,
    covariate_term,
)
from .effects import correlated_site_effects, independent_site_effects, patient_effects
from .info import PRIOR_ONLY, ModelInfo, attach_info
from .nesting import pooling_weights, prior_only_variables
from .priors import PriorDefault, Priors, prior_data, resolve_priors
from .structure import structure_key

#: Model names by pooling, as stored in ``ModelInfo.name`` and the fit attrs.
MODEL_NAMES: Final[dict[str, str]] = {p: f"binary_{POOLING_NAMES[p]}" for p in POOLINGS}

#: Gauss-Hermite nodes for the patient-marginal probability of aggregate rows: 20 nodes integrate
#: a logistic-normal to ~1e-8 for patient SDs up to ~3, far below Monte Carlo error.
N_PATIENT_NODES: Final = 20

BINARY_PRIORS: Final[dict[str, PriorDefault]] = {
    "mu_sd": PriorDefault(
        1.5,
        "mu[line] ~ Normal(0, mu_sd)  (log-odds of the typical site)",
        "Normal(0, 1.5) on the logit scale puts 95% of its mass on probabilities between 0.05 and "
        "0.95 and is close to flat on the probability scale in between; wider priors pile mass "
        "near 0 and 1, which no response, disease-control or toxicity rate of an ICI line has.",
        True,
    ),
    "tau_sd": PriorDefault(
        1.0,
        "tau[line] ~ HalfNormal(tau_sd)  (between-site SD of the log-odds)",
        "The between-site SD tau is learnt from the differences between sites only: with few or "
        "small sites it is weakly identified and its prior matters. HalfNormal(1) is the "
        "conservative default recommended for binary endpoints with rates of 0.2-0.8 (Weber et al. "
        "2021, RBesT; Friede et al. 2017 and Roever et al. 2021 for few studies): its median 0.67 "
        "lets between-site odds differ several-fold, it keeps mass near 0 (no heterogeneity) and "
        "gives under 5% to tau > 2 (a 'very large' heterogeneity in Neuenschwander's terms).",
        True,
        about_sites=True,
    ),
    "lkj_eta": PriorDefault(
        2.0,
        "R ~ LKJ(lkj_eta)  (correlation of a site's effects between lines)",
        "eta = 2 shrinks the correlation mildly toward 0 (density proportional to 1 - r^2 for two "
        "lines) without ruling out strong correlation; eta = 1 would be uniform and lets the data "
        "of few sites push the correlation to +-1, where the sampler struggles.",
        True,
        about_sites=True,
    ),
    "sigma_patient_sd": PriorDefault(
        1.0,
        "sigma_patient ~ HalfNormal(sigma_patient_sd)  (SD of the patient effect, log-odds)",
        "A patient's few binary outcomes (one per line) identify the patient SD poorly; "
        "HalfNormal(1) allows a moderate correlation of a patient's outcomes at different lines "
        "(sigma near 1 gives a "
        "latent correlation of about 0.23) and keeps mass near 0 (no pairing effect).",
        True,
    ),
    "beta_sd": PriorDefault(
        1.0,
        "beta ~ Normal(0, beta_sd)  (covariate log-odds ratios)",
        "A 95% prior range of odds ratios from 1/7 to 7 per unit of a covariate (per level for "
        "categorical ones): weakly informative for treatment classes and sexes. Numeric covariates "
        "are centred, not scaled: for covariates in large units (age in years) this is wide.",
        True,
    ),
    "site_effect_sd": PriorDefault(
        1.5,
        "logit p[site, line] ~ Normal(0, site_effect_sd)  (no-pooling comparator only)",
        "Each site on its own gets the prior the pooled model gives the typical site (mu_sd), so "
        "the comparison with partial pooling isolates the effect of pooling.",
        True,
    ),
}


def build_binary_model(
    study: Study,
    endpoint: str = "response",
    *,
    pooling: Pooling = "partial",
    patient_effect: bool = False,
    covariates: Sequence[str] = (),
    covariate_effects: CovariateEffects = "shared",
    priors: Priors | Mapping[str, float] | None = None,
    collapse: bool | None = None,
    nested: bool = False,
) -> pm.Model:
    """Build the hierarchical binomial model of one binary endpoint (no sampling).

    Parameters
    ----------
    study
        Validated study; patient rows and aggregate rows (for this endpoint) enter one likelihood.
    endpoint
        ``"response"``, ``"disease_control"`` or ``"toxicity"``.
    pooling
        ``"partial"`` (site effects with learnt scales ``tau``, the default), ``"complete"`` (no
        site effects) or ``"none"`` (an independent log-odds per site and line).
    patient_effect
        Add ``u_patient ~ Normal(0, sigma_patient)`` shared by a patient's lines (the paired
        design). Aggregate rows then use the probability averaged over patients.
    covariates
        Patient-table columns (meta-regression). Numeric columns are centred and categorical ones
        treatment-coded, so ``mu`` is the log-odds at the mean / reference level.
    covariate_effects
        ``"shared"``: ``beta[covariate]``; ``"per_line"``: ``beta[covariate, line]``.
    priors
        Overrides by name of :data:`BINARY_PRIORS` (unknown names raise), or resolved priors.
    collapse
        Collapse patient rows to site-line(-covariate pattern) counts. ``None``: whenever there
        is no patient effect. The posterior is the same either way; per-row log-likelihoods (and
        hence LOO) refer to the rows as built.
    nested
        Write the model as a special case of partial pooling, the pooling chosen by data
        (:mod:`rechallenge.models.nesting`), so that the three poolings share one compiled
        structure. The same posterior; the variables the pooling switches off are sampled from
        their prior and dropped by :func:`~rechallenge.models.sampling.fit`.

    Returns
    -------
    pymc.Model
        With coords ``site``, ``line``, ``obs`` (and ``line_b``, ``covariate``, ``patient`` as
        used); observed ``y`` (dims ``obs``); data ``n``, ``events``, ``site_idx``, ``line_idx``
        (and ``patient_idx``, ``is_patient_row``, ``X``); the Deterministic ``p`` (site, line)
        and a :class:`~rechallenge.models.info.ModelInfo`.

    Raises
    ------
    ValueError
        Unknown pooling or covariate-effect option, and every data problem listed in
        :func:`rechallenge.models.binary_rows.binary_rows`.
    rechallenge.models.priors.UnknownPriorError
        A prior override with an unknown name.
    """
    check_pooling(pooling)
    if covariate_effects not in COVARIATE_EFFECTS:
        raise ValueError(
            f"unknown covariate_effects {covariate_effects!r}; choose one of {COVARIATE_EFFECTS}"
        )
    resolved = resolve_priors(BINARY_PRIORS, priors, model="binary")
    rows = binary_rows(
        study, endpoint, patient_effect=patient_effect, covariates=covariates, collapse=collapse
    )
    model = _model(rows, resolved, pooling=pooling, patient_effect=patient_effect,
                   covariate_effects=covariate_effects, nested=nested)
    options = {
        "pooling": pooling,
        "patient_effect": bool(patient_effect),
        "covariates": list(covariates),
        "covariate_effects": covariate_effects,
        "covariate_columns": list(rows.covariate_names),
        "covariate_encoding": rows.covariate_encoding,
        "collapse": rows.collapsed,
        "n_obs": len(rows.frame),
        "n_aggregate_rows": int((rows.is_patient_row == 0).sum()),
        "nested": bool(nested),
    }
    prior_only = prior_only_variables(model, pooling, line_intercept="mu") if nested else ()
    # Nested, the pooling is data (its weights); the log-factorial table is a graph branch.
    structural = {k: v for k, v in options.items() if not (nested and k == "pooling")}
    structural["log_factorial_table"] = _uses_log_factorial_table(rows)
    info = ModelInfo(
        name=MODEL_NAMES[pooling], endpoint=endpoint, options=options, priors=resolved,
        data_hash=study.data_hash(), lines=rows.lines, sites=rows.sites,
        extra={PRIOR_ONLY: list(prior_only)},
        structure=structure_key("binary", model, options=structural,
                                constants={"lkj_eta": resolved["lkj_eta"]}),
    )
    return attach_info(model, info)


def _model(
    rows: BinaryRows,
    priors: Priors,
    *,
    pooling: str,
    patient_effect: bool,
    covariate_effects: str,
    nested: bool = False,
) -> pm.Model:
    n_sites, n_lines = len(rows.sites), len(rows.lines)
    coords: dict[str, list[str]] = {
        SITE: list(rows.sites), LINE: list(rows.lines), OBS: rows.frame[OBS].tolist(),
    }
    if (pooling == "partial" or nested) and n_lines > 1:
        coords[LINE_B] = list(rows.lines)
    if rows.covariate_names:
        coords[COVARIATE] = list(rows.covariate_names)
    if patient_effect:
        coords[PATIENT] = list(rows.patients)

    with pm.Model(coords=coords) as model:
        hyper = prior_data(priors, constants=("lkj_eta",))
        site_idx = pm.Data("site_idx", rows.codes(SITE), dims=OBS)
        line_idx = pm.Data("line_idx", rows.codes(LINE), dims=OBS)
        n = pm.Data("n", rows.frame["n"].to_numpy(), dims=OBS)
        # The observed counts are data too, so a compiled model refits new data via pm.set_data.
        events = pm.Data("events", rows.frame["events"].to_numpy(), dims=OBS)

        if pooling == "none" and not nested:
            logit_site = independent_site_effects(effect_sd=hyper["site_effect_sd"])
        else:
            mu = pm.Normal("mu", 0.0, hyper["mu_sd"], dims=LINE)
            if nested:
                weights = pooling_weights(pooling, hyper["site_effect_sd"])
                u_site = correlated_site_effects(
                    n_lines=n_lines, tau_sd=hyper["tau_sd"], lkj_eta=hyper["lkj_eta"],
                    pooling=weights)
                # No pooling has no line intercept: each site's log-odds is its own effect.
                logit_site = (1.0 - weights.independent) * mu[None, :] + u_site
            elif pooling == "partial":
                u_site = correlated_site_effects(
                    n_lines=n_lines, tau_sd=hyper["tau_sd"], lkj_eta=hyper["lkj_eta"]
                )
                logit_site = mu[None, :] + u_site
            else:
                logit_site = pt.broadcast_to(mu[None, :], (n_sites, n_lines))
        # Site-level probabilities at the covariate reference and for a typical patient (u = 0).
        pm.Deterministic("p", pm.math.invlogit(logit_site), dims=(SITE, LINE))

        eta = logit_site[site_idx, line_idx]
        if rows.covariate_names:
            eta = eta + _covariate_term(rows, hyper["beta_sd"], line_idx, covariate_effects)

        # Counts above a few per row: log C(n, k) from a table of log factorials (see
        # logit_binomial); a few large aggregate counts: from gammaln.
        table = _uses_log_factorial_table(rows)
        # The table's length is fixed by the number of rows (the bound of
        # _uses_log_factorial_table), not by max(n): a constant the compiler folds, and a graph
        # whose shapes do not depend on data values, as JAX needs to take n as an argument.
        size = _log_factorial_table_size(rows)
        if not patient_effect:
            logit_binomial("y", n=n, logit_p=eta, observed=events, dims=OBS, table=table,
                           table_size=size)
            return model

        u_patient = patient_effects(sd_scale=hyper["sigma_patient_sd"])
        patient_idx = pm.Data("patient_idx", rows.codes(PATIENT), dims=OBS)
        if rows.is_patient_row.all():
            logit_binomial("y", n=n, logit_p=eta + u_patient[patient_idx], observed=events,
                           dims=OBS, table=table, table_size=size)
            return model
        # Aggregate rows: different, independent patients, so their count is exactly
        # Binomial(n, E_u[invlogit(eta + u)]) given the site effects (what is lost is only the
        # pairing of the same patients across lines within an aggregate site).
        is_patient = pm.Data("is_patient_row", rows.is_patient_row, dims=OBS)
        nodes, gh_weights = np.polynomial.hermite_e.hermegauss(N_PATIENT_NODES)
        gh_weights = gh_weights / gh_weights.sum()
        sigma = model["sigma_patient"]
        p_marginal = pt.sum(
            gh_weights * pm.math.invlogit(eta[:, None] + sigma * nodes[None, :]), axis=1
        )
        p_patient = pm.math.invlogit(eta + u_patient[patient_idx])
        p_row = pt.switch(pt.eq(is_patient, 1.0), p_patient, p_marginal)
        pm.Binomial("y", n=n, p=p_row, observed=events, dims=OBS)
    return model


def _uses_log_factorial_table(rows: BinaryRows) -> bool:
    """Whether ``log C(n, k)`` comes from a table of log factorials (see :func:`logit_binomial`)."""
    return int(rows.frame["n"].to_numpy().max(initial=0)) <= _log_factorial_table_size(rows)


def _log_factorial_table_size(rows: BinaryRows) -> int:
    """The largest ``n`` the table of log factorials holds: three per row."""
    return 3 * len(rows.frame)


def logit_binomial(
    name: str,
    *,
    n: pt.TensorVariable,
    logit_p: pt.TensorVariable,
    observed: pt.TensorVariable,
    dims: str,
    table: bool = True,
    table_size: int | None = None,
) -> pt.TensorVariable:
    """Add ``pm.Binomial(name, n=n, logit_p=logit_p)`` written on the logit scale.

    The same log density, ``log C(n, k) + k logit_p - n log(1 + exp(logit_p))``, and the same
    draws' distribution, for a cheaper gradient: ``pm.Binomial`` goes through ``p =
    invlogit(logit_p)`` (eight sigmoids per row in the compiled gradient) and evaluates
    ``log C(n, k)`` with three ``gammaln`` per row at every step, though it depends on data only.
    Here ``log C(n, k)`` comes from a table of ``log j!`` up to ``max(n)`` (a cumulative sum of
    ``max(n)`` logs, or of ``table_size`` logs, a constant, when given: it must be at least
    ``max(n)``; ``table=False`` uses ``gammaln`` instead, for a few very large counts). On a
    simulated study of 1,400 sites the binary model's gradient costs 2.5 times less
    (docs/performance.md); ``tests/test_binary_model.py`` checks the log density against
    ``pm.Binomial``.
    """
    logp: Any = _logit_binomial_logp_gammaln
    if table:
        logp = partial(_logit_binomial_logp, table_size=table_size)
    return pm.CustomDist(name, n, logit_p, logp=logp, random=_logit_binomial_random,
                         observed=observed, dims=dims, dtype="int64")


def _log_choose_table(
    n: pt.TensorVariable, k: pt.TensorVariable, size: int | None = None
) -> pt.TensorVariable:
    top = pt.max(n) if size is None else int(size)
    logs = pt.log(pt.arange(1, top + 1, dtype="float64"))
    log_factorial = pt.concatenate([pt.zeros(1, dtype="float64"), pt.cumsum(logs)])
    return log_factorial[n] - log_factorial[k] - log_factorial[n - k]


def _log_choose_gammaln(n: pt.TensorVariable, k: pt.TensorVariable) -> pt.TensorVariable:
    return pt.gammaln(n + 1.0) - pt.gammaln(k + 1.0) - pt.gammaln(n - k + 1.0)


def _logit_binomial_terms(
    value: pt.TensorVariable, n: pt.TensorVariable, logit_p: pt.TensorVariable, log_choose: Any
) -> pt.TensorVariable:
    inside = pt.and_(pt.ge(value, 0), pt.le(value, n))
    # Out-of-support counts (never in validated data) get -inf, as pm.Binomial gives; the
    # clipped index keeps the table lookup in range for them.
    k = pt.clip(value, 0, n)
    logp = log_choose(n, k) + value * logit_p - n * pt.softplus(logit_p)
    return pt.switch(inside, logp, -np.inf)


def _logit_binomial_logp(value, n, logit_p, table_size=None):  # noqa: ANN001, ANN202 - pm.CustomDist signature
    return _logit_binomial_terms(value, n, logit_p, partial(_log_choose_table, size=table_size))


def _logit_binomial_logp_gammaln(value, n, logit_p):  # noqa: ANN001, ANN202
    return _logit_binomial_terms(value, n, logit_p, _log_choose_gammaln)


def _logit_binomial_random(
    n: np.ndarray,
    logit_p: np.ndarray,
    rng: np.random.Generator | None = None,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    rng = np.random.default_rng() if rng is None else rng
    return rng.binomial(n, 1.0 / (1.0 + np.exp(-np.asarray(logit_p, dtype=float))), size=size)


def _covariate_term(
    rows: BinaryRows, beta_sd: pt.TensorLike, line_idx: pt.TensorVariable, effects: str
) -> pt.TensorVariable:
    X = pm.Data("X", rows.X, dims=(OBS, COVARIATE))
    beta = pm.Normal("beta", 0.0, beta_sd, dims=COVARIATE if effects == "shared" else (COVARIATE, LINE))
    return covariate_term(X, beta, line_idx)

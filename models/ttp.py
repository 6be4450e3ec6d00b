"""Weibull model of time to progression (TTP) across sites and treatment lines.

Model
-----
For patient row ``i`` (one patient at one line) at site ``s[i]`` and line ``l[i]``::

    t_i ~ Weibull(shape k[l], scale lambda_i), right-censored at t_i when progressed_i == 0
    log lambda_i = mu[l] + u_site[s, l] (+ x_i' beta (+ u_patient[patient_i]))

with ``u_site[s, :] ~ MvNormal(0, diag(tau) R diag(tau))`` (partial pooling, non-centred, LKJ on
``R``), ``u_site = 0`` (complete pooling) or ``u_site[s, l] ~ Normal(0, site_effect_sd)``
independently (no pooling). ``k`` is per line, or one ``k`` for all lines (``shared_shape``).
A site that reports only a median TTP with its 95% CI enters through ``log_median_obs``, an
approximate normal likelihood on the log median (see :mod:`.weibull_likelihood` and the docs).

Parameterisation, written once
------------------------------
``S(t) = exp(-(t / lambda)^k)``; hazard ``h(t) = (k / lambda) (t / lambda)^(k - 1)``; median
``lambda (log 2)^(1/k)``.

* AFT reading: ``log T = log lambda + W / k`` with ``W`` standard minimum-Gumbel, so a change
  ``d`` in ``log lambda`` multiplies every quantile of T (the median included) by ``exp(d)``;
  ``mu``, ``u_site`` and ``beta`` are log time ratios (``mu`` is the line intercept, ``beta``
  the covariate coefficients: the names the binary model uses for the same roles).
* PH reading: ``h(t) = k t^(k-1) exp(-k log lambda)``; with a common ``k`` a change ``d`` in
  ``log lambda`` multiplies the hazard by ``exp(-k d)``. The ICI-2 vs ICI-1 hazard ratio is
  ``exp(-k (mu[ICI-2] - mu[ICI-1]))``, defined only with ``shared_shape=True`` (with a shape
  per line the hazards are not proportional).
* PyMC: ``pm.Weibull(alpha=k, beta=lambda)``. lifelines: ``WeibullFitter.rho_ = k``,
  ``WeibullFitter.lambda_ = lambda`` (and ``WeibullAFTFitter``'s ``lambda_`` intercept is
  ``log lambda``). BUGS ``dweib(r, mu)``: ``r = k``, ``mu = lambda^(-k)``.

Times are in months; the priors below are on that scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import pandas as pd
import pymc as pm

from rechallenge.data import schema
from rechallenge.data.study import Study

from .design import covariate_design
from .dims import (
    AGG_OBS,
    COVARIATE,
    COVARIATE_EFFECTS,
    LINE,
    LINE_B,
    OBS,
    PATIENT,
    POOLING_NAMES,
    SITE,
    CovariateEffects,
    Pooling,
    check_pooling,
    covariate_term,
    label_codes,
)
from .effects import correlated_site_effects, independent_site_effects, patient_effects
from .info import NEEDS_BACKEND, PRIOR_ONLY, ModelInfo, attach_info
from .nesting import pooling_weights, prior_only_variables
from .priors import Priors, prior_data, resolve_priors
from .structure import structure_key
from .survival import SurvivalDistribution, survival_distribution
from .ttp_priors import TTP_PRIORS as TTP_PRIORS  # the Weibull model's defaults, re-exported
from .ttp_priors import ttp_priors
from .weibull_likelihood import LIKELIHOODS, Likelihood, log_median_se

#: The log-space likelihood is the default: the same log density as ``pm.Censored`` (tested), and
#: under nutpie its likelihood gradient costs 4-6x less (2x for the whole partial-pooling model on
#: the shipped data, where the site-effect block dominates); measured in docs/ttp_model.md.
DEFAULT_LIKELIHOOD: Final[Likelihood] = "logspace"

_CONSTANT_PRIORS: Final = ("lkj_eta",)


def build_ttp_model(
    study: Study,
    *,
    pooling: Pooling = "partial",
    patient_effect: bool = False,
    shared_shape: bool = False,
    covariates: Sequence[str] = (),
    covariate_effects: CovariateEffects = "shared",
    priors: Priors | Mapping[str, float] | None = None,
    likelihood: Likelihood = DEFAULT_LIKELIHOOD,
    nested: bool = False,
    distribution: str | SurvivalDistribution = "weibull",
    horizons: Sequence[float] = (12.0, 24.0),
) -> pm.Model:
    """Build the TTP model (no sampling; ``study`` is not changed).

    Parameters
    ----------
    study
        Patient rows (``ttp_months``, ``progressed``) and aggregate rows with endpoint ``"ttp"``
        (``median_months``, ``median_lower``, ``median_upper``).
    pooling
        ``"partial"`` (correlated site effects, the default), ``"complete"`` (no site effects) or
        ``"none"`` (independent fixed site effects), the last two as comparators.
    patient_effect
        Add a patient effect (a frailty) on the log scale shared by a patient's lines,
        ``u_patient ~ Normal(0, sigma_patient)``. Not available with aggregate TTP rows (their
        median would have to be marginalised over the patient effect).
    shared_shape
        One shape for all lines (scalar ``shape``); needed for the hazard ratio.
    covariates
        Patient-table columns for meta-regression on ``log lambda`` (numeric centred, categorical
        treatment-coded, see :func:`rechallenge.models.design.covariate_design`).
    covariate_effects
        ``"shared"`` (``beta`` dims covariate) or ``"per_line"`` (dims covariate, line).
    priors
        Overrides of :data:`TTP_PRIORS` by name, or resolved :class:`Priors`.
    likelihood
        ``"logspace"`` (default, faster) or ``"censored"`` (``pm.Censored``); same log density.
    nested
        Write the model as a special case of partial pooling, the pooling chosen by data
        (:mod:`rechallenge.models.nesting`), so that the three poolings share one compiled
        structure. The same posterior; the variables the pooling switches off are sampled from
        their prior and dropped by :func:`~rechallenge.models.sampling.fit`.
    distribution
        The survival distribution by name (``models.survival.DISTRIBUTIONS``) or as an object;
        the Weibull by default. One fitted to the data where it needs to be (the piecewise
        exponential's cut points, at the study's event times).
    horizons
        Months up to which the restricted mean TTP is to be reported: recorded with the model's
        options for the summaries (not part of the model).

    Returns
    -------
    pymc.Model
        With coords site, line, line_b, obs (and patient, covariate, agg_obs when used), data
        containers ``duration``, ``censor_upper``, ``site_idx``, ``line_idx`` (and
        ``patient_idx``, ``covariate_x``, ``agg_*``) and observed variables ``ttp`` and
        ``log_median_obs``; a :class:`~rechallenge.models.info.ModelInfo` is attached.
    """
    check_pooling(pooling)
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {LIKELIHOODS}")
    if covariate_effects not in COVARIATE_EFFECTS:
        raise ValueError(
            f"unknown covariate_effects {covariate_effects!r}; choose one of {COVARIATE_EFFECTS}")
    lines, sites = tuple(study.lines), study.sites
    rows = ttp_patient_rows(study)
    aggs = ttp_aggregate_rows(study)
    dist = (distribution if isinstance(distribution, SurvivalDistribution)
            else survival_distribution(distribution))
    dist = dist.fitted_to(rows[schema.TTP_MONTHS].to_numpy(float),
                          rows[schema.PROGRESSED].to_numpy(float))
    resolved = resolve_priors(ttp_priors(dist), priors, model="ttp")
    if rows.empty and aggs.empty:
        raise ValueError("the study has no TTP data (no patient rows and no aggregate 'ttp' rows)")
    if patient_effect and rows.empty:
        raise ValueError("patient_effect needs patient rows")
    if patient_effect and not aggs.empty:
        raise ValueError(
            "patient_effect cannot be combined with aggregate TTP rows: a reported median is a "
            "median over that site's patients, which the model would have to marginalise over "
            "the patient effect (frailty); fit without a patient effect")
    covariates = tuple(covariates)
    if covariates and rows.empty:
        raise ValueError("covariates need patient rows")
    x, cov_names, encoding = covariate_design(rows, covariates)

    coords: dict[str, Sequence | np.ndarray] = {SITE: sites, LINE: lines, LINE_B: lines}
    if not rows.empty:
        coords[OBS] = np.arange(len(rows))
    if not aggs.empty:
        coords[AGG_OBS] = np.arange(len(aggs))
    if cov_names:
        coords[COVARIATE] = cov_names
    patient_codes = None
    if patient_effect:
        patient_labels, patient_codes = _patient_index(rows)
        coords[PATIENT] = patient_labels

    with pm.Model(coords=coords) as model:
        p = prior_data(resolved, constants=_CONSTANT_PRIORS)
        mu = pm.Normal("mu", p["mu_mean"], p["mu_sd"], dims=LINE)
        # Positive shape parameters are sampled on the log scale: the sampler starts at their
        # prior centre (a LogNormal would start at its mean exp(sd^2 / 2), which overflows for
        # the vague priors of reference analyses).
        shape_line = dist.shape_variables(p, len(lines), shared=shared_shape, line_dim=LINE)
        if nested:
            u_site = correlated_site_effects(
                n_lines=len(lines), tau_sd=p["tau_sd"], lkj_eta=p["lkj_eta"],
                pooling=pooling_weights(pooling, p["site_effect_sd"]))
        elif pooling == "partial":
            u_site = correlated_site_effects(
                n_lines=len(lines), tau_sd=p["tau_sd"], lkj_eta=p["lkj_eta"])
        elif pooling == "none":
            u_site = independent_site_effects(effect_sd=p["site_effect_sd"])
        else:
            u_site = None
        beta = None
        if cov_names:
            beta_dims = COVARIATE if covariate_effects == "shared" else (COVARIATE, LINE)
            beta = pm.Normal("beta", 0.0, p["beta_sd"], dims=beta_dims)

        if not rows.empty:
            site_idx = pm.Data("site_idx", label_codes(rows[schema.SITE], sites), dims=OBS)
            line_idx = pm.Data("line_idx", label_codes(rows[schema.LINE], lines), dims=OBS)
            duration = pm.Data("duration", rows[schema.TTP_MONTHS].to_numpy(float), dims=OBS)
            upper = pm.Data("censor_upper", censor_upper(rows), dims=OBS)
            log_scale = mu[line_idx]
            if u_site is not None:
                log_scale = log_scale + u_site[site_idx, line_idx]
            if beta is not None:
                x_data = pm.Data("covariate_x", x, dims=(OBS, COVARIATE))
                log_scale = log_scale + covariate_term(x_data, beta, line_idx)
            if patient_codes is not None:
                patient_idx = pm.Data("patient_idx", patient_codes, dims=OBS)
                u_patient = patient_effects(sd_scale=p["sigma_patient_sd"])
                log_scale = log_scale + u_patient[patient_idx]
            dist.observed("ttp", loc=log_scale, params=[q[line_idx] for q in shape_line],
                          upper=upper, observed=duration, dims=OBS, likelihood=likelihood)

        if not aggs.empty:
            a_site = pm.Data("agg_site_idx", label_codes(aggs[schema.SITE], sites), dims=AGG_OBS)
            a_line = pm.Data("agg_line_idx", label_codes(aggs[schema.LINE], lines), dims=AGG_OBS)
            a_se = pm.Data("agg_log_median_se", log_median_se(
                aggs[schema.MEDIAN_LOWER], aggs[schema.MEDIAN_UPPER]), dims=AGG_OBS)
            a_obs = pm.Data("agg_log_median", np.log(aggs[schema.MEDIAN_MONTHS].to_numpy(float)),
                            dims=AGG_OBS)
            a_log_scale = mu[a_line]
            if u_site is not None:
                a_log_scale = a_log_scale + u_site[a_site, a_line]
            if beta is not None:
                # A reported median describes the site's mix of patients, which is unknown: take
                # the covariate means of the patient rows of the same line.
                x_agg = pm.Data("agg_covariate_x", _line_means(x, rows, aggs, lines),
                                dims=(AGG_OBS, COVARIATE))
                a_log_scale = a_log_scale + covariate_term(x_agg, beta, a_line)
            log_median = dist.log_median_tensor(a_log_scale, *(q[a_line] for q in shape_line))
            if log_median is None:
                raise ValueError(
                    f"the {dist.label} distribution has no closed-form median, so sites that "
                    f"report only a median TTP cannot enter its model; fit it on patient rows")
            pm.Normal("log_median_obs", mu=log_median, sigma=a_se, observed=a_obs, dims=AGG_OBS)

    options = {
        "pooling": pooling, "patient_effect": bool(patient_effect),
        "shared_shape": bool(shared_shape), "covariates": list(covariates),
        "covariate_effects": covariate_effects, "likelihood": likelihood, "nested": bool(nested),
        "distribution": dist.name, **dist.settings(), "horizons": [float(h) for h in horizons],
    }
    # Nested, the pooling is data (its weights), not structure; the horizons are for reporting.
    structural = {k: v for k, v in options.items()
                  if not (nested and k == "pooling") and k != "horizons"}
    info = ModelInfo(
        name=f"ttp_{dist.name}_{POOLING_NAMES[pooling]}", endpoint=schema.TTP_ENDPOINT, options=options,
        priors=resolved, data_hash=study.data_hash(), lines=lines, sites=sites,
        structure=structure_key("ttp", model, options=structural,
                                constants={c: resolved[c] for c in _CONSTANT_PRIORS}),
        extra={"covariate_names": cov_names, "covariate_encoding": encoding,
               "n_patient_rows": len(rows), "n_aggregate_rows": len(aggs),
               PRIOR_ONLY: list(prior_only_variables(model, pooling) if nested else ()),
               **({NEEDS_BACKEND: dist.needs_backend} if dist.needs_backend else {})},
    )
    return attach_info(model, info)


def ttp_patient_rows(study: Study) -> pd.DataFrame:
    """Patient rows for the TTP model (a checked copy; raises on unusable values)."""
    rows = study.patients
    if rows is None or len(rows) == 0:
        return pd.DataFrame(columns=[schema.SITE, schema.PATIENT_ID, schema.LINE,
                                     schema.TTP_MONTHS, schema.PROGRESSED])
    missing = [c for c in (schema.TTP_MONTHS, schema.PROGRESSED) if c not in rows.columns]
    if missing:
        raise ValueError(f"patient table lacks TTP column(s) {missing}")
    rows = rows.reset_index(drop=True).copy()
    t = pd.to_numeric(rows[schema.TTP_MONTHS], errors="coerce").to_numpy(float)
    e = pd.to_numeric(rows[schema.PROGRESSED], errors="coerce").to_numpy(float)
    problems = []
    bad_t = ~(np.isfinite(t) & (t > 0))
    if bad_t.any():
        problems.append(f"{schema.TTP_MONTHS} must be finite and > 0 "
                        f"(rows {np.flatnonzero(bad_t)[:10].tolist()})")
    bad_e = ~np.isin(e, (0.0, 1.0))
    if bad_e.any():
        problems.append(f"{schema.PROGRESSED} must be 0 or 1 "
                        f"(rows {np.flatnonzero(bad_e)[:10].tolist()})")
    unknown = sorted(set(rows[schema.LINE].astype(str)) - set(study.lines))
    if unknown:
        problems.append(f"unknown line label(s) {unknown}; lines are {list(study.lines)}")
    if problems:
        raise ValueError("TTP patient data: " + "; ".join(problems))
    rows[schema.TTP_MONTHS] = t
    rows[schema.PROGRESSED] = e.astype(int)
    return rows


def ttp_aggregate_rows(study: Study) -> pd.DataFrame:
    """Aggregate rows with endpoint ``"ttp"`` (a checked copy)."""
    aggs = study.aggregates
    if aggs is None or len(aggs) == 0 or schema.ENDPOINT not in aggs.columns:
        return pd.DataFrame(columns=list(schema.AGGREGATE_COLUMNS))
    aggs = aggs[aggs[schema.ENDPOINT] == schema.TTP_ENDPOINT].reset_index(drop=True).copy()
    if aggs.empty:
        return aggs
    cols = (schema.MEDIAN_MONTHS, schema.MEDIAN_LOWER, schema.MEDIAN_UPPER)
    values = {c: pd.to_numeric(aggs.get(c), errors="coerce").to_numpy(float) for c in cols}
    m, lo, hi = (values[c] for c in cols)
    ok = np.isfinite(m) & np.isfinite(lo) & np.isfinite(hi) & (lo > 0) & (lo < m) & (m < hi)
    if not ok.all():
        bad = aggs.loc[~ok, [schema.SITE, schema.LINE]].astype(str).agg("/".join, axis=1).tolist()
        raise ValueError(
            "aggregate TTP rows need 0 < median_lower < median_months < median_upper (a 95% CI on "
            f"the months scale; a linear CI with a lower bound <= 0 cannot be logged, use the "
            f"log-log CI instead): rows {bad}")
    unknown = sorted(set(aggs[schema.LINE].astype(str)) - set(study.lines))
    if unknown:
        raise ValueError(f"aggregate TTP rows: unknown line label(s) {unknown}")
    for c in cols:
        aggs[c] = values[c]
    return aggs


def censor_upper(rows: pd.DataFrame) -> np.ndarray:
    """Censoring bound per row: the time itself when censored, ``inf`` when progression observed."""
    t = rows[schema.TTP_MONTHS].to_numpy(float)
    return np.where(rows[schema.PROGRESSED].to_numpy(int) == 1, np.inf, t)


def _patient_index(rows: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Patient labels (``patient_id``, or ``site/patient_id`` when ids repeat across sites)."""
    ids = rows[schema.PATIENT_ID].astype(str)
    sites_per_id = rows.groupby(ids)[schema.SITE].nunique()
    keys = ids if (sites_per_id <= 1).all() else rows[schema.SITE].astype(str) + "/" + ids
    labels = sorted(set(keys))
    return labels, label_codes(keys, labels)


def _line_means(
    x: np.ndarray, rows: pd.DataFrame, aggs: pd.DataFrame, lines: Sequence[str]
) -> np.ndarray:
    out = np.zeros((len(aggs), x.shape[1]))
    row_lines = rows[schema.LINE].astype(str).to_numpy()
    for i, line in enumerate(aggs[schema.LINE].astype(str)):
        mask = row_lines == line
        out[i] = x[mask].mean(axis=0) if mask.any() else x.mean(axis=0)
    return out

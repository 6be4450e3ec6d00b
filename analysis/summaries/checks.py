"""Model checks: LOO comparison of the pooling choices, leave-one-site-out, prior sensitivity.

LOO
    PSIS-LOO (Vehtari, Gelman & Gabry 2017) over the likelihood rows of each fit (patient rows, or
    site-line counts where rows are collapsed), compared across partial, complete and no pooling
    with ``az.compare``; the Pareto k of each fit says where the approximation is unreliable.
Leave one site out
    With few sites the question a reader asks is how well the model predicts a whole new site.
    The pointwise log likelihood is summed within each site and PSIS is applied to those site
    totals (leave-one-group-out PSIS). Its Pareto k values are reported too: k > 0.7 means the
    approximation of that site's exact refit is unreliable.
Prior sensitivity
    The headline quantities with the heterogeneity prior scale halved and doubled, side by side
    with the default: each variant the main posterior reweighted by Pareto-smoothed importance
    sampling (:mod:`rechallenge.analysis.summaries.prior_reweighting`), or a refit where its
    Pareto k is too high; and ArviZ's power-scaling diagnostic (``az.psens``, Kallioinen et al.
    2023) for the top-level priors; values above 0.05 suggest prior (or likelihood) sensitivity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import arviz as az
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from rechallenge.models.dims import SITE

#: Pareto k above which PSIS is unreliable (Vehtari et al. 2024: 0.7 for S >= 2000 draws).
PARETO_K_THRESHOLD = 0.7
#: az.psens values above this are flagged (Kallioinen et al. 2023).
PSENS_THRESHOLD = 0.05


def row_log_likelihood(idata: az.InferenceData) -> tuple[str, xr.DataArray]:
    """Name and values of the pointwise log likelihood over the ``obs`` rows."""
    for name, values in idata.log_likelihood.data_vars.items():
        if "obs" in values.dims:
            return str(name), values
    raise ValueError("the fit has no log likelihood over 'obs' rows")


def loo_comparison(fits: Mapping[str, az.InferenceData]) -> pd.DataFrame:
    """PSIS-LOO of each fit and their comparison.

    Parameters
    ----------
    fits
        ``{label: idata}``, e.g. ``{"partial": ..., "complete": ..., "none": ...}``; all fitted to
        the same rows.

    Returns
    -------
    pandas.DataFrame
        One row per fit: model, rank (1: the highest ELPD), elpd_loo, se, p_loo, elpd_diff,
        dse, weight, n_rows, n_pareto_k_high (k > 0.7), max_pareto_k.
    """
    loos = {}
    high: dict[str, tuple[int, float, int]] = {}
    for label, idata in fits.items():
        name, values = row_log_likelihood(idata)
        dataset = az.InferenceData(
            posterior=idata.posterior, log_likelihood=xr.Dataset({name: values})
        )
        loos[label] = az.loo(dataset, pointwise=True)
        k = np.asarray(loos[label].pareto_k)
        high[label] = (int(np.sum(k > PARETO_K_THRESHOLD)), float(np.max(k)), int(k.size))
    # The pointwise LOO results already computed: az.compare would otherwise run them again.
    comparison = az.compare(loos, ic="loo")
    frame = comparison.reset_index().rename(columns={"index": "model"})
    # Ranked from 1 (the best fit), as a reader counts; ArviZ counts from 0.
    frame["rank"] = frame["rank"].astype(int) + 1
    frame["n_rows"] = [high[m][2] for m in frame["model"]]
    frame["n_pareto_k_high"] = [high[m][0] for m in frame["model"]]
    frame["max_pareto_k"] = [high[m][1] for m in frame["model"]]
    keep = ["model", "rank", "elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight", "n_rows",
            "n_pareto_k_high", "max_pareto_k"]
    return frame[keep]


def site_log_likelihood(idata: az.InferenceData) -> xr.DataArray:
    """Log likelihood summed within each site: dims (chain, draw, site)."""
    _, values = row_log_likelihood(idata)
    site_idx = idata.constant_data["site_idx"].to_numpy()
    sites = idata.posterior.coords[SITE].to_numpy()
    totals = np.zeros(values.shape[:2] + (len(sites),))
    arr = values.transpose("chain", "draw", "obs").to_numpy()
    for code in range(len(sites)):
        totals[..., code] = arr[..., site_idx == code].sum(axis=-1)
    return xr.DataArray(
        totals,
        dims=("chain", "draw", SITE),
        coords={"chain": values.coords["chain"], "draw": values.coords["draw"], "site": sites},
    )


def leave_one_site_out(idata: az.InferenceData, *, model: str) -> pd.DataFrame:
    """Leave-one-site-out PSIS: per site, the expected log predictive density and Pareto k.

    Returns
    -------
    pandas.DataFrame
        Columns model, site, elpd_site, pareto_k, reliable (k <= 0.7).
    """
    site_ll = site_log_likelihood(idata)
    grouped = az.InferenceData(posterior=idata.posterior, log_likelihood=xr.Dataset({"site_total": site_ll}))
    loo = az.loo(grouped, pointwise=True)
    k = np.asarray(loo.pareto_k)
    return pd.DataFrame(
        {
            "model": model,
            "site": site_ll.coords[SITE].to_numpy().astype(str),
            "elpd_site": np.asarray(loo.loo_i),
            "pareto_k": k,
            "reliable": k <= PARETO_K_THRESHOLD,
        }
    )


def power_scaling(
    idata: az.InferenceData, var_names: Sequence[str], prior_names: Sequence[str]
) -> pd.DataFrame:
    """``az.psens`` for prior and likelihood, one row per scalar element of ``var_names``.

    Parameters
    ----------
    idata
        A fit with ``log_prior`` and ``log_likelihood`` groups.
    var_names
        Posterior variables to diagnose (e.g. ``["mu", "tau"]``).
    prior_names
        Log-prior terms to power-scale: the top-level priors only; the hierarchical terms (site
        effects) are part of the model, not of the prior being questioned.
    """
    names = [v for v in var_names if v in idata.posterior]
    priors = [p for p in prior_names if p in idata.log_prior]
    prior = az.psens(idata, component="prior", var_names=names, component_var_names=priors)
    like = az.psens(idata, component="likelihood", var_names=names)
    rows = []
    for name in names:
        p_arr, l_arr = prior[name], like[name]
        for idx in np.ndindex(p_arr.shape):
            labels = [str(p_arr.coords[d].values[i]) for d, i in zip(p_arr.dims, idx)]
            rows.append(
                {
                    "parameter": f"{name}[{', '.join(labels)}]" if labels else name,
                    "psens_prior": float(p_arr.values[idx]),
                    "psens_likelihood": float(l_arr.values[idx]),
                }
            )
    frame = pd.DataFrame(rows)
    frame["diagnosis"] = psens_diagnosis(frame["psens_prior"], frame["psens_likelihood"])
    return frame


def psens_diagnosis(prior: npt.ArrayLike, likelihood: npt.ArrayLike) -> np.ndarray:
    """The diagnosis of the priorsense package (Kallioinen et al. 2023) per parameter.

    Sensitive to both the prior and the likelihood: a potential prior-data conflict; to the prior
    but not the likelihood: a potential strong prior or weak likelihood; otherwise nothing is
    flagged ("-"): a posterior that follows the likelihood alone is the ordinary case.

    Examples
    --------
    >>> psens_diagnosis([0.1, 0.1, 0.01, 0.01], [0.1, 0.01, 0.1, 0.01]).tolist()
    ['potential prior-data conflict', 'potential strong prior / weak likelihood', '-', '-']
    """
    prior_hi = np.asarray(prior, dtype=float) >= PSENS_THRESHOLD
    like_hi = np.asarray(likelihood, dtype=float) >= PSENS_THRESHOLD
    return np.select(
        [prior_hi & like_hi, prior_hi & ~like_hi],
        ["potential prior-data conflict", "potential strong prior / weak likelihood"],
        default="-",
    )


def sensitivity_table(
    summaries: Mapping[str, pd.DataFrame],
    quantities: Sequence[str],
    *,
    endpoint: str,
    methods: Mapping[str, tuple[str, float]] | None = None,
) -> pd.DataFrame:
    """Headline quantities under each prior variant, side by side.

    Parameters
    ----------
    summaries
        ``{variant: tidy summary}``, e.g. ``{"default": ..., "tau_half": ..., "tau_double": ...}``.
    quantities
        Which quantities to show.
    methods
        ``{variant: (method, pareto_k)}``: how each variant other than the default was obtained
        (``"reweighted"`` or ``"refitted"``) and the Pareto k of its importance weights.

    Returns
    -------
    pandas.DataFrame
        endpoint, quantity, line, then ``<variant>_median``, ``<variant>_lower``,
        ``<variant>_upper`` per variant (and ``<variant>_method``, ``<variant>_pareto_k`` for
        the variants in ``methods``), and ``max_shift_sd`` (largest change of the median from
        the default, in units of the default posterior sd).
    """
    base = summaries["default"]
    base = base[base["quantity"].isin(quantities)][["quantity", "line", "median", "sd"]]
    frame = base[["quantity", "line"]].copy()
    frame.insert(0, "endpoint", endpoint)
    shifts = np.zeros(len(frame))
    for variant, summary in summaries.items():
        merged = base.merge(summary, on=["quantity", "line"], how="left", suffixes=("_base", ""))
        for stat in ("median", "lower", "upper"):
            frame[f"{variant}_{stat}"] = merged[stat].to_numpy()
        if methods is not None and variant in methods:
            frame[f"{variant}_method"], frame[f"{variant}_pareto_k"] = methods[variant]
        shift = np.abs(merged["median"].to_numpy() - merged["median_base"].to_numpy())
        shifts = np.maximum(shifts, shift / merged["sd_base"].to_numpy())
    frame["max_shift_sd"] = shifts
    return frame.reset_index(drop=True)

"""Prior-sensitivity variants by Pareto-smoothed importance sampling (PSIS) of the main fit.

The sensitivity analysis asks how the headline numbers move when the scale of the heterogeneity
prior, ``tau[line] ~ HalfNormal(tau_sd)``, is multiplied by a factor (halved, doubled; see
:data:`rechallenge.analysis.settings.fit_names.SENSITIVITY_SCALES`). Only the prior of ``tau``
changes, so the posterior under the variant prior is the main posterior reweighted by the ratio
of the two priors; per draw ``s``

    log r_s = sum_line [log HalfNormal(tau_s[line] | factor * tau_sd) - log HalfNormal(tau_s[line] | tau_sd)],

in closed form (scipy). The ratios are smoothed by Pareto-smoothed importance sampling
(``az.psislw``, Vehtari et al. 2024) and the smoothed weights give weighted posterior summaries
of the variant: weighted median and quantiles (the equal-tailed interval), a weighted HDI, mean
and sd, in the tidy format of :mod:`rechallenge.analysis.summaries.tidy`.

The shape estimate ``k`` of the generalised Pareto fit to the largest ratios says whether this is
reliable: PSIS estimates converge at a usable rate for ``k`` up to ``min(1 - 1/log10(S), 0.7)``
with ``S`` draws (Vehtari et al. 2024; :func:`pareto_k_threshold`, 0.7 from about 2200 draws).
Above it the variant must be refitted; the fitting stage does so (see
:mod:`rechallenge.analysis.run.fitting`) and the sensitivity table says, per endpoint and
variant, which variants were reweighted and which refitted, with their ``k``.

Everything here is a deterministic function of the saved main fit (its ``tau`` draws and the
``tau_sd`` recorded in its provenance), so a report rebuilt from a saved run recomputes the same
weights, the same ``k`` and the same decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import arviz as az
import numpy as np
import pandas as pd
from scipy import stats

from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.fit_names import SENSITIVITY_SCALES
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.analysis.summaries.computed_once import once_per_fit
from rechallenge.analysis.summaries.tidy import summary_frame
from rechallenge.models.fit_settings import fit_attrs

#: Largest Pareto k at which a variant is reweighted rather than refitted (Vehtari et al. 2024);
#: with fewer than about 2200 draws the threshold is lower (:func:`pareto_k_threshold`).
MAX_PARETO_K: Final = 0.7
#: How a sensitivity variant was obtained.
REWEIGHTED: Final = "reweighted"
REFITTED: Final = "refitted"
#: The prior hyperparameter scaled by the variants (``tau[line] ~ HalfNormal(tau_sd)``).
TAU_SD: Final = "tau_sd"


def sensitivity_scales(config: RunConfig) -> dict[str, float]:
    """The prior-sensitivity variants a run makes: ``{variant: factor}``, or none.

    Only a partial-pooling main model has a heterogeneity prior to vary, and only when the
    config asks for the sensitivity analysis.
    """
    if config.analysis.sensitivity and config.analysis.pooling == "partial":
        return dict(SENSITIVITY_SCALES)
    return {}


def pareto_k_threshold(n_draws: int) -> float:
    """The largest Pareto k at which PSIS with ``n_draws`` draws is reliable.

    ``min(1 - 1 / log10(S), 0.7)`` (Vehtari et al. 2024, as ArviZ's ``loo`` uses it): 0.7 from
    about 2200 draws, lower with fewer.
    """
    if n_draws < 2:
        return -math.inf
    return min(1.0 - 1.0 / math.log10(n_draws), MAX_PARETO_K)


def tau_log_ratio(tau: np.ndarray, tau_sd: float, factor: float) -> np.ndarray:
    """Log ratio of the variant to the main heterogeneity prior, summed over lines, per draw.

    Parameters
    ----------
    tau
        Draws of ``tau`` with the lines on the last axis, e.g. shape (chain, draw, line).
    tau_sd
        Scale of the main fit's ``HalfNormal`` prior.
    factor
        Multiplier of the scale in the variant.

    Returns
    -------
    numpy.ndarray
        ``sum_line [log HalfNormal(tau | factor * tau_sd) - log HalfNormal(tau | tau_sd)]``,
        shape ``tau.shape[:-1]``.
    """
    if not (tau_sd > 0 and factor > 0):
        raise ValueError(f"tau_sd and factor must be > 0, got {tau_sd} and {factor}")
    values = np.asarray(tau, dtype=float)
    ratio = (stats.halfnorm.logpdf(values, scale=tau_sd * factor)
             - stats.halfnorm.logpdf(values, scale=tau_sd))
    return np.sum(ratio, axis=-1)


@dataclass(frozen=True)
class Reweighting:
    """Pareto-smoothed importance weights turning the main posterior into a prior variant.

    Attributes
    ----------
    factor, tau_sd
        The variant's multiplier of the prior scale, and the main fit's scale.
    log_weights
        Smoothed, normalised log weights, shape (chain, draw) (``exp`` sums to 1).
    pareto_k
        Shape estimate of the generalised Pareto fit to the largest ratios.
    reff
        Relative efficiency (ESS / draws) of the raw ratios, passed to ``az.psislw``.
    """

    factor: float
    tau_sd: float
    log_weights: np.ndarray
    pareto_k: float
    reff: float

    @property
    def weights(self) -> np.ndarray:
        """Normalised weights, shape (chain, draw)."""
        return np.exp(self.log_weights - np.max(self.log_weights)) / np.sum(
            np.exp(self.log_weights - np.max(self.log_weights)))

    @property
    def threshold(self) -> float:
        """The Pareto k threshold for this number of draws (:func:`pareto_k_threshold`)."""
        return pareto_k_threshold(int(self.log_weights.size))

    @property
    def reliable(self) -> bool:
        """Whether the reweighted posterior can stand for a refit (``k`` at most the threshold)."""
        return bool(np.isfinite(self.pareto_k) and self.pareto_k <= self.threshold)

    @property
    def ess(self) -> float:
        """Effective sample size of the weighted draws: ``reff / sum(w^2)``."""
        return float(self.reff / np.sum(self.weights**2))

    def record(self, method: str) -> dict[str, Any]:
        """What a run records of the variant: factor, prior scale, Pareto k and ``method``."""
        k = float(self.pareto_k)
        return {"factor": float(self.factor), "prior_tau_sd": float(self.tau_sd),
                "pareto_k": k if math.isfinite(k) else None, "method": method}


def reweight_prior_scale(idata: az.InferenceData, factor: float) -> Reweighting:
    """PSIS weights of the main fit's draws for its ``tau`` prior scale times ``factor``.

    Parameters
    ----------
    idata
        A partial-pooling fit (its posterior has ``tau`` with a ``line`` dimension and its
        provenance records the ``tau_sd`` it was fitted with; also after a NetCDF round trip).
    factor
        Multiplier of the prior scale, e.g. 0.5 or 2.

    Returns
    -------
    Reweighting
    """
    # Computed once per fit and factor: the fitting stage's decision, the sensitivity table and
    # a rebuilt report's check all read these weights.
    return once_per_fit(idata, ("reweight_prior_scale", float(factor)),
                        lambda: _reweight_prior_scale(idata, factor))


def _reweight_prior_scale(idata: az.InferenceData, factor: float) -> Reweighting:
    tau_sd = float(fit_attrs(idata)["priors"][TAU_SD])
    tau = idata.posterior["tau"].transpose("chain", "draw", ...).to_numpy()
    log_ratio = tau_log_ratio(tau.reshape(tau.shape[:2] + (-1,)), tau_sd, factor)
    reff = _relative_efficiency(log_ratio)
    smoothed, k = az.psislw(log_ratio.ravel(), reff=reff)
    return Reweighting(float(factor), tau_sd, np.asarray(smoothed).reshape(log_ratio.shape),
                       float(np.ravel(k)[0]), reff)


def _relative_efficiency(log_ratio: np.ndarray) -> float:
    """ESS / draws of the raw ratios (as ``loo::relative_eff`` of the ratios); 1 if constant."""
    ratio = np.exp(log_ratio - np.max(log_ratio))
    if np.std(ratio) == 0 or log_ratio.shape[0] < 1:
        return 1.0
    ess = float(np.ravel(az.ess(ratio, method="mean"))[0])
    return ess / ratio.size if np.isfinite(ess) and ess > 0 else 1.0


# --------------------------------------------------------------------------- weighted summaries


def _sorted_positive(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite values with positive weight, sorted, and their weights normalised to sum 1."""
    x = np.asarray(values, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    if x.shape != w.shape:
        raise ValueError(f"values and weights differ in size: {x.size} and {w.size}")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and >= 0")
    keep = np.isfinite(x) & (w > 0)
    x, w = x[keep], w[keep]
    if w.size == 0:
        return x, w
    order = np.argsort(x, kind="stable")
    return x[order], w[order] / np.sum(w)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, probs: Any) -> np.ndarray:
    """Quantiles of weighted draws.

    Draw ``i`` (sorted) stands at cumulative probability ``C_i - w_i / 2`` (the midpoint of its
    weight) and the quantile function interpolates linearly between draws, constant beyond the
    first and last. With equal weights this is ``np.quantile(values, probs, method="hazen")``.

    Parameters
    ----------
    values, weights
        Draws and their weights (any shape, the same size; weights >= 0, normalised here).
    probs
        Probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray
        Quantiles, shaped like ``probs``; NaN if no draw has positive weight.
    """
    p = np.asarray(probs, dtype=float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("probabilities must be in [0, 1]")
    x, w = _sorted_positive(values, weights)
    if x.size == 0:
        return np.full(p.shape, np.nan)
    position = np.cumsum(w) - w / 2
    return np.interp(p, position, x)


def weighted_hdi(values: np.ndarray, weights: np.ndarray, level: float) -> tuple[float, float]:
    """The narrowest interval between two draws holding at least ``level`` of the weight."""
    x, w = _sorted_positive(values, weights)
    if x.size == 0:
        return (float("nan"), float("nan"))
    upto = np.cumsum(w)
    before = upto - w
    # For each start i, the first end j whose weight from i to j reaches the level.
    end = np.searchsorted(upto, before + level - 1e-12, side="left")
    start = np.flatnonzero(end < x.size)
    if start.size == 0:
        return float(x[0]), float(x[-1])
    widths = x[end[start]] - x[start]
    best = start[int(np.argmin(widths))]
    return float(x[best]), float(x[end[best]])


def weighted_interval(
    values: np.ndarray, weights: np.ndarray, interval: Interval = DEFAULT_INTERVAL
) -> tuple[float, float]:
    """The credible interval of weighted draws: weighted quantiles, or the weighted HDI."""
    if interval.kind == "hdi":
        return weighted_hdi(values, weights, interval.level)
    tail = (1 - interval.level) / 2
    lower, upper = weighted_quantile(values, weights, [tail, 1 - tail])
    return float(lower), float(upper)


def weighted_quantile_mcse(values: np.ndarray, reweighting: Reweighting, prob: float = 0.5) -> float:
    """Approximate Monte Carlo standard error of a weighted quantile.

    The standard error of the weighted probability below the quantile, ``sqrt(sum w^2 (I -
    p)^2 / reff)`` (Vehtari et al. 2024 for self-normalised PSIS with MCMC draws), carried to
    the quantile scale through the weighted quantile function at ``p`` +/- one standard error.
    """
    x = np.asarray(values, dtype=float)
    w = reweighting.weights
    q = float(weighted_quantile(x, w, prob))
    below = (x <= q).astype(float)
    se = math.sqrt(float(np.sum(w**2 * (below - prob) ** 2)) / reweighting.reff)
    lo, hi = weighted_quantile(x, w, [max(prob - se, 0.0), min(prob + se, 1.0)])
    return float(hi - lo) / 2


def summarise_weighted(
    draws: np.ndarray, reweighting: Reweighting, *, interval: Interval = DEFAULT_INTERVAL,
    **labels: Any,
) -> dict[str, Any]:
    """Summarise draws of one scalar quantity of the main fit under the reweighted posterior.

    Parameters
    ----------
    draws
        The quantity's draws from the main fit, shape (chain, draw).
    reweighting
        Weights of those draws (:func:`reweight_prior_scale`).
    interval
        Credible-interval setting.
    **labels
        Identifying columns (``endpoint``, ``quantity``, ``line``).

    Returns
    -------
    dict
        The keys of :func:`rechallenge.analysis.summaries.tidy.summarise_draws`: weighted mean,
        median, sd (with the reliability-weights correction, ``ddof=1`` for equal weights),
        lower, upper, interval; ``mcse_mean`` (self-normalised PSIS, ``sqrt(sum w^2 (x -
        mean)^2 / reff)``); ``ess_bulk`` the effective sample size of the weights; ``r_hat`` and
        ``ess_tail`` NaN (the draws are the main fit's, diagnosed there); and ``mcse_median``
        (:func:`weighted_quantile_mcse`).
    """
    arr = np.asarray(draws, dtype=float)
    w = reweighting.weights
    if arr.shape != w.shape:
        raise ValueError(f"draws have shape {arr.shape}, the weights {w.shape}")
    mean = float(np.sum(w * arr))
    squared = float(np.sum(w * (arr - mean) ** 2))
    sum_w2 = float(np.sum(w**2))
    lower, upper = weighted_interval(arr, w, interval)
    row: dict[str, Any] = dict(labels)
    row.update(
        mean=mean,
        median=float(weighted_quantile(arr, w, 0.5)),
        sd=math.sqrt(squared / (1 - sum_w2)) if sum_w2 < 1 else float("nan"),
        lower=lower,
        upper=upper,
        interval=interval.short,
        mcse_mean=math.sqrt(float(np.sum(w**2 * (arr - mean) ** 2)) / reweighting.reff),
        r_hat=float("nan"),
        ess_bulk=reweighting.ess,
        ess_tail=float("nan"),
        mcse_median=weighted_quantile_mcse(arr, reweighting),
    )
    return row


def reweighted_summary(
    quantity_draws: Iterable[tuple[str, str, np.ndarray]],
    reweighting: Reweighting,
    *,
    endpoint: str,
    interval: Interval = DEFAULT_INTERVAL,
) -> pd.DataFrame:
    """Tidy summary of the main fit's quantities under a reweighted prior variant.

    Parameters
    ----------
    quantity_draws
        ``(quantity, line, draws)`` of the main fit, as the summaries' ``quantity_draws`` give
        them (e.g. only those the sensitivity table shows).
    reweighting
        The variant's weights (:func:`reweight_prior_scale`).
    endpoint
        The ``endpoint`` column.
    interval
        Credible-interval setting.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`rechallenge.analysis.summaries.tidy.SUMMARY_COLUMNS` (see
        :func:`summarise_weighted`) plus ``mcse_median``.
    """
    rows = [summarise_weighted(draws, reweighting, interval=interval, endpoint=endpoint,
                               quantity=quantity, line=line)
            for quantity, line, draws in quantity_draws]
    return summary_frame(rows)

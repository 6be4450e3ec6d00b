"""Statistics of simulation studies: SBC uniformity, interval coverage, precision.

SBC (Talts et al. 2018): if the model is calibrated, the rank of the true value among ``L``
thinned posterior draws is uniform on ``0..L``. The check is the ECDF of the ranks against the
uniform CDF with a *simultaneous* band (Säilynoja, Bürkner & Vehtari 2022, "Graphical test for
discrete uniformity and its applications in goodness-of-fit evaluation and multiple sample
comparison", Statistics and Computing 32:32): with ``N`` simulations the ECDF at the ``L``
interior points ``z_i = i / (L + 1)`` is ``Binomial(N, z_i) / N`` pointwise; the band is the
pointwise binomial band at the level ``gamma`` for which the whole ECDF of uniform ranks lies
inside it with probability ``1 - alpha``. ``gamma`` is found by simulating uniform ranks (the
paper's simulation method, exact for discrete ranks up to Monte Carlo error). A quantity fails
when its ECDF leaves the band; its p-value is the share of uniform samples whose smallest
pointwise tail probability is at most its own. A chi-square test on binned ranks is reported
beside it.

Coverage: the share of simulations whose interval contains the truth, with its Clopper-Pearson
interval; bias and RMSE of the posterior median.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from rechallenge.data.frequentist import exact_proportion_ci

#: Uniform rank samples simulated to calibrate the simultaneous band.
BAND_SIMULATIONS = 4000
#: Fixed seed of the band simulation (the band is a property of N and L, not of the study).
BAND_SEED = 20220321
#: Coverage verdict of a quantity whose truth, bias, RMSE or interval width is infinite or NaN.
NOT_FINITE = "not finite"
#: Bins of the chi-square test (ranks 0..L grouped into this many equal bins when L + 1 allows).
CHI2_BINS = 20


def _tail_statistic(counts_below: np.ndarray, n: int, z: np.ndarray) -> np.ndarray:
    """Twice the smallest pointwise binomial tail probability of each ECDF (last axis: points)."""
    lower = stats.binom.cdf(counts_below, n, z)
    upper = stats.binom.sf(counts_below - 1, n, z)
    return 2.0 * np.min(np.minimum(lower, upper), axis=-1)


@lru_cache(maxsize=32)
def _null_statistics(n: int, n_ranks: int, alpha: float) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(BAND_SEED)
    z = np.arange(1, n_ranks) / n_ranks
    ranks = rng.integers(0, n_ranks, size=(BAND_SIMULATIONS, n))
    counts = np.stack([np.sum(ranks < i, axis=1) for i in range(1, n_ranks)], axis=1)
    null = np.sort(_tail_statistic(counts, n, z))
    return null, float(np.quantile(null, alpha))


def ecdf_band(n: int, max_rank: int, alpha: float = 0.05) -> pd.DataFrame:
    """Simultaneous ``1 - alpha`` band of the rank ECDF of ``n`` simulations, ranks ``0..max_rank``.

    Returns
    -------
    pandas.DataFrame
        Columns ``z`` (fractional rank ``i / (L + 1)``, i = 1..L), ``lower``, ``upper`` (band of
        the ECDF) and ``gamma`` (the pointwise level that gives simultaneous ``1 - alpha``).
    """
    n_ranks = max_rank + 1
    _, gamma = _null_statistics(n, n_ranks, alpha)
    z = np.arange(1, n_ranks) / n_ranks
    return pd.DataFrame({
        "z": z,
        "lower": stats.binom.ppf(gamma / 2, n, z) / n,
        "upper": stats.binom.ppf(1 - gamma / 2, n, z) / n,
        "gamma": gamma,
    })


def ecdf_difference(ranks: Sequence[int], max_rank: int) -> pd.DataFrame:
    """ECDF of the ranks at ``z_i = i / (L + 1)`` minus ``z_i`` (the curve of the SBC plot)."""
    r = np.asarray(ranks, dtype=int)
    z = np.arange(1, max_rank + 1) / (max_rank + 1)
    ecdf = np.array([np.mean(r < i) for i in range(1, max_rank + 1)]) if r.size else z * np.nan
    return pd.DataFrame({"z": z, "ecdf": ecdf, "difference": ecdf - z})


def uniformity_test(ranks: Sequence[int], max_rank: int, alpha: float = 0.05) -> dict[str, float]:
    """Test the ranks for discrete uniformity on ``0..max_rank``.

    Returns
    -------
    dict
        ``n``; ``ecdf_p`` (simultaneous ECDF test), ``in_band`` (1.0 when the ECDF stays inside
        the ``1 - alpha`` band, 0.0 otherwise), ``chi2`` and ``chi2_p`` (binned ranks).
    """
    r = np.asarray(ranks, dtype=int)
    n, n_ranks = r.size, max_rank + 1
    if n == 0:
        return {"n": 0, "ecdf_p": np.nan, "in_band": np.nan, "chi2": np.nan, "chi2_p": np.nan}
    if r.min() < 0 or r.max() > max_rank:
        raise ValueError(f"ranks must lie in 0..{max_rank}")
    null, _ = _null_statistics(n, n_ranks, alpha)
    z = np.arange(1, n_ranks) / n_ranks
    counts = np.array([np.sum(r < i) for i in range(1, n_ranks)])
    observed = float(_tail_statistic(counts[None, :], n, z)[0])
    p_value = (np.searchsorted(null, observed, side="right") + 1) / (null.size + 1)
    band = ecdf_band(n, max_rank, alpha)
    # The verdict reads the band the figure draws, so a plot and its table cannot disagree.
    inside = bool(np.all((counts / n >= band["lower"]) & (counts / n <= band["upper"])))
    bins = CHI2_BINS if n_ranks % CHI2_BINS == 0 else n_ranks
    binned = np.bincount(r * bins // n_ranks, minlength=bins)
    chi2, chi2_p = stats.chisquare(binned)
    return {"n": n, "ecdf_p": float(p_value), "in_band": float(inside),
            "chi2": float(chi2), "chi2_p": float(chi2_p)}


def sbc_table(ranks: pd.DataFrame, max_rank: int, alpha: float = 0.05) -> pd.DataFrame:
    """One uniformity test per family and quantity.

    Parameters
    ----------
    ranks
        Columns ``family``, ``quantity``, ``rank`` (one row per simulation and quantity).
    """
    rows = []
    for (family, quantity), group in ranks.groupby(["family", "quantity"], sort=False):
        test = uniformity_test(group["rank"].to_numpy(), max_rank, alpha)
        rows.append({"family": family, "quantity": quantity, **test})
    table = pd.DataFrame(rows)
    if len(table):
        # A test that could not be made (NaN) is not "inside the band".
        table["in_band"] = table["in_band"] == 1.0
        table["n"] = table["n"].astype(int)
    return table


def coverage_table(summaries: pd.DataFrame, level: float) -> pd.DataFrame:
    """Coverage, its Clopper-Pearson interval, bias, RMSE and mean width per family/quantity.

    Parameters
    ----------
    summaries
        Columns ``family``, ``quantity``, ``truth``, ``median``, ``lower``, ``upper``,
        ``covered`` (one row per simulation and quantity); with a ``tau`` column that is not all
        missing (a coverage profile), one row per family, true tau and quantity.
    level
        Nominal level of the credible interval; also the confidence level of the binomial
        bounds. ``nominal_inside`` says whether the nominal level lies within them; ``verdict``
        is ``consistent``, ``conservative`` (coverage above the nominal level) or ``too narrow``,
        and :data:`NOT_FINITE` when the truth's mean, the bias, the RMSE or the mean width is
        infinite or NaN (``nominal_inside`` is then false).
    """
    rows = []
    profile = "tau" in summaries and summaries["tau"].notna().any()
    keys = ["family", "tau", "quantity"] if profile else ["family", "quantity"]
    for values, group in summaries.groupby(keys, sort=False):
        cell = dict(zip(keys, values))
        covered = int(group["covered"].sum())
        ci = exact_proportion_ci(covered, len(group), level)
        # NumPy arrays, not Series: pandas would skip a NaN and hide an undefined summary.
        truth, median = group["truth"].to_numpy(float), group["median"].to_numpy(float)
        width = group["upper"].to_numpy(float) - group["lower"].to_numpy(float)
        error = median - truth
        with np.errstate(over="ignore", invalid="ignore"):  # flagged below, not warned about
            summary = {"truth_mean": float(np.mean(truth)), "bias": float(np.mean(error)),
                       "rmse": float(np.sqrt(np.mean(error**2))),
                       "mean_width": float(np.mean(width))}
        finite = all(np.isfinite(v) for v in summary.values())
        inside = finite and bool(ci.lower <= level <= ci.upper)
        rows.append({
            **cell, "n": len(group), "covered": covered,
            "coverage": ci.proportion, "cp_lower": ci.lower, "cp_upper": ci.upper,
            "nominal_inside": inside,
            # Above the bounds the intervals are conservative (too wide); below, too narrow. An
            # infinite or undefined summary says the fits or the truth are broken: never
            # "consistent", whatever the share covered.
            "verdict": (NOT_FINITE if not finite else "consistent" if inside
                        else "conservative" if ci.lower > level else "too narrow"),
            **summary,
        })
    table = pd.DataFrame(rows)
    # A profile reads along tau: rows in increasing tau within each family, whatever order the
    # records came in.
    return table.sort_values(["tau"], kind="stable") if profile else table


def precision_table(summaries: pd.DataFrame, level: float) -> pd.DataFrame:
    """Expected interval width and P(interval excludes no effect) per design cell.

    Parameters
    ----------
    summaries
        Columns ``family``, ``k_sites``, ``n_patients``, ``quantity``, ``lower``, ``upper``,
        ``excludes_null`` (NaN for quantities that are not contrasts), ``covered``.
    level
        Confidence level of the Clopper-Pearson bounds of the exclusion probability.
    """
    rows = []
    keys = ["family", "k_sites", "n_patients", "quantity"]
    for (family, k, n, quantity), group in summaries.groupby(keys, sort=True):
        width = group["upper"] - group["lower"]
        row = {"family": family, "k_sites": int(k), "n_patients": int(n), "quantity": quantity,
               "n": len(group), "mean_width": float(width.mean()),
               "width_se": float(width.std(ddof=1) / np.sqrt(len(group))) if len(group) > 1
               else np.nan,
               "coverage": float(group["covered"].mean())}
        excludes = group["excludes_null"].dropna()
        if len(excludes):
            ci = exact_proportion_ci(int(excludes.sum()), len(excludes), level)
            row.update(p_excludes_null=ci.proportion, cp_lower=ci.lower, cp_upper=ci.upper)
        rows.append(row)
    return pd.DataFrame(rows)

"""Tidy posterior summaries: one row per quantity, fixed columns, with convergence diagnostics.

Every derived quantity (pooled probabilities, contrasts, medians, ...) is summarised by
:func:`summarise_draws` from its draws with shape (chain, draw), so diagnostics are computed for
derived quantities exactly as for parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval

#: Columns of every summary table, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "endpoint", "quantity", "line", "mean", "median", "sd", "lower", "upper", "interval",
    "mcse_mean", "r_hat", "ess_bulk", "ess_tail",
)


def summarise_draws(
    draws: np.ndarray,
    *,
    interval: Interval = DEFAULT_INTERVAL,
    **labels: Any,
) -> dict[str, Any]:
    """Summarise draws of one scalar quantity.

    Parameters
    ----------
    draws
        Array of shape (chain, draw). Probabilities such as P(ICI-2 > ICI-1) are summarised from
        their 0/1 indicator draws: the mean is the probability.
    interval
        Credible-interval setting.
    **labels
        Identifying columns (``endpoint``, ``quantity``, ``line`` and any extra, e.g. ``site``).

    Returns
    -------
    dict
        The labels plus mean, median, sd, lower, upper, interval, mcse_mean, r_hat, ess_bulk,
        ess_tail.
    """
    arr = np.asarray(draws, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"draws must have shape (chain, draw), got {arr.shape}")
    lower, upper = interval.bounds(arr)
    row: dict[str, Any] = dict(labels)
    row.update(
        mean=float(np.mean(arr)),
        median=float(np.median(arr)),
        sd=float(np.std(arr, ddof=1)) if arr.size > 1 else float("nan"),
        lower=lower,
        upper=upper,
        interval=interval.short,
    )
    row.update(convergence(arr))
    return row


def convergence(draws: np.ndarray) -> dict[str, float]:
    """R-hat (rank-normalised), bulk and tail ESS and MCSE of the mean of (chain, draw) draws.

    A constant quantity (e.g. a diagonal correlation) has no variance: R-hat is reported as 1 and
    the ESS as the number of draws, rather than NaN, since it has nothing left to converge.
    """
    arr = np.asarray(draws, dtype=float)
    if np.nanstd(arr) == 0:
        return {"mcse_mean": 0.0, "r_hat": 1.0, "ess_bulk": float(arr.size), "ess_tail": float(arr.size)}
    return {
        # ArviZ returns 0-d or length-1 arrays depending on the function; take the scalar.
        "mcse_mean": float(np.ravel(az.mcse(arr, method="mean"))[0]),
        "r_hat": float(np.ravel(az.rhat(arr))[0]),
        "ess_bulk": float(np.ravel(az.ess(arr, method="bulk"))[0]),
        "ess_tail": float(np.ravel(az.ess(arr, method="tail"))[0]),
    }


def summary_frame(rows: Iterable[Mapping[str, Any]], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Assemble summary rows into a DataFrame with :data:`SUMMARY_COLUMNS` (plus ``extra``)."""
    columns = list(SUMMARY_COLUMNS[:3]) + list(extra) + list(SUMMARY_COLUMNS[3:])
    frame = pd.DataFrame(list(rows))
    for col in columns:
        if col not in frame.columns:
            frame[col] = np.nan
    return frame[columns + [c for c in frame.columns if c not in columns]]

"""Prior-data conflict check for a new site, before refitting with it.

How surprising are a new site's data under the current model's predictive distribution for a
new site? This is Box's (1980) prior predictive check, here with the "prior" being the
meta-analytic predictive (the approach of RBesT's ``preddist``, and of the conflict diagnostics
of Presanis et al. 2013). The predictive of the new site's observable is the sampling
distribution of that observable mixed over the draws of the new site's parameter, so both tails
are computed exactly by averaging closed-form cdfs over the draws: no simulation, no seed.

Two-sided p-value: ``min(1, 2 * min(P(Y <= y), P(Y >= y)))``, both tails including the observed
value (not the mid-p). For a count this p-value is valid, ``P(p <= u) <= u`` for every u when
the site really comes from the predictive, so the flag is conservative; the mid-p would be
closer to uniform but can flag more often than ``alpha`` for small sites. For the (continuous)
TTP check the p-value is exactly uniform under the predictive. Either way ``flagged`` is a
screening flag for a reader to look at, not a test with error-rate control over sites.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval

#: Columns of :func:`conflict_table`, in order.
CONFLICT_COLUMNS: tuple[str, ...] = (
    "site", "endpoint", "line", "observed", "n", "predictive_mean", "predictive_lower",
    "predictive_upper", "p_lower", "p_upper", "p_value", "flagged", "note",
)
#: Default screening threshold of :func:`conflict_table`.
DEFAULT_ALPHA = 0.05


def _two_sided(p_lower: float, p_upper: float) -> float:
    return float(min(1.0, 2 * min(p_lower, p_upper)))


def _equal_tailed(interval: Interval) -> Interval:
    # Tail probabilities define the check, so its predictive interval is always equal-tailed at
    # the package's level (an HDI would not match the p-value); the label says so.
    return Interval(interval.level, "equal-tailed")


def binary_conflict(
    p_new_draws: np.ndarray,
    n: int,
    events: int,
    *,
    interval: Interval = DEFAULT_INTERVAL,
    **labels: Any,
) -> dict[str, Any]:
    """Conflict check of a new site's event count against the predictive for a new site.

    The predictive of the count is ``Binomial(n, p)`` mixed over the draws of ``p``.

    Parameters
    ----------
    p_new_draws
        Draws of the new-site probability (any shape; flattened), e.g. from
        :func:`rechallenge.analysis.summaries.site_effects.new_site_effects` through the inverse link.
    n, events
        The new site's number of patients and of events (e.g. responders) on this line.
    interval
        Its level sets the predictive interval of the count (equal-tailed, exact quantiles of
        the discrete predictive).
    **labels
        Identifying entries copied into the result (``site``, ``endpoint``, ``line``).

    Returns
    -------
    dict
        The labels plus ``observed`` (events), ``n``, ``predictive_mean``, ``predictive_lower``,
        ``predictive_upper``, ``p_lower`` = P(Y <= events), ``p_upper`` = P(Y >= events),
        ``p_value`` and ``interval`` (label).
    """
    p = np.asarray(p_new_draws, dtype=float).ravel()
    if p.size == 0 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p_new_draws must be non-empty probabilities in [0, 1]")
    if int(n) != n or n < 1 or int(events) != events or not 0 <= events <= n:
        raise ValueError(f"need integers n >= 1 and 0 <= events <= n, got {events}/{n}")
    n, events = int(n), int(events)
    # The predictive pmf of the count (n + 1 values), averaged over the draws, gives both tails
    # and the quantiles exactly; summing the upper tail directly keeps tiny tails accurate.
    k = np.arange(n + 1)[:, None]
    log_pmf = (special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
               + special.xlogy(k, p) + special.xlog1py(n - k, -p))
    pmf = np.exp(log_pmf).mean(axis=1)
    p_lower, p_upper = float(pmf[: events + 1].sum()), float(pmf[events:].sum())
    cdf = np.cumsum(pmf)
    et = _equal_tailed(interval)
    tail = (1 - et.level) / 2
    lo, hi = (int(np.searchsorted(cdf, q - 1e-12)) for q in (tail, 1 - tail))
    return {**labels, "observed": events, "n": n, "predictive_mean": float(n * p.mean()),
            "predictive_lower": min(lo, n), "predictive_upper": min(hi, n),
            "p_lower": p_lower, "p_upper": p_upper, "p_value": _two_sided(p_lower, p_upper),
            "interval": et.short}


def ttp_conflict(
    log_median_new_draws: np.ndarray,
    observed_median: float,
    lower: float,
    upper: float,
    *,
    ci_level: float = 0.95,
    interval: Interval = DEFAULT_INTERVAL,
    **labels: Any,
) -> dict[str, Any]:
    """Conflict check of a new site's reported median TTP (with its CI) against the predictive.

    The site's log median is taken as ``Normal(log median of the site, se^2)`` with
    ``se = (log upper - log lower) / (2 z)``, ``z`` the normal quantile of ``ci_level``
    (1.959964 for 95%): the usual reading of a CI that is symmetric on the log scale, as a
    Brookmeyer-Crowley interval with a log transformation is. The predictive of the observed
    log median is that normal mixed over the draws of the new site's log median.

    Parameters
    ----------
    log_median_new_draws
        Draws of the new-site log median TTP (any shape; flattened), same time unit as the data.
    observed_median, lower, upper
        The site's reported median and its confidence limits (positive, same unit). If the
        upper limit was not reached, pass ``math.inf``: the se then comes from the lower half
        of the interval alone.
    ci_level
        Level of the site's reported confidence interval.
    interval
        Its level sets the predictive interval (equal-tailed).
    **labels
        Identifying entries copied into the result (``site``, ``endpoint``, ``line``).

    Returns
    -------
    dict
        As :func:`binary_conflict`, on the time scale: ``observed`` is the reported median,
        ``predictive_mean`` is ``E[exp(Y)]`` and the interval bounds are exponentiated
        quantiles of the log-scale predictive ``Y``; plus ``se`` (of the log median).
    """
    mu = np.asarray(log_median_new_draws, dtype=float).ravel()
    if mu.size == 0 or not np.all(np.isfinite(mu)):
        raise ValueError("log_median_new_draws must be non-empty and finite")
    if not 0 < lower <= observed_median <= upper:
        raise ValueError(f"need 0 < lower <= median <= upper, got {lower}, {observed_median}, "
                         f"{upper}")
    z = stats.norm.ppf((1 + ci_level) / 2)
    y = math.log(observed_median)
    se = ((math.log(upper) - math.log(lower)) / (2 * z) if math.isfinite(upper)
          else (y - math.log(lower)) / z)
    if not se > 0:
        raise ValueError("the confidence interval has zero width on the log scale")
    p_lower = float(np.mean(special.ndtr((y - mu) / se)))
    p_upper = float(np.mean(special.ndtr((mu - y) / se)))  # not 1 - p_lower: tiny tails

    def cdf(v: float) -> float:
        return float(np.mean(special.ndtr((v - mu) / se)))

    et = _equal_tailed(interval)
    span = (mu.min() - 12 * se, mu.max() + 12 * se)
    bounds = [math.exp(optimize.brentq(lambda v, q=q: cdf(v) - q, *span, xtol=1e-10))
              for q in ((1 - et.level) / 2, (1 + et.level) / 2)]
    return {**labels, "observed": float(observed_median),
            "predictive_mean": float(np.mean(np.exp(mu + se**2 / 2))),
            "predictive_lower": bounds[0], "predictive_upper": bounds[1],
            "p_lower": p_lower, "p_upper": p_upper, "p_value": _two_sided(p_lower, p_upper),
            "interval": et.short, "se": se}


def not_checked(reason: str, **labels: Any) -> dict[str, Any]:
    """A row of :func:`conflict_table` for data that cannot be checked, with the reason.

    E.g. a new site whose patients did not progress: its Kaplan-Meier median does not exist, so
    there is nothing to compare with the predictive. The row keeps the site in the table (no
    p-value, not flagged) so that a reader sees it was not checked rather than not surprising.
    """
    return {**labels, "note": f"not checked: {reason}"}


def conflict_table(
    rows: Iterable[Mapping[str, Any]], *, alpha: float = DEFAULT_ALPHA
) -> pd.DataFrame:
    """Assemble conflict checks into a table with :data:`CONFLICT_COLUMNS`.

    Parameters
    ----------
    rows
        Results of :func:`binary_conflict` / :func:`ttp_conflict` / :func:`not_checked` (with
        ``site``, ``endpoint`` and ``line`` labels; missing labels become NaN).
    alpha
        ``flagged = p_value < alpha``: a screening flag for sites worth a look before they are
        pooled, not a test with error control (nothing is corrected for the number of sites,
        endpoints and lines checked).

    Returns
    -------
    pandas.DataFrame
        Exactly :data:`CONFLICT_COLUMNS` (``note`` empty for a checked row; a row that
        could not be checked has no p-value and is not flagged); ``attrs`` hold ``alpha`` and
        the interval label(s) (the level comes from the package's
        :class:`~rechallenge.analysis.settings.intervals.Interval`).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    rows = list(rows)
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys([*CONFLICT_COLUMNS, "interval"])))
    frame["note"] = frame["note"].fillna("").astype(str)
    if (frame["p_value"].isna() & (frame["note"] == "")).any():
        raise ValueError("every row needs a p_value, or a note saying why it was not checked")
    frame["flagged"] = frame["p_value"] < alpha
    table = frame[list(CONFLICT_COLUMNS)].copy()
    table.attrs.update(alpha=alpha, interval=sorted({str(r.get("interval")) for r in rows
                                                     if not r.get("note")}))
    return table

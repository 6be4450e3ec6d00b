"""Frequentist reference analyses: exact binomial intervals and Kaplan-Meier medians.

These reproduce the kind of analysis a clinical paper reports (crude rates with exact 95%
confidence intervals, Kaplan-Meier median time to progression with its 95% confidence interval),
so that the Bayesian results of the package can be read beside the published figures.

Two intervals are offered for the Kaplan-Meier median:

``"linear"``
    The SPSS-style symmetric interval ``median +/- z * SE``, with the standard error of the median
    from Collett's formula (see :func:`collett_median_se`). The symmetric intervals of the
    reference study (5.4 +/- 2.3 and 5.2 +/- 1.9 months) point to this interval.
``"log-log"``
    The Brookmeyer-Crowley interval: the times at which lifelines' pointwise log(-log) Greenwood
    confidence band of S(t) crosses 0.5 (``median_survival_times(kmf.confidence_interval_)``).

The median itself follows lifelines' convention: the smallest time with S(t) <= 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times
from scipy import stats

MedianCIMethod = Literal["linear", "log-log"]

#: Supported interval kinds for the Kaplan-Meier median, in display order.
MEDIAN_CI_METHODS: Final[tuple[str, ...]] = ("linear", "log-log")

#: Human-readable description of each interval kind, for tables and footnotes.
MEDIAN_CI_LABELS: Final[dict[str, str]] = {
    "linear": "linear (SPSS-style median +/- z*SE, SE by Collett's formula)",
    "log-log": "Brookmeyer-Crowley with the log(-log) transform",
}

#: Label of the interval used for proportions.
PROPORTION_CI_LABEL: Final = "exact (Clopper-Pearson)"

# Survival probabilities that bracket the median in Collett's density estimate (0.5 +/- 0.05).
_UPPER_S: Final = 0.55
_LOWER_S: Final = 0.45
# Kaplan-Meier products such as 0.55 can come out as 0.5499999...; compare with a tolerance.
_S_TOL: Final = 1e-12


@dataclass(frozen=True)
class ProportionCI:
    """A crude proportion with its confidence interval.

    Attributes
    ----------
    events, n
        Number of events and number of patients.
    proportion
        ``events / n`` (NaN when ``n == 0``).
    lower, upper
        Interval bounds on the probability scale.
    level
        Confidence level, e.g. 0.95.
    """

    events: int
    n: int
    proportion: float
    lower: float
    upper: float
    level: float


@dataclass(frozen=True)
class CollettSE:
    """Ingredients and result of Collett's standard error of the Kaplan-Meier median.

    Attributes
    ----------
    median
        Kaplan-Meier median (smallest time with S(t) <= 0.5).
    se
        Standard error of the median, ``survival_se / density``.
    survival_at_median, survival_se
        S at the median and its Greenwood standard error.
    u, s_u
        Largest event time with S >= 0.55, and S there.
    l, s_l
        Smallest event time with S <= 0.45, and S there.
    density
        Local slope estimate ``(s_u - s_l) / (l - u)``.
    """

    median: float
    se: float
    survival_at_median: float
    survival_se: float
    u: float
    s_u: float
    l: float  # noqa: E741 - Collett's notation
    s_l: float
    density: float


@dataclass(frozen=True)
class MedianCI:
    """A Kaplan-Meier median with its confidence interval.

    Attributes
    ----------
    median, lower, upper
        Median and interval bounds (inf when the curve does not reach 0.5; NaN when a bound
        cannot be computed).
    se
        Standard error of the median for the linear interval (NaN for log-log).
    level
        Confidence level.
    method
        ``"linear"`` or ``"log-log"``.
    n, events
        Number of patients and of observed events.
    """

    median: float
    lower: float
    upper: float
    se: float
    level: float
    method: str
    n: int
    events: int


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def z_value(level: float = 0.95) -> float:
    """Two-sided standard normal quantile for a confidence level (1.959964 for 0.95)."""
    _check_level(level)
    return float(stats.norm.ppf(0.5 + level / 2.0))


def exact_proportion_ci(events: int, n: int, level: float = 0.95) -> ProportionCI:
    """Crude proportion with its exact (Clopper-Pearson) confidence interval.

    Parameters
    ----------
    events
        Number of patients with the event (0 <= events <= n).
    n
        Number of patients (the denominator; NE patients included under intention to treat).
    level
        Confidence level, default 0.95.

    Returns
    -------
    ProportionCI
        With NaN proportion and bounds when ``n == 0``.

    Notes
    -----
    Computed with ``scipy.stats.binomtest(events, n).proportion_ci(method="exact")``, the
    Clopper-Pearson interval obtained by inverting two one-sided binomial tests.
    """
    _check_level(level)
    events, n = int(events), int(n)
    if n < 0 or not 0 <= events <= max(n, 0):
        raise ValueError(f"need 0 <= events <= n, got events={events}, n={n}")
    if n == 0:
        return ProportionCI(events, n, float("nan"), float("nan"), float("nan"), level)
    ci = stats.binomtest(events, n).proportion_ci(confidence_level=level, method="exact")
    return ProportionCI(events, n, events / n, float(ci.low), float(ci.high), level)


def fit_km(
    durations: npt.ArrayLike, events: npt.ArrayLike, level: float = 0.95, label: str = "KM"
) -> KaplanMeierFitter:
    """Fit a Kaplan-Meier estimate with lifelines after checking the input.

    Parameters
    ----------
    durations
        Times to event or censoring, all finite and > 0.
    events
        1 = event observed, 0 = censored.
    level
        Confidence level of lifelines' pointwise (log-log) band.
    label
        Column label of the fitted curves.

    Returns
    -------
    lifelines.KaplanMeierFitter
    """
    _check_level(level)
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events)
    if t.ndim != 1 or t.shape != e.shape:
        raise ValueError("durations and events must be 1-d arrays of the same length")
    if t.size == 0:
        raise ValueError("no observations")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("durations must be finite and > 0")
    if not np.all(np.isin(e, (0, 1))):
        raise ValueError("events must be 0 or 1")
    kmf = KaplanMeierFitter(alpha=1.0 - level, label=label)
    kmf.fit(t, event_observed=e.astype(int))
    return kmf


def greenwood_variance(kmf: KaplanMeierFitter, t: float) -> float:
    """Greenwood variance of the Kaplan-Meier estimate S(t).

    ``Var S(t) = S(t)^2 * sum_{t_j <= t} d_j / (n_j (n_j - d_j))`` over event times t_j, with
    d_j events among n_j at risk. Infinite when the curve has dropped to zero by ``t``.
    """
    table = kmf.event_table
    table = table[(table.index <= t) & (table["observed"] > 0)]
    d = table["observed"].to_numpy(dtype=float)
    n = table["at_risk"].to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        total = float(np.sum(d / (n * (n - d))))
    s = float(kmf.predict(t))
    return s * s * total if s > 0 else float("inf")


def collett_median_se(kmf: KaplanMeierFitter) -> CollettSE:
    """Standard error of the Kaplan-Meier median by Collett's formula (the SPSS method).

    ``se(t50) = se(S(t50)) / f``, where ``se(S(t50))`` is Greenwood's standard error of S at the
    median and ``f = (S(u) - S(l)) / (l - u)`` estimates the density at the median, with ``u`` the
    largest event time with S >= 0.55 and ``l`` the smallest event time with S <= 0.45.

    Parameters
    ----------
    kmf
        A fitted lifelines ``KaplanMeierFitter``.

    Returns
    -------
    CollettSE
        NaN ``se`` when the median is not reached or when no event time has S >= 0.55 or
        S <= 0.45.

    References
    ----------
    D. Collett, *Modelling Survival Data in Medical Research*, Chapman & Hall/CRC, section 2.4
    (confidence interval for the median survival time). Klein and Moeschberger, *Survival
    Analysis* (2nd ed., 2003), practical note 3 on p. 122, call this the crude uniform-kernel
    density estimate; per a Cross Validated answer quoting the "KM" chapter of the IBM SPSS
    Statistics Algorithms manual ("Kaplan-Meier using survfit: confidence interval of the
    median"), SPSS uses the same estimate, based on the 55th and 45th percentiles, and reports
    ``median +/- 1.96 * se``. The SPSS manual itself was not consulted.
    """
    median = float(kmf.median_survival_time_)
    nan = float("nan")
    if not np.isfinite(median):
        return CollettSE(median, nan, nan, nan, nan, nan, nan, nan, nan)
    s_median = float(kmf.predict(median))
    s_se = float(np.sqrt(greenwood_variance(kmf, median)))
    table = kmf.event_table
    event_times = table.index[table["observed"] > 0].to_numpy(dtype=float)
    # survival_function_at_times, not predict: predict gives a scalar for a single event time.
    surv = kmf.survival_function_at_times(event_times).to_numpy(dtype=float)
    above = event_times[surv >= _UPPER_S - _S_TOL]
    below = event_times[surv <= _LOWER_S + _S_TOL]
    if above.size == 0 or below.size == 0:
        return CollettSE(median, nan, s_median, s_se, nan, nan, nan, nan, nan)
    u, l = float(above.max()), float(below.min())  # noqa: E741
    s_u, s_l = float(kmf.predict(u)), float(kmf.predict(l))
    density = (s_u - s_l) / (l - u)
    return CollettSE(median, s_se / density, s_median, s_se, u, s_u, l, s_l, density)


def km_median(
    durations: npt.ArrayLike,
    events: npt.ArrayLike,
    level: float = 0.95,
    method: MedianCIMethod = "linear",
) -> MedianCI:
    """Kaplan-Meier median time with its confidence interval.

    Parameters
    ----------
    durations
        Times to event or censoring (> 0).
    events
        1 = event observed, 0 = censored.
    level
        Confidence level, default 0.95.
    method
        ``"linear"``: ``median +/- z * se`` with Collett's standard error
        (:func:`collett_median_se`), the symmetric interval SPSS reports; the lower bound is not
        truncated at zero, as in SPSS. ``"log-log"``: Brookmeyer-Crowley, the times at which
        lifelines' pointwise log(-log) band crosses 0.5.

    Returns
    -------
    MedianCI
    """
    if method not in MEDIAN_CI_METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {MEDIAN_CI_METHODS}")
    kmf = fit_km(durations, events, level=level)
    n = int(np.asarray(events).size)
    n_events = int(np.sum(np.asarray(events, dtype=int)))
    median = float(kmf.median_survival_time_)
    if method == "linear":
        se = collett_median_se(kmf).se
        half = z_value(level) * se
        return MedianCI(median, median - half, median + half, se, level, method, n, n_events)
    bounds = median_survival_times(kmf.confidence_interval_)
    lower, upper = (float(v) for v in bounds.iloc[0, :2])
    return MedianCI(median, lower, upper, float("nan"), level, method, n, n_events)

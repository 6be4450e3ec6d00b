"""Derived quantities of a Weibull TTP fit, computed from the InferenceData alone.

Everything here reads ``idata.posterior`` (``mu``, ``shape``, ``tau``, ``site_corr``,
``u_site``, ``sigma_patient``), ``constant_data``/``observed_data`` (times and censoring bounds)
and the provenance attrs, so a report can be rebuilt from a saved NetCDF fit.

Readings of a median (per line; covariates at x = 0, i.e. numeric covariates at their mean and
categorical ones at the reference level):

``median_typical_site``
    ``u = 0``: ``exp(mu) (log 2)^(1/k)``.
``median_population``
    median of the population-averaged curve ``S_pop(t) = E_u[S(t | u)]`` over the site
    distribution ``u ~ N(0, tau^2)``, solved per draw by bisection on log t with Gauss-Hermite
    nodes for the expectation.
``median_new_site``
    ``exp(mu + u_new) (log 2)^(1/k)`` with one predictive site effect per draw.

With a patient effect (frailty) every site-level curve is also averaged over patients (``sd^2 =
sigma_patient^2``, added to ``tau^2`` for the population curve), so each median is a median of
the patients of a site, as a Kaplan-Meier curve of that site would estimate; the hazard ratio is
then conditional on the patient.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.analysis.summaries.computed_once import once_per_fit
from rechallenge.analysis.summaries.site_effects import new_site_effects, standard_normal_quadrature
from rechallenge.analysis.summaries.tidy import summarise_draws, summary_frame
from rechallenge.data.frequentist import fit_km, km_median
from rechallenge.models.dims import LINE, SITE
from rechallenge.models.fit_settings import DEFAULT_SEED, fit_attrs
from rechallenge.models.weibull_likelihood import LOG_LOG2

ENDPOINT: Final = "ttp"
#: Quantities of :func:`summarise_ttp`, in table order.
TTP_QUANTITIES: Final[tuple[str, ...]] = (
    "median_typical_site", "median_population", "median_new_site", "median_ratio_population",
    "median_ratio_typical_site", "hazard_ratio", "prob_greater_population", "shape", "tau",
    "site_corr", "sigma_patient",
)
_BISECTION_STEPS: Final = 60
_CURVE_POINTS: Final = 101


def summarise_ttp(
    idata: az.InferenceData, *, interval: Interval = DEFAULT_INTERVAL, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """Tidy table of the TTP quantities (see :data:`TTP_QUANTITIES`), one row per quantity/line.

    Parameters
    ----------
    idata
        A fit of :func:`rechallenge.models.build_ttp_model` (also after a NetCDF round trip).
    interval
        Credible-interval setting.
    seed
        Seed of the new-site predictive draws.

    Returns
    -------
    pandas.DataFrame
        :data:`rechallenge.analysis.summaries.tidy.SUMMARY_COLUMNS`. Contrasts have ``line`` =
        ``"<later> vs <first>"``; a shared shape has ``line`` = ``"all"``. With no pooling only
        ``shape`` is reported (sites are not exchangeable, so there is no population or new site).
    """
    rows = [
        summarise_draws(draws, interval=interval, endpoint=ENDPOINT, quantity=quantity, line=line)
        for quantity, line, draws in quantity_draws(idata, seed=seed)
    ]
    return summary_frame(rows)


def quantity_draws(
    idata: az.InferenceData, *, seed: int = DEFAULT_SEED
) -> list[tuple[str, str, np.ndarray]]:
    """Draws of every quantity of :func:`summarise_ttp`, for plots and custom summaries.

    Returns
    -------
    list of (quantity, line, draws)
        ``draws`` has shape (chain, draw); same order and labels as :func:`summarise_ttp`.
    """
    # Computed once per fit and seed: the summary, the sensitivity variants, the contrast figure
    # and the MAP prior all read these draws.
    # Each caller gets arrays of its own: one that changes them in place cannot change what the
    # next caller reads (copying a few thousand draws per quantity costs microseconds).
    kept = once_per_fit(idata, ("quantity_draws", seed), lambda: _compute_quantity_draws(idata, seed))
    return [(quantity, line, draws.copy()) for quantity, line, draws in kept]


def _compute_quantity_draws(idata: az.InferenceData, seed: int) -> list[tuple[str, str, np.ndarray]]:
    d = _TTPDraws.from_idata(idata)
    out: list[tuple[str, str, np.ndarray]] = []

    def add(quantity: str, line: str, draws: np.ndarray) -> None:
        out.append((quantity, line, np.asarray(draws, dtype=float)))

    if d.pooling != "none":
        typical = marginal_weibull_median(d.mu, d.patient_sd[..., None], d.shape)
        population = marginal_weibull_median(d.mu, d.population_sd, d.shape)
        u_new = new_site_effects(idata, seed=seed).sel(line=list(d.lines)).to_numpy()
        new_site = marginal_weibull_median(d.mu + u_new, d.patient_sd[..., None], d.shape)
        for name, values in (("median_typical_site", typical), ("median_population", population),
                             ("median_new_site", new_site)):
            for j, line in enumerate(d.lines):
                add(name, line, values[..., j])
        for j, label in d.contrasts():
            add("median_ratio_population", label, population[..., j] / population[..., 0])
            add("median_ratio_typical_site", label, typical[..., j] / typical[..., 0])
            if d.shared_shape:
                add("hazard_ratio", label,
                    np.exp(-d.shape[..., 0] * (d.mu[..., j] - d.mu[..., 0])))
            add("prob_greater_population", label,
                (population[..., j] > population[..., 0]).astype(float))
    if d.shared_shape:
        add("shape", "all", d.shape[..., 0])
    else:
        for j, line in enumerate(d.lines):
            add("shape", line, d.shape[..., j])
    if d.pooling == "partial":
        for j, line in enumerate(d.lines):
            add("tau", line, d.tau[..., j])
        if "site_corr" in idata.posterior:
            corr = idata.posterior["site_corr"]
            for j, label in d.contrasts():
                add("site_corr", label, corr.sel(line=d.lines[0], line_b=d.lines[j]).to_numpy())
    if d.has_patient_effect:
        add("sigma_patient", "all", d.patient_sd)
    return out


def site_medians(idata: az.InferenceData, *, interval: Interval = DEFAULT_INTERVAL) -> pd.DataFrame:
    """Posterior median TTP per site and line, beside the raw median of that site's data.

    Returns
    -------
    pandas.DataFrame
        Summary columns with ``quantity = "median_site"`` and a ``site`` column, plus ``n`` and
        ``events`` (patient rows), ``raw_median`` with ``raw_lower`` and ``raw_upper`` (the
        Kaplan-Meier median's log-log confidence interval at the interval's level; ``inf`` for a
        bound the curve never reaches, NaN for a reported median), and ``raw_source``
        (``"Kaplan-Meier"`` from
        patient rows, ``"reported"`` for an aggregate row, empty when the site has no data for
        that line; ``inf`` when the Kaplan-Meier curve stays above 0.5).
    """
    d = _TTPDraws.from_idata(idata)
    post = idata.posterior
    sites = [str(s) for s in post.coords[SITE].to_numpy()] if SITE in post.coords else []
    if "u_site" in post:
        u = post["u_site"].sel(line=list(d.lines)).transpose("chain", "draw", "site", "line")
        u = u.to_numpy()
    else:
        u = np.zeros(d.mu.shape[:2] + (len(sites), len(d.lines)))
    medians = marginal_weibull_median(
        d.mu[:, :, None, :] + u, d.patient_sd[:, :, None, None], d.shape[:, :, None, :])
    raw = _raw_site_medians(idata, sites, d.lines, interval.level)
    rows = []
    for i, site in enumerate(sites):
        for j, line in enumerate(d.lines):
            row = summarise_draws(medians[:, :, i, j], interval=interval, endpoint=ENDPOINT,
                                  quantity="median_site", line=line, site=site)
            row.update(raw.get((site, line), {"n": 0, "events": 0, "raw_median": np.nan,
                                              "raw_lower": np.nan, "raw_upper": np.nan,
                                              "raw_source": ""}))
            rows.append(row)
    return summary_frame(rows, extra=("site",))


def survival_curves(
    idata: az.InferenceData,
    *,
    times: np.ndarray | None = None,
    interval: Interval = DEFAULT_INTERVAL,
    kind: Literal["population", "typical_site"] = "population",
) -> pd.DataFrame:
    """Posterior survival curve per line with its credible band, for plots.

    Parameters
    ----------
    times
        Months at which to evaluate S(t); default 101 points from 0 to the longest observed time
        (or three times the largest typical-site median when there are no patient rows).
    kind
        ``"population"`` (averaged over sites) or ``"typical_site"`` (``u = 0``).

    Returns
    -------
    pandas.DataFrame
        Columns line, time, mean, median, lower, upper, interval.
    """
    if kind not in ("population", "typical_site"):
        raise ValueError(f"kind must be 'population' or 'typical_site', got {kind!r}")
    d = _TTPDraws.from_idata(idata)
    grid = _time_grid(idata, d) if times is None else np.asarray(times, dtype=float)
    sd = d.population_sd if kind == "population" else np.broadcast_to(
        d.patient_sd[..., None], d.mu.shape)
    frames = []
    for j, line in enumerate(d.lines):
        surv = marginal_weibull_survival(grid, d.mu[..., j], sd[..., j], d.shape[..., j])
        flat = surv.reshape(-1, grid.size)
        frames.append(_band_frame(line, grid, flat, interval))
    return pd.concat(frames, ignore_index=True)


def predictive_survival_band(
    idata: az.InferenceData,
    *,
    times: np.ndarray | None = None,
    interval: Interval = DEFAULT_INTERVAL,
    max_draws: int = 400,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Kaplan-Meier curves of replicated data beside the Kaplan-Meier curve of the data, per line.

    Each posterior predictive draw of ``ttp`` is a replicated dataset with the observed censoring
    times (a draw beyond a row's censoring time is censored there, as in the data); its
    Kaplan-Meier curve is evaluated on ``times``. The band is the interval of those curves.

    Returns
    -------
    pandas.DataFrame
        Columns line, time, observed (Kaplan-Meier of the data), mean, median, lower, upper,
        interval.
    """
    if "posterior_predictive" not in idata.groups() or "ttp" not in idata.posterior_predictive:
        raise ValueError("the fit has no posterior predictive 'ttp' (no patient rows?)")
    d = _TTPDraws.from_idata(idata)
    t_obs, upper, line_idx = _patient_arrays(idata)
    grid = _time_grid(idata, d) if times is None else np.asarray(times, dtype=float)
    reps = idata.posterior_predictive["ttp"].transpose("chain", "draw", "obs").to_numpy()
    reps = reps.reshape(-1, reps.shape[-1])
    if reps.shape[0] > max_draws:
        pick = np.random.default_rng(seed).choice(reps.shape[0], max_draws, replace=False)
        reps = reps[np.sort(pick)]
    frames = []
    for j, line in enumerate(d.lines):
        rows = line_idx == j
        if not rows.any():
            continue
        curves = np.stack([kaplan_meier(r[rows], r[rows] < upper[rows], grid) for r in reps])
        frame = _band_frame(line, grid, curves, interval)
        frame.insert(2, "observed", kaplan_meier(t_obs[rows], t_obs[rows] < upper[rows], grid))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def marginal_weibull_survival(
    times: np.ndarray, loc: np.ndarray, sd: np.ndarray, shape: np.ndarray
) -> np.ndarray:
    """``E_Z[exp(-(t / exp(loc + sd Z))^shape)]``, ``Z ~ N(0, 1)``, shape (..., times)."""
    nodes, weights = standard_normal_quadrature()
    log_t = np.log(np.maximum(np.asarray(times, dtype=float), 1e-300))
    loc, sd, shape = (np.asarray(a, dtype=float)[..., None, None] for a in (loc, sd, shape))
    z = shape * (log_t[:, None] - loc - sd * nodes)
    surv = np.sum(weights * np.exp(-np.exp(z)), axis=-1)
    return np.where(np.asarray(times) <= 0, 1.0, surv)


def marginal_weibull_median(loc: np.ndarray, sd: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Median of the curve ``E_Z[S(t | loc + sd Z)]`` of Weibull(shape, exp(loc + sd Z)).

    Closed form ``exp(loc) (log 2)^(1/shape)`` where ``sd == 0``; otherwise a vectorised bisection
    on log t, bracketed by the medians at the extreme quadrature nodes (the averaged curve crosses
    0.5 between them), to machine precision.
    """
    loc, sd, shape = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (loc, sd, shape)))
    centre = loc + LOG_LOG2 / shape
    out = np.exp(centre)
    mixed = sd > 0
    if not mixed.any():
        return out
    # Bisect only where there is something to average over.
    loc, sd, shape, centre = loc[mixed], sd[mixed], shape[mixed], centre[mixed]
    nodes, weights = standard_normal_quadrature()
    half = sd * np.abs(nodes).max() + 1.0
    lo, hi = centre - half, centre + half
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        z = shape[:, None] * (mid[:, None] - loc[:, None] - sd[:, None] * nodes)
        above = np.sum(weights * np.exp(-np.exp(z)), axis=-1) > 0.5
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    out[mixed] = np.exp(0.5 * (lo + hi))
    return out


def kaplan_meier(durations: np.ndarray, events: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Kaplan-Meier estimate at ``times`` (right-continuous; events before censorings at ties)."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    order = np.lexsort((~e, t))
    t, e = t[order], e[order]
    at_risk = t.size - np.arange(t.size)
    surv = np.cumprod(1.0 - e / at_risk)
    idx = np.searchsorted(t, np.asarray(times, dtype=float), side="right") - 1
    return np.where(idx < 0, 1.0, surv[np.maximum(idx, 0)])


class _TTPDraws:
    """Posterior arrays of a TTP fit, broadcast to (chain, draw, line)."""

    def __init__(self, idata: az.InferenceData) -> None:
        attrs = fit_attrs(idata)
        if attrs.get("endpoint") != ENDPOINT:
            raise ValueError(f"not a TTP fit: endpoint is {attrs.get('endpoint')!r}")
        post = idata.posterior
        self.lines: tuple[str, ...] = tuple(str(v) for v in post.coords[LINE].to_numpy())
        self.pooling: str = attrs.get("options", {}).get("pooling", "partial")
        self.mu = _by_line(post["mu"], self.lines)
        self.shared_shape = "line" not in post["shape"].dims
        self.shape = np.broadcast_to(
            post["shape"].to_numpy()[..., None] if self.shared_shape
            else _by_line(post["shape"], self.lines), self.mu.shape)
        self.tau = (_by_line(post["tau"], self.lines) if "tau" in post
                    else np.zeros_like(self.mu))
        self.has_patient_effect = "sigma_patient" in post
        self.patient_sd = (post["sigma_patient"].transpose("chain", "draw").to_numpy()
                           if self.has_patient_effect else np.zeros(self.mu.shape[:2]))
        self.population_sd = np.sqrt(self.tau**2 + self.patient_sd[..., None] ** 2)

    @classmethod
    def from_idata(cls, idata: az.InferenceData) -> _TTPDraws:
        return cls(idata)

    def contrasts(self) -> list[tuple[int, str]]:
        return [(j, f"{line} vs {self.lines[0]}") for j, line in enumerate(self.lines) if j > 0]


def _by_line(da: xr.DataArray, lines: tuple[str, ...]) -> np.ndarray:
    return da.sel(line=list(lines)).transpose("chain", "draw", LINE).to_numpy()


def _patient_arrays(idata: az.InferenceData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Durations, censoring bounds and line indices of the patient rows (empty if none)."""
    if "observed_data" not in idata.groups() or "ttp" not in idata.observed_data:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)
    const = idata.constant_data
    return (idata.observed_data["ttp"].to_numpy(), const["censor_upper"].to_numpy(),
            const["line_idx"].to_numpy().astype(int))


def _time_grid(idata: az.InferenceData, d: _TTPDraws) -> np.ndarray:
    t_obs, _, _ = _patient_arrays(idata)
    if t_obs.size:
        t_max = float(t_obs.max())
    else:
        t_max = 3.0 * float(np.median(np.exp(d.mu + LOG_LOG2 / d.shape), axis=(0, 1)).max())
    return np.linspace(0.0, t_max, _CURVE_POINTS)


def _band_frame(
    line: str, grid: np.ndarray, curves: np.ndarray, interval: Interval
) -> pd.DataFrame:
    """Pointwise summary of curves with shape (draws, times)."""
    bounds = np.array([interval.bounds(curves[:, k]) for k in range(grid.size)])
    return pd.DataFrame({
        "line": line, "time": grid, "mean": curves.mean(axis=0),
        "median": np.median(curves, axis=0), "lower": bounds[:, 0], "upper": bounds[:, 1],
        "interval": interval.short,
    })


def _raw_site_medians(
    idata: az.InferenceData, sites: list[str], lines: tuple[str, ...], level: float
) -> dict[tuple[str, str], dict[str, Any]]:
    """Kaplan-Meier medians of patient rows, else reported medians of aggregate rows."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    const = idata.constant_data if "constant_data" in idata.groups() else xr.Dataset()
    if "observed_data" in idata.groups() and "log_median_obs" in idata.observed_data:
        log_m = idata.observed_data["log_median_obs"].to_numpy()
        agg_sites, agg_lines = const["agg_site_idx"].to_numpy(), const["agg_line_idx"].to_numpy()
        for s, li, m in zip(agg_sites, agg_lines, log_m):
            out[(sites[int(s)], lines[int(li)])] = {
                "n": 0, "events": 0, "raw_median": float(np.exp(m)), "raw_lower": np.nan,
                "raw_upper": np.nan, "raw_source": "reported"}
    t, upper, line_idx = _patient_arrays(idata)
    if t.size:
        site_idx = const["site_idx"].to_numpy().astype(int)
        for (s, li), group in pd.DataFrame({"s": site_idx, "l": line_idx}).groupby(["s", "l"]):
            rows = group.index.to_numpy()
            events = (t[rows] < upper[rows]).astype(int)
            median = float(fit_km(t[rows], events).median_survival_time_)
            # Brookmeyer-Crowley (log-log): defined for the few patients of a site, where the
            # linear interval's standard error often is not.
            ci = km_median(t[rows], events, level=level, method="log-log")
            out[(sites[s], lines[li])] = {"n": int(rows.size), "events": int(events.sum()),
                                         "raw_median": median, "raw_lower": ci.lower,
                                         "raw_upper": ci.upper, "raw_source": "Kaplan-Meier"}
    return out

"""Derived quantities of a TTP fit, computed from the InferenceData alone.

Everything here reads ``idata.posterior`` (``mu``, the distribution's shape parameters, ``tau``,
``site_corr``, ``u_site``, ``sigma_patient``), ``constant_data``/``observed_data`` (times and
censoring bounds) and the provenance attrs (which survival distribution, with which settings),
so a report can be rebuilt from a saved NetCDF fit. The curves and medians come from the fit's
distribution (:mod:`rechallenge.models.survival`).

Readings of a median (per line; covariates at x = 0, i.e. numeric covariates at their mean and
categorical ones at the reference level):

``median_typical_site``
    ``u = 0``: for the Weibull ``exp(mu) (log 2)^(1/k)``.
``median_population``
    median of the population-averaged curve ``S_pop(t) = E_u[S(t | u)]`` over the site
    distribution ``u ~ N(0, tau^2)``, solved per draw by bisection on log t with Gauss-Hermite
    nodes for the expectation.
``median_new_site``
    the median at ``mu + u_new`` with one predictive site effect per draw.

The restricted mean TTP up to each horizon (``rmst_population``, with the horizon in the line
label, "ICI-1, 12 months") is the area under the population-averaged curve; its contrasts are the
difference and the ratio. Every distribution has them; the hazard ratio only a distribution with
proportional hazards fitted with a shared shape.

With a patient effect (frailty) every site-level curve is also averaged over patients (``sd^2 =
sigma_patient^2``, added to ``tau^2`` for the population curve), so each median is a median of
the patients of a site, as a Kaplan-Meier curve of that site would estimate; the hazard ratio is
then conditional on the patient.
"""

from __future__ import annotations

from typing import Any, Final

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
from rechallenge.models.survival import SurvivalDistribution, Weibull, fit_distribution
from rechallenge.models.survival.base import restricted_mean_of

ENDPOINT: Final = "ttp"
#: Quantities of :func:`summarise_ttp`, in table order (then the distribution's own shape
#: parameters, by their names in the fit).
TTP_QUANTITIES: Final[tuple[str, ...]] = (
    "median_typical_site", "median_population", "median_new_site", "median_ratio_population",
    "median_ratio_typical_site", "hazard_ratio", "prob_greater_population", "rmst_population",
    "rmst_difference_population", "rmst_ratio_population", "shape", "tau", "site_corr",
    "sigma_patient",
)
#: Horizons (months) of the restricted mean TTP.
RMST_HORIZONS: Final[tuple[float, ...]] = (12.0, 24.0)


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
    d = TTPDraws.from_idata(idata)
    out: list[tuple[str, str, np.ndarray]] = []

    def add(quantity: str, line: str, draws: np.ndarray) -> None:
        out.append((quantity, line, np.asarray(draws, dtype=float)))

    if d.pooling != "none":
        typical = d.marginal_median(d.mu, d.patient_sd[..., None])
        population = d.marginal_median(d.mu, d.population_sd)
        u_new = new_site_effects(idata, seed=seed).sel(line=list(d.lines)).to_numpy()
        new_site = d.marginal_median(d.mu + u_new, d.patient_sd[..., None])
        for name, values in (("median_typical_site", typical), ("median_population", population),
                             ("median_new_site", new_site)):
            for j, line in enumerate(d.lines):
                add(name, line, values[..., j])
        for j, label in d.contrasts():
            add("median_ratio_population", label, population[..., j] / population[..., 0])
            add("median_ratio_typical_site", label, typical[..., j] / typical[..., 0])
            ratio = (d.distribution.hazard_ratio(d.mu[..., j] - d.mu[..., 0], d.line_params(0))
                     if d.shared_shape else None)
            if ratio is not None:
                add("hazard_ratio", label, ratio)
            add("prob_greater_population", label,
                (population[..., j] > population[..., 0]).astype(float))
        for horizon in d.horizons:
            rmst = restricted_means(d, horizon)
            for j, line in enumerate(d.lines):
                add("rmst_population", horizon_label(line, horizon), rmst[..., j])
            for j, label in d.contrasts():
                add("rmst_difference_population", horizon_label(label, horizon),
                    rmst[..., j] - rmst[..., 0])
                add("rmst_ratio_population", horizon_label(label, horizon),
                    rmst[..., j] / rmst[..., 0])
    for k, par in enumerate(d.distribution.parameters):
        for j, line in enumerate(["all"] if d.shared_shape else d.lines):
            values = d.params[k][:, :, j]
            if values.ndim == 2:
                add(par.name, line, values)
                continue
            # A vector parameter (the piecewise hazard's steps): one row per element.
            for i in range(values.shape[-1]):
                add(par.name, f"{line}, step {i + 1}", values[..., i])
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
    d = TTPDraws.from_idata(idata)
    post = idata.posterior
    sites = [str(s) for s in post.coords[SITE].to_numpy()] if SITE in post.coords else []
    if "u_site" in post:
        u = post["u_site"].sel(line=list(d.lines)).transpose("chain", "draw", "site", "line")
        u = u.to_numpy()
    else:
        u = np.zeros(d.mu.shape[:2] + (len(sites), len(d.lines)))
    medians = d.marginal_median(d.mu[:, :, None, :] + u, d.patient_sd[:, :, None, None],
                                params=tuple(q[:, :, None, :] for q in d.params))
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


def marginal_weibull_survival(
    times: np.ndarray, loc: np.ndarray, sd: np.ndarray, shape: np.ndarray
) -> np.ndarray:
    """``E_Z[exp(-(t / exp(loc + sd Z))^shape)]``, ``Z ~ N(0, 1)``, shape (..., times)."""
    return Weibull().marginal_survival(times, loc, sd, (shape,), *standard_normal_quadrature())


def marginal_weibull_median(loc: np.ndarray, sd: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Median of the curve ``E_Z[S(t | loc + sd Z)]`` of Weibull(shape, exp(loc + sd Z)) (see
    :meth:`rechallenge.models.survival.Weibull.marginal_median`).
    """
    return Weibull().marginal_median(loc, sd, (shape,), *standard_normal_quadrature())


def restricted_means(d: TTPDraws, horizon: float, *, points: int = 201) -> np.ndarray:
    """The restricted mean of the population-averaged curve up to ``horizon`` per draw and line,
    shape (chain, draw, line) (:func:`rechallenge.models.survival.base.restricted_mean_of`).
    """
    out = np.empty(d.mu.shape)
    nodes, weights = standard_normal_quadrature()
    for j in range(len(d.lines)):

        def survival(grid: np.ndarray, j: int = j) -> np.ndarray:
            return d.distribution.marginal_survival(grid, d.mu[..., j], d.population_sd[..., j],
                                                    d.line_params(j), nodes, weights)

        out[..., j] = restricted_mean_of(survival, horizon, points=points)
    return out


def horizon_label(line: str, horizon: float) -> str:
    """A line or contrast label with the horizon of a restricted mean: "ICI-1, 12 months"."""
    return f"{line}, {horizon:g} months"


class TTPDraws:
    """Posterior arrays of a TTP fit, broadcast to (chain, draw, line), and its distribution."""

    def __init__(self, idata: az.InferenceData) -> None:
        attrs = fit_attrs(idata)
        if attrs.get("endpoint") != ENDPOINT:
            raise ValueError(f"not a TTP fit: endpoint is {attrs.get('endpoint')!r}")
        post = idata.posterior
        options = attrs.get("options", {})
        self.lines: tuple[str, ...] = tuple(str(v) for v in post.coords[LINE].to_numpy())
        self.pooling: str = options.get("pooling", "partial")
        # The restricted-mean horizons the run asked for (fits made before they were recorded:
        # the defaults).
        self.horizons: tuple[float, ...] = tuple(float(h) for h in
                                                 options.get("horizons", RMST_HORIZONS))
        self.distribution: SurvivalDistribution = fit_distribution(options)
        self.mu = _by_line(post["mu"], self.lines)
        first = self.distribution.parameters[0].name
        self.shared_shape = LINE not in post[first].dims
        self.params = tuple(self._line_array(post[par.name]) for par in self.distribution.parameters)
        self.tau = (_by_line(post["tau"], self.lines) if "tau" in post
                    else np.zeros_like(self.mu))
        self.has_patient_effect = "sigma_patient" in post
        self.patient_sd = (post["sigma_patient"].transpose("chain", "draw").to_numpy()
                           if self.has_patient_effect else np.zeros(self.mu.shape[:2]))
        self.population_sd = np.sqrt(self.tau**2 + self.patient_sd[..., None] ** 2)

    def _line_array(self, da: xr.DataArray) -> np.ndarray:
        """A shape parameter as (chain, draw, line, ...), a shared one repeated per line."""
        rest = [d for d in da.dims if d not in ("chain", "draw", LINE)]
        if LINE in da.dims:
            return da.sel(line=list(self.lines)).transpose("chain", "draw", LINE, *rest).to_numpy()
        values = da.transpose("chain", "draw", *rest).to_numpy()
        return np.repeat(values[:, :, None], len(self.lines), axis=2)

    @property
    def shape(self) -> np.ndarray:
        """The first shape parameter per line (the Weibull shape ``k``)."""
        return self.params[0]

    def line_params(self, j: int) -> tuple[np.ndarray, ...]:
        """The shape parameters at line ``j``, each (chain, draw, ...)."""
        return tuple(q[:, :, j] for q in self.params)

    def marginal_median(self, loc: np.ndarray, sd: np.ndarray,
                        params: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
        """Medians of the curves averaged over ``sd`` (see
        :meth:`~rechallenge.models.survival.SurvivalDistribution.marginal_median`); ``params``
        default to the shape parameters per line, broadcast like ``loc``.
        """
        return self.distribution.marginal_median(
            loc, sd, self.params if params is None else params, *standard_normal_quadrature())

    @classmethod
    def from_idata(cls, idata: az.InferenceData) -> TTPDraws:
        """The arrays of ``idata`` (raises when it is not a TTP fit)."""
        return cls(idata)

    def contrasts(self) -> list[tuple[int, str]]:
        """``(j, "<line j> vs <first line>")`` for every later line."""
        return [(j, f"{line} vs {self.lines[0]}") for j, line in enumerate(self.lines) if j > 0]


def _by_line(da: xr.DataArray, lines: tuple[str, ...]) -> np.ndarray:
    return da.sel(line=list(lines)).transpose("chain", "draw", LINE).to_numpy()


def patient_arrays(idata: az.InferenceData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Durations, censoring bounds and line indices of the patient rows (empty if none)."""
    if "observed_data" not in idata.groups() or "ttp" not in idata.observed_data:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)
    const = idata.constant_data
    return (idata.observed_data["ttp"].to_numpy(), const["censor_upper"].to_numpy(),
            const["line_idx"].to_numpy().astype(int))


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
    t, upper, line_idx = patient_arrays(idata)
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

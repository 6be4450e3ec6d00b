"""Derived quantities of a binary-endpoint fit, computed from the InferenceData alone.

Everything here reads ``idata.posterior`` (``mu``, ``tau``, ``site_corr``, ``p``,
``sigma_patient``), ``constant_data`` / ``observed_data`` (``n``, ``site_idx``, ``line_idx``,
``y``) and the provenance attrs, so a report can be rebuilt from a saved NetCDF fit.

Readings of the probability of the endpoint, per line (with covariates: at x = 0, i.e. numeric
covariates at their mean and categorical ones at the reference level):

``probability_typical_site``
    the site effect at 0: ``invlogit(mu)``.
``probability_population``
    averaged over the distribution of sites, ``E_u[invlogit(mu + u)]`` with ``u ~ N(0, tau^2)``,
    by Gauss-Hermite quadrature per draw: the proportion of patients with the event across the
    population of sites.
``probability_new_site``
    ``invlogit(mu + u_new)`` with one predictive site effect ``u_new`` per draw: what the next
    institution may see.

With a patient effect, every one of them is also averaged over patients (``sigma_patient^2`` is
added to the variance of the average), so each is a proportion of patients, as a crude rate
estimates; the odds ratio ``exp(mu_later - mu_first)`` is then conditional on the patient.
"""

from __future__ import annotations

from typing import Any, Final

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import expit

from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.analysis.summaries.computed_once import once_per_fit
from rechallenge.analysis.summaries.site_effects import new_site_effects, population_average
from rechallenge.analysis.summaries.tidy import summarise_draws, summary_frame
from rechallenge.data.frequentist import exact_proportion_ci
from rechallenge.models.dims import LINE, SITE
from rechallenge.models.fit_settings import DEFAULT_SEED

#: Quantities of :func:`summarise_binary`, in table order.
BINARY_QUANTITIES: Final[tuple[str, ...]] = (
    "probability_typical_site", "probability_population", "probability_new_site",
    "difference_population", "difference_typical_site", "odds_ratio_typical_site",
    "prob_greater_population", "tau", "site_corr", "sigma_patient",
)
#: ``line`` value of quantities that belong to no single line.
ALL_LINES: Final = "all"


def quantity_draws(idata: az.InferenceData, *, seed: int = DEFAULT_SEED) -> list[tuple[str, str, np.ndarray]]:
    """Draws of every quantity of :func:`summarise_binary`, for plots and custom summaries.

    Parameters
    ----------
    idata
        A fit of :func:`rechallenge.models.build_binary_model` (also after a NetCDF round trip).
    seed
        Seed of the new-site predictive draws.

    Returns
    -------
    list of (quantity, line, draws)
        ``draws`` has shape (chain, draw). Contrasts have ``line`` = ``"<later> vs <first>"``;
        ``sigma_patient`` has ``line`` = ``"all"``. A no-pooling fit has no population, typical
        site or new site (its sites are not exchangeable), so only ``sigma_patient`` if present.
    """
    # Computed once per fit and seed: the summary, the sensitivity variants, the contrast figure
    # and the MAP prior all read these draws.
    # Each caller gets arrays of its own: one that changes them in place cannot change what the
    # next caller reads (copying a few thousand draws per quantity costs microseconds).
    kept = once_per_fit(idata, ("quantity_draws", seed), lambda: _compute_quantity_draws(idata, seed))
    return [(quantity, line, draws.copy()) for quantity, line, draws in kept]


def _compute_quantity_draws(idata: az.InferenceData, seed: int) -> list[tuple[str, str, np.ndarray]]:
    post = idata.posterior
    lines = [str(x) for x in post.coords[LINE].to_numpy()]
    contrasts = [(j, f"{line} vs {lines[0]}") for j, line in enumerate(lines) if j > 0]
    patient_sd = _patient_sd(post)
    out: list[tuple[str, str, np.ndarray]] = []

    if "mu" in post:
        mu = _by_line(post["mu"], lines)
        tau = _by_line(post["tau"], lines) if "tau" in post else np.zeros_like(mu)
        typical = population_average(expit, mu, np.broadcast_to(patient_sd[..., None], mu.shape))
        population = population_average(expit, mu, np.sqrt(tau**2 + patient_sd[..., None] ** 2))
        u_new = new_site_effects(idata, seed=seed).sel(line=lines).to_numpy()
        new_site = population_average(
            expit, mu + u_new, np.broadcast_to(patient_sd[..., None], mu.shape)
        )
        for name, values in (("probability_typical_site", typical),
                             ("probability_population", population),
                             ("probability_new_site", new_site)):
            out.extend((name, line, values[..., j]) for j, line in enumerate(lines))
        for j, label in contrasts:
            out.append(("difference_population", label, population[..., j] - population[..., 0]))
            out.append(("difference_typical_site", label, typical[..., j] - typical[..., 0]))
            out.append(("odds_ratio_typical_site", label, np.exp(mu[..., j] - mu[..., 0])))
            out.append(("prob_greater_population", label,
                        (population[..., j] > population[..., 0]).astype(float)))
        if "tau" in post:
            out.extend(("tau", line, tau[..., j]) for j, line in enumerate(lines))
        if "site_corr" in post:
            corr = post["site_corr"]
            for j, label in contrasts:
                out.append(("site_corr", label,
                            corr.sel(line=lines[0], line_b=lines[j]).transpose("chain", "draw").to_numpy()))
    if "sigma_patient" in post:
        out.append(("sigma_patient", ALL_LINES, post["sigma_patient"].transpose("chain", "draw").to_numpy()))
    return out


def summarise_binary(
    idata: az.InferenceData, *, interval: Interval = DEFAULT_INTERVAL, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """Tidy table of the binary quantities (see :data:`BINARY_QUANTITIES`).

    Parameters
    ----------
    idata
        A fit of :func:`rechallenge.models.build_binary_model` (also after a NetCDF round trip).
    interval
        Credible-interval setting.
    seed
        Seed of the new-site predictive draws.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`rechallenge.analysis.summaries.tidy.SUMMARY_COLUMNS`, one row per quantity and line
        (or contrast). ``prob_greater_population`` summarises 0/1 indicator draws: its mean is
        P(later > first). R-hat and ESS are computed for every derived quantity as for parameters.
    """
    endpoint = _endpoint(idata)
    rows = [
        summarise_draws(draws, interval=interval, endpoint=endpoint, quantity=q, line=line)
        for q, line, draws in quantity_draws(idata, seed=seed)
    ]
    return summary_frame(rows)


def site_estimates(idata: az.InferenceData, *, interval: Interval = DEFAULT_INTERVAL) -> pd.DataFrame:
    """Per site and line: raw proportion with its exact interval beside the shrunken estimate.

    Parameters
    ----------
    idata
        A fit of :func:`rechallenge.models.build_binary_model`.
    interval
        Credible-interval setting; its level is also the level of the Clopper-Pearson interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``endpoint, quantity ("probability_site"), line, site, n, events, proportion,
        proportion_lower, proportion_upper`` (exact, Clopper-Pearson; NaN where a site has no
        patients at a line) and the summary columns of ``p[site, line]`` (mean, median, sd, lower,
        upper, interval, mcse_mean, r_hat, ess_bulk, ess_tail). With a patient effect the site
        probability is averaged over patients; with covariates it is at x = 0.
    """
    endpoint = _endpoint(idata)
    post = idata.posterior
    lines = [str(x) for x in post.coords[LINE].to_numpy()]
    sites = [str(x) for x in post.coords[SITE].to_numpy()]
    counts = observed_counts(idata)
    p = post["p"].transpose("chain", "draw", "site", "line").to_numpy()
    patient_sd = _patient_sd(post)
    if np.any(patient_sd > 0):
        logit_p = np.log(p) - np.log1p(-p)
        p = population_average(expit, logit_p, np.broadcast_to(patient_sd[..., None, None], p.shape))
    rows: list[dict[str, Any]] = []
    for j, line in enumerate(lines):
        for i, site in enumerate(sites):
            n, events = (int(v) for v in counts.loc[(site, line), ["n", "events"]])
            ci = exact_proportion_ci(events, n, level=interval.level)
            row = summarise_draws(p[:, :, i, j], interval=interval, endpoint=endpoint,
                                  quantity="probability_site", line=line, site=site)
            row.update(n=n, events=events, proportion=ci.proportion, proportion_lower=ci.lower,
                       proportion_upper=ci.upper)
            rows.append(row)
    extra = ("site", "n", "events", "proportion", "proportion_lower", "proportion_upper")
    return summary_frame(rows, extra=extra)


def observed_counts(idata: az.InferenceData) -> pd.DataFrame:
    """Patients (``n``) and events per site and line, from ``constant_data`` and ``observed_data``.

    Returns
    -------
    pandas.DataFrame
        Indexed by (site, line) over every site and line of the fit (0 where there are no rows).
    """
    post = idata.posterior
    lines = [str(x) for x in post.coords[LINE].to_numpy()]
    sites = [str(x) for x in post.coords[SITE].to_numpy()]
    const = idata.constant_data
    frame = pd.DataFrame({
        "site": np.asarray(sites)[const["site_idx"].to_numpy()],
        "line": np.asarray(lines)[const["line_idx"].to_numpy()],
        "n": const["n"].to_numpy().astype(int),
        "events": idata.observed_data["y"].to_numpy().astype(int),
    })
    full = pd.MultiIndex.from_product([sites, lines], names=["site", "line"])
    return frame.groupby(["site", "line"])[["n", "events"]].sum().reindex(full, fill_value=0)


def _beta_interval(dist: Any, interval: Interval) -> tuple[np.ndarray, np.ndarray]:
    if interval.kind == "equal-tailed":
        tail = (1 - interval.level) / 2
        return dist.ppf(tail), dist.ppf(1 - tail)
    # HDI of a Beta: the narrowest window of the given mass, found on the quantile scale.
    grid = np.linspace(0, 1 - interval.level, 2001)[:, None]
    lo, hi = dist.ppf(grid), dist.ppf(grid + interval.level)
    best = np.argmin(hi - lo, axis=0)
    cols = np.arange(lo.shape[1])
    return lo[best, cols], hi[best, cols]


def _endpoint(idata: az.InferenceData) -> str:
    # Hand-made posteriors (az.from_dict) may lack the provenance attrs; fits always carry them.
    return str(idata.posterior.attrs.get("rechallenge_endpoint", ""))


def _patient_sd(post: Any) -> np.ndarray:
    """``sigma_patient`` per draw, shape (chain, draw); zeros without a patient effect."""
    if "sigma_patient" in post:
        return post["sigma_patient"].transpose("chain", "draw").to_numpy()
    return np.zeros((post.sizes["chain"], post.sizes["draw"]))


def _by_line(da: Any, lines: list[str]) -> np.ndarray:
    return da.sel(line=lines).transpose("chain", "draw", LINE).to_numpy()

"""Benefit-risk quantities of a fit of the joint efficacy-toxicity model, from the InferenceData
alone (:func:`rechallenge.models.joint.build_joint_model`).

Reads ``idata.posterior`` (``mu_eff``, ``mu_tox``, ``tau``, ``site_corr``, ``sigma_patient``,
``u_site``, ``odds_ratio``), the observed rows (``constant_data``, ``observed_data``) and the
fit's recorded options (the efficacy endpoint and the net benefit's weights), so a report can
be rebuilt from a saved fit.

Readings of each outcome ``o`` (efficacy, safety) at each line, as the binary family reads a
probability (:mod:`rechallenge.analysis.summaries.binary`):

population
    ``E[invlogit(mu[o, line] + u + v)]`` over the site effect ``u ~ N(0, tau[o, line]^2)`` and
    the patient effect ``v ~ N(0, sigma_patient[o]^2)``, by Gauss-Hermite quadrature per draw:
    the proportion of patients with the outcome across the population of sites.
new site
    one draw of a new site's effects on the four (outcome, line) combinations per posterior
    draw, jointly normal with the fitted correlation ``site_corr`` (a site with more responses
    may also have more toxicity), averaged over patients: what the next institution may see.
site
    each site's own effects ``u_site``, averaged over patients.

For each later line against the first: the differences in efficacy and in toxicity, later minus
first; the probability of each quadrant of the benefit-risk plane (efficacy higher or not,
toxicity higher or not); the net benefit ``w_eff x difference in efficacy - w_safety x
difference in toxicity`` and the probability that it is positive. And the dependence: the
within-patient odds ratio of the two outcomes per line and the between-site correlation of the
efficacy and the safety effects at each line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import expit

from rechallenge.analysis.settings.config import DEFAULT_WEIGHTS
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.analysis.summaries.computed_once import once_per_fit
from rechallenge.analysis.summaries.site_effects import population_average
from rechallenge.analysis.summaries.tidy import summarise_draws, summary_frame
from rechallenge.models.fit_settings import DEFAULT_SEED

#: The two outcomes, in the model's order (its ``outcome`` coordinate).
OUTCOMES: Final[tuple[str, str]] = ("efficacy", "safety")
#: The quadrants of the benefit-risk plane: (efficacy higher, toxicity higher) at the later line.
QUADRANTS: Final[dict[str, tuple[bool, bool]]] = {
    "benefit_without_harm": (True, False), "benefit_with_harm": (True, True),
    "no_benefit_no_harm": (False, False), "harm_without_benefit": (False, True),
}
#: The readings summarised for the plane: the population of sites and a new site.
READINGS: Final[tuple[str, str]] = ("population", "new_site")
#: ``line`` of quantities that belong to no single line.
ALL_LINES: Final = "all"


def fit_options(idata: az.InferenceData) -> dict[str, Any]:
    """The model options the fit recorded (empty for a hand-made posterior without them)."""
    return dict(json.loads(idata.posterior.attrs.get("rechallenge_options", "{}")))


def net_benefit_weights(idata: az.InferenceData) -> tuple[float, float]:
    """``(w_eff, w_safety)`` the fit was made with (the config's defaults if it recorded none)."""
    weights = {**DEFAULT_WEIGHTS, **fit_options(idata).get("weights", {})}
    return float(weights["efficacy"]), float(weights["safety"])


def quadrant_indicators(d_eff: np.ndarray, d_safety: np.ndarray) -> dict[str, np.ndarray]:
    """0/1 draws of each quadrant of :data:`QUADRANTS` from draws of the two differences.

    "Higher" is strictly above 0: a draw of exactly no difference counts as not higher (it has
    probability zero under a continuous posterior).
    """
    more_eff, more_tox = np.asarray(d_eff) > 0, np.asarray(d_safety) > 0
    return {name: ((more_eff == eff) & (more_tox == tox)).astype(float)
            for name, (eff, tox) in QUADRANTS.items()}


def net_benefit(eff: np.ndarray, safety: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """``w_eff * eff - w_safety * safety`` (probabilities per line, or their differences)."""
    return weights[0] * np.asarray(eff) - weights[1] * np.asarray(safety)


def _lines(post: Any) -> list[str]:
    return [str(x) for x in post.coords["line"].to_numpy()]


def _patient_sd(post: Any) -> np.ndarray:
    """``sigma_patient`` per draw and outcome, shape (chain, draw, 2)."""
    if "sigma_patient" in post:
        return post["sigma_patient"].sel(outcome=list(OUTCOMES)).transpose(
            "chain", "draw", "outcome").to_numpy()
    return np.zeros((post.sizes["chain"], post.sizes["draw"], 2))


def _location(post: Any, lines: list[str]) -> np.ndarray:
    """``mu`` of each outcome and line, shape (chain, draw, outcome, line)."""
    return np.stack([post[name].sel(line=lines).transpose("chain", "draw", "line").to_numpy()
                     for name in ("mu_eff", "mu_tox")], axis=-2)


def _new_site_effects(post: Any, tau: np.ndarray, lines: list[str], seed: int) -> np.ndarray:
    """One new site's effects per draw, (chain, draw, outcome, line), correlated as fitted."""
    combos = ([str(x) for x in post.coords["outcome_line"].to_numpy()] if "site_corr" in post
              else [f"{o}:{line}" for o in OUTCOMES for line in lines])
    where = [(OUTCOMES.index(c.split(":", 1)[0]), lines.index(c.split(":", 1)[1])) for c in combos]
    sd = np.stack([tau[..., o, j] for o, j in where], axis=-1)
    corr = (post["site_corr"].transpose("chain", "draw", ...).to_numpy() if "site_corr" in post
            else np.broadcast_to(np.eye(len(combos)), sd.shape + (len(combos),)))
    cov = corr * sd[..., :, None] * sd[..., None, :]
    # A tiny ridge keeps the factorisation stable when a tau is near 0.
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(len(combos)))
    z = np.random.default_rng(seed).standard_normal(sd.shape)
    flat = np.einsum("cdij,cdj->cdi", chol, z)
    u_new = np.zeros(tau.shape)
    for k, (o, j) in enumerate(where):
        u_new[..., o, j] = flat[..., k]
    return u_new


def outcome_probabilities(idata: az.InferenceData, *, seed: int) -> dict[str, np.ndarray]:
    """Population and new-site probabilities of each outcome, ``{reading: (chain, draw,
    outcome, line)}`` (:data:`READINGS`).
    """
    post = idata.posterior
    lines = _lines(post)
    mu = _location(post, lines)
    tau = post["tau"].sel(outcome=list(OUTCOMES), line=lines).transpose(
        "chain", "draw", "outcome", "line").to_numpy()
    sigma = np.broadcast_to(_patient_sd(post)[..., None], mu.shape)
    u_new = _new_site_effects(post, tau, lines, seed)
    return {"population": population_average(expit, mu, np.sqrt(tau**2 + sigma**2)),
            "new_site": population_average(expit, mu + u_new, sigma)}


def site_probabilities(idata: az.InferenceData) -> np.ndarray:
    """Each site's probabilities of each outcome, averaged over its patients: (chain, draw,
    site, outcome, line).
    """
    post = idata.posterior
    lines = _lines(post)
    mu = _location(post, lines)[:, :, None]
    u = post["u_site"].sel(outcome=list(OUTCOMES), line=lines).transpose(
        "chain", "draw", "site", "outcome", "line").to_numpy()
    sigma = np.broadcast_to(_patient_sd(post)[:, :, None, :, None], u.shape)
    return population_average(expit, mu + u, sigma)


def quantity_draws(idata: az.InferenceData, *, seed: int = DEFAULT_SEED,
                   weights: Sequence[float] | None = None) -> list[tuple[str, str, np.ndarray]]:
    """Draws of every quantity of :func:`summarise_benefit_risk` (the module's docstring).

    Parameters
    ----------
    idata
        A fit of the joint model (also after a NetCDF round trip), or a hand-made posterior
        with ``mu_eff``, ``mu_tox`` (line), ``tau`` (outcome, line) and optionally
        ``sigma_patient`` (outcome), ``site_corr`` and ``odds_ratio`` (line).
    seed
        Seed of the new-site draws.
    weights
        ``(w_eff, w_safety)`` of the net benefit; ``None``: those the fit recorded.

    Returns
    -------
    list of (quantity, line, draws)
        ``draws`` of shape (chain, draw); contrasts have ``line`` ``"<later> vs <first>"``.
    """
    w = tuple(float(v) for v in (net_benefit_weights(idata) if weights is None else weights))
    # Computed once per fit, seed and weights: the summary, the sensitivity variants and the
    # figures read the same draws. Each caller gets arrays of its own.
    kept = once_per_fit(idata, ("benefit_risk_draws", seed, w),
                        lambda: _compute_quantity_draws(idata, seed, w))
    return [(quantity, line, draws.copy()) for quantity, line, draws in kept]


def _compute_quantity_draws(idata: az.InferenceData, seed: int,
                            w: tuple[float, ...]) -> list[tuple[str, str, np.ndarray]]:
    post = idata.posterior
    lines = _lines(post)
    out: list[tuple[str, str, np.ndarray]] = []
    for reading, p in outcome_probabilities(idata, seed=seed).items():
        for j, line in enumerate(lines):
            out += [(f"probability_efficacy_{reading}", line, p[..., 0, j]),
                    (f"probability_safety_{reading}", line, p[..., 1, j]),
                    (f"net_benefit_{reading}", line, net_benefit(p[..., 0, j], p[..., 1, j], w))]
        for j in range(1, len(lines)):
            label = f"{lines[j]} vs {lines[0]}"
            d_eff, d_tox = p[..., 0, j] - p[..., 0, 0], p[..., 1, j] - p[..., 1, 0]
            gain = net_benefit(d_eff, d_tox, w)
            out += [(f"difference_efficacy_{reading}", label, d_eff),
                    (f"difference_safety_{reading}", label, d_tox),
                    (f"difference_net_benefit_{reading}", label, gain),
                    (f"prob_greater_{reading}", label, (gain > 0).astype(float))]
            out += [(f"prob_{name}_{reading}", label, values)
                    for name, values in quadrant_indicators(d_eff, d_tox).items()]
    out += _dependence(post, lines)
    return out


def _dependence(post: Any, lines: list[str]) -> list[tuple[str, str, np.ndarray]]:
    """The within-patient odds ratio, the between-site correlation of the outcomes, the SDs."""
    out = []
    for line in lines:
        if "odds_ratio" in post:
            out.append(("odds_ratio_within_patient", line,
                        post["odds_ratio"].sel(line=line).transpose("chain", "draw").to_numpy()))
        if "site_corr" in post:
            pair = post["site_corr"].sel(outcome_line=f"efficacy:{line}",
                                         outcome_line_b=f"safety:{line}")
            out.append(("site_corr_efficacy_safety", line,
                        pair.transpose("chain", "draw").to_numpy()))
    for outcome in OUTCOMES:
        tau = post["tau"].sel(outcome=outcome)
        out += [(f"tau_{outcome}", line, tau.sel(line=line).transpose("chain", "draw").to_numpy())
                for line in lines]
    if "sigma_patient" in post:
        out += [(f"sigma_patient_{outcome}", ALL_LINES,
                 post["sigma_patient"].sel(outcome=outcome).transpose("chain", "draw").to_numpy())
                for outcome in OUTCOMES]
    return out


def summarise_benefit_risk(
    idata: az.InferenceData, *, interval: Interval = DEFAULT_INTERVAL, seed: int = DEFAULT_SEED,
    weights: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Tidy table of every benefit-risk quantity (:func:`quantity_draws`).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`rechallenge.analysis.summaries.tidy.SUMMARY_COLUMNS`, then
        ``efficacy`` and ``safety``: the endpoints the fit read as the two outcomes (empty for a
        hand-made posterior), and ``weight_efficacy`` and ``weight_safety``: the net benefit's
        weights. A probability's row summarises 0/1 draws: its mean is the
        probability, with its Monte Carlo standard error.
    """
    endpoint = str(idata.posterior.attrs.get("rechallenge_endpoint", ""))
    w = net_benefit_weights(idata) if weights is None else tuple(float(v) for v in weights)
    rows = [summarise_draws(draws, interval=interval, endpoint=endpoint, quantity=q, line=line)
            for q, line, draws in quantity_draws(idata, seed=seed, weights=w)]
    frame = summary_frame(rows)
    options = fit_options(idata)
    for outcome, weight in zip(OUTCOMES, w):
        frame[outcome] = str(options.get(outcome, ""))
        frame[f"weight_{outcome}"] = float(weight)
    return frame


def observed_counts(idata: az.InferenceData) -> pd.DataFrame:
    """Patients (``n``) and events per site, line and outcome: the patient-lines with both
    outcomes and the rows with one (a patient's one known outcome, a site's counts).

    Returns
    -------
    pandas.DataFrame
        Indexed by (site, line, outcome) over every combination of the fit (0 where none).
    """
    post, const, observed = idata.posterior, idata.constant_data, idata.observed_data
    sites = np.asarray([str(x) for x in post.coords["site"].to_numpy()])
    lines = np.asarray(_lines(post))
    frames = []
    if "y" in observed:
        cell = observed["y"].to_numpy().astype(int)
        site, line = sites[const["site_idx"].to_numpy()], lines[const["line_idx"].to_numpy()]
        for outcome, events in zip(OUTCOMES, (cell // 2, cell % 2)):
            frames.append(pd.DataFrame({"site": site, "line": line, "outcome": outcome,
                                        "n": 1, "events": events}))
    if "y_margin" in observed:
        frames.append(pd.DataFrame({
            "site": sites[const["margin_site_idx"].to_numpy()],
            "line": lines[const["margin_line_idx"].to_numpy()],
            "outcome": np.asarray(OUTCOMES)[const["margin_outcome_idx"].to_numpy()],
            "n": const["margin_n"].to_numpy().astype(int),
            "events": observed["y_margin"].to_numpy().astype(int)}))
    full = pd.MultiIndex.from_product([sites, lines, OUTCOMES], names=["site", "line", "outcome"])
    if not frames:
        return pd.DataFrame({"n": 0, "events": 0}, index=full)
    counts = pd.concat(frames, ignore_index=True).groupby(["site", "line", "outcome"])
    return counts[["n", "events"]].sum().reindex(full, fill_value=0)


def _crude_difference(counts: pd.DataFrame, site: str, outcome: str, later: str,
                      first: str) -> float:
    n = [int(counts.at[(site, line, outcome), "n"]) for line in (later, first)]
    events = [int(counts.at[(site, line, outcome), "events"]) for line in (later, first)]
    return events[0] / n[0] - events[1] / n[1] if min(n) > 0 else float("nan")


def site_estimates(idata: az.InferenceData, *,
                   interval: Interval = DEFAULT_INTERVAL) -> pd.DataFrame:
    """Per site and later line: the differences in efficacy and in toxicity against the first
    line, and the probability that efficacy is higher without toxicity being higher there.

    Returns
    -------
    pandas.DataFrame
        Columns ``endpoint, quantity, line`` (the contrast), ``site, n`` (the larger number of
        patients with the outcome at either line), ``observed`` (the crude difference of the
        site's proportions; NaN for the probability, or where a line has no patients) and the
        summary columns.
    """
    post = idata.posterior
    endpoint = str(post.attrs.get("rechallenge_endpoint", ""))
    lines, sites = _lines(post), [str(x) for x in post.coords["site"].to_numpy()]
    p = site_probabilities(idata)
    counts = observed_counts(idata)
    rows: list[dict[str, Any]] = []
    for j in range(1, len(lines)):
        later, first, label = lines[j], lines[0], f"{lines[j]} vs {lines[0]}"
        for i, site in enumerate(sites):
            d_eff = p[:, :, i, 0, j] - p[:, :, i, 0, 0]
            d_tox = p[:, :, i, 1, j] - p[:, :, i, 1, 0]
            quadrant = quadrant_indicators(d_eff, d_tox)["benefit_without_harm"]
            for quantity, draws, outcomes in (
                    ("difference_efficacy_site", d_eff, ("efficacy",)),
                    ("difference_safety_site", d_tox, ("safety",)),
                    ("prob_benefit_without_harm_site", quadrant, OUTCOMES)):
                row = summarise_draws(draws, interval=interval, endpoint=endpoint,
                                      quantity=quantity, line=label, site=site)
                row["n"] = max(int(counts.at[(site, line, o), "n"])
                               for line in (first, later) for o in outcomes)
                row["observed"] = (_crude_difference(counts, site, outcomes[0], later, first)
                                   if len(outcomes) == 1 else float("nan"))
                rows.append(row)
    return summary_frame(rows, extra=("site", "n", "observed"))


def plane_draws(draws: Sequence[tuple[str, str, np.ndarray]], reading: str,
                contrast: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The draws of the two differences of one reading and contrast (flattened), from
    :func:`quantity_draws`; ``None`` if the fit has none.
    """
    found: Mapping[str, np.ndarray] = {q: v for q, line, v in draws if line == contrast}
    names = (f"difference_efficacy_{reading}", f"difference_safety_{reading}")
    if not all(n in found for n in names):
        return None
    return found[names[0]].ravel(), found[names[1]].ravel()


def site_plane_draws(idata: az.InferenceData, contrast: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each site's draws of the two differences, line ``contrast`` minus the first, flattened."""
    p = site_probabilities(idata)
    sites = [str(x) for x in idata.posterior.coords["site"].to_numpy()]
    return {site: ((p[:, :, i, 0, contrast] - p[:, :, i, 0, 0]).ravel(),
                   (p[:, :, i, 1, contrast] - p[:, :, i, 1, 0]).ravel())
            for i, site in enumerate(sites)}

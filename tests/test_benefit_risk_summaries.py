"""Benefit-risk summaries on hand-made posteriors whose answers are known.

The posteriors are built with ``az.from_dict``: no sampling. With no between-site and no
between-patient spread, a population probability is ``invlogit(mu)`` exactly, so the quadrant
of each draw is set by the signs of the ``mu`` differences chosen here; the quadrant
probabilities, the net benefit and its probability are then known without the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from scipy import integrate, stats
from scipy.special import expit

from rechallenge.analysis.families import family_of
from rechallenge.analysis.plots.benefit_risk import plot_benefit_risk_plane, plot_site_planes
from rechallenge.analysis.plots.style import DOUBLE_WIDTH, PNG_DPI, SINGLE_WIDTH, save_figure
from rechallenge.analysis.reporting import benefit_risk as words
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries import benefit_risk as br

LINES = ("ICI-1", "ICI-2")
COMBOS = [f"{o}:{line}" for o in br.OUTCOMES for line in LINES]
#: Draws per quadrant (benefit without harm, with harm, neither, harm without benefit).
COUNTS = {"benefit_without_harm": 400, "benefit_with_harm": 300, "no_benefit_no_harm": 200,
          "harm_without_benefit": 100}


def hand_made(mu_eff: np.ndarray, mu_tox: np.ndarray, *, tau: float = 0.0,
              sigma: float = 0.0, corr: np.ndarray | None = None, chains: int = 2,
              weights: dict[str, float] | None = None, rows: dict | None = None,
              **extra: np.ndarray) -> az.InferenceData:
    """A joint-model posterior: ``mu_eff``, ``mu_tox`` of shape (draws, lines), split into
    ``chains``; every tau and sigma equal; the site correlation ``corr`` (identity); ``rows``:
    the observed cells (``y``) with their ``site_idx`` and ``line_idx``."""
    n = mu_eff.shape[0]
    shape = (chains, n // chains)

    def chained(a: np.ndarray) -> np.ndarray:
        return a.reshape(shape + a.shape[1:])

    corr = np.eye(4) if corr is None else corr
    posterior = {
        "mu_eff": chained(mu_eff), "mu_tox": chained(mu_tox),
        "tau": np.full(shape + (2, 2), tau), "sigma_patient": np.full(shape + (2,), sigma),
        "site_corr": np.broadcast_to(corr, shape + (4, 4)).copy(),
        **{k: chained(v) for k, v in extra.items()},
    }
    dims = {"mu_eff": ["line"], "mu_tox": ["line"], "tau": ["outcome", "line"],
            "sigma_patient": ["outcome"], "site_corr": ["outcome_line", "outcome_line_b"],
            "odds_ratio": ["line"], "u_site": ["site", "outcome", "line"]}
    coords = {"line": list(LINES), "outcome": list(br.OUTCOMES), "outcome_line": COMBOS,
              "outcome_line_b": COMBOS, "site": ["A", "B"]}
    rows = rows or {}
    data = {k: v for k, v in rows.items() if k != "y"}
    idata = az.from_dict(posterior=posterior, dims={**dims, **{k: ["obs"] for k in rows}},
                         coords=coords, constant_data=data or None,
                         observed_data={"y": rows["y"]} if "y" in rows else None)
    options = {"efficacy": "response", "safety": "toxicity"}
    if weights is not None:
        options["weights"] = weights
    idata.posterior.attrs["rechallenge_options"] = json.dumps(options)
    idata.posterior.attrs["rechallenge_endpoint"] = "benefit_risk"
    return idata


def quadrant_posterior(seed: int = SEED, **kwargs: object) -> tuple[az.InferenceData, np.ndarray]:
    """Draws whose quadrants come in :data:`COUNTS`; returns the fit and the later line's
    efficacy and toxicity log-odds (the first line's are 0: probability one half)."""
    rng = np.random.default_rng(seed)
    signs = np.concatenate([np.tile(s, (k, 1)) for s, k in zip(
        [(1, -1), (1, 1), (-1, -1), (-1, 1)], COUNTS.values())])
    later = signs * rng.uniform(0.1, 1.5, size=signs.shape)
    later = later[rng.permutation(len(later))]
    zeros = np.zeros(len(later))
    mu_eff = np.column_stack([zeros, later[:, 0]])
    mu_tox = np.column_stack([zeros, later[:, 1]])
    return hand_made(mu_eff, mu_tox, **kwargs), later


def _value(summary: pd.DataFrame, quantity: str, line: str = "ICI-2 vs ICI-1") -> pd.Series:
    hit = summary[(summary["quantity"] == quantity) & (summary["line"] == line)]
    assert len(hit) == 1, quantity
    return hit.iloc[0]


def test_quadrant_probabilities_are_the_share_of_draws_in_each_quadrant() -> None:
    idata, _ = quadrant_posterior()
    summary = br.summarise_benefit_risk(idata, seed=SEED)
    total = len(idata.posterior.chain) * len(idata.posterior.draw)
    for reading in br.READINGS:
        got = {name: _value(summary, f"prob_{name}_{reading}")["mean"] for name in br.QUADRANTS}
        assert got == pytest.approx({k: v / total for k, v in COUNTS.items()}, abs=1e-12)
    # Later minus first: efficacy is higher in the first two quadrants (70% of the draws).
    assert _value(summary, "difference_efficacy_population")["median"] > 0


def test_net_benefit_and_its_probability_follow_the_weights() -> None:
    idata, later = quadrant_posterior(weights={"efficacy": 1.0, "safety": 2.0})
    summary = br.summarise_benefit_risk(idata, seed=SEED)
    d_eff, d_tox = expit(later[:, 0]) - 0.5, expit(later[:, 1]) - 0.5
    net = d_eff - 2.0 * d_tox
    assert _value(summary, "difference_net_benefit_population")["mean"] == pytest.approx(
        net.mean(), abs=1e-12)
    assert _value(summary, "prob_greater_population")["mean"] == pytest.approx(
        np.mean(net > 0), abs=1e-12)
    # Benefit without harm always improves the net benefit; harm without benefit never does.
    assert np.mean(net > 0) > COUNTS["benefit_without_harm"] / len(net)
    assert (summary["weight_efficacy"] == 1.0).all() and (summary["weight_safety"] == 2.0).all()
    per_line = _value(summary, "net_benefit_population", "ICI-1")
    assert per_line["mean"] == pytest.approx(0.5 - 2.0 * 0.5)
    # Weights given to the function replace those the fit recorded.
    again = br.summarise_benefit_risk(idata, seed=SEED, weights=(1.0, 1.0))
    assert _value(again, "difference_net_benefit_population")["mean"] == pytest.approx(
        (d_eff - d_tox).mean(), abs=1e-12)


def test_population_average_integrates_over_sites_and_patients() -> None:
    mu = np.array([[0.3, -0.4]])
    idata = hand_made(mu, mu, tau=0.8, sigma=0.5, chains=1)
    p = br.outcome_probabilities(idata, seed=SEED)["population"]
    scale = np.sqrt(0.8**2 + 0.5**2)
    for j, m in enumerate(mu[0]):
        exact = integrate.quad(lambda z, m=m: expit(m + scale * z) * stats.norm.pdf(z),
                               -12, 12)[0]
        assert p[0, 0, 0, j] == pytest.approx(exact, abs=1e-9)
        assert p[0, 0, 1, j] == pytest.approx(exact, abs=1e-9)


@pytest.mark.parametrize("rho", [0.95, -0.95])
def test_a_new_site_keeps_the_fitted_correlation_of_efficacy_and_toxicity(rho: float) -> None:
    corr = np.eye(4)
    corr[1, 3] = corr[3, 1] = rho  # efficacy and safety at ICI-2 (outcome-major order)
    n = 4000
    idata = hand_made(np.zeros((n, 2)), np.zeros((n, 2)), tau=1.0, corr=corr)
    draws = br.quantity_draws(idata, seed=SEED)
    d_eff, d_tox = br.plane_draws(draws, "new_site", "ICI-2 vs ICI-1")
    observed = np.corrcoef(d_eff, d_tox)[0, 1]
    # Only the later line's effects are correlated: about half of each difference's variance.
    assert np.sign(observed) == np.sign(rho) and abs(observed) > 0.3
    population = br.plane_draws(draws, "population", "ICI-2 vs ICI-1")
    assert np.allclose(population[0], 0.0) and np.allclose(population[1], 0.0)


def test_dependence_rows_read_the_right_elements() -> None:
    corr = np.eye(4)
    corr[0, 2] = corr[2, 0] = 0.3   # efficacy:ICI-1 with safety:ICI-1
    corr[1, 3] = corr[3, 1] = -0.2  # efficacy:ICI-2 with safety:ICI-2
    corr[0, 1] = corr[1, 0] = 0.6   # efficacy across lines: not a cross-outcome correlation
    odds = np.tile([2.0, 0.5], (10, 1))
    idata = hand_made(np.zeros((10, 2)), np.zeros((10, 2)), corr=corr, odds_ratio=odds)
    summary = br.summarise_benefit_risk(idata, seed=SEED)
    assert _value(summary, "site_corr_efficacy_safety", "ICI-1")["mean"] == pytest.approx(0.3)
    assert _value(summary, "site_corr_efficacy_safety", "ICI-2")["mean"] == pytest.approx(-0.2)
    assert _value(summary, "odds_ratio_within_patient", "ICI-1")["mean"] == pytest.approx(2.0)
    assert _value(summary, "odds_ratio_within_patient", "ICI-2")["mean"] == pytest.approx(0.5)


def test_site_estimates_give_each_site_its_differences_and_crude_counts() -> None:
    n = 10
    # Site A: more efficacy and less toxicity at ICI-2; site B: the reverse. (site, outcome, line)
    u = np.zeros((n, 2, 2, 2))
    u[:, 0, 0, 1], u[:, 0, 1, 1] = 1.0, -1.0
    u[:, 1, 0, 1], u[:, 1, 1, 1] = -1.0, 1.0
    # Site A: 2 patients, cells (neither, efficacy only) at ICI-1, (efficacy only, both) at
    # ICI-2; site B: one patient, toxicity only at ICI-1, neither at ICI-2.
    rows = {"site_idx": np.array([0, 0, 0, 0, 1, 1]), "line_idx": np.array([0, 0, 1, 1, 0, 1]),
            "y": np.array([0, 2, 2, 3, 1, 0])}
    idata = hand_made(np.zeros((n, 2)), np.zeros((n, 2)), u_site=u, rows=rows)
    sites = br.site_estimates(idata, interval=Interval())
    a = sites[sites["site"] == "A"].set_index("quantity")
    b = sites[sites["site"] == "B"].set_index("quantity")
    assert a.loc["difference_efficacy_site", "mean"] == pytest.approx(expit(1.0) - 0.5)
    assert a.loc["difference_safety_site", "mean"] == pytest.approx(expit(-1.0) - 0.5)
    assert a.loc["prob_benefit_without_harm_site", "mean"] == 1.0
    assert b.loc["prob_benefit_without_harm_site", "mean"] == 0.0
    assert a.loc["difference_efficacy_site", "observed"] == pytest.approx(1.0 - 0.5)
    assert a.loc["difference_safety_site", "observed"] == pytest.approx(0.5 - 0.0)
    assert b.loc["difference_safety_site", "observed"] == pytest.approx(0.0 - 1.0)
    assert int(a.loc["difference_efficacy_site", "n"]) == 2
    assert np.isnan(a.loc["prob_benefit_without_harm_site", "observed"])


def test_the_sentence_and_the_reader_table_state_the_known_answer() -> None:
    idata, _ = quadrant_posterior()
    summary = br.summarise_benefit_risk(idata, seed=SEED)
    sentence = words.results_sentence(summary, LINES, Interval())
    assert sentence.startswith(
        "Benefit and risk together: the posterior probability that ICI-2 gives a higher rate of "
        "objective response without a higher rate of grade 3-4 treatment-related adverse event "
        "than ICI-1 was 0.40 for the population average (0.40 for a new site)")
    family = family_of("benefit_risk")
    (table,) = family.own_tables(summary, Interval(), "median")
    frame = table.reader.set_index("Quantity")
    quadrants = [f"P({w.format(later='ICI-2')})" for w in words.QUADRANT_WORDS.values()]
    shown = frame.loc[quadrants, "Population average"].astype(float)
    assert shown.tolist() == [0.40, 0.30, 0.20, 0.10]
    assert table.machine is summary
    assert "efficacy is objective response" in table.caption


def test_the_planes_are_drawn_at_journal_width(tmp_path: Path) -> None:
    idata, _ = quadrant_posterior()
    draws = br.quantity_draws(idata, seed=SEED)
    planes = {label: tuple(100 * v for v in br.plane_draws(draws, r, "ICI-2 vs ICI-1"))
              for label, r in (("Population average", "population"), ("New site", "new_site"))}
    fig = plot_benefit_risk_plane(planes, {"benefit_without_harm": "P = 0.40"},
                                  x_label="x", y_label="y", weights=(1.0, 1.0))
    # The legend names every mark drawn: the readings and the line of zero net benefit.
    shown = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert shown == ["Population average", "New site", "Net benefit 0"]
    png, _ = save_figure(fig, tmp_path, "plane")
    from PIL import Image

    assert Image.open(png).size[0] == pytest.approx(SINGLE_WIDTH * PNG_DPI, abs=2)
    fig = plot_site_planes({s: planes["Population average"] for s in "ABCDEFG"}, {"A": 0.4},
                           x_label="x", y_label="y", highlight=["B"])
    png, _ = save_figure(fig, tmp_path, "sites")
    assert Image.open(png).size[0] == pytest.approx(DOUBLE_WIDTH * PNG_DPI, abs=2)

"""A run with ``[benefit_risk] enabled = true`` on the shipped data: the joint model is fitted
beside the endpoints' own models and the run shows its table, its planes, its sentence and its
row of Table 2; a run of the default config shows none of them.

One small run for the module (2 chains x 200 draws, not meant to converge), on the session's
two-worker engine.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SEED

from rechallenge.analysis.reporting import benefit_risk as words
from rechallenge.analysis.reporting.estimates import probability_cell
from rechallenge.analysis.settings.config import AnalysisConfig, BenefitRiskConfig, RunConfig

pytestmark = pytest.mark.integration

LABEL = "Benefit and risk (efficacy and grade 3-4 toxicity)"
CONTRAST = "ICI-2 vs ICI-1"


@pytest.fixture(scope="module")
def joint_run(tmp_path_factory: pytest.TempPathFactory, engine):
    """The run ``analyze`` returned for the enabled config."""
    from dataclasses import replace

    from rechallenge.analysis.run.pipeline import analyze

    config = RunConfig(analysis=replace(AnalysisConfig(), endpoints=("response", "toxicity")),
                       benefit_risk=BenefitRiskConfig(enabled=True)).with_sampler(
        draws=200, tune=200, chains=2, seed=SEED)
    out = tmp_path_factory.mktemp("runs") / "joint"
    return analyze(config, out, allow_unconverged=True, progress=lambda _m: None, engine=engine)


@pytest.fixture(scope="module")
def out(joint_run) -> Path:
    return joint_run.out


def _value(frame: pd.DataFrame, quantity: str, line: str = CONTRAST) -> pd.Series:
    hit = frame[(frame["quantity"] == quantity) & (frame["line"] == line)]
    assert len(hit) == 1, quantity
    return hit.iloc[0]


def test_the_joint_model_is_fitted_beside_the_endpoints_without_comparators(joint_run,
                                                                            out: Path) -> None:
    fits = set(joint_run.manifest["fits"])
    assert {"response", "response__complete", "toxicity", "benefit_risk"} <= fits
    assert not {f for f in fits if f.startswith("benefit_risk__")} - {
        "benefit_risk__tau_half", "benefit_risk__tau_double"}  # only refitted sensitivity
    assert joint_run.endpoints == ("response", "toxicity", "benefit_risk")
    assert "[benefit_risk]" in (out / "config.toml").read_text(encoding="utf-8")
    sensitivity = pd.read_csv(out / "tables" / "sensitivity_priors.csv")
    assert "benefit_risk" in set(sensitivity["endpoint"])


def test_its_table_holds_the_quadrants_the_net_benefit_and_the_dependence(joint_run,
                                                                         out: Path) -> None:
    table = pd.read_csv(out / "tables" / "benefit_risk.csv")
    for reading in ("population", "new_site"):
        total = sum(_value(table, f"prob_{q}_{reading}")["mean"] for q in words.QUADRANT_WORDS)
        assert total == pytest.approx(1.0, abs=1e-9)
    d_eff = _value(table, "difference_efficacy_population")
    d_tox = _value(table, "difference_safety_population")
    net = _value(table, "difference_net_benefit_population")
    assert net["mean"] == pytest.approx(d_eff["mean"] - d_tox["mean"], abs=1e-9)  # weights 1, 1
    assert set(table.loc[table["quantity"] == "odds_ratio_within_patient", "line"]) == {
        "ICI-1", "ICI-2"}
    assert (table["efficacy"] == "response").all() and (table["safety"] == "toxicity").all()
    # The run in memory holds the table's numbers.
    assert np.allclose(joint_run["benefit_risk"].summary["mean"].to_numpy(), table["mean"])
    reader = pd.read_csv(out / "tables" / "reader" / "benefit_risk.csv")
    assert list(reader.columns) == ["Quantity", "Population average", "New site (predictive)"]
    sites = pd.read_csv(out / "tables" / "sites_benefit_risk.csv")
    assert len(sites) == 3 * 14


def test_the_planes_are_drawn_at_journal_width(out: Path) -> None:
    from PIL import Image

    from rechallenge.analysis.plots.style import DOUBLE_WIDTH, PNG_DPI, SINGLE_WIDTH

    for name, width in (("contrast_benefit_risk", SINGLE_WIDTH),
                        ("forest_benefit_risk", DOUBLE_WIDTH)):
        assert Image.open(out / "figures" / f"{name}.png").size[0] == pytest.approx(
            width * PNG_DPI, abs=2)
        assert (out / "figures" / f"{name}.pdf").stat().st_size > 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "figures/contrast_benefit_risk.png" in report


def test_the_report_says_the_joint_answer(out: Path) -> None:
    table = pd.read_csv(out / "tables" / "benefit_risk.csv")
    good = _value(table, "prob_benefit_without_harm_population")["mean"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert ("Benefit and risk together: the posterior probability that ICI-2 gives a higher rate "
            "of objective response without a higher rate of grade 3-4 treatment-related adverse "
            f"event than ICI-1 was {probability_cell(good)} for the population average") in report
    headline = pd.read_csv(out / "tables" / "reader" / "table2_headline.csv",
                           dtype=str).fillna("")
    rows = headline.index[headline["Endpoint"] == LABEL]
    assert len(rows) == 1
    row = headline.loc[rows[0]]
    assert row["Estimate"] == "Population average, net benefit"
    assert row["P(ICI-2 > ICI-1)"] == probability_cell(
        _value(table, "prob_greater_population")["mean"])
    methods = report[report.index("## Methods"):]
    assert "Dale's bivariate logistic model" in methods
    assert "Dale JR. Global cross-ratio models" in methods
    assert "Costa MJ, Drury T. Bayesian joint modelling of benefit and risk" in methods
    supplement = (out / "supplement.md").read_text(encoding="utf-8")
    assert f"## {LABEL}" in supplement
    assert "P(efficacy higher, toxicity not higher at ICI-2)" in supplement


def test_the_gate_and_the_diagnostics_cover_every_parameter_of_the_joint_fit(joint_run,
                                                                            out: Path) -> None:
    diagnostics = pd.read_csv(out / "tables" / "diagnostics.csv")
    joint = diagnostics[diagnostics["model"] == "benefit_risk"]
    fit = joint_run.fits["benefit_risk"]
    every = set(az.summary(fit, kind="diagnostics").index.astype(str))
    assert set(joint.loc[joint["kind"] == "parameter", "name"]) == every
    assert {v for v in ("mu_eff", "mu_tox", "tau", "site_partial_corr", "sigma_patient",
                        "log_or", "z_site", "z_patient")} <= set(fit.posterior.data_vars)
    derived = set(joint.loc[joint["kind"] == "derived", "name"])
    assert f"prob_benefit_without_harm_population[{CONTRAST}]" in derived
    assert f"difference_efficacy_site[{CONTRAST}, S01]" in derived
    # The gate judged it: at 200 draws its tail ESS fails, and the failure is reported.
    assert any(f.startswith("benefit_risk:") for f in joint_run.gate.failures)


def test_no_machine_name_reaches_a_reader(out: Path) -> None:
    from rechallenge.analysis.reporting.vocabulary import MACHINE_NAMES

    names = {*MACHINE_NAMES, *words.QUANTITY_LABELS, "benefit_risk", "weight_efficacy",
             "weight_safety", "prob_greater_new_site"}
    texts = {name: (out / name).read_text(encoding="utf-8")
             for name in ("report.md", "supplement.md")}
    texts |= {p.name: p.read_text(encoding="utf-8")
              for p in (out / "tables" / "reader").glob("*benefit_risk*.csv")}
    texts["table2"] = (out / "tables" / "reader" / "table2_headline.csv").read_text("utf-8")
    for name, text in texts.items():
        found = sorted(m for m in names if re.search(rf"(?<![\w/.]){re.escape(m)}(?![\w])", text))
        assert not found, f"{name} shows machine names {found}"


def test_the_report_is_rebuilt_from_the_saved_fits(out: Path, tmp_path: Path, engine) -> None:
    from rechallenge.analysis.run.pipeline import rebuild_report

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    rebuilt = rebuild_report(copy, progress=lambda _m: None, engine=engine)
    assert "benefit_risk" in rebuilt.endpoints
    for name in ("tables/benefit_risk.csv", "tables/reader/table2_headline.csv", "report.md"):
        assert (copy / name).read_bytes() == (out / name).read_bytes(), name


def test_a_default_run_has_none_of_it(small_run: Path) -> None:
    everything = [p.name for p in small_run.rglob("*")]
    assert not [n for n in everything if "benefit_risk" in n]
    assert "benefit_risk" not in (small_run / "config.toml").read_text(encoding="utf-8")
    for name in ("report.md", "supplement.md"):
        text = (small_run / name).read_text(encoding="utf-8")
        assert "Benefit and risk" not in text and "Dale JR" not in text

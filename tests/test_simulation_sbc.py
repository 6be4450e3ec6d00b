"""Tiny SBC of each family passes; fitting with a prior other than the one simulated is flagged;
the joint model's SBC writes its records and resumes.

Short chains (2 x 200 draws, ranks among 19 thinned draws) keep each fit near a second; the
gate's ESS threshold is then not met, which the study counts and reports but does not act on.
Seeds are fixed, so the verdicts are deterministic.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SEED

from rechallenge.analysis.settings.config import AnalysisConfig, RunConfig, parse_config
from rechallenge.analysis.simulation import simulate
from rechallenge.analysis.simulation.records import read_records

pytestmark = pytest.mark.integration

THIN = 19


def tiny_config() -> RunConfig:
    base = RunConfig(analysis=replace(AnalysisConfig(), endpoints=("response", "ttp")))
    return base.with_sampler(draws=200, tune=200, chains=2, seed=SEED)


def test_a_tiny_sbc_of_each_family_passes(tmp_path: Path, engine) -> None:
    result = simulate("sbc", out=tmp_path / "sbc", config=tiny_config(), n_sims=20, thin=THIN,
                      engine=engine, progress=False)
    table = result.tables["sbc_uniformity"]
    assert set(table["family"]) == {"binary", "ttp"}
    assert (table["n"] == 20).all()
    # About 10 quantities per family: each is tested at 5%, so the family's verdict is
    # Bonferroni-adjusted (one band missed by chance in 20 is the expected rate).
    per_family = table.groupby("family")["quantity"].transform("size")
    assert (table["ecdf_p"] > 0.05 / per_family).all(), table
    for name in ("report.md", "manifest.json", "tables/sbc_uniformity.tex",
                 "figures/sbc_ecdf_binary.png", "figures/sbc_ecdf_ttp.pdf"):
        assert (result.out / name).is_file(), name
    assert result.manifest["simulations"]["finished"] == 40
    assert result.manifest["simulations"]["errors"] == 0


def test_fitting_with_another_prior_than_simulated_is_flagged(tmp_path: Path, engine) -> None:
    """Data simulated with mu ~ Normal(0, 1.5), fitted with mu ~ Normal(0, 0.2): the posterior
    of mu is pulled to 0, so true values far from 0 rank at the extremes."""
    result = simulate("sbc", out=tmp_path / "wrong", config=tiny_config(), n_sims=20,
                      thin=THIN, families=("binary",), fit_priors={"binary": {"mu_sd": 0.2}},
                      engine=engine, progress=False)
    table = result.tables["sbc_uniformity"].set_index("quantity")
    assert not table.loc["mu[ICI-1]", "in_band"] and not table.loc["mu[ICI-2]", "in_band"]
    assert table.loc["mu[ICI-1]", "ecdf_p"] < 0.01


def test_a_coverage_profile_repeats_the_study_at_each_tau(tmp_path: Path, engine) -> None:
    """Two true between-site SDs far apart: each block holds its own simulations at its own
    truth, and the fits see the difference (the posterior medians of tau follow the truth)."""
    truth = {"binary": {"mu": [-1.2, -1.1], "tau": [0.3, 0.5], "corr": [[1, 0], [0, 1]]}}
    result = simulate("coverage", out=tmp_path / "profile", config=tiny_config(), n_sims=6,
                      families=("binary",), truth=truth, tau_grid=(1.5, 0.2),
                      engine=engine, progress=False)
    table = result.tables["coverage"]
    assert list(dict.fromkeys(table["tau"])) == [0.2, 1.5]
    assert (table["n"] == 6).all()
    tau = table[table["quantity"] == "tau[ICI-1]"].set_index("tau")
    assert list(tau["truth_mean"]) == pytest.approx([0.2, 1.5])
    medians = tau["truth_mean"] + tau["bias"]
    assert medians.loc[1.5] > medians.loc[0.2] + 0.3, medians
    mu = table[table["quantity"] == "mu[ICI-1]"]
    assert list(mu["truth_mean"]) == pytest.approx([-1.2, -1.2])
    assert (result.out / "figures" / "coverage_profile_binary.png").is_file()
    assert (result.out / "results" / "coverage-binary-tau0.2-00005.json").is_file()
    assert result.manifest["spec"]["tau_grid"] == [1.5, 0.2]
    assert "each of 1.5, 0.2" in (result.out / "report.md").read_text()


def test_a_tiny_sbc_of_the_joint_model_writes_its_records_and_resumes(tmp_path: Path,
                                                                        engine) -> None:
    """The joint family through the same entry point, chosen by the config's [benefit_risk]:
    3 simulations, then 2 more with ``resume`` (the first 3 untouched)."""
    config = parse_config({"analysis": {"endpoints": ["response", "toxicity"]},
                           "benefit_risk": {"enabled": True, "weights": {"safety": 2.0}},
                           "sampler": {"draws": 100, "tune": 100, "chains": 2, "seed": SEED}})
    out = tmp_path / "joint"
    first = simulate("sbc", out=out, config=config, n_sims=3, thin=THIN, families=("joint",),
                     engine=engine, progress=False)
    assert first.manifest["simulations"]["finished"] == 3
    assert first.manifest["simulations"]["errors"] == 0
    before = {p.name: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert sorted(before) == [f"sbc-joint-0000{i}.json" for i in range(3)]
    record = next(read_records(out))
    assert set(record["truth"]) == {"mu_eff", "mu_tox", "tau", "corr", "sigma_patient", "log_or"}
    ranks = {name: q["rank"] for name, q in record["quantities"].items()}
    assert len(ranks) == 21 and all(0 <= r <= THIN for r in ranks.values())
    truth = record["quantities"]["difference_net_benefit_population[ICI-2 vs ICI-1]"]["truth"]
    difference = {o: record["quantities"][f"difference_{o}_population[ICI-2 vs ICI-1]"]["truth"]
                  for o in ("efficacy", "safety")}
    assert truth == pytest.approx(difference["efficacy"] - 2.0 * difference["safety"])

    again = simulate("sbc", out=out, config=config, n_sims=5, thin=THIN, families=("joint",),
                     engine=engine, resume=True, progress=False)
    run = again.manifest["this_invocation"]
    assert run["ran_now"] == 2 and run["skipped_finished"] == 3
    after = {p.name: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert len(after) == 5 and all(after[name] == data for name, data in before.items())
    table = again.tables["sbc_uniformity"]
    assert set(table["family"]) == {"joint"} and (table["n"] == 5).all() and len(table) == 21
    assert (out / "figures" / "sbc_ecdf_joint.png").is_file()

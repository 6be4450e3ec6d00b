"""Simulation studies without sampling: design, generators against the builders' priors, the
uniformity test on uniform and on injected non-uniform ranks, coverage and precision tables,
records, seeds and the command line's input checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from conftest import SEED
from scipy import stats

from rechallenge.analysis.cli import main
from rechallenge.analysis.simulation.calibration import (
    coverage_table,
    ecdf_band,
    precision_table,
    uniformity_test,
)
from rechallenge.analysis.simulation.design import CENSOR, SimulationDesign
from rechallenge.analysis.simulation.generators import (
    ModelOptions,
    draw_hyperparameters,
    draw_outcomes,
    truth_problems,
)
from rechallenge.analysis.simulation.quantities import quantities, truth_arrays
from rechallenge.analysis.simulation.records import finished_names, write_record
from rechallenge.analysis.simulation.study import StudySpec, cell_label
from rechallenge.analysis.simulation.tasks import build_family_model, task_entropy
from rechallenge.analysis.simulation.truths import with_effect, with_tau
from rechallenge.data import example_study, schema
from rechallenge.data.endpoints import binary_outcome
from rechallenge.models.binary import BINARY_PRIORS
from rechallenge.models.priors import Priors
from rechallenge.models.ttp import TTP_PRIORS


@pytest.fixture(scope="module")
def study():
    return example_study()


def test_the_design_keeps_sites_patients_lines_and_censoring(study) -> None:
    design = SimulationDesign.from_study(study, "ttp")
    assert design.sites == study.sites and len(design.rows) == len(study.patients)
    censored = study.patients[schema.PROGRESSED].to_numpy() == 0
    t = study.patients[schema.TTP_MONTHS].to_numpy()
    assert np.allclose(design.rows[CENSOR].to_numpy()[censored], t[censored])
    assert (design.rows[CENSOR].to_numpy()[~censored] >= t[~censored]).all()
    bigger = design.expanded(3, 4)
    assert len(bigger.sites) == len(design.sites) + 3
    assert len(bigger.rows) == len(design.rows) + 3 * 4 * len(study.lines)


def test_simulated_outcomes_come_back_as_a_study_of_the_same_design(study) -> None:
    design = SimulationDesign.from_study(study, "response")
    y = np.arange(len(design.rows)) % 2
    simulated = design.binary_study(y)
    for endpoint in schema.BINARY_ENDPOINTS:
        assert (binary_outcome(simulated.patients, endpoint).to_numpy() == y).all()
    times = np.full(len(design.rows), 1e6)
    ttp = SimulationDesign.from_study(study, "ttp").ttp_study(times)
    assert (ttp.patients[schema.PROGRESSED] == 0).all()  # all beyond follow-up: censored


@pytest.mark.parametrize("family", ["binary", "ttp"])
def test_generators_draw_the_builders_prior(study, family: str) -> None:
    """Hyperparameters drawn in NumPy match PyMC's prior draws of the built model."""
    endpoint = "response" if family == "binary" else "ttp"
    defaults = BINARY_PRIORS if family == "binary" else TTP_PRIORS
    priors = Priors(defaults, model=family).to_dict()
    model = build_family_model(study, family, endpoint, ModelOptions(), priors)
    names = ["mu"] + ([] if family == "binary" else ["log_shape"]) + ["tau", "site_corr"]
    n = 2000
    pymc_draws = pm.draw([model[v] for v in names], draws=n, random_seed=SEED)
    rng = np.random.default_rng(SEED)
    ours = [draw_hyperparameters(family, priors, ModelOptions(), 2, rng) for _ in range(n)]
    for name, theirs in zip(names, pymc_draws):
        key = "corr" if name == "site_corr" else name
        mine = np.array([h[key] for h in ours])
        if name == "site_corr":
            mine, theirs = mine[:, 0, 1], theirs[:, 0, 1]
        for j in range(mine.reshape(n, -1).shape[1]):
            p = stats.ks_2samp(mine.reshape(n, -1)[:, j], theirs.reshape(n, -1)[:, j]).pvalue
            assert p > 1e-3, (name, j, p)


def test_simulated_times_follow_the_fitted_models_likelihood(study) -> None:
    """TTP outcomes given fixed hyperparameters match the built model's own predictive draws.

    The hyperparameters are set in the model with ``pm.do``; site effects and times are drawn by
    PyMC and by the generator, without censoring. Compared per line: the mean and SD of the log
    times (the Weibull's scale and shape: a median or rate parameterisation moves the mean), the
    spread of site means (``tau``) and the correlation of a site's means at the two lines.
    """
    design = SimulationDesign.from_study(study, "ttp")
    design = SimulationDesign(design.rows.assign(**{CENSOR: np.inf}), design.lines)
    hyper = {"mu": [1.5, 2.2], "log_shape": [0.4, -0.3], "tau": [0.8, 0.4],
             "corr": [[1.0, 0.6], [0.6, 1.0]]}
    model = build_family_model(design.ttp_study(np.ones(len(design.rows))), "ttp", "ttp",
                               ModelOptions(), Priors(TTP_PRIORS, model="ttp").to_dict())
    fixed = pm.do(model, {"mu": np.array(hyper["mu"]), "log_shape": np.array(
        hyper["log_shape"]), "tau": np.array(hyper["tau"]), "site_corr_pairs": np.array([0.6])})
    n = 1000
    theirs = np.log(pm.draw(fixed["ttp"], draws=n, random_seed=SEED))
    rng = np.random.default_rng(SEED)
    ours = np.log(np.stack([draw_outcomes("ttp", hyper, design, rng)[0] for _ in range(n)]))
    site, line, _ = design.codes()

    def summaries(log_t: np.ndarray) -> list[np.ndarray]:
        means = np.stack([[log_t[:, (site == s) & (line == j)].mean(axis=1)
                           for s in range(len(design.sites))] for j in (0, 1)])
        out = []
        for j in (0, 1):
            out += [log_t[:, line == j].mean(axis=1), log_t[:, line == j].std(axis=1),
                    means[j].std(axis=0)]
        return out + [np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(means[0].T, means[1].T)])]

    for i, (mine, other) in enumerate(zip(summaries(ours), summaries(theirs))):
        p = stats.ks_2samp(mine, other).pvalue
        assert p > 1e-3, (i, p)


def test_truth_and_posterior_quantities_are_computed_alike(study) -> None:
    rng = np.random.default_rng(SEED)
    hyper = draw_hyperparameters("ttp", Priors(TTP_PRIORS, model="ttp"), ModelOptions(), 2, rng)
    one = quantities("ttp", truth_arrays(hyper), ("ICI-1", "ICI-2"))
    many = quantities("ttp", {k: np.repeat(v[None], 3, axis=0) for k, v in truth_arrays(hyper).items()},
                      ("ICI-1", "ICI-2"))
    assert one.keys() == many.keys()
    assert all(np.allclose(many[k][:, 0], one[k][0]) for k in one)
    outcomes, effects = draw_outcomes("ttp", hyper, SimulationDesign.from_study(study, "ttp"), rng)
    assert outcomes.shape == (len(study.patients),) and (outcomes > 0).all()
    assert effects["u_site"].shape == (len(study.sites), 2)


def test_uniform_ranks_pass_and_injected_non_uniform_ranks_fail() -> None:
    rng = np.random.default_rng(SEED)
    assert uniformity_test(rng.integers(0, 100, 500), 99)["in_band"] == 1.0
    # Overconfident posterior: the truth falls in the tails (a U-shaped rank histogram).
    u_shaped = np.clip((rng.beta(0.7, 0.7, 500) * 100).astype(int), 0, 99)
    # Biased posterior: the truth is mostly above the draws.
    shifted = np.clip((rng.beta(1.4, 1.0, 500) * 100).astype(int), 0, 99)
    for ranks in (u_shaped, shifted):
        test = uniformity_test(ranks, 99)
        assert test["in_band"] == 0.0 and test["ecdf_p"] < 0.01


def test_the_simultaneous_band_holds_its_level() -> None:
    rng = np.random.default_rng(SEED)
    outside = sum(uniformity_test(rng.integers(0, 20, 50), 19)["in_band"] == 0.0
                  for _ in range(400))
    # 400 uniform samples at alpha = 0.05: 20 expected outside; 3 binomial SDs either way.
    assert 7 <= outside <= 33
    band = ecdf_band(50, 19)
    assert (band["lower"] <= band["z"]).all() and (band["upper"] >= band["z"]).all()


def test_coverage_and_precision_tables_on_hand_made_summaries() -> None:
    frame = pd.DataFrame({"family": "binary", "quantity": "mu[ICI-1]", "truth": 0.0,
                          "median": [0.1, -0.1, 0.2, 0.0], "lower": [-1, -1, 0.1, -1.0],
                          "upper": [1, 1, 1, 1.0], "covered": [True, True, False, True]})
    row = coverage_table(frame, 0.95).iloc[0]
    assert row["covered"] == 3 and row["coverage"] == 0.75
    assert row["cp_lower"] < 0.75 < row["cp_upper"] and row["nominal_inside"]
    assert row["verdict"] == "consistent"
    assert row["bias"] == pytest.approx(0.05) and row["rmse"] == pytest.approx(np.sqrt(0.015))
    frame = frame.assign(k_sites=5, n_patients=10, excludes_null=[0.0, 0.0, 1.0, 0.0])
    row = precision_table(frame, 0.95).iloc[0]
    assert row["mean_width"] == pytest.approx(1.725) and row["p_excludes_null"] == 0.25


def test_a_coverage_profile_table_has_a_block_per_tau_in_increasing_order() -> None:
    frame = pd.DataFrame({"family": "binary", "quantity": "mu[ICI-1]", "truth": 0.0,
                          "tau": [1.0, 1.0, 0.5, 0.5, 0.5], "median": 0.0, "lower": -1.0,
                          "upper": 1.0, "covered": [True, False, True, True, True]})
    table = coverage_table(frame, 0.95)
    assert list(table["tau"]) == [0.5, 1.0]
    assert list(table["n"]) == [3, 2] and list(table["coverage"]) == [1.0, 0.5]
    # Without a grid (no tau, or tau all missing as in other studies' records) one block.
    assert "tau" not in coverage_table(frame.assign(tau=None), 0.95)


def test_a_tau_grid_makes_one_cell_per_tau_and_older_specs_still_resume() -> None:
    spec = StudySpec("coverage", SEED, ("binary",), tau_grid=(0.25, 1.0))
    assert spec.cells() == [{"tau": 0.25}, {"tau": 1.0}]
    assert [cell_label(c) for c in spec.cells()] == ["tau0.25", "tau1"]
    assert spec.to_dict()["tau_grid"] == [0.25, 1.0]
    # A study stored before the grid existed has no tau_grid key in spec.json.
    assert "tau_grid" not in StudySpec("coverage", SEED, ("binary",)).to_dict()
    assert StudySpec("coverage", SEED, ("binary",)).cells() == [{}]
    precision = StudySpec("precision", SEED, ("binary",), k_sites=(0, 5), n_patients=(10,))
    assert [cell_label(c) for c in precision.cells()] == ["k0-n10", "k5-n10"]
    hyper = {"mu": [-1.0, -0.5], "tau": [0.3, 0.5], "corr": [[1, 0], [0, 1]]}
    assert with_tau(hyper, 0.8) == {**hyper, "tau": [0.8, 0.8]}


def test_true_values_are_checked_against_the_model_with_every_problem_named() -> None:
    lines = ("ICI-1", "ICI-2")
    rng = np.random.default_rng(SEED)
    for family, options in [("binary", ModelOptions()), ("ttp", ModelOptions(shared_shape=True)),
                            ("binary", ModelOptions(patient_effect=True))]:
        prior = BINARY_PRIORS if family == "binary" else TTP_PRIORS
        drawn = draw_hyperparameters(family, Priors(prior, model=family).to_dict(), options, 2, rng)
        assert truth_problems({family: drawn}, family, options, lines) == [], (family, drawn)
    bad = {"binary": {"mu": [1.0], "tau": [0.3, -1.0], "corr": [[1, 2], [2, 1]], "sigmaa": 1}}
    problems = truth_problems(bad, "binary", ModelOptions(), lines)
    assert len(problems) == 4
    for needle in ("'sigmaa'", "'mu' = [1.0] has the wrong shape", "'tau' = [0.3, -1.0] is negative",
                   "'corr'"):
        assert any(needle in p for p in problems), (needle, problems)
    assert truth_problems({}, "ttp", ModelOptions(), lines) == [
        "ttp: no true values (expected an object with the family's names)"]
    missing = truth_problems({"ttp": {"mu": [2, 2], "tau": ["a", 1], "corr": np.eye(2).tolist()}},
                             "ttp", ModelOptions(), lines)
    assert any("'log_shape' is missing" in p for p in missing)
    # The TTP line intercept is "mu" as in the binary model; its old name is no alias.
    old = truth_problems({"ttp": {"beta": [2, 2], "log_shape": [0, 0], "tau": [1, 1],
                                  "corr": np.eye(2).tolist()}}, "ttp", ModelOptions(), lines)
    assert old == ["ttp: unknown name 'beta'; expected mu, log_shape, tau, corr",
                   "ttp: 'mu' is missing (expected 2 numbers, one per line (ICI-1, ICI-2))"], old
    assert any("'tau' = ['a', 1] is not numeric" in p for p in missing)


def test_a_bad_truth_file_is_named_and_nothing_is_written(tmp_path: Path, capsys) -> None:
    (tmp_path / "truth.json").write_text('{"binary": {"mu": [0, 0]}')
    out = tmp_path / "study"
    assert main(["simulate", "coverage", "--out", str(out), "--families", "binary",
                 "--truth", str(tmp_path / "truth.json")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'truth.json'}: not valid JSON" in err and "line 1" in err, err
    (tmp_path / "truth.json").write_text('{"binary": {"mu": [0, 0]}}')
    assert main(["simulate", "coverage", "--out", str(out), "--families", "binary",
                 "--truth", str(tmp_path / "truth.json")]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "'tau' is missing" in err and "'corr' is missing" in err
    assert not out.exists()
    (tmp_path / "truth.json").write_bytes(b"\xff\xfe{}")  # UTF-16, say, saved by an editor
    assert main(["simulate", "coverage", "--out", str(out), "--families", "binary",
                 "--truth", str(tmp_path / "truth.json")]) == 1
    assert f"{tmp_path / 'truth.json'}: not UTF-8 text" in capsys.readouterr().err
    assert not out.exists()


def test_a_study_whose_every_fit_raised_exits_1_with_the_first_error(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rechallenge.analysis.simulation as simulation
    from rechallenge.analysis.settings.config import RunConfig
    from rechallenge.analysis.simulation.outputs import StudyOutputs, write_outputs

    records = [{"name": f"sbc-binary-0000{i}", "family": "binary", "index": i, "seconds": 0.1,
                "error": "ValueError: mu_sd must be positive"} for i in range(2)]
    outputs = StudyOutputs(kind="sbc", spec={"thin": 9, "seed": SEED, "families": ["binary"]},
                           config=RunConfig(), designs={}, endpoints={}, n_sims=2, truths=None,
                           run={"ran_now": 2, "skipped_finished": 0, "workers": 1,
                                "wall_seconds": 1.0, "simulation_seconds": 1.0})
    tables, manifest = write_outputs(tmp_path, outputs, records)
    assert manifest["simulations"]["errors"] == 2
    assert manifest["simulations"]["first_error"] == {
        "name": "sbc-binary-00000", "error": "ValueError: mu_sd must be positive"}
    result = simulation.SimulationResult(tmp_path, tables, manifest)
    monkeypatch.setattr(simulation, "simulate", lambda *args, **kwargs: result)
    assert main(["simulate", "sbc", "--out", str(tmp_path / "unused")]) == 1
    err = capsys.readouterr().err
    assert "every simulation raised an error; the first (sbc-binary-00000)" in err, err


def test_records_are_written_once(tmp_path: Path) -> None:
    write_record(tmp_path, {"name": "sbc-binary-00000", "x": np.float64(1.5)})
    assert finished_names(tmp_path) == {"sbc-binary-00000"}
    with pytest.raises(FileExistsError):
        write_record(tmp_path, {"name": "sbc-binary-00000"})
    assert json.loads((tmp_path / "results" / "sbc-binary-00000.json").read_text())["x"] == 1.5


def test_seeds_depend_on_the_simulation_not_on_the_process() -> None:
    a = task_entropy(SEED, "sbc", "binary", 3)
    assert a == task_entropy(SEED, "sbc", "binary", 3)
    assert len({a, task_entropy(SEED, "sbc", "ttp", 3), task_entropy(SEED, "sbc", "binary", 4),
                task_entropy(SEED, "coverage", "binary", 3)}) == 4


def test_an_assumed_effect_moves_every_later_line() -> None:
    assert with_effect("ttp", {"mu": [1.0, 3.0], "tau": [0.2, 0.2]}, 0.4)["mu"] == [1.0, 1.4]


def test_the_command_refuses_to_overwrite_a_study_and_bad_options(tmp_path: Path, capsys) -> None:
    (tmp_path / "spec.json").write_text("{}")
    assert main(["simulate", "sbc", "--out", str(tmp_path)]) == 1
    assert "--resume" in capsys.readouterr().err
    assert main(["simulate", "sbc", "--out", str(tmp_path), "--resume"]) == 1
    assert "different study" in capsys.readouterr().err
    assert main(["simulate", "nonsense", "--out", str(tmp_path)]) == 2
    assert main(["simulate", "precision", "--out", str(tmp_path / "x"), "--k-sites", "a"]) == 2
    assert main(["simulate", "coverage", "--out", str(tmp_path / "x"), "--tau", "0.5,0"]) == 2
    assert "above 0" in capsys.readouterr().err
    assert main(["simulate", "sbc", "--out", str(tmp_path / "y"), "--tau", "0.5"]) == 1
    assert "tau grid needs a coverage study" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@pytest.mark.parametrize("option, value", [("--scheduler", "nonsense"),
                                           ("--families", "binary,Binary")])
def test_simulate_checks_its_options_as_the_other_commands_do(option, value, capsys, tmp_path):
    from rechallenge.analysis.cli.main import main

    assert main(["simulate", "sbc", "--out", str(tmp_path / "study"), option, value]) == 2
    assert option in capsys.readouterr().err
    assert not (tmp_path / "study").exists()

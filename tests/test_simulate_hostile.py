"""``rechallenge simulate`` against absurd sizes and implausible true values: every size a user
controls has a limit checked before anything is started or written (exit 1, the option and
value named, no traceback), true values must be finite and plausible, and an infinite or
undefined summary is never called "consistent". No simulation is run here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.settings import simulation_limits as lim
from rechallenge.analysis.simulation.calibration import NOT_FINITE, coverage_table
from rechallenge.analysis.simulation.generators import ModelOptions, truth_problems

LINES = ("ICI-1", "ICI-2")
EYE = [[1.0, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize("kind, args, expected", [
    ("sbc", ["--n-sims", "100000000000000000000"],
     f"--n-sims (n_sims) = 100000000000000000000: expected 1 to {lim.MAX_N_SIMS:,}"),
    ("precision", ["--k-sites", "0,1000000000"],
     f"--k-sites (k_sites) = 0,1000000000: expected new sites from 0 to {lim.MAX_K_SITES}; "
     "1000000000 is not"),
    ("precision", ["--n-patients", "5,100000000"],
     f"--n-patients (n_patients) = 5,100000000: expected patients per new site from 1 to "
     f"{lim.MAX_N_PATIENTS}"),
    ("precision", ["--k-sites", ",".join(str(k) for k in range(lim.MAX_GRID_VALUES + 1))],
     f"--k-sites (k_sites): {lim.MAX_GRID_VALUES + 1} values; expected at most "
     f"{lim.MAX_GRID_VALUES}"),
    ("precision", ["--n-patients", "5,5"], "--n-patients (n_patients): 5 given more than once"),
    ("coverage", ["--tau", ",".join(f"0.{i + 1:02d}" for i in range(lim.MAX_GRID_VALUES + 1))],
     f"--tau (tau_grid): {lim.MAX_GRID_VALUES + 1} values"),
    ("coverage", ["--tau", "0.5,1e300"], "--tau (tau_grid) = 0.5,1e+300: expected true "
     "between-site SDs above 0 and at most 5"),
    ("sbc", ["--thin", "1000000000"], "--thin (thin) = 1000000000: expected 2 to 1,000"),
    ("sbc", ["--seed", "-1"], "--seed (seed) = -1: expected a whole number >= 0"),
    ("precision", ["--binary-effect", "inf"], "--binary-effect (effects['binary']) = inf"),
    ("precision", ["--ttp-effect=-1e300"], "--ttp-effect (effects['ttp']) = -1e+300"),
    ("sbc", ["--workers", "1000000"], "--workers = 1000000: expected 1 to"),
    ("precision", ["--n-sims", str(lim.MAX_N_SIMS), "--k-sites", "0,1,2,3,4,5",
                   "--n-patients", "1,2,3,4,5"],
     f"expected at most {lim.MAX_TOTAL_SIMULATIONS:,} in one study"),
])
def test_every_size_has_a_limit_checked_before_any_work(
    tmp_path: Path, capsys, kind: str, args: list[str], expected: str
) -> None:
    out = tmp_path / "study"
    assert main(["simulate", kind, "--out", str(out), *args]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ")
    assert expected in err, err
    assert not out.exists()


def test_every_problem_is_listed_at_once(tmp_path: Path, capsys) -> None:
    out = tmp_path / "study"
    assert main(["simulate", "precision", "--out", str(out), "--n-sims", "0", "--k-sites",
                 "-1", "--n-patients", "0", "--seed", "-5"]) == 1
    err = capsys.readouterr().err
    assert "4 problem(s)" in err
    for option in ("--n-sims", "--k-sites", "--n-patients", "--seed"):
        assert option in err
    assert not out.exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_tau_that_is_not_a_finite_number_is_a_usage_error(tmp_path, capsys, value) -> None:
    assert main(["simulate", "coverage", "--out", str(tmp_path / "s"), "--tau", value]) == 2
    assert "--tau: expected finite numbers above 0" in capsys.readouterr().err


def test_a_truth_of_1e308_is_refused_with_every_implausible_value(tmp_path, capsys) -> None:
    truth = {"binary": {"mu": [1e308, 0.0], "tau": [0.3, 9.0], "corr": EYE},
             "ttp": {"mu": [1000.0, 1.0], "log_shape": [5.0, -4.0], "tau": [0.1, 0.1],
                     "corr": EYE}}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    out = tmp_path / "study"
    assert main(["simulate", "coverage", "--out", str(out), "--truth",
                 str(tmp_path / "truth.json")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'truth.json'}: 4 problem(s) with the true values" in err, err
    for needle in ("binary: 'mu' = [1e+308, 0.0] is implausible; expected a logit-scale mean "
                   "from -10 to 10", "binary: 'tau' = [0.3, 9.0] is implausible",
                   "ttp: 'mu' = [1000.0, 1.0] is implausible; expected a log-scale TTP location",
                   "ttp: 'log_shape' = [5.0, -4.0] is implausible"):
        assert needle in err, needle
    assert not out.exists()


def test_the_plausible_range_has_the_documented_edges() -> None:
    def problems(family: str, **values) -> list[str]:
        base = ({"mu": [0.0, 0.0]} if family == "binary"
                else {"mu": [1.0, 1.0], "log_shape": [0.0, 0.0]})
        hyper = {**base, "tau": [0.5, 0.5], "corr": EYE, **values}
        return truth_problems({family: hyper}, family, ModelOptions(), LINES)

    assert problems("binary", mu=[-10.0, 10.0], tau=[0.0, 5.0]) == []
    assert problems("binary", mu=[-10.01, 0.0]) and problems("binary", tau=[0.5, 5.01])
    assert problems("ttp", mu=[math.log(0.01), math.log(1200.0)]) == []
    assert problems("ttp", mu=[math.log(0.009), 1.0])
    # One name, two scales: a logit of 8 is plausible, a scale of exp(8) = 2981 months is not.
    assert problems("binary", mu=[8.0, 8.0]) == [] and problems("ttp", mu=[8.0, 8.0])
    assert problems("ttp", log_shape=[math.log(0.051), math.log(19.9)]) == []
    assert problems("ttp", log_shape=[math.log(20.0), 0.0])  # the shape's bounds are open
    assert problems("ttp", log_shape=[0.0, math.log(0.05)])


def _summaries(median: float) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 200
    return pd.DataFrame({"family": "binary", "quantity": "mu[ICI-1]", "truth": 0.0,
                         "median": np.r_[rng.normal(0, 0.1, n - 1), median],
                         "lower": -1.0, "upper": 1.0, "covered": np.r_[[True] * 189, [False] * 11]})


def test_an_infinite_or_undefined_summary_is_never_consistent() -> None:
    assert coverage_table(_summaries(0.0), 0.95)["verdict"].tolist() == ["consistent"]
    for median in (np.inf, np.nan):
        row = coverage_table(_summaries(median), 0.95).iloc[0]
        assert row["verdict"] == NOT_FINITE and not row["nominal_inside"], row.to_dict()


def test_the_command_says_when_a_summary_is_not_finite(tmp_path, capsys, monkeypatch) -> None:
    import rechallenge.analysis.simulation as simulation

    table = coverage_table(_summaries(np.inf), 0.95)
    manifest = {"simulations": {"finished": 200, "errors": 0, "failed_convergence_gate": 0}}
    result = simulation.SimulationResult(tmp_path, {"coverage": table}, manifest)
    monkeypatch.setattr(simulation, "simulate", lambda *args, **kwargs: result)
    assert main(["simulate", "coverage", "--out", str(tmp_path / "unused")]) == 0
    captured = capsys.readouterr()
    assert "within the binomial bounds for every quantity" not in captured.out
    assert ("coverage not assessed: an infinite or undefined summary (truth, bias, RMSE or "
            "interval width) for binary mu[ICI-1]") in captured.err


def test_help_states_the_limits(capsys) -> None:
    assert main(["simulate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for limit in (f"1 to {lim.MAX_N_SIMS:,}", f"each 0 to {lim.MAX_K_SITES}",
                  f"each 1 to {lim.MAX_N_PATIENTS}", f"up to {lim.MAX_GRID_VALUES} distinct",
                  f"2 to {lim.MAX_THIN:,}", f"{lim.MAX_TOTAL_SIMULATIONS:,} simulations",
                  "finite and plausible"):
        assert limit in text, limit

"""``rechallenge design`` end to end on a hand-made map_prior.json (no fitting, no sampling)."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from scipy import stats

from rechallenge.analysis.cli import main
from rechallenge.analysis.design.beta_mixture import vague_prior
from rechallenge.analysis.design.one_sample import oc_one_sample
from rechallenge.analysis.map_prior import (
    BetaMixture,
    NormalMixture,
    map_prior_entry,
    map_prior_json,
)

MAP = BetaMixture(weights=(0.6, 0.4), a=(7.0, 1.5), b=(21.0, 3.5))
DESIGN_DIR = Path(__file__).resolve().parents[1] / "analysis" / "design"


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A run directory holding only a map_prior.json (response ICI-2 and a TTP entry)."""
    rng = np.random.default_rng(SEED)
    k = rng.choice(2, p=MAP.weights, size=2000)
    draws = rng.beta(np.asarray(MAP.a)[k], np.asarray(MAP.b)[k])
    ttp = NormalMixture(weights=(1.0,), loc=(1.8,), scale=(0.3,))
    record = map_prior_json(
        {"response": {"ICI-2": map_prior_entry(MAP, draws, robust_weight=0.2)},
         "ttp": {"ICI-2": map_prior_entry(ttp, rng.normal(1.8, 0.3, 2000), robust_weight=0.2)}},
        source_run_hash="f" * 64,
        endpoint_info={"response": {"scale": "probability"}, "ttp": {"scale": "log"}})
    run = tmp_path / "run"
    run.mkdir()
    (run / "map_prior.json").write_text(record, encoding="utf-8")
    write_manifest(run)
    return run


def write_manifest(run: Path) -> None:
    """A run manifest recording the hash of every file in ``run`` (as analyze writes it)."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(run.iterdir()) if p.name != "manifest.json"}
    (run / "manifest.json").write_text(json.dumps(
        {"format": "rechallenge-run", "status": "complete", "fits": [], "files": files}),
        encoding="utf-8")


def _args(run: Path, *extra: str) -> list[str]:
    return ["design", str(run), "--endpoint", "response", "--line", "ICI-2",
            "--confidence", "0.9", *extra]


def test_one_sample_end_to_end(run_dir: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # not the command's: must survive
    assert main(_args(run_dir, "--n", "30", "--threshold", "0.2", "--true-rates", "0.125",
                      "--out", str(out))) == 0
    assert "success at >= " in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert names == {"notes.txt", "oc_one_sample.csv", "conflict_one_sample.csv",
                     "oc_one_sample.png", "oc_one_sample.pdf", "design.json", "design.md"}
    oc = pd.read_csv(out / "oc_one_sample.csv")
    assert list(oc.columns) == ["true_rate", "prob_success"] and len(oc) == 102
    record = json.loads((out / "design.json").read_text())
    robust = MAP.robustify(0.2)
    assert record["prior"]["mixture"] == robust.to_dict()
    assert record["prior"]["ess"]["elir"] == pytest.approx(robust.ess("elir"))
    b = record["boundary"]
    # Independent check of two OC values: the binomial tail past the boundary (scipy).
    for rate in (0.125, 0.3):
        assert oc.set_index("true_rate").loc[rate, "prob_success"] == pytest.approx(
            stats.binom.sf(b - 1, 30, rate), abs=1e-9)
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_find_n_and_two_sample(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "n"
    assert main(_args(run_dir, "--find-n", "--null-rate", "0.1", "--alt-rate", "0.35",
                      "--alpha", "0.1", "--power", "0.8", "--prior", "vague",
                      "--out", str(out))) == 0
    record = json.loads((out / "design.json").read_text())
    n = record["sample_size"]["smallest_n"]["vague"]["n"]
    assert record["n"] == n and record["boundary"] <= n
    table = pd.read_csv(out / "sample_size.csv")
    assert set(table["prior"]) == {"vague"} and table.loc[table["meets"], "n"].min() == n
    assert oc_one_sample(vague_prior(), n, 0.1, 0.9, 0.1)[0] <= 0.1

    out2 = tmp_path / "two"
    assert main(_args(run_dir, "--control-n", "6", "--treatment-n", "12", "--out",
                      str(out2))) == 0
    oc = pd.read_csv(out2 / "oc_two_sample.csv")
    assert list(oc.columns) == ["control_rate", "treatment_rate", "prob_success"]
    assert len(oc) == 21 * 21
    conflict = pd.read_csv(out2 / "conflict_two_sample.csv")
    assert conflict["prob_robust_dominates"].iloc[-1] > 0.9  # control rate 1: far from MAP
    assert len(json.loads((out2 / "design.json").read_text())["boundary"]) == 7


@pytest.mark.parametrize(("extra", "message"), [
    (["--n", "30", "--threshold", "1.5"], "--threshold must be between 0 and 1"),
    (["--n", "30"], "needs --threshold"),
    (["--n", "30", "--threshold", "0.2", "--true-rates", "0.2,2"], "--true-rates"),
    (["--endpoint", "orr", "--n", "30", "--threshold", "0.2"], "unknown endpoint 'orr'"),
    (["--endpoint", "ttp", "--n", "30", "--threshold", "0.2"], "not binary"),
    (["--line", "ICI-9", "--n", "30", "--threshold", "0.2"], "unknown line 'ICI-9'"),
    (["--control-n", "6"], "needs --treatment-n"),
    (["--control-n", "6", "--treatment-n", "12", "--margin", "1"], "margin"),
])
def test_bad_input_is_one_line_and_exit_1(run_dir: Path, tmp_path: Path, extra: list[str],
                                          message: str, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "bad"
    assert main([*_args(run_dir, "--out", str(out)), *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())


def test_missing_run_or_prior(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(_args(tmp_path / "nope", "--n", "5", "--threshold", "0.2")) == 1
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(_args(empty, "--n", "5", "--threshold", "0.2")) == 1
    assert "not a run directory (no manifest.json)" in capsys.readouterr().err
    assert list(empty.iterdir()) == []
    write_manifest(empty)  # a run without partial pooling: no MAP prior
    assert main(_args(empty, "--n", "5", "--threshold", "0.2")) == 1
    assert "has no map_prior.json" in capsys.readouterr().err
    assert [p.name for p in empty.iterdir()] == ["manifest.json"]


def test_design_imports_no_run_layer() -> None:
    """The design subpackage reads map_prior.json; it never imports the fitting or run code."""
    forbidden = ("rechallenge.analysis.run", "rechallenge.analysis.cli")
    for path in DESIGN_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith(forbidden), (path.name, node.module)
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                    a.name for a in node.names]
                assert not any(n.startswith(("pymc", "arviz", "rechallenge.models"))
                               for n in names), (path.name, names)
        assert len(path.read_text().splitlines()) < 400, path.name


def test_default_out_is_beside_the_run_not_inside_it(run_dir: Path) -> None:
    # Inside, the design files would be files the run did not write, and `analyze --overwrite`
    # would then (rightly) refuse to replace the run.
    assert main(_args(run_dir, "--n", "20", "--threshold", "0.2")) == 0
    beside = run_dir.with_name(run_dir.name + "-design")
    assert (beside / "design.json").is_file()
    assert not (run_dir / "design").exists()

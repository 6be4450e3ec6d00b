"""``rechallenge design`` against hostile files, absurd arguments and edited runs (issue 28).

Every case goes through the command line (``rechallenge.analysis.cli.main``) on a hand-made run
(a map_prior.json and a manifest recording its hash; no fitting), and checks the exit status,
the message and that no traceback or raw library warning escapes.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from scipy import stats

from rechallenge.analysis.cli import main
from rechallenge.analysis.map_prior import BetaMixture, map_prior_entry, map_prior_json
from rechallenge.analysis.settings.json_files import JSONFileError, read_json

MAP = BetaMixture(weights=(0.6, 0.4), a=(7.0, 1.5), b=(21.0, 3.5))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_manifest(run: Path, *, hashes: bool = True) -> None:
    """The run's manifest; ``hashes=False`` is a run made before file hashes were recorded."""
    manifest: dict = {"format": "rechallenge-run", "status": "complete", "fits": []}
    if hashes:
        manifest["files"] = {p.name: _sha(p) for p in sorted(run.iterdir())
                             if p.name != "manifest.json"}
    else:
        manifest = {"fits": [], "config": {}, "versions": {}, "input_hashes": {}}
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A run holding a map_prior.json (response, ICI-2) and a manifest with its hash."""
    rng = np.random.default_rng(SEED)
    k = rng.choice(2, p=MAP.weights, size=2000)
    draws = rng.beta(np.asarray(MAP.a)[k], np.asarray(MAP.b)[k])
    record = map_prior_json({"response": {"ICI-2": map_prior_entry(MAP, draws, robust_weight=0.2)}},
                            source_run_hash="f" * 64, endpoint_info={"response": {}})
    run = tmp_path / "run"
    run.mkdir()
    (run / "map_prior.json").write_text(record, encoding="utf-8")
    _write_manifest(run)
    return run


def _design(run: Path, out: Path, *extra: str) -> list[str]:
    return ["design", str(run), "--endpoint", "response", "--line", "ICI-2", "--out", str(out),
            *extra]


ONE = ("--n", "30", "--threshold", "0.2", "--confidence", "0.9")


def _run(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str, list]:
    """Exit status, stdout, stderr and the warnings that escaped the command."""
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        status = main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err, list(escaped)


def _assert_refused(status: int, err: str, escaped: list, out: Path, *needles: str) -> None:
    assert status == 1
    assert err.startswith("error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not escaped, [str(w.message) for w in escaped]
    assert not out.exists() or not any(out.iterdir())  # nothing written


def _replace_prior(run: Path, text: str, *, rehash: bool = True) -> None:
    """Put ``text`` in map_prior.json; ``rehash`` also records its hash (a consistent edit)."""
    (run / "map_prior.json").write_text(text, encoding="utf-8")
    if rehash:
        _write_manifest(run)


# ---- 1. map_prior.json of the wrong shape or depth ---------------------------------------------

def _entry_edit(run: Path, edit) -> str:
    record = json.loads((run / "map_prior.json").read_text())
    edit(record["endpoints"]["response"]["ICI-2"])
    return json.dumps(record)


@pytest.mark.parametrize(("make", "needles"), [
    (lambda run: "[1, 2, 3]", ["expected an object, found a list (3 items)"]),
    (lambda run: "42", ["expected an object, found the number 42"]),
    (lambda run: "null", ["expected an object, found null"]),
    (lambda run: "[" * 100_000 + "]" * 100_000, ["nested more than 64 levels"]),
    (lambda run: "[" * 70 + "]" * 70, ["nested more than 64 levels"]),
    (lambda run: "1" * 5000, ["not valid JSON"]),
    (lambda run: _entry_edit(run, lambda e: e.update(mixture=[1, 2])),
     ["endpoints.response.ICI-2.mixture: expected an object, found a list (2 items)"]),
    (lambda run: _entry_edit(run, lambda e: e["mixture"].update(a="x")),
     ["endpoints.response.ICI-2.mixture.a: expected a list of 1 to 20 finite numbers, "
      "found the string \"x\""]),
    (lambda run: _entry_edit(run, lambda e: e.pop("robust_ess")),
     ["endpoints.response.ICI-2.robust_ess: expected an object, found nothing"]),
    (lambda run: _entry_edit(run, lambda e: e["robust_mixture"]["b"].__setitem__(0, 1e-300)),
     ["endpoints.response.ICI-2.robust_mixture.b[0]: expected a Beta parameter"]),
    (lambda run: json.dumps({"format": "rechallenge-map-prior", "version": 1,
                             "source_run_hash": "x", "endpoint_info": {}, "endpoints": [1]}),
     ["endpoints: expected an object, found a list (1 item)"]),
])
def test_map_prior_of_the_wrong_shape_is_a_message(run_dir: Path, tmp_path: Path, make,
                                                   needles: list[str],
                                                   capsys: pytest.CaptureFixture) -> None:
    _replace_prior(run_dir, make(run_dir))  # the manifest agrees: only the shape is wrong
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(run_dir, out, *ONE), capsys)
    _assert_refused(status, err, escaped, out, str(run_dir / "map_prior.json"), *needles)


def test_every_wrong_key_is_listed_at_once(run_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    def edit(entry: dict) -> None:
        entry["robust_weight"] = 2
        entry["ess"]["elir"] = None
        entry["mixture"]["weights"] = [0.5, 0.6]

    _replace_prior(run_dir, _entry_edit(run_dir, edit))
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(run_dir, out, *ONE), capsys)
    _assert_refused(status, err, escaped, out,
                    "robust_weight: expected a number between 0 and 1, found the number 2",
                    "ess.elir: expected a finite number, found null",
                    "mixture: expected a valid beta mixture (weights must be positive and sum")


def test_read_json_refuses_deep_nesting_and_huge_integers(tmp_path: Path) -> None:
    """The package's JSON reader (manifests, records, --truth files) is guarded for everyone."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(JSONFileError, match="nested more than 64 levels") as info:
        read_json(deep)
    assert info.value.path == deep
    digits = tmp_path / "digits.json"
    digits.write_text('{"n": ' + "9" * 5000 + "}")
    with pytest.raises(JSONFileError, match="not valid JSON"):
        read_json(digits)
    fine = tmp_path / "fine.json"
    fine.write_text(json.dumps({"a": [[[{"b": 1}]]]}))
    assert read_json(fine) == {"a": [[[{"b": 1}]]]}


# ---- 2. the run's manifest vouches for the prior; outputs name their inputs --------------------

def test_an_edited_prior_is_refused_naming_both_hashes(run_dir: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    path = run_dir / "map_prior.json"
    recorded = _sha(path)
    record = json.loads(path.read_text())
    record["endpoints"]["response"]["ICI-2"]["mixture"]["a"][0] = 9.0  # still a valid prior
    _replace_prior(run_dir, json.dumps(record), rehash=False)
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(run_dir, out, *ONE), capsys)
    _assert_refused(status, err, escaped, out, str(path), "changed since the run wrote it",
                    f"records sha256 {recorded}", f"has sha256 {_sha(path)}")
    assert not out.exists()  # refused before any work


def test_a_prior_the_run_did_not_write_is_refused(run_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["files"]["map_prior.json"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(run_dir, out, *ONE), capsys)
    _assert_refused(status, err, escaped, out, "does not list",
                    str(run_dir / "map_prior.json"))


def test_a_folder_that_is_not_a_run_is_refused(run_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    (run_dir / "manifest.json").unlink()
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(run_dir, out, *ONE), capsys)
    _assert_refused(status, err, escaped, out, "not a run directory (no manifest.json)")


def test_outputs_name_the_inputs_they_used(run_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    sha = _sha(run_dir / "map_prior.json")
    for mode in (ONE, ("--control-n", "6", "--treatment-n", "12", "--confidence", "0.9"),
                 ("--find-n", "--null-rate", "0.2", "--alt-rate", "0.4", "--alpha", "0.1",
                  "--power", "0.8", "--confidence", "0.9")):
        out = tmp_path / mode[0].strip("-")
        status, stdout, err, escaped = _run(_design(run_dir, out, *mode), capsys)
        assert status == 0 and not escaped and err == "", err
        record = json.loads((out / "design.json").read_text())
        assert record["inputs"] == {
            "run_dir": str(run_dir.resolve()),
            "map_prior": {"file": "map_prior.json", "sha256": sha,
                          "checked_against_manifest": True}}
        assert sha in (out / "design.md").read_text()
        assert stdout.startswith(f"MAP prior: {run_dir / 'map_prior.json'} (sha256 {sha[:16]}")


def test_a_run_without_file_hashes_is_used_and_says_it_was_not_checked(
        run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _write_manifest(run_dir, hashes=False)
    out = tmp_path / "out"
    status, _, err, _ = _run(_design(run_dir, out, *ONE), capsys)
    assert status == 0 and "could not be checked" in err
    assert json.loads((out / "design.json").read_text())["inputs"]["map_prior"][
        "checked_against_manifest"] is False


def test_a_tiny_beta_parameter_gives_a_message_and_no_raw_warning(
        run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """On a run that records no hashes a hand-edited Beta(a, 1e-300) component once gave a raw
    ``RuntimeWarning: invalid value encountered in subtract`` and then an unrelated ESS error."""
    _write_manifest(run_dir, hashes=False)
    record = json.loads((run_dir / "map_prior.json").read_text())
    record["endpoints"]["response"]["ICI-2"]["robust_mixture"]["b"][0] = 1e-300
    (run_dir / "map_prior.json").write_text(json.dumps(record))
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(run_dir, out, *ONE), capsys)
    assert not escaped, [str(w.message) for w in escaped]
    assert status == 1 and "Warning" not in err
    assert "robust_mixture.b[0]: expected a Beta parameter from 0.001 to 1e+06" in err


# ---- 3. limits, checked before any work; --find-n stops at the first N -------------------------

@pytest.mark.parametrize(("extra", "needle"), [
    (("--n", "100000000", "--threshold", "0.2", "--confidence", "0.9"),
     "--n must be at most 10,000"),
    (("--n", "10001", "--threshold", "0.2", "--confidence", "0.9"), "--n must be at most 10,000"),
    (("--find-n", "--null-rate", "0.2", "--alt-rate", "0.4", "--alpha", "0.1", "--power", "0.8",
      "--confidence", "0.9", "--max-n", "1000000000"), "--max-n must be at most 10,000"),
    (("--control-n", "1001", "--treatment-n", "10", "--confidence", "0.9"),
     "--control-n must be at most 1,000"),
    (("--control-n", "10", "--treatment-n", "100000000", "--confidence", "0.9"),
     "--treatment-n must be at most 1,000"),
    (("--n", "30", "--threshold", "0.2", "--confidence", "0.9", "--true-rates",
      ",".join(["0.5"] * 101)), "--true-rates takes at most 100 rates"),
])
def test_sizes_are_limited_before_the_run_is_read(tmp_path: Path, extra: tuple[str, ...],
                                                  needle: str,
                                                  capsys: pytest.CaptureFixture) -> None:
    # The run does not even exist: the limit is the first thing checked.
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(tmp_path / "no-such-run", out, *extra), capsys)
    _assert_refused(status, err, escaped, out, needle)


def test_limits_are_in_the_help(capsys: pytest.CaptureFixture) -> None:
    assert main(["design", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("number of patients, 1 to 10,000", "at most 10,000",
                   "control patients, 1 to 1,000", "treatment patients, 1 to 1,000",
                   "(at most 100)", "stop at the first N that meets the targets"):
        assert phrase in text, phrase


def test_find_n_stops_at_the_first_n_that_meets_the_targets(
        run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    status, stdout, _, escaped = _run(_design(
        run_dir, out, "--find-n", "--null-rate", "0.2", "--alt-rate", "0.4", "--alpha", "0.1",
        "--power", "0.8", "--confidence", "0.9", "--max-n", "2000"), capsys)
    assert status == 0 and not escaped
    assert stdout.count("the first N that meets the targets (the search stopped there") == 2
    record = json.loads((out / "design.json").read_text())
    table = pd.read_csv(out / "sample_size.csv")
    for prior, row in record["sample_size"]["smallest_n"].items():
        tried = table[table["prior"] == prior]
        # n = 1, 2, ... up to the answer and no further; only the last meets the targets.
        assert tried["n"].tolist() == list(range(1, row["n"] + 1))
        assert tried["meets"].tolist() == [False] * (row["n"] - 1) + [True]
        # The answer is right: scipy's binomial tails at its boundary.
        b = row["boundary"]
        assert stats.binom.sf(b - 1, row["n"], 0.2) <= 0.1 <= 0.8 <= stats.binom.sf(
            b - 1, row["n"], 0.4)


# ---- 4. impossible decision rules are errors ---------------------------------------------------

@pytest.mark.parametrize(("extra", "needles"), [
    (("--n", "30", "--threshold", "0.99", "--confidence", "0.9"),
     ["can never be met", "even with all 30 patients responding", "not above the confidence 0.9"]),
    (("--n", "30", "--threshold", "0.5", "--confidence", "0.999999999"),
     ["can never be met", "not above the confidence 0.999999999"]),
    (("--n", "30", "--threshold", "0.001", "--confidence", "0.5"),
     ["met whatever the outcome", "none of the 30 patients responding", "cannot fail"]),
    (("--n", "30", "--threshold", "1e-308", "--confidence", "0.9"), ["met whatever the outcome"]),
    (("--control-n", "5", "--treatment-n", "5", "--margin", "0.99", "--confidence", "0.999999"),
     ["can never be met", "none of 5 control and all 5 treatment patients responding"]),
    (("--control-n", "5", "--treatment-n", "5", "--margin", "-0.999", "--confidence", "0.5"),
     ["met whatever the outcome", "all 5 control and none of 5 treatment patients"]),
])
def test_a_rule_that_cannot_decide_is_an_error(run_dir: Path, tmp_path: Path,
                                               extra: tuple[str, ...], needles: list[str],
                                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    status, stdout, err, escaped = _run(_design(run_dir, out, *extra), capsys)
    _assert_refused(status, err, escaped, out, *needles)
    assert "success at >=" not in stdout


def test_find_n_says_when_the_rule_never_decides(run_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(
        run_dir, out, "--find-n", "--null-rate", "0.2", "--alt-rate", "0.4", "--alpha", "0.1",
        "--power", "0.8", "--confidence", "0.9", "--threshold", "0.9999", "--max-n", "50"),
        capsys)
    assert status == 1 and not escaped
    assert "never met at any N tried" in err


# ---- 5. no library warning or traceback reaches the terminal -----------------------------------

def test_a_rate_near_the_smallest_double_is_computed_not_a_traceback(
        run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """scipy's binom.pmf fails with an OverflowError at rates of about 1e-307."""
    out = tmp_path / "out"
    status, _, err, escaped = _run(_design(run_dir, out, *ONE, "--true-rates", "1e-307,2e-308"),
                                   capsys)
    assert status == 0 and err == "" and not escaped
    oc = pd.read_csv(out / "oc_one_sample.csv", float_precision="round_trip").set_index(
        "true_rate")["prob_success"]
    assert oc.loc[1e-307] == 0.0 and oc.loc[2e-308] == 0.0  # 9 responders needed, none expected
    conflict = pd.read_csv(out / "conflict_one_sample.csv",
                           float_precision="round_trip").set_index("true_rate")
    assert np.isfinite(conflict.loc[1e-307]).all()

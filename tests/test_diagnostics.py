"""Per-parameter diagnostics on hand-made posteriors (analysis/diagnostics.py)."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
from conftest import SEED

from rechallenge.analysis.summaries.diagnostics import parameter_diagnostics


def _rows(posterior: dict[str, np.ndarray]):
    frame = parameter_diagnostics(az.from_dict(posterior=posterior), model="m")
    return frame.set_index("name")


def test_a_constant_element_passes_and_a_well_mixed_one_passes_on_its_merits() -> None:
    rng = np.random.default_rng(SEED)
    with warnings.catch_warnings():
        # ArviZ's 0/0 on the constant element is not printed on the user's terminal.
        warnings.simplefilter("error", RuntimeWarning)
        rows = _rows({"one": np.ones((4, 500)), "x": rng.normal(size=(4, 500))})
    assert rows.loc["one", "r_hat"] == 1.0 and rows.loc["one", "ess_bulk"] == 2000
    assert rows.loc["x", "r_hat"] < 1.01 and rows.loc["x", "ess_bulk"] > 1000
    assert rows["passed"].all()


def test_a_tiny_posterior_that_did_not_mix_fails() -> None:
    # sd about 1e-4: rounded to 2 decimals it would look constant and pass unexamined.
    rng = np.random.default_rng(SEED)
    stuck = 1e-4 * rng.normal(size=(4, 500)) + 3e-4 * np.arange(4)[:, None]
    rows = _rows({"tiny": stuck})
    assert rows.loc["tiny", "r_hat"] > 1.5
    assert not rows.loc["tiny", "passed"]


def test_r_hat_is_judged_unrounded() -> None:
    # One chain shifted by 0.3 sd: R-hat between 1.01 and 1.015, which rounding to 2 decimals
    # would have brought down to the threshold (and passed).
    rng = np.random.default_rng(SEED)
    draws = rng.normal(size=(4, 2000)) + np.array([0.0, 0.0, 0.0, 0.3])[:, None]
    rows = _rows({"x": draws})
    assert 1.01 < rows.loc["x", "r_hat"] < 1.015
    assert not rows.loc["x", "passed"]

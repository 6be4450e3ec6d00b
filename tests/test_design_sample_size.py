"""Sample size search: the smallest n meeting type I error and power (exact, no sampling)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rechallenge.analysis.design.beta_mixture import vague_prior
from rechallenge.analysis.design.sample_size import compare_sample_sizes, find_n
from rechallenge.analysis.map_prior import BetaMixture

MAP = BetaMixture(weights=(0.7, 0.3), a=(6.0, 2.0), b=(24.0, 6.0))
SETTINGS = {"threshold": 0.2, "confidence": 0.9, "null_rate": 0.2, "alt_rate": 0.4,
            "alpha": 0.1, "power": 0.8, "max_n": 120}


def _vague_by_scipy(n: int) -> tuple[int, float, float]:
    ys = np.arange(n + 1)
    ok = stats.beta.sf(SETTINGS["threshold"], 1 + ys, 1 + n - ys) > SETTINGS["confidence"]
    b = int(ys[ok][0]) if ok.any() else n + 1
    return b, stats.binom.sf(b - 1, n, SETTINGS["null_rate"]), stats.binom.sf(
        b - 1, n, SETTINGS["alt_rate"])


def test_vague_prior_matches_a_direct_search() -> None:
    result = find_n(vague_prior(), **SETTINGS)
    expected = next(n for n in range(1, 121)
                    if _vague_by_scipy(n)[1] <= 0.1 and _vague_by_scipy(n)[2] >= 0.8)
    assert result.n == expected
    row = result.row()
    b, t1, pw = _vague_by_scipy(expected)
    assert row == {"n": expected, "boundary": b, "type_i_error": pytest.approx(t1, abs=1e-14),
                   "power": pytest.approx(pw, abs=1e-14)}
    # The search stops at the first n that meets the targets: n = 1..expected were tried.
    assert list(result.table["n"]) == list(range(1, expected + 1))
    assert result.table["meets"].tolist() == [False] * (expected - 1) + [True]
    # Every boundary of the table is the one a direct search over y finds.
    assert list(result.table["boundary"]) == [_vague_by_scipy(n)[0]
                                              for n in range(1, expected + 1)]


def test_no_prior_beats_the_exact_binomial_test() -> None:
    """Every design here rejects when ``y >= boundary``, so at a type I error <= alpha none can
    need fewer patients than the exact one-sided binomial test (Kopp-Schneider et al. 2020):
    borrowing on the tested arm cannot buy power under strict type I error control. With a
    prior centred near the null rate it costs patients; with one centred above, the type I
    error cannot be held at any n (the MAP prior here has mean 0.215).
    """
    def exact_test_power(n: int) -> float:
        ys = np.arange(n + 2)
        b = int(ys[stats.binom.sf(ys - 1, n, 0.2) <= 0.1][0])
        return stats.binom.sf(b - 1, n, 0.4)

    n_exact = next(n for n in range(1, 121) if exact_test_power(n) >= 0.8)
    table = compare_sample_sizes({"map": MAP, "robust": MAP.robustify(0.2),
                                  "vague": vague_prior()}, **SETTINGS).set_index("prior")
    assert (table["n"] >= n_exact).all()
    assert table.loc["map", "n"] > table.loc["vague", "n"]
    optimistic = BetaMixture(weights=(1.0,), a=(12.0,), b=(18.0,))  # mean 0.4
    assert find_n(optimistic, **SETTINGS).n is None


def test_unreachable_targets_give_none() -> None:
    result = find_n(vague_prior(), **{**SETTINGS, "power": 0.999, "max_n": 20})
    assert result.n is None and result.row() is None and len(result.table) == 20


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="must exceed"):
        find_n(MAP, **{**SETTINGS, "alt_rate": 0.1})
    with pytest.raises(ValueError, match="alpha"):
        find_n(MAP, **{**SETTINGS, "alpha": 0.0})

"""Frequentist reference functions against hand computations on tiny data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from scipy import stats

from rechallenge.analysis.summaries.descriptive import (
    descriptive_table,
    response_by_prior_response,
)
from rechallenge.data.frequentist import (
    collett_median_se,
    exact_proportion_ci,
    fit_km,
    greenwood_variance,
    km_median,
    z_value,
)

# Ten patients: events at 1, 2, 4, 5, 6, 8, 9, 10; censored at 3 and 7.
TIMES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
EVENTS = [1, 1, 0, 1, 1, 1, 0, 1, 1, 1]
# By hand: S(1)=9/10, S(2)=8/10, S(4)=S(2)*6/7, S(5)=S(4)*5/6, S(6)=S(5)*4/5, S(8)=S(6)*2/3.
S4 = 0.8 * 6 / 7
S5 = S4 * 5 / 6
S6 = S5 * 4 / 5
S8 = S6 * 2 / 3
GREENWOOD_SUM_6 = 1 / (10 * 9) + 1 / (9 * 8) + 1 / (7 * 6) + 1 / (6 * 5) + 1 / (5 * 4)


def test_clopper_pearson_13_of_58_known_values() -> None:
    ci = exact_proportion_ci(13, 58)
    # R: binom.test(13, 58)$conf.int -> 0.1250892 0.3527239
    assert ci.lower == pytest.approx(0.1250892, abs=1e-6)
    assert ci.upper == pytest.approx(0.3527239, abs=1e-6)
    assert ci.proportion == pytest.approx(13 / 58)
    # Same interval through the beta-quantile form of Clopper-Pearson.
    assert ci.lower == pytest.approx(stats.beta.ppf(0.025, 13, 46), rel=1e-9)
    assert ci.upper == pytest.approx(stats.beta.ppf(0.975, 14, 45), rel=1e-9)


def test_clopper_pearson_edges_and_level() -> None:
    zero = exact_proportion_ci(0, 10)
    assert zero.lower == 0.0 and zero.upper == pytest.approx(1 - 0.025 ** (1 / 10))
    full = exact_proportion_ci(10, 10)
    assert full.upper == 1.0 and full.lower == pytest.approx(0.025 ** (1 / 10))
    ninety = exact_proportion_ci(13, 58, level=0.90)
    assert ninety.lower == pytest.approx(stats.beta.ppf(0.05, 13, 46), rel=1e-9)
    empty = exact_proportion_ci(0, 0)
    assert math.isnan(empty.proportion) and math.isnan(empty.lower)


@pytest.mark.parametrize(("events", "n", "level"), [(5, 4, 0.95), (-1, 4, 0.95), (1, 4, 1.0)])
def test_proportion_input_errors(events: int, n: int, level: float) -> None:
    with pytest.raises(ValueError):
        exact_proportion_ci(events, n, level)


def test_km_median_lifelines_convention() -> None:
    # No censoring, S = 0.75, 0.5, 0.25, 0: the smallest time with S <= 0.5 is 2
    # (not the midpoint 2.5 some software reports).
    assert km_median([1, 2, 3, 4], [1, 1, 1, 1]).median == 2.0
    assert km_median(TIMES, EVENTS).median == 6.0  # S(5)=0.571 > 0.5 >= S(6)=0.457


def test_greenwood_variance_by_hand() -> None:
    kmf = fit_km(TIMES, EVENTS)
    assert greenwood_variance(kmf, 6.0) == pytest.approx(S6**2 * GREENWOOD_SUM_6, rel=1e-12)


def test_collett_se_by_hand() -> None:
    c = collett_median_se(fit_km(TIMES, EVENTS))
    # u: last event time with S >= 0.55 is 5 (S=0.571); l: first with S <= 0.45 is 8 (S=0.305;
    # S(6)=0.457 is above 0.45 and 7 is a censoring).
    assert (c.u, c.l) == (5.0, 8.0)
    assert (c.s_u, c.s_l) == pytest.approx((S5, S8))
    density = (S5 - S8) / (8 - 5)
    assert c.density == pytest.approx(density)
    assert c.se == pytest.approx(math.sqrt(S6**2 * GREENWOOD_SUM_6) / density)


def test_linear_ci_by_hand() -> None:
    se = math.sqrt(S6**2 * GREENWOOD_SUM_6) / ((S5 - S8) / 3)
    km = km_median(TIMES, EVENTS, method="linear")
    assert km.se == pytest.approx(se)
    assert (km.lower, km.upper) == pytest.approx((6 - 1.959964 * se, 6 + 1.959964 * se), abs=1e-5)
    assert (km.lower, km.upper) == pytest.approx((2.335840, 9.664160), abs=1e-5)
    assert (km.n, km.events) == (10, 8)
    ninety = km_median(TIMES, EVENTS, level=0.90, method="linear")
    assert ninety.upper - 6 == pytest.approx(1.644854 * se, abs=1e-5)


def _loglog_median_ci_by_hand(times: list[float], events: list[int], z: float) -> tuple:
    """Brookmeyer-Crowley: first event times where the log(-log) band of S drops to <= 0.5."""
    t, e = np.asarray(times, float), np.asarray(events)
    s, total, lows, ups, at = 1.0, 0.0, [], [], []
    for u in np.unique(t[e == 1]):
        n, d = np.sum(t >= u), np.sum((t == u) & (e == 1))
        s *= 1 - d / n
        total += d / (n * (n - d)) if n > d else np.inf
        v = math.sqrt(total) / abs(math.log(s)) if 0 < s < 1 else np.inf
        lows.append(s ** math.exp(-z * v))  # S^{exp(+z v)} is the lower band, exp(-z v) the upper
        ups.append(s ** math.exp(z * v))
        at.append(u)
    first = lambda band: next((a for a, b in zip(at, band) if b <= 0.5), np.inf)  # noqa: E731
    return first(ups), first(lows)


def test_loglog_ci_by_hand() -> None:
    km = km_median(TIMES, EVENTS, method="log-log")
    assert (km.lower, km.upper) == _loglog_median_ci_by_hand(TIMES, EVENTS, z_value(0.95))
    assert math.isnan(km.se)
    rng = np.random.default_rng(7)
    t = np.round(rng.exponential(6.0, 40), 2) + 0.01
    e = (rng.uniform(size=40) < 0.8).astype(int)
    km = km_median(t, e, method="log-log")
    assert (km.lower, km.upper) == _loglog_median_ci_by_hand(list(t), list(e), z_value(0.95))


def test_median_not_reached() -> None:
    km = km_median([1, 2, 3, 4], [1, 0, 0, 0])
    assert math.isinf(km.median) and math.isnan(km.se) and math.isnan(km.lower)


def test_both_methods_side_by_side() -> None:
    linear, loglog = km_median(TIMES, EVENTS, method="linear"), km_median(TIMES, EVENTS, method="log-log")
    assert (linear.method, loglog.method) == ("linear", "log-log")
    assert linear.median == loglog.median == 6.0


@pytest.mark.parametrize(("times", "events"), [([1, -2], [1, 1]), ([1, 2], [1, 2]),
                                               ([1, float("nan")], [1, 1]), ([], []),
                                               ([1, 2], [1])])
def test_km_input_errors(times: list, events: list) -> None:
    with pytest.raises(ValueError):
        km_median(times, events)


def test_unknown_median_method() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        km_median([1, 2], [1, 1], method="plain")  # type: ignore[arg-type]


def _tiny_study() -> pd.DataFrame:
    rows = []
    for i, (r1, r2, t1, t2) in enumerate([("PD", "PR", 1.0, 7.0), ("PD", "PD", 2.0, 1.5),
                                          ("SD", "SD", 5.0, 4.0), ("PR", "CR", 9.0, 12.0)]):
        for line, r, t, ln in (("ICI-1", r1, t1, 1), ("ICI-2", r2, t2, 3 + i)):
            rows.append({"site": "S01" if i < 2 else "S02", "patient_id": f"P{i}", "line": line,
                         "best_response": r, "ttp_months": t, "progressed": 1,
                         "trae_grade_3_4": int(i == 0), "regimen_class": "ici_alone",
                         "line_number": ln, "sex": "M", "age": 60})
    return pd.DataFrame(rows)


def test_descriptive_table_by_hand() -> None:
    table = descriptive_table(_tiny_study())
    one, two = table.loc["ICI-1"], table.loc["ICI-2"]
    assert (one.n_patients, one.response_n, two.response_n) == (4, 1, 2)
    assert (one.disease_control_n, two.disease_control_n) == (2, 3)
    assert one.response_lower == pytest.approx(exact_proportion_ci(1, 4).lower)
    assert one.ttp_median == 2.0 and two.ttp_median == 4.0  # S drops to 0.5 at the 2nd event
    assert (two.line_number_median, two.line_number_min, two.line_number_max) == (4.5, 3, 6)
    assert (one.regimen_ici_alone, one.regimen_dual_ici) == (4, 0)
    assert table.attrs["level"] == 0.95
    with pytest.raises(ValueError, match="not in lines"):
        descriptive_table(_tiny_study(), lines=("ICI-1",))


def test_cross_table_by_hand() -> None:
    cross = response_by_prior_response(_tiny_study())
    assert cross.loc["PD", ["no", "yes", "n"]].tolist() == [1, 1, 2]
    assert cross.loc["PR", "yes"] == 1 and cross.loc["SD", "yes"] == 0
    assert cross.loc["NE", "n"] == 0 and math.isnan(cross.loc["NE", "proportion"])
    assert cross.loc["Total", ["yes", "n"]].tolist() == [2, 4]
    dc = response_by_prior_response(_tiny_study(), endpoint="disease_control")
    assert dc.loc["PD", "yes"] == 1 and dc.loc["SD", "yes"] == 1


def test_newcombe_paired_interval_matches_r_contingencytables() -> None:
    """Cavo et al. 2012 (Fagerland et al. 2017, chapter 8): R's contingencytables gives
    -0.0621 (-0.1186 to -0.0046) for first minus second; ours is second minus first."""
    from rechallenge.data.paired import newcombe_paired_difference

    d = newcombe_paired_difference(59, 6, 16, 80)
    assert (round(d.difference, 4), round(d.lower, 4), round(d.upper, 4)) == (0.0621, 0.0046,
                                                                              0.1186)
    # No discordant pair: the difference is 0 and the interval still has width.
    same = newcombe_paired_difference(10, 0, 0, 10)
    assert same.difference == 0 and same.lower < 0 < same.upper
    # At the edge (everyone responds at the second line only) the interval stays in [-1, 1].
    edge = newcombe_paired_difference(0, 0, 12, 0)
    assert edge.difference == 1 and -1 <= edge.lower < 1 and edge.upper == 1
    with pytest.raises(ValueError, match="paired counts"):
        newcombe_paired_difference(0, 0, 0, 0)


def test_newcombe_paired_interval_covers_near_its_level() -> None:
    """Over simulated paired studies of 58 patients the 95% interval covers the true
    difference about 95% of the time (Newcombe reports 0.93-0.97 for method 10)."""
    from rechallenge.data.paired import newcombe_paired_difference

    rng = np.random.default_rng(SEED)
    cells = np.array([0.15, 0.08, 0.12, 0.65])  # both, first only, second only, neither
    truth = (cells[0] + cells[2]) - (cells[0] + cells[1])
    hits = 0
    for _ in range(1000):
        a, b, c, d = rng.multinomial(58, cells)
        ci = newcombe_paired_difference(int(a), int(b), int(c), int(d))
        hits += ci.lower <= truth <= ci.upper
    assert 0.93 <= hits / 1000 <= 0.975, hits / 1000


def test_the_crude_difference_of_table_2_carries_the_paired_interval() -> None:
    import rechallenge.analysis.families  # noqa: F401
    from rechallenge.analysis.summaries.reference import binary_reference
    from rechallenge.data.endpoints import paired_table
    from rechallenge.data.load import example_study
    from rechallenge.data.paired import newcombe_paired_difference

    study = example_study()
    ref = binary_reference(study, "response", 0.95)[("difference_population", "ICI-2 vs ICI-1")]
    wide = paired_table(study.patients, "response", study.lines)
    x, y = wide["ICI-1"] == 1, wide["ICI-2"] == 1
    by_hand = newcombe_paired_difference(int((x & y).sum()), int((x & ~y).sum()),
                                         int((~x & y).sum()), int((~x & ~y).sum()))
    assert (ref.estimate, ref.lower, ref.upper) == (by_hand.difference, by_hand.lower,
                                                    by_hand.upper)
    assert ref.estimate == pytest.approx(15 / 58 - 13 / 58) and ref.lower < 0 < ref.upper

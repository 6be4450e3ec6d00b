"""Frequentist references (and the text around them) on data that validate but leave an estimate
undefined.

No progression at all, none at one line, every or no patient with the event: the Cox hazard
ratio, the ratio of medians and the odds ratio do not exist there. Each is reported "not
estimable" with its reason (never a crash, never a meaningless number); a Kaplan-Meier median
the curve never reaches is "not reached". The whole run on such studies: test_degenerate_runs.py.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from rechallenge.analysis.plots.survival import km_data
from rechallenge.analysis.reporting import reader_tables as rd
from rechallenge.analysis.reporting import run_tables as rt
from rechallenge.analysis.reporting.estimates import reference_cell
from rechallenge.analysis.reporting.headline import headline_table
from rechallenge.analysis.reporting.prose import methods_paragraph
from rechallenge.analysis.reporting.report_text import unchecked_sentence
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.conflict import binary_conflict, conflict_table, not_checked
from rechallenge.analysis.summaries.diagnostics import Thresholds
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.reference import (
    NOT_ESTIMABLE,
    Reference,
    cox_hazard_ratio,
    cox_separation,
    not_estimable,
)
from rechallenge.data import Study, example_study, schema
from rechallenge.data.frequentist import collett_median_se, fit_km
from rechallenge.models.binary import BINARY_PRIORS
from rechallenge.models.priors import Priors

LINES = schema.DEFAULT_LINES
C = f"{LINES[1]} vs {LINES[0]}"


def edited(**columns) -> Study:
    """The shipped study with some columns replaced (a function of the patient table each)."""
    study = example_study()
    patients = study.patients.copy()
    for name, values in columns.items():
        patients[name] = values(patients)
    return replace(study, patients=patients)


def at_line(line: str, value, otherwise: str):
    """A column set to ``value`` at ``line`` and kept as it is at the other lines."""
    return lambda p: p[otherwise].where(p[schema.LINE] != line, value)


def test_no_progression_at_all_is_not_estimable_not_a_crash() -> None:
    # The issue's study: every patient censored. lifelines' Cox fit raised ConvergenceError.
    ref = rt.frequentist_reference(edited(progressed=lambda p: 0), "ttp", 0.95)
    hr = ref[("hazard_ratio", C)]
    assert not hr.estimable and math.isnan(hr.estimate)
    assert hr.note.startswith(NOT_ESTIMABLE) and "no progression at ICI-1 or ICI-2" in hr.note
    for line in LINES:
        median = ref[("median_population", line)]
        assert median.estimate == math.inf and median.estimable and "not reached" in median.note
    ratio = ref[("median_ratio_population", C)]
    assert not ratio.estimable and "median not reached at ICI-1 and ICI-2" in ratio.note


def test_no_progression_at_one_line_is_not_estimable_not_a_tiny_hazard_ratio() -> None:
    # Before: lifelines "converged" to HR 1.6e-9 (0.0 to 0.0), a number with no meaning.
    study = edited(progressed=at_line("ICI-2", 0, schema.PROGRESSED))
    ref = rt.frequentist_reference(study, "ttp", 0.95)
    hr = ref[("hazard_ratio", C)]
    assert not hr.estimable and "no progression at ICI-2" in hr.note
    assert ref[("median_population", "ICI-1")].estimate == pytest.approx(5.37)
    assert ref[("median_population", "ICI-2")].estimate == math.inf
    assert "median not reached at ICI-2" in ref[("median_ratio_population", C)].note


def test_cox_reference_is_lifelines_where_it_exists() -> None:
    study = example_study()
    hr = rt.frequentist_reference(study, "ttp", 0.95)[("hazard_ratio", C)]
    p = study.patients
    frame = pd.DataFrame({"t": p[schema.TTP_MONTHS], "e": p[schema.PROGRESSED],
                          "later": (p[schema.LINE] == "ICI-2").astype(float),
                          "patient": p[schema.SITE] + "/" + p[schema.PATIENT_ID]})
    cox = CoxPHFitter().fit(frame, "t", "e", cluster_col="patient")
    assert hr.estimable and hr.note == ""
    assert hr.estimate == pytest.approx(float(np.exp(cox.params_["later"])))
    assert (hr.lower, hr.upper) == pytest.approx(
        tuple(np.exp(cox.confidence_intervals_.loc["later"])))


def test_cox_separation_by_timing_alone() -> None:
    # Both groups progress, but every progression of group 1 comes after the last patient of
    # group 0 has left follow-up: the partial likelihood keeps rising as the log HR falls.
    t = [1, 2, 3, 5, 6, 7]
    e = [1, 1, 0, 1, 1, 1]
    g = [0, 0, 0, 1, 1, 1]
    why = cox_separation(t, e, g, labels=("A", "B"))
    assert why == "every progression at B came after the last patient at A had left follow-up"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns, then reports a "converged" estimate
        cox = CoxPHFitter().fit(pd.DataFrame({"t": t, "e": e, "g": g}), "t", "e")
    assert abs(float(cox.params_["g"])) > 5  # runs off towards infinity
    assert not cox_hazard_ratio(t, e, g, list(range(6))).estimable
    # One overlapping progression is enough for a maximum.
    overlap = [1, 2, 6, 5, 6, 7]
    assert cox_separation(overlap, e, g) == ""
    assert cox_hazard_ratio(overlap, e, g, list(range(6))).estimable


@pytest.mark.parametrize(("events", "reason"), [
    ([0, 0, 0, 0], "no progression at group 0 or group 1"),
    ([1, 1, 0, 0], "no progression at group 1"),
    ([0, 0, 1, 1], "no progression at group 0"),
])
def test_cox_separation_without_progression(events: list[int], reason: str) -> None:
    assert cox_separation([1, 2, 3, 4], events, [0, 0, 1, 1]) == reason


def test_odds_ratio_not_estimable_when_every_or_no_patient_has_the_event() -> None:
    study = edited(best_response=lambda p: np.where(p[schema.LINE] == "ICI-1", "PD", "CR"))
    ref = rt.frequentist_reference(study, "response", 0.95)
    odds = ref[("odds_ratio_typical_site", C)]
    assert not odds.estimable
    assert "no patient had the event at ICI-1" in odds.note
    assert "every patient had the event at ICI-2" in odds.note
    assert ref[("difference_population", C)].estimate == pytest.approx(1.0)
    assert ref[("probability_population", "ICI-2")].lower == pytest.approx(0.025 ** (1 / 58))


def test_comparison_table_carries_the_reason() -> None:
    study = edited(progressed=lambda p: 0)
    summary = pd.DataFrame({"quantity": ["median_population", "hazard_ratio"],
                            "line": ["ICI-1", C], "median": [9.0, 1.1], "lower": [5.0, 0.5],
                            "upper": [20.0, 2.0], "mean": [9.5, 1.2], "sd": [1.0, 0.3]})
    result = EndpointResults("ttp", summary, pd.DataFrame())
    table = rt.comparison(result, study, Interval())
    notes = dict(zip(table.frame["quantity"], table.frame["freq_note"]))
    assert notes["hazard_ratio"].startswith("not estimable: no progression at ICI-1 or ICI-2")
    assert "not reached" in notes["median_population"]
    assert "freq_note" in table.caption


def _empty_results(endpoint: str) -> dict[str, EndpointResults]:
    summary = pd.DataFrame(columns=["quantity", "line", "median", "lower", "upper", "mean", "sd"])
    return {endpoint: EndpointResults(endpoint, summary, pd.DataFrame())}


def test_headline_writes_not_estimable_and_not_reached() -> None:
    study = edited(progressed=at_line("ICI-2", 0, schema.PROGRESSED))
    table = headline_table(_empty_results("ttp"), study, Interval())
    row = table.frame.iloc[-1]
    assert row["ICI-1"].startswith("5.4 (")
    assert row["ICI-2"] == "not reached"
    assert row[C] == ("Hazard ratio (Cox) not estimable (no progression at ICI-2: the Cox "
                      "partial likelihood has no maximum)")
    assert "'not estimable'" in table.caption
    # Where every estimate exists, the caption does not explain what is absent.
    plain = headline_table(_empty_results("ttp"), example_study(), Interval())
    assert "not estimable" not in plain.caption


def test_descriptive_reader_table_says_not_estimable() -> None:
    study = edited(progressed=lambda p: 0)
    reader = rd.descriptive_table(rt.descriptive(study, Interval()), study.lines)
    cells = dict(zip(reader.frame["Statistic"], reader.frame["ICI-1"]))
    # In Table 2's style: the median and its interval in one cell, and why the interval is absent.
    assert cells["Median TTP, months (Kaplan-Meier; linear CI)"] == "not reached (CI not estimable)"
    assert cells["Median TTP: standard error"] == NOT_ESTIMABLE
    assert cells["Objective response (CR or PR): proportion (exact CI)"] == "22.4% (12.5 to 35.3)"
    assert cells["Progressions"] == "0"


def test_reference_cell() -> None:
    assert reference_cell(None, "ratio") == ""
    assert reference_cell(not_estimable("why"), "ratio") == "not estimable (why)"
    assert reference_cell(Reference(math.inf, math.nan, math.nan, "median not reached"),
                          "months") == "not reached"
    assert reference_cell(Reference(2.0, 1.0, 3.0), "months") == "2.0 (1.0 to 3.0)"
    assert reference_cell(Reference(2.0, note="confidence interval not estimable: ..."),
                          "months") == "2.0 (CI not estimable)"


def test_conflict_table_lists_what_could_not_be_checked() -> None:
    draws = np.linspace(0.1, 0.5, 200)
    rows = [binary_conflict(draws, 10, 3, site="S15", endpoint="response", line="ICI-1"),
            not_checked("median not reached", site="S15", endpoint="ttp", line="ICI-2")]
    table = conflict_table(rows)
    assert table["note"].tolist() == ["", "not checked: median not reached"]
    assert table["flagged"].tolist() == [False, False]
    assert math.isnan(table["p_value"].iloc[1])
    assert table.attrs["interval"] == ["95% CrI (ET)"]
    assert unchecked_sentence(table) == (
        " Not checked: S15 time to progression at ICI-2 (median not reached).")
    assert unchecked_sentence(table.iloc[:1]) == ""
    with pytest.raises(ValueError, match="p_value"):
        conflict_table([{"site": "S1"}])


def test_km_step_table_and_collett_with_a_single_patient() -> None:
    # One patient per line: lifelines' predict gives a scalar for one time, which broke both.
    patients = pd.DataFrame({schema.LINE: ["ICI-1", "ICI-2"], schema.TTP_MONTHS: [3.0, 5.0],
                             schema.PROGRESSED: [1, 0]})
    km = km_data(patients, LINES)
    assert km["survival"].tolist() == [1.0, 0.0, 1.0, 1.0]
    c = collett_median_se(fit_km([3.0], [1]))
    assert c.median == 3.0 and math.isnan(c.se)


def _methods(n_patients: int, n_sites: int) -> str:
    attrs = {"sampler": {"backend": "nutpie", "chains": 2, "draws": 100, "tune": 100,
                         "target_accept": 0.9, "seed": 1},
             "versions": {}, "priors": Priors(BINARY_PRIORS, model="binary").to_dict(),
             "options": {"pooling": "partial"}}
    return methods_paragraph(fit_attrs={"response": attrs}, interval=Interval(),
                             thresholds=Thresholds(), n_patients=n_patients, n_sites=n_sites,
                             lines=LINES, synthetic=False, sensitivity=False, comparators=False)


def test_methods_paragraph_counts_and_a_single_site() -> None:
    one = _methods(1, 1)
    assert "1 patient at 1 institution," in one
    assert "the between-site standard deviations (\u03c4) rest on their prior" in one
    # The frequentist references named are those of the run's kinds of endpoint (binary here).
    assert "(Clopper-Pearson) confidence intervals [" in one and "Cox model" not in one
    many = _methods(58, 14)
    assert "58 patients at 14 institutions," in many and "single institution" not in many

"""Every published figure of Scheiner et al. 2023 that the shipped SYNTHETIC dataset can carry.

The shipped CSV is read from the installed package (not through the loader, which is tested
elsewhere), and each figure of the abstract is checked on its own.
"""

from __future__ import annotations

from importlib.resources import files

import pandas as pd
import pytest

from rechallenge.analysis.summaries.descriptive import (
    descriptive_table,
    response_by_prior_response,
)
from rechallenge.data import schema
from rechallenge.data.frequentist import km_median

LINES = ("ICI-1", "ICI-2")


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    resource = files("rechallenge.data") / "synthetic_scheiner2023.csv"
    with resource.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype={schema.PATIENT_ID: str, schema.SITE: str})


@pytest.fixture(scope="module")
def wide(shipped: pd.DataFrame) -> pd.DataFrame:
    """One row per patient, columns (variable, line)."""
    return shipped.pivot(index=[schema.SITE, schema.PATIENT_ID], columns=schema.LINE)


def _line(df: pd.DataFrame, line: str) -> pd.DataFrame:
    return df[df[schema.LINE] == line]


def test_file_name_says_synthetic() -> None:
    assert "synthetic" in "synthetic_scheiner2023.csv"
    assert (files("rechallenge.data") / "synthetic_scheiner2023.csv").is_file()


def test_columns_and_order(shipped: pd.DataFrame) -> None:
    assert list(shipped.columns) == [
        schema.SITE, schema.PATIENT_ID, schema.LINE, schema.BEST_RESPONSE, schema.TTP_MONTHS,
        schema.PROGRESSED, schema.TRAE_GRADE_3_4, schema.REGIMEN_CLASS, schema.LINE_NUMBER,
        schema.SEX, schema.AGE,
    ]
    key = [schema.SITE, schema.PATIENT_ID, schema.LINE]
    assert shipped[key].equals(shipped.sort_values(key)[key].reset_index(drop=True))
    assert not shipped.duplicated(key).any()


def test_58_patients_116_rows(shipped: pd.DataFrame, wide: pd.DataFrame) -> None:
    assert len(shipped) == 116
    assert len(wide) == 58
    assert shipped.groupby([schema.SITE, schema.PATIENT_ID]).size().eq(2).all()
    assert set(shipped[schema.LINE]) == set(LINES)


def test_14_sites_uneven(shipped: pd.DataFrame) -> None:
    per_site = shipped.groupby(schema.SITE)[schema.PATIENT_ID].nunique()
    assert list(per_site.index) == [f"S{i:02d}" for i in range(1, 15)]
    assert per_site.sum() == 58
    assert per_site.nunique() > 1  # per-site counts are not published; the allocation is uneven


def test_41_male_and_sex_constant(shipped: pd.DataFrame, wide: pd.DataFrame) -> None:
    assert (wide[(schema.SEX, "ICI-1")] == wide[(schema.SEX, "ICI-2")]).all()
    assert (wide[(schema.SEX, "ICI-1")] == "M").sum() == 41
    assert set(shipped[schema.SEX]) <= set(schema.SEXES)


def test_age_mean_65_sd_9(wide: pd.DataFrame) -> None:
    assert (wide[(schema.AGE, "ICI-1")] == wide[(schema.AGE, "ICI-2")]).all()
    age = wide[(schema.AGE, "ICI-1")]
    assert round(age.mean(), 1) == 65.0
    assert round(age.std(ddof=1), 1) == 9.0  # sample SD


@pytest.mark.parametrize(("line", "expected"), [("ICI-1", (1, 1, 4)), ("ICI-2", (3, 2, 9))])
def test_line_number_median_range(shipped: pd.DataFrame, line: str, expected: tuple) -> None:
    ln = _line(shipped, line)[schema.LINE_NUMBER]
    assert (ln.median(), ln.min(), ln.max()) == expected


def test_ici2_is_a_later_line(wide: pd.DataFrame) -> None:
    assert (wide[(schema.LINE_NUMBER, "ICI-2")] > wide[(schema.LINE_NUMBER, "ICI-1")]).all()


@pytest.mark.parametrize(("line", "expected"), [
    ("ICI-1", {"ici_alone": 26, "dual_ici": 1, "ici_targeted": 31}),
    ("ICI-2", {"ici_alone": 4, "dual_ici": 12, "ici_targeted": 42}),
])
def test_regimen_mix(shipped: pd.DataFrame, line: str, expected: dict) -> None:
    assert _line(shipped, line)[schema.REGIMEN_CLASS].value_counts().to_dict() == expected


@pytest.mark.parametrize(("line", "responders", "pct"), [("ICI-1", 13, 22), ("ICI-2", 15, 26)])
def test_objective_response(shipped: pd.DataFrame, line: str, responders: int, pct: int) -> None:
    best = _line(shipped, line)[schema.BEST_RESPONSE]
    assert set(best) <= set(schema.RESPONSES)
    assert best.isin(schema.RESPONSE_EVENTS).sum() == responders
    assert round(100 * responders / 58) == pct


def test_11_of_21_pd_respond_at_ici2(shipped: pd.DataFrame) -> None:
    cross = response_by_prior_response(shipped)
    assert (cross.loc["PD", "yes"], cross.loc["PD", "n"]) == (11, 21)
    assert round(100 * cross.loc["PD", "proportion"]) == 52
    # Literal reading: the other 37 patients contribute the remaining 4 responders.
    others = cross.drop(index=["PD", "Total"])
    assert (others["yes"].sum(), others["n"].sum()) == (4, 37)
    assert cross.loc["PD", "proportion"] == pytest.approx(11 / 21)


@pytest.mark.parametrize(("line", "events", "pct"), [("ICI-1", 9, 16), ("ICI-2", 10, 17)])
def test_grade_3_4_trae(shipped: pd.DataFrame, line: str, events: int, pct: int) -> None:
    trae = _line(shipped, line)[schema.TRAE_GRADE_3_4]
    assert set(trae) <= {0, 1}
    assert trae.sum() == events
    assert round(100 * events / 58) == pct


def test_52_progressions_at_ici1(shipped: pd.DataFrame) -> None:
    one = _line(shipped, "ICI-1")
    assert one[schema.PROGRESSED].sum() == 52
    assert round(100 * 52 / 58) == 90
    # Every PD best response is an observed progression (clinical coherence).
    assert one.loc[one[schema.BEST_RESPONSE] == "PD", schema.PROGRESSED].eq(1).all()


@pytest.mark.parametrize(("line", "published"), [("ICI-1", (5.4, 3.0, 7.7)),
                                                 ("ICI-2", (5.2, 3.3, 7.0))])
def test_km_median_ttp_linear_ci(shipped: pd.DataFrame, line: str, published: tuple) -> None:
    rows = _line(shipped, line)
    assert (rows[schema.TTP_MONTHS] > 0).all()
    assert set(rows[schema.PROGRESSED]) <= {0, 1}
    km = km_median(rows[schema.TTP_MONTHS], rows[schema.PROGRESSED], method="linear")
    assert km.median == pytest.approx(published[0], abs=0.1)
    assert km.lower == pytest.approx(published[1], abs=0.2)
    assert km.upper == pytest.approx(published[2], abs=0.2)
    # Stronger: printed to one decimal, the figures read exactly as published.
    assert tuple(round(v, 1) for v in (km.median, km.lower, km.upper)) == published


def test_ttp_has_two_decimals(shipped: pd.DataFrame) -> None:
    t = shipped[schema.TTP_MONTHS]
    assert ((t * 100).round() - t * 100).abs().max() < 1e-6


def test_descriptive_table_reproduces_abstract(shipped: pd.DataFrame) -> None:
    table = descriptive_table(shipped)
    assert list(table.index) == list(LINES)
    assert table.loc["ICI-1", "response_n"] == 13 and table.loc["ICI-2", "response_n"] == 15
    assert table.loc["ICI-1", "toxicity_n"] == 9 and table.loc["ICI-2", "toxicity_n"] == 10
    assert table.loc["ICI-1", "progression_events"] == 52
    assert table.loc["ICI-2", "regimen_dual_ici"] == 12
    medians = table[["ttp_median", "ttp_lower", "ttp_upper"]].round(1)
    assert medians.loc["ICI-1"].tolist() == [5.4, 3.0, 7.7]
    assert medians.loc["ICI-2"].tolist() == [5.2, 3.3, 7.0]
    lines = table[["line_number_median", "line_number_min", "line_number_max"]]
    assert lines.loc["ICI-1"].tolist() == [1, 1, 4] and lines.loc["ICI-2"].tolist() == [3, 2, 9]
    assert "linear" in table.attrs["median_interval"]
    assert "Clopper-Pearson" in table.attrs["proportion_interval"]
    assert table.attrs["level"] == 0.95

"""Validation rules: every kind of bad value is reported with file, row, column and value."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from rechallenge.data import (
    DataValidationError,
    ValidationIssue,
    read_aggregate,
    read_patients,
    schema,
    validate_aggregate,
    validate_patients,
)

HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")
GOOD = [
    "S01,P01,ICI-1,PR,5.2,1,0,ici_alone,1,M,64",
    "S01,P01,ICI-2,PD,3.1,1,1,dual_ici,2,M,64",
    "S02,P02,ICI-1,NE,1.0,0,0,,1,F,70",
    "S02,P02,ICI-2,SD,8.0,0,0,ici_targeted,3,F,70",
]
AGG_HEADER = "site,line,endpoint,n,events,median_months,median_lower,median_upper"
AGG_GOOD = [
    "S10,ICI-1,response,12,3,,,",
    "S10,ICI-2,response,10,4,,,",
    "S10,ICI-1,ttp,12,9,5.4,3.0,7.7",
]


def write(tmp_path: Path, rows: list[str], name: str = "patients.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def with_cell(row: str, column: str, value: str, header: str = HEADER) -> str:
    cells = row.split(",")
    cells[header.split(",").index(column)] = value
    return ",".join(cells)


def issues_of(call, *args, **kwargs) -> tuple[ValidationIssue, ...]:
    with pytest.raises(DataValidationError) as info:
        call(*args, **kwargs)
    return info.value.issues


def only_issue(call, *args, **kwargs) -> ValidationIssue:
    issues = issues_of(call, *args, **kwargs)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


# ---- ValidationIssue and DataValidationError -------------------------------------------------

def test_issue_message_names_file_row_column_value_and_expectation():
    issue = ValidationIssue("patients.csv", 7, "ttp_months", "-2.0", "a number > 0")
    assert str(issue) == "patients.csv, row 7, column 'ttp_months': got '-2.0', expected a number > 0"


def test_file_level_issue_and_blank_cell_messages():
    assert str(ValidationIssue("p.csv", None, None, None, "an existing file")) == \
        "p.csv: expected an existing file"
    assert "got a blank cell" in str(ValidationIssue("p.csv", 3, "site", "", "a site label"))


def test_error_lists_every_issue_numbered_and_explains_row_numbering():
    issues = [ValidationIssue("a.csv", 2, "x", "1", "2"), ValidationIssue("a.csv", 3, "y", "3", "4")]
    error = DataValidationError(issues)
    text = str(error)
    assert isinstance(error, ValueError)
    assert error.issues == tuple(issues)
    assert text.startswith("2 problems in the input data")
    assert "the header is row 1, the first data row is row 2" in text
    assert "1. a.csv, row 2, column 'x'" in text and "2. a.csv, row 3, column 'y'" in text


def test_error_survives_pickling():
    error = DataValidationError([ValidationIssue("a.csv", 2, "x", "1", "2")])
    again = pickle.loads(pickle.dumps(error))
    assert again.issues == error.issues and str(again) == str(error)


# ---- patient table: one bad cell at a time (row 3 = second data row) ---------------------------

@pytest.mark.parametrize("column, value, fragment", [
    ("line", "ICI-3", "one of the line labels ICI-1, ICI-2"),
    ("best_response", "XX", "one of CR, PR, SD, PD, NE"),
    ("best_response", "", "one of CR, PR, SD, PD, NE"),
    ("ttp_months", "-2.0", "a number of months > 0"),
    ("ttp_months", "0", "a number of months > 0"),
    ("ttp_months", "", "a number of months > 0"),
    ("ttp_months", "NaN", "a number of months > 0"),
    ("ttp_months", "inf", "a number of months > 0"),
    ("ttp_months", "3,1", "a number of months > 0"),  # quoted below so it stays one cell
    ("ttp_months", "abc", "a number of months > 0"),
    ("progressed", "2", "0 or 1"),
    ("progressed", "yes", "0 or 1"),
    ("progressed", "", "0 or 1"),
    ("trae_grade_3_4", "0.5", "0 or 1"),
    ("site", "", "a site label"),
    ("site", "  ", "a site label"),
    ("patient_id", "", "a patient identifier"),
    ("line_number", "0", "a whole number >= 1"),
    ("line_number", "2.5", "a whole number >= 1"),
    ("line_number", "-1", "a whole number >= 1"),
    ("sex", "X", "M or F"),
    ("age", "old", "an age in years from 0 to 120"),
    ("age", "-1", "an age in years from 0 to 120"),
    ("age", "121", "an age in years from 0 to 120"),
])
def test_bad_patient_cell_is_reported_verbatim_with_its_location(tmp_path, column, value, fragment):
    cell = f'"{value}"' if "," in value else value
    rows = [GOOD[0], with_cell(GOOD[1], column, cell), *GOOD[2:]]
    if column in ("sex", "age"):  # keep the patient's other line consistent: one issue only
        rows[0] = with_cell(rows[0], column, "")
    issue = only_issue(read_patients, write(tmp_path, rows))
    assert (issue.file, issue.row, issue.column, issue.value) == (
        str(tmp_path / "patients.csv"), 3, column, value)
    assert fragment in issue.expected
    assert f"row 3, column '{column}'" in str(issue)


def test_duplicate_patient_line_names_both_rows(tmp_path):
    issue = only_issue(read_patients, write(tmp_path, [*GOOD, GOOD[2]]))
    assert (issue.row, issue.column, issue.value) == (6, "line", "ICI-1")
    assert "site 'S02', patient 'P02', line ICI-1 already appears on row 4" in str(issue)


@pytest.mark.parametrize("column, first, second", [("sex", "F", "M"), ("age", "70", "71.5")])
def test_patient_level_value_changing_between_lines_names_both_rows(tmp_path, column, first, second):
    rows = [*GOOD[:3], with_cell(GOOD[3], column, second)]
    issue = only_issue(read_patients, write(tmp_path, rows))
    assert (issue.row, issue.column, issue.value) == (5, column, second)
    assert f"the same {column} as on row 4 ('{first}')" in issue.expected


def test_patient_level_values_equal_in_value_but_not_in_text_are_consistent(tmp_path):
    rows = [*GOOD[:3], with_cell(with_cell(GOOD[3], "age", "70.0"), "sex", " f ")]
    df = read_patients(write(tmp_path, rows))
    assert df.loc[3, "sex"] == "F" and df.loc[3, "age"] == 70.0


def test_missing_patient_level_value_on_one_line_is_not_a_conflict(tmp_path):
    rows = [*GOOD[:3], with_cell(with_cell(GOOD[3], "age", ""), "sex", "NA")]
    df = read_patients(write(tmp_path, rows))
    assert pd.isna(df.loc[3, "age"]) and df.loc[3, "sex"] is None


def test_line_number_must_increase_with_line_order(tmp_path):
    rows = [GOOD[0], with_cell(GOOD[1], "line_number", "1"), *GOOD[2:]]
    issue = only_issue(read_patients, write(tmp_path, rows))
    assert (issue.row, issue.column, issue.value) == (3, "line_number", "1")
    assert "a line_number above 1 (ICI-1 on row 2)" in issue.expected


def test_normalisation_of_case_and_whitespace(tmp_path):
    rows = [with_cell(with_cell(GOOD[0], "line", " ici-1 "), "best_response", "pr"), *GOOD[1:]]
    df = read_patients(write(tmp_path, rows, header=HEADER.replace("site", " Site ")))
    assert df.loc[0, "line"] == "ICI-1" and df.loc[0, "best_response"] == "PR"
    assert df.loc[0, "site"] == "S01"


def test_missing_required_column_names_the_columns_present(tmp_path):
    header = HEADER.replace(",ttp_months", "")
    rows = [",".join(c for i, c in enumerate(r.split(",")) if i != 4) for r in GOOD]
    issue = only_issue(read_patients, write(tmp_path, rows, header=header))
    assert (issue.row, issue.column, issue.value) == (None, "ttp_months", None)
    assert "needed for the endpoint 'ttp'" in issue.expected
    assert "site, patient_id, line, best_response, progressed" in issue.expected


def test_columns_are_required_only_for_the_endpoints_analysed(tmp_path):
    header = "site,patient_id,line,best_response"
    rows = ["S01,P01,ICI-1,PR", "S01,P01,ICI-2,SD"]
    df = read_patients(write(tmp_path, rows, header=header), endpoints=("response",))
    assert list(df.columns) == ["site", "patient_id", "line", "best_response"]
    issues = issues_of(read_patients, write(tmp_path, rows, header=header))
    assert {i.column for i in issues} == {"ttp_months", "progressed", "trae_grade_3_4"}


def test_columns_of_endpoints_not_analysed_may_have_gaps_but_not_bad_values(tmp_path):
    rows = [with_cell(GOOD[0], "trae_grade_3_4", ""), *GOOD[1:]]
    df = read_patients(write(tmp_path, rows), endpoints=("response", "ttp"))
    assert str(df["trae_grade_3_4"].dtype) == "Int64" and pd.isna(df.loc[0, "trae_grade_3_4"])
    rows = [with_cell(GOOD[0], "trae_grade_3_4", "7"), *GOOD[1:]]
    issue = only_issue(read_patients, write(tmp_path, rows), endpoints=("response",))
    assert (issue.row, issue.column, issue.value) == (2, "trae_grade_3_4", "7")


def test_custom_line_labels(tmp_path):
    rows = [with_cell(r, "line", {"ICI-1": "L1", "ICI-2": "L2"}[r.split(",")[2]]) for r in GOOD]
    df = read_patients(write(tmp_path, rows), lines=("L1", "L2"))
    assert list(df["line"]) == ["L1", "L2", "L1", "L2"]
    issues = issues_of(read_patients, write(tmp_path, rows))
    assert len(issues) == 4 and "one of the line labels ICI-1, ICI-2" in issues[0].expected


def test_a_file_with_many_errors_reports_all_of_them_at_once(tmp_path):
    rows = [
        "S01,P01,ICI-1,PR,5.2,1,0,ici_alone,1,M,64",
        "S01,P01,ICI-3,XX,-2.0,2,yes,dual_ici,0,M,65",   # row 3: six cell problems + age change
        "",                                               # row 4: blank, ignored, still counted
        ",P02,ICI-1,NE,,0,0,,1,F,70",                     # row 5: blank site and ttp
        "S01,P01,ICI-1,SD,NaN,0,0,,3,Q,170",              # row 6: duplicate, NaN, sex, age
        "S03,P09,ICI-1,SD,4,0,0,,2,F,50",
        "S03,P09,ICI-2,SD,4,0,0,,2,M,50,extra",           # row 8: one cell too many
        "S03,P09,ICI-2,SD,4,0,0,,2,M,50",                 # row 9: sex change, line number
    ]
    issues = issues_of(read_patients, write(tmp_path, rows, name="bad.csv"))
    found = {(i.row, i.column, i.value) for i in issues}
    assert found == {
        (3, "line", "ICI-3"), (3, "best_response", "XX"), (3, "ttp_months", "-2.0"),
        (3, "progressed", "2"), (3, "trae_grade_3_4", "yes"), (3, "line_number", "0"),
        (3, "age", "65"),
        (5, "site", ""), (5, "ttp_months", ""),
        (6, "ttp_months", "NaN"), (6, "sex", "Q"), (6, "age", "170"), (6, "line", "ICI-1"),
        (8, None, None),
        (9, "sex", "M"), (9, "line_number", "2"),
    }
    assert [i.row for i in issues] == sorted(i.row for i in issues)
    assert all(i.file.endswith("bad.csv") for i in issues)


# ---- in-memory DataFrames ----------------------------------------------------------------------

def good_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "site": ["S01", "S01"], "patient_id": ["P1", "P1"], "line": ["ICI-1", "ICI-2"],
        "best_response": ["PR", "SD"], "ttp_months": [4.0, 2.5], "progressed": [True, False],
        "trae_grade_3_4": [0, 1], "age": [61, 61],
    })


def test_validate_patients_on_a_dataframe_returns_a_typed_copy():
    df = good_frame()
    out = validate_patients(df)
    assert out is not df and df["progressed"].dtype == bool
    assert out["progressed"].tolist() == [1, 0] and out["progressed"].dtype == "int64"
    assert out["age"].dtype == "float64"
    pd.testing.assert_frame_equal(validate_patients(out), out)  # idempotent


def test_dataframe_rows_are_numbered_as_in_a_csv_and_nan_is_an_error():
    df = good_frame()
    df.loc[1, "ttp_months"] = float("nan")
    issue = only_issue(validate_patients, df, source="my table")
    assert (issue.file, issue.row, issue.column, issue.value) == ("my table", 3, "ttp_months", "")


# ---- aggregate table -----------------------------------------------------------------------

@pytest.mark.parametrize("row, column, value, fragment", [
    ("S11,ICI-1,response,5,7,,,", "events", "7", "at most n = 5"),
    ("S11,ICI-1,response,-3,0,,,", "n", "-3", "a whole number of patients >= 1"),
    ("S11,ICI-1,response,0,0,,,", "n", "0", "leave out rows without patients"),
    ("S11,ICI-1,response,4.5,1,,,", "n", "4.5", "a whole number"),
    ("S11,ICI-1,response,5,-1,,,", "events", "-1", "a whole number of events >= 0"),
    ("S11,ICI-1,response,5,1.5,,,", "events", "1.5", "a whole number of events >= 0"),
    ("S11,ICI-1,response,5,,,,", "events", "", "required on response rows"),
    ("S11,ICI-1,survival,5,1,,,", "endpoint", "survival", "one of the endpoints response"),
    ("S11,ICI-9,response,5,1,,,", "line", "ICI-9", "one of the line labels"),
    ("S11,ICI-1,response,5,1,4.0,,", "median_months", "4.0", "a blank cell on a response row"),
    ("S11,ICI-1,ttp,5,,,3,7", "median_months", "", "required on ttp rows"),
    ("S11,ICI-1,ttp,5,,5.4,3.0,NR", "median_upper", "NR", "a number of months > 0"),
    ("S11,ICI-1,ttp,5,,5.4,-1,7", "median_lower", "-1", "a number of months > 0"),
    ("S11,ICI-1,ttp,5,,5.4,6.0,7.7", "median_lower", "6.0", "<= median_months (5.4)"),
    ("S11,ICI-1,ttp,5,,5.4,3.0,5.0", "median_upper", "5.0", ">= median_months (5.4)"),
    ("S11,ICI-1,ttp,5,,5.4,5.4,5.4", "median_upper", "5.4", "zero width"),
    ("S10,ICI-1,Response,12,3,,,", "endpoint", "Response", "already appears on row 2"),
])
def test_bad_aggregate_row_is_reported_with_its_location(tmp_path, row, column, value, fragment):
    path = write(tmp_path, [*AGG_GOOD, row], name="counts.csv", header=AGG_HEADER)
    issue = only_issue(read_aggregate, path)
    assert (issue.file, issue.row, issue.column, issue.value) == (str(path), 5, column, value)
    assert fragment in issue.expected


def test_good_aggregate_table_is_typed(tmp_path):
    df = read_aggregate(write(tmp_path, AGG_GOOD, name="counts.csv", header=AGG_HEADER))
    assert list(df.columns) == list(schema.AGGREGATE_COLUMNS)
    assert df["n"].dtype == "int64" and str(df["events"].dtype) == "Int64"
    assert df["median_months"].dtype == "float64" and pd.isna(df.loc[0, "median_months"])
    assert df.loc[2, "median_upper"] == 7.7


def test_aggregate_columns_required_depend_on_the_endpoints_present(tmp_path):
    binary_only = read_aggregate(write(tmp_path, ["S1,ICI-1,toxicity,4,1"], name="a.csv",
                                       header="site,line,endpoint,n,events"))
    assert binary_only["median_months"].isna().all()
    ttp_only = read_aggregate(write(tmp_path, ["S1,ICI-1,ttp,4,2,3,4"], name="b.csv",
                                    header="site,line,endpoint,n,median_lower,median_months,median_upper"))
    assert ttp_only.loc[0, "median_months"] == 3 and pd.isna(ttp_only.loc[0, "events"])
    issues = issues_of(read_aggregate, write(tmp_path, ["S1,ICI-1,ttp,4"], name="c.csv",
                                             header="site,line,endpoint,n"))
    assert {(i.row, i.column) for i in issues} == {
        (None, "median_months"), (None, "median_lower"), (None, "median_upper")}


def test_validate_aggregate_on_a_dataframe():
    df = pd.DataFrame({"site": ["A", "A"], "line": ["ICI-1", "ICI-2"], "endpoint": ["response"] * 2,
                       "n": [10, 8], "events": [11, 2]})
    issue = only_issue(validate_aggregate, df)
    assert (issue.file, issue.row, issue.column, issue.value) == ("<DataFrame>", 2, "events", "11")
    df.loc[0, "events"] = 3
    assert validate_aggregate(df)["events"].tolist() == [3, 2]


def test_invalid_arguments_are_programming_errors_not_data_errors():
    with pytest.raises(ValueError, match="unknown endpoint"):
        validate_patients(good_frame(), endpoints=("survival",))
    with pytest.raises(ValueError, match="must differ"):
        validate_patients(good_frame(), lines=("A", "a"))

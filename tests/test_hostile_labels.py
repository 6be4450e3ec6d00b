"""Labels are data: hostile characters, lengths and spellings are refused with their location.

Characters that act instead of being shown (control characters, ANSI escapes, line breaks, tabs,
invisible format characters) and absurd lengths are rejected at validation; characters that only
mean something to an output format are accepted as written (the output side escapes them).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.settings.config import ConfigError, parse_config
from rechallenge.data import (
    DataValidationError,
    ValidationIssue,
    load_example,
    load_study,
    read_patients,
    schema,
    validate_aggregate,
    validate_patients,
)

HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")
GOOD = [
    ["S01", "P01", "ICI-1", "PR", "5.2", "1", "0", "ici_alone", "1", "M", "64"],
    ["S01", "P01", "ICI-2", "PD", "3.1", "1", "1", "dual_ici", "2", "M", "64"],
    ["S02", "P02", "ICI-1", "NE", "1.0", "0", "0", "", "1", "F", "70"],
    ["S02", "P02", "ICI-2", "SD", "8.0", "0", "0", "ici_targeted", "3", "F", "70"],
]
COLUMNS = HEADER.split(",")


def frame(rows: list[list[str]] = GOOD, **extra: list[str]) -> pd.DataFrame:
    df = pd.DataFrame([list(r) for r in rows], columns=COLUMNS)
    for name, values in extra.items():
        df[name] = values
    return df


def with_cell(column: str, value: str, row: int = 1) -> pd.DataFrame:
    """GOOD with one cell replaced (row index in GOOD; row 1 is file row 3)."""
    df = frame()
    df.loc[row, column] = value
    return df


def issues_of(call, *args, **kwargs) -> tuple[ValidationIssue, ...]:
    with pytest.raises(DataValidationError) as info:
        call(*args, **kwargs)
    return info.value.issues


def write_csv(path: Path, df: pd.DataFrame) -> Path:
    df.to_csv(path, index=False)
    return path


def message_is_safe(error_text: str) -> bool:
    """No character of the message can act on a terminal (only the line breaks between issues)."""
    return all(line.isprintable() for line in error_text.split("\n"))


HOSTILE = {
    "NUL": "S\x0001",
    "ANSI escape": "\x1b[31mS01\x1b[0m",
    "line feed": "S01\nS02",
    "carriage return": "S01\rX",
    "tab": "S\t01",
    "C1 control": "S01\x85",
    "zero-width space": "S\u200b01",
    "zero-width joiner": "S\u200d01",
    "byte-order mark inside": "S\ufeff01",
    "bidi override": "\u202eS01",
    "line separator": "S01\u2028",
}


@pytest.mark.parametrize("column", ["site", "patient_id", "regimen_class"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_control_and_invisible_characters_in_labels_are_rejected(column, name):
    value = HOSTILE[name]
    with pytest.raises(DataValidationError) as info:
        validate_patients(with_cell(column, value, row=0), source="p.csv")
    issue = next(i for i in info.value.issues if i.column == column)
    assert (issue.file, issue.row, issue.value) == ("p.csv", 2, value)
    assert "control or invisible" in issue.expected and "U+" in issue.expected
    assert message_is_safe(str(info.value))


def test_hostile_label_in_a_csv_file_is_located_and_escaped(tmp_path):
    df = with_cell("site", "\x1b[2J\x1b[31mS01")
    df.loc[0, "site"] = df.loc[1, "site"]  # the patient's other row: one spelling only
    path = write_csv(tmp_path / "p.csv", df)
    issues = issues_of(read_patients, path)
    assert {(i.row, i.column) for i in issues} == {(2, "site"), (3, "site")}
    text = str(DataValidationError(issues))
    assert "\x1b" not in text and "'\\x1b[2J\\x1b[31mS01'" in text


def test_quoted_line_break_in_a_csv_label_is_rejected(tmp_path):
    path = tmp_path / "p.csv"
    rows = [",".join(r) for r in GOOD]
    rows[0] = '"S01\nX"' + rows[0][3:]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    issue = next(i for i in issues_of(read_patients, path) if i.column == "site")
    assert issue.row == 2 and issue.value == "S01\nX" and "LINE FEED" in issue.expected


def test_invisible_only_label_is_rejected_as_such():
    issues = issues_of(validate_patients, with_cell("patient_id", "\u200b\u200d", row=0))
    assert "only invisible" in issues[0].expected and issues[0].row == 2


def test_hostile_characters_in_free_text_and_header_are_rejected():
    issues = issues_of(validate_patients, frame(notes=["ok", "a\x00b", "", "x"]))
    assert [(i.row, i.column) for i in issues] == [(3, "notes")]
    df = frame()
    df.columns = [*COLUMNS[:-1], "age\x1b[0m"]
    issue = next(i for i in issues_of(validate_patients, df) if i.row == 1)
    assert issue.value == "age\x1b[0m" and "column name" in issue.expected


def test_aggregate_site_label_rules_apply_too():
    df = pd.DataFrame({"site": ["S\x0010"], "line": ["ICI-1"], "endpoint": ["response"],
                       "n": [12], "events": [3]})
    issue = issues_of(validate_aggregate, df)[0]
    assert (issue.row, issue.column) == (2, "site") and "NUL" in issue.expected


# ---- lengths ----------------------------------------------------------------------------------

def test_label_of_100_000_characters_is_rejected_and_shown_cut(tmp_path):
    long = "S" * 100_000
    path = write_csv(tmp_path / "p.csv", with_cell("site", long, row=0).iloc[[0, 2, 3]])
    issues = issues_of(read_patients, path)
    assert [(i.row, i.column) for i in issues] == [(2, "site")]
    assert f"at most {schema.MAX_LABEL_LENGTH} characters" in issues[0].expected
    assert "(100,000 characters)" in str(issues[0]) and len(str(issues[0])) < 400


def test_label_limit_is_inclusive_and_other_cells_have_the_cell_limit():
    ok = "S" * schema.MAX_LABEL_LENGTH
    df = frame([[ok, *GOOD[0][1:]], [ok, *GOOD[1][1:]]])
    assert validate_patients(df)["site"].tolist() == [ok, ok]
    issues = issues_of(validate_patients, frame([[ok + "S", *GOOD[0][1:]]]))
    assert issues[0].column == "site"
    notes = ["n" * schema.MAX_CELL_LENGTH, "n" * (schema.MAX_CELL_LENGTH + 1), "", ""]
    issues = issues_of(validate_patients, frame(notes=notes))
    assert [(i.row, i.column) for i in issues] == [(3, "notes")]
    assert f"at most {schema.MAX_CELL_LENGTH:,} characters" in issues[0].expected


# ---- accepted: meaningful only to an output format ----------------------------------------------

@pytest.mark.parametrize("label", [
    "$x^2$", "S\\01", "{S01}", "50%", "a|b", "<script>alert(1)</script>", "=cmd|' /C calc'!A0",
    "+S01", "@S01", "[S01", "*S01", "Zürich – Nord", "S 01",
])
def test_labels_with_markup_characters_are_data(label):
    df = frame([[label, *GOOD[0][1:]], [label, *GOOD[1][1:]]])
    out = validate_patients(df)
    assert out["site"].tolist() == [label, label]


# ---- spellings --------------------------------------------------------------------------------

def test_sites_differing_only_in_case_are_reported_with_both_rows():
    df = frame()
    df.loc[2:3, "site"] = "s01"
    issues = issues_of(validate_patients, df, source="p.csv")
    assert [(i.row, i.column, i.value) for i in issues] == [(4, "site", "s01")]
    assert "the same spelling as 'S01' on row 2" in issues[0].expected


def test_sites_differing_only_in_surrounding_spaces_are_reported():
    df = frame()
    df.loc[2:3, "site"] = "S01 "
    issue = issues_of(validate_patients, df)[0]
    assert (issue.row, issue.value) == (4, "S01 ") and "surrounding spaces" in issue.expected


def test_one_spelling_with_spaces_everywhere_is_still_stripped():
    df = frame()
    df["site"] = [" S01", " S01", "S02 ", "S02 "]
    assert validate_patients(df)["site"].tolist() == ["S01", "S01", "S02", "S02"]


def test_patient_ids_differing_in_case_within_a_site_are_reported():
    df = frame()
    df.loc[1, "patient_id"] = "p01"
    issue = issues_of(validate_patients, df)[0]
    assert (issue.row, issue.column, issue.value) == (3, "patient_id", "p01")
    assert "of site 'S01'" in issue.expected and "'P01' on row 2" in issue.expected


def test_the_same_patient_id_in_two_sites_may_differ_in_case():
    df = frame()
    df.loc[2:3, "patient_id"] = "p01"
    assert len(validate_patients(df)) == 4


def test_site_spellings_are_compared_across_files_and_tables(tmp_path):
    a = write_csv(tmp_path / "a.csv", frame(GOOD[:2]))
    b = write_csv(tmp_path / "b.csv", frame([["s01", "P09", *GOOD[0][2:]]]))
    counts = tmp_path / "counts.csv"
    counts.write_text("site,line,endpoint,n,events\nS01 ,ICI-1,toxicity,5,1\n", encoding="utf-8")
    patients = frame(GOOD[:2]).drop(columns="trae_grade_3_4")
    c = write_csv(tmp_path / "c.csv", patients)
    issues = issues_of(load_study, [a, b])
    assert [(i.file, i.row, i.value) for i in issues] == [(str(b), 2, "s01")]
    assert f"{a}, row 2" in issues[0].expected
    issues = issues_of(load_study, [c], [counts], endpoints=("response", "ttp"))  # no overlap
    assert [(i.file, i.row, i.value) for i in issues] == [(str(counts), 2, "S01 ")]


def test_regimen_classes_differing_in_case_are_reported():
    df = frame()
    df.loc[3, "regimen_class"] = "Dual_ICI"
    issue = issues_of(validate_patients, df)[0]
    assert (issue.row, issue.column, issue.value) == (5, "regimen_class", "Dual_ICI")


# ---- line labels are labels: refused where a site label would be ------------------------------

@pytest.mark.parametrize(("lines", "says"), [
    (["ICI-1", "ICI-2\x1b[31m"], "U+001B"),
    (["ICI-1", " "], "visible"),
    (["ICI-1", "ici-1"], "differ"),
    (["ICI-1", "L" * 101], "at most 100"),
    (["a\u200bb", "c"], "U+200B"),
])
def test_line_labels_with_control_characters_or_blank_are_refused(lines, says):
    from rechallenge.data import line_label_problems

    problems = line_label_problems(lines)
    assert len(problems) == 1 and says in problems[0]
    assert "\x1b" not in problems[0] and "\u200b" not in problems[0]
    with pytest.raises(ConfigError) as info:
        parse_config({"data": {"lines": lines}})
    assert "[data] lines" in str(info.value) and says in str(info.value)


def test_hostile_characters_that_only_mean_something_to_a_format_are_line_labels():
    from rechallenge.data import line_label_problems

    assert line_label_problems(["2nd|<i>line</i> & 50%", "../../x"]) == []


def test_cli_refuses_a_line_label_with_an_escape_code_without_echoing_it(tmp_path: Path, capsys):
    data = tmp_path / "p.csv"
    load_example().to_csv(data, index=False)
    assert main(["validate", "--lines", "ICI-1,ICI-2\x1b[2J", str(data)]) == 2  # usage error
    err = capsys.readouterr().err
    assert "\x1b" not in err and "U+001B" in err and "--lines" in err

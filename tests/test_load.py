"""Readers: file formats, file-level problems, typed output, several files, the shipped example."""

from __future__ import annotations

import builtins
import codecs
from pathlib import Path

import pytest

from rechallenge.data import (
    EXAMPLE_FILE,
    DataValidationError,
    Study,
    ValidationIssue,
    example_study,
    load_example,
    load_study,
    read_patients,
    schema,
)
from rechallenge.data import load as load_module

HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")
GOOD = [
    "S01,P01,ICI-1,PR,5.2,1,0,ici_alone,1,M,64",
    "S01,P01,ICI-2,PD,3.1,1,1,dual_ici,2,M,64",
    "S02,P02,ICI-1,NE,1.0,0,0,,1,F,70",
    "S02,P02,ICI-2,SD,8.0,0,0,ici_targeted,3,F,70",
]
AGG_HEADER = "site,line,endpoint,n,events,median_months,median_lower,median_upper"
AGG_GOOD = ["S10,ICI-1,response,12,3,,,", "S10,ICI-1,ttp,12,9,5.4,3.0,7.7"]


def write(tmp_path: Path, rows: list[str], name: str = "patients.csv", header: str = HEADER,
          sep: str = ",") -> Path:
    path = tmp_path / name
    text = "\n".join([header, *rows]) + "\n"
    path.write_text(text.replace(",", sep), encoding="utf-8")
    return path


def issues_of(call, *args, **kwargs) -> tuple[ValidationIssue, ...]:
    with pytest.raises(DataValidationError) as info:
        call(*args, **kwargs)
    return info.value.issues


def only_issue(call, *args, **kwargs) -> ValidationIssue:
    issues = issues_of(call, *args, **kwargs)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


# ---- good files ---------------------------------------------------------------------------------

EXPECTED_DTYPES = {
    "site": "object", "patient_id": "object", "line": "object", "best_response": "object",
    "ttp_months": "float64", "progressed": "int64", "trae_grade_3_4": "int64",
    "regimen_class": "object", "line_number": "Int64", "sex": "object", "age": "float64",
}


def test_good_csv_loads_with_contract_dtypes(tmp_path):
    df = read_patients(write(tmp_path, GOOD))
    assert {c: str(t) for c, t in df.dtypes.items()} == EXPECTED_DTYPES
    assert list(df.index) == [0, 1, 2, 3]
    assert df.loc[0].to_dict() == {
        "site": "S01", "patient_id": "P01", "line": "ICI-1", "best_response": "PR",
        "ttp_months": 5.2, "progressed": 1, "trae_grade_3_4": 0, "regimen_class": "ici_alone",
        "line_number": 1, "sex": "M", "age": 64.0}
    assert df.loc[2, "regimen_class"] is None  # blank optional text stays missing
    assert all(isinstance(v, str) for v in df["patient_id"])


def test_identifiers_are_kept_as_written(tmp_path):
    rows = [r.replace("P01", "007").replace("S01", "01") for r in GOOD]
    df = read_patients(write(tmp_path, rows))
    assert df.loc[0, "patient_id"] == "007" and df.loc[0, "site"] == "01"


def test_tsv_and_extra_columns(tmp_path):
    rows = [r + ",note" for r in GOOD]
    df = read_patients(write(tmp_path, rows, name="p.tsv", header=HEADER + ",Comment", sep="\t"))
    assert len(df) == 4 and df["comment"].tolist() == ["note"] * 4
    assert list(df.columns)[-1] == "comment"


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + "\n".join([HEADER, *GOOD]).encode("utf-8"))
    assert list(read_patients(path).columns)[0] == "site"


def test_crlf_line_endings_and_quoted_cells(tmp_path):
    path = tmp_path / "crlf.csv"
    rows = [GOOD[0].replace("ici_alone", '"ICI, alone"'), *GOOD[1:]]
    path.write_bytes("\r\n".join([HEADER, *rows]).encode("utf-8"))
    df = read_patients(path)
    assert df.loc[0, "regimen_class"] == "ICI, alone" and df.loc[3, "age"] == 70.0


def test_trailing_empty_cells_and_blank_rows_are_ignored_but_counted(tmp_path):
    rows = [GOOD[0] + ",,", "", ",,,,,,,,,,", GOOD[1], GOOD[2], "S02,P02,ICI-2,SD,-8.0,0,0,,3,F,70"]
    issue = only_issue(read_patients, write(tmp_path, rows))
    assert (issue.row, issue.column, issue.value) == (7, "ttp_months", "-8.0")


def test_load_study_combines_files_and_keeps_line_order(tmp_path):
    a = write(tmp_path, GOOD[:2], name="a.csv")
    b = write(tmp_path, GOOD[2:], name="b.csv")
    agg = write(tmp_path, AGG_GOOD, name="agg.csv", header=AGG_HEADER)
    study = load_study([a, b], [agg])
    assert isinstance(study, Study) and study.lines == ("ICI-1", "ICI-2")
    assert study.sources == (str(a), str(b), str(agg))
    assert len(study.patients) == 4 and list(study.patients.index) == [0, 1, 2, 3]
    assert {c: str(t) for c, t in study.patients.dtypes.items()} == EXPECTED_DTYPES
    assert study.sites == ("S01", "S02", "S10") and study.synthetic is False


def test_load_study_without_patient_files_gives_an_empty_typed_patient_table(tmp_path):
    study = load_study(aggregate_files=write(tmp_path, AGG_GOOD, name="agg.csv", header=AGG_HEADER))
    assert len(study.patients) == 0
    assert list(study.patients.columns)[:3] == list(schema.PATIENT_KEY_COLUMNS)
    assert study.aggregates["n"].tolist() == [12, 12]


def test_load_study_needs_a_file():
    with pytest.raises(ValueError, match="at least one"):
        load_study()


# ---- file-level problems ---------------------------------------------------------------------

def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    issue = only_issue(read_patients, path)
    assert (issue.file, issue.row, issue.column, issue.value) == (str(path), None, None, None)
    assert "nothing was found at this path" in str(issue)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    issue = only_issue(read_patients, path)
    assert issue.row is None and "the file is empty (0 bytes)" in str(issue)


def test_whitespace_only_file(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n \n", encoding="utf-8")
    assert "no content" in only_issue(read_patients, path).expected


def test_header_only_file(tmp_path):
    issue = only_issue(read_patients, write(tmp_path, []))
    assert issue.row is None and "only a header" in issue.expected


def test_wrong_encoding_names_the_row(tmp_path):
    path = tmp_path / "latin1.csv"
    rows = [GOOD[0], GOOD[1].replace("dual_ici", "dual_ici_é"), *GOOD[2:]]
    path.write_bytes("\n".join([HEADER, *rows]).encode("latin-1"))
    issue = only_issue(read_patients, path)
    assert (issue.file, issue.row, issue.value) == (str(path), 3, b"\xe9")
    assert "UTF-8" in issue.expected and "Windows-1252/Latin-1" in issue.expected


def test_utf16_file_is_reported(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("\n".join([HEADER, *GOOD]).encode("utf-16"))
    assert "UTF-16" in only_issue(read_patients, path).expected


def test_many_undecodable_rows_are_summarised(tmp_path):
    path = tmp_path / "latin1.csv"
    rows = [r.replace("S0", "Sé") for r in GOOD * 4]
    path.write_bytes("\n".join([HEADER, *rows]).encode("latin-1"))
    issues = issues_of(read_patients, path)
    assert issues[0].row is None and "6 more rows are not UTF-8" in issues[0].expected
    assert [i.row for i in issues[1:]] == list(range(2, 12))


def test_semicolon_separated_file_gets_a_hint(tmp_path):
    issues = issues_of(read_patients, write(tmp_path, GOOD, sep=";"))
    assert {i.column for i in issues} >= {"site", "patient_id", "line"}
    assert "another separator than the comma" in issues[0].expected


def test_duplicate_and_unnamed_columns(tmp_path):
    header = HEADER + ",site,"
    rows = [r + ",S01,x" for r in GOOD]
    issues = issues_of(read_patients, write(tmp_path, rows, header=header))
    assert [(i.row, i.column) for i in issues] == [(1, "site"), (1, None)]
    assert "header cells 1 and 12" in issues[0].expected and "header cell 13" in issues[1].expected


def test_unsupported_format_and_directory(tmp_path):
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    assert ".xlsx" in only_issue(read_patients, xls).expected
    assert "directory" in only_issue(read_patients, tmp_path).expected


def test_malformed_quoting_is_reported(tmp_path):
    rows = [GOOD[0], 'S01,P01,ICI-2,"PD"x,3.1,1,1,,2,M,64']
    assert "well-formed CSV" in only_issue(read_patients, write(tmp_path, rows)).expected


# ---- several files: every problem of every file, and problems between files --------------------

def test_problems_in_all_files_are_reported_together(tmp_path):
    bad_a = write(tmp_path, [GOOD[0].replace("5.2", "0")], name="a.csv")
    missing = tmp_path / "missing.csv"
    bad_agg = write(tmp_path, ["S10,ICI-1,response,3,4,,,"], name="agg.csv", header=AGG_HEADER)
    issues = issues_of(load_study, [bad_a, missing], [bad_agg])
    assert [(Path(i.file).name, i.row, i.column) for i in issues] == [
        ("a.csv", 2, "ttp_months"), ("missing.csv", None, None), ("agg.csv", 2, "events")]


def test_same_patient_line_in_two_files(tmp_path):
    a = write(tmp_path, GOOD, name="a.csv")
    b = write(tmp_path, [GOOD[3]], name="b.csv")
    issue = only_issue(load_study, [a, b])
    assert (issue.file, issue.row, issue.column) == (str(b), 2, "line")
    assert f"already appears on {a}, row 5" in issue.expected


def test_patient_level_conflict_across_files(tmp_path):
    a = write(tmp_path, GOOD[:3], name="a.csv")
    b = write(tmp_path, [GOOD[3].replace(",F,70", ",F,71")], name="b.csv")
    issue = only_issue(load_study, [a, b])
    assert (issue.file, issue.row, issue.column, issue.value) == (str(b), 2, "age", "71")
    assert f"as on {a}, row 4 ('70')" in issue.expected


def test_counts_for_a_site_line_endpoint_with_patient_rows_is_double_counting(tmp_path):
    patients = write(tmp_path, GOOD, name="p.csv")
    agg = write(tmp_path, ["S02,ICI-2,response,1,0,,,", "S02,ICI-2,ttp,4,2,5,4,6"],
                name="agg.csv", header=AGG_HEADER)
    issues = issues_of(load_study, [patients], [agg])
    assert [(i.file, i.row, i.column, i.value) for i in issues] == [
        (str(agg), 2, "endpoint", "response"), (str(agg), 3, "endpoint", "ttp")]
    assert ("site S02 line ICI-2 endpoint response is given both patient by patient "
            f"({patients}, row 5) and as counts") in issues[0].expected


def test_counts_for_an_endpoint_the_patient_rows_do_not_carry_are_allowed(tmp_path):
    header = "site,patient_id,line,best_response"
    patients = write(tmp_path, ["S02,P02,ICI-2,SD"], name="p.csv", header=header)
    agg = write(tmp_path, ["S02,ICI-2,toxicity,1,0,,,"], name="agg.csv", header=AGG_HEADER)
    study = load_study(patients, agg, endpoints=("response",))
    assert len(study.patients) == 1 and len(study.aggregates) == 1


def test_duplicate_aggregate_rows_across_files(tmp_path):
    a = write(tmp_path, AGG_GOOD, name="a.csv", header=AGG_HEADER)
    b = write(tmp_path, AGG_GOOD[:1], name="b.csv", header=AGG_HEADER)
    issue = only_issue(load_study, aggregate_files=[a, b])
    assert (issue.file, issue.row) == (str(b), 2) and f"{a}, row 2" in issue.expected


def test_the_same_file_twice(tmp_path):
    a = write(tmp_path, GOOD, name="a.csv")
    issue = only_issue(load_study, [a, a])
    assert issue.row is None and "each file once" in issue.expected


# ---- Excel -------------------------------------------------------------------------------------

def test_xlsx_is_read_with_excel_row_numbers(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(["S01", "P01", "ICI-1", "PR", 5.2, 1, 0, None, 1, "M", 64])
    sheet.append([])
    sheet.append(["S01", "P01", "ICI-2", "PD", -3.5, 1, 0, None, 2, "M", 64])
    path = tmp_path / "p.xlsx"
    book.save(path)
    issue = only_issue(read_patients, path)
    assert (issue.file, issue.row, issue.column, issue.value) == (str(path), 4, "ttp_months", "-3.5")
    sheet["E4"] = 3.5
    book.save(path)
    df = read_patients(path)
    assert df["ttp_months"].tolist() == [5.2, 3.5] and df["progressed"].dtype == "int64"


def test_damaged_xlsx_is_an_issue(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file")
    assert "workbook that opens" in only_issue(read_patients, path).expected


def test_xlsx_without_openpyxl_says_what_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_openpyxl(name, *args, **kwargs):
        if name == "openpyxl":
            raise ImportError("No module named 'openpyxl'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openpyxl)
    path = tmp_path / "p.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ImportError, match="pip install openpyxl"):
        read_patients(path)


# ---- shipped example ---------------------------------------------------------------------------

@pytest.fixture
def fake_example(tmp_path, monkeypatch):
    """Point the example loader at a small fixture (the real file is checked separately)."""
    path = write(tmp_path, GOOD, name=EXAMPLE_FILE)
    monkeypatch.setattr(load_module, "_example_resource", lambda: path)
    return path


def test_load_example_reads_the_packaged_file(fake_example):
    df = load_example()
    assert {c: str(t) for c, t in df.dtypes.items()} == EXPECTED_DTYPES


def test_example_study_is_marked_synthetic(fake_example):
    study = example_study()
    assert study.synthetic is True
    assert study.sources == ("synthetic_scheiner2023.csv (synthetic reconstruction)",)
    assert len(study.aggregates) == 0 and list(study.aggregates.columns) == list(schema.AGGREGATE_COLUMNS)


def test_example_problems_name_the_file_not_a_local_path(tmp_path, monkeypatch):
    path = write(tmp_path, [GOOD[0].replace("PR", "XX")], name=EXAMPLE_FILE)
    monkeypatch.setattr(load_module, "_example_resource", lambda: path)
    assert only_issue(load_example).file == EXAMPLE_FILE


def test_missing_example_is_an_installation_error(tmp_path, monkeypatch):
    monkeypatch.setattr(load_module, "_example_resource", lambda: tmp_path / EXAMPLE_FILE)
    with pytest.raises(FileNotFoundError, match="rechallenge.data.generate"):
        load_example()


def test_shipped_example_is_valid():
    df = load_example()
    assert len(df) == 116 and df[["site", "patient_id"]].drop_duplicates().shape[0] == 58
    assert set(df["line"]) == {"ICI-1", "ICI-2"}
    assert {c: str(t) for c, t in df.dtypes.items()} == EXPECTED_DTYPES
    assert example_study().synthetic is True

"""Numbers and files: absurd numbers and times, hostile workbooks, and reading each file once."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from rechallenge.analysis.cli import main
from rechallenge.data import (
    DataValidationError,
    ValidationIssue,
    load,
    read_aggregate,
    read_patients,
    schema,
)

HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")
GOOD = [
    "S01,P01,ICI-1,PR,5.2,1,0,ici_alone,1,M,64",
    "S01,P01,ICI-2,PD,3.1,1,1,dual_ici,2,M,64",
]
AGG_HEADER = "site,line,endpoint,n,events,median_months,median_lower,median_upper"


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def issues_of(call, *args, **kwargs) -> tuple[ValidationIssue, ...]:
    with pytest.raises(DataValidationError) as info:
        call(*args, **kwargs)
    return info.value.issues


# ---- numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("column, value", [
    ("n", "1e300"), ("n", "1000001"), ("n", "inf"), ("events", "1e300"), ("n", "1" * 400),
])
def test_absurd_counts_are_a_validation_message(tmp_path, column, value):
    cells = {"n": "12", "events": "3", column: value}
    row = f"S10,ICI-1,response,{cells['n']},{cells['events']},,,"
    issues = issues_of(read_aggregate, write(tmp_path / "c.csv", AGG_HEADER, [row]))
    assert [(i.row, i.column, i.value) for i in issues] == [(2, column, value)]
    assert f"at most {schema.MAX_PATIENTS:,}" in issues[0].expected


@pytest.mark.parametrize("value", ["1e19", "101", "1e300"])
def test_absurd_line_number_is_a_validation_message(tmp_path, value):
    rows = [GOOD[0].replace(",1,M,", f",{value},M,"), GOOD[1].replace(",2,M,", ",,M,")]
    issues = issues_of(read_patients, write(tmp_path / "p.csv", HEADER, rows))
    assert [(i.row, i.column, i.value) for i in issues] == [(2, "line_number", value)]
    assert f"at most {schema.MAX_LINE_NUMBER}" in issues[0].expected


def test_absurd_numbers_in_a_dataframe_are_a_validation_message():
    import pandas as pd

    from rechallenge.data import validate_aggregate

    df = pd.DataFrame({"site": ["S10"], "line": ["ICI-1"], "endpoint": ["response"],
                       "n": [1e300], "events": [3]})
    assert issues_of(validate_aggregate, df)[0].column == "n"


@pytest.mark.parametrize("value", ["1200.5", "5000", "1e-7", "1e300"])
def test_implausible_times_are_rejected_with_row_and_column(tmp_path, value):
    rows = [GOOD[0].replace(",5.2,", f",{value},"), GOOD[1]]
    issues = issues_of(read_patients, write(tmp_path / "p.csv", HEADER, rows))
    assert [(i.row, i.column, i.value) for i in issues] == [(2, "ttp_months", value)]
    assert "from 1e-06 to 1,200" in issues[0].expected


def test_times_at_the_limits_are_accepted(tmp_path):
    rows = [GOOD[0].replace(",5.2,", ",1200,"), GOOD[1].replace(",3.1,", ",1e-6,")]
    assert read_patients(write(tmp_path / "p.csv", HEADER, rows))["ttp_months"].tolist() == \
        [1200.0, 1e-6]


@pytest.mark.parametrize("column, cells", [
    ("median_months", "5000,3.0,7000"), ("median_upper", "5.4,3.0,1e9"),
    ("median_lower", "5.4,1e-9,7.7"),
])
def test_implausible_median_times_are_rejected(tmp_path, column, cells):
    path = write(tmp_path / "c.csv", AGG_HEADER, [f"S10,ICI-1,ttp,12,9,{cells}"])
    issues = issues_of(read_aggregate, path)
    assert (issues[0].row, issues[0].column) == (2, column)
    assert "from 1e-06 to 1,200" in issues[0].expected


def test_cli_reports_absurd_numbers_without_a_traceback(tmp_path, capsys):
    counts = write(tmp_path / "c.csv", AGG_HEADER, ["S10,ICI-1,response,1e300,3,,,"])
    patients = write(tmp_path / "p.csv", HEADER,
                     [GOOD[0].replace(",1,M,", ",1e19,M,"), GOOD[1]])
    assert main(["validate", str(patients), "--aggregate", str(counts)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert f"{counts}, row 2, column 'n': got '1e300'" in out.out
    assert f"{patients}, row 2, column 'line_number': got '1e19'" in out.out


# ---- reading each file once ---------------------------------------------------------------------

def test_validate_reads_each_file_once(tmp_path, monkeypatch, capsys):
    calls: list[str] = []
    real = load.read_table

    def counting(path, **options):
        calls.append(str(path))
        return real(path, **options)

    monkeypatch.setattr(load, "read_table", counting)
    patients = write(tmp_path / "p.csv", HEADER, GOOD)
    counts = write(tmp_path / "c.csv", AGG_HEADER, ["S10,ICI-1,response,12,3,,,"])
    assert main(["validate", str(patients), "--aggregate", str(counts)]) == 0
    assert sorted(calls) == sorted([str(patients), str(counts)])
    out = capsys.readouterr().out
    assert f"OK: {patients}: 2 rows, 1 patient, 1 site" in out
    assert f"OK: {counts}: 1 row, 1 site (aggregate counts)" in out


def test_check_study_summarises_files_without_raising(tmp_path):
    from rechallenge.data import check_study

    good = write(tmp_path / "a.csv", HEADER, GOOD)
    bad = write(tmp_path / "b.csv", HEADER, [GOOD[0].replace("S01,P01", "S02,P02")
                                             .replace(",5.2,", ",-1,")])
    checked = check_study([good, bad])
    assert checked.study is None and {i.file for i in checked.issues} == {str(bad)}
    assert [(f.source, f.rows, f.patients, f.sites) for f in checked.files] == [
        (str(good), 2, 1, 1), (str(bad), 1, 1, 1)]
    assert check_study([good]).study.patients["site"].tolist() == ["S01", "S01"]


# ---- Excel --------------------------------------------------------------------------------------

def workbook(path: Path, rows: list[list[object]], *, hidden_first: list[list[object]] | None = None,
             ) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    if hidden_first is not None:
        for row in hidden_first:
            sheet.append(row)
        sheet.sheet_state = "hidden"
        sheet = book.create_sheet("Data")
        book.active = 1
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def good_rows() -> list[list[object]]:
    return [HEADER.split(",")] + [row.split(",") for row in GOOD]


def rewrite_member(path: Path, member: str, edit) -> None:
    """Rewrite one XML file inside a workbook (the zip archive), keeping the others."""
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    contents[member] = edit(contents[member].decode("utf-8")).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)


def test_hidden_first_sheet_is_not_read(tmp_path):
    hidden = [HEADER.split(","), ["OLD", "X1", "ICI-1", "PR", 1, 1, 0, None, 1, "F", 50]]
    path = workbook(tmp_path / "p.xlsx", good_rows(), hidden_first=hidden)
    assert read_patients(path)["site"].tolist() == ["S01", "S01"]


def test_workbook_without_a_visible_sheet_is_refused_naming_its_sheets(tmp_path):
    path = workbook(tmp_path / "p.xlsx", good_rows())
    rewrite_member(path, "xl/workbook.xml",
                   lambda xml: xml.replace('state="visible"', 'state="hidden"'))
    issues = issues_of(read_patients, path)
    assert issues[0].row is None and "Sheet (hidden)" in issues[0].expected


def test_workbook_declaring_a_huge_dimension_is_refused_before_reading(tmp_path):
    path = workbook(tmp_path / "p.xlsx", good_rows())
    rewrite_member(path, "xl/worksheets/sheet1.xml",
                   lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:XFD1048576"',
                                      xml))
    issue = issues_of(read_patients, path)[0]
    assert issue.row is None and "16,384 columns" in issue.expected


def test_workbook_declaring_too_many_cells_is_refused(tmp_path):
    path = workbook(tmp_path / "p.xlsx", good_rows())
    rewrite_member(path, "xl/worksheets/sheet1.xml",
                   lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:Z1048576"',
                                      xml))
    assert f"at most {schema.MAX_XLSX_CELLS:,} cells" in issues_of(read_patients, path)[0].expected


def test_workbook_declaring_a_huge_uncompressed_size_is_refused(tmp_path):
    path = workbook(tmp_path / "p.xlsx", good_rows())
    data = bytearray(path.read_bytes())
    # Each central-directory record (PK\x01\x02) holds the member's uncompressed size at offset
    # 24; claim 4 GiB for every member, as a zip bomb's directory would.
    start = data.find(b"PK\x01\x02")
    while start != -1:
        data[start + 24:start + 28] = (0xFFFFFFF0).to_bytes(4, "little")
        start = data.find(b"PK\x01\x02", start + 4)
    path.write_bytes(bytes(data))
    issue = issues_of(read_patients, path)[0]
    assert issue.row is None and "uncompressed" in issue.expected


def test_workbook_cells_obey_the_csv_limits(tmp_path):
    rows = good_rows()
    rows[1][0] = rows[2][0] = "S" * (schema.MAX_LABEL_LENGTH + 1)
    rows[2][1] = "P01\nX"  # a line break typed with Alt+Enter
    issues = issues_of(read_patients, workbook(tmp_path / "p.xlsx", rows))
    assert [(i.row, i.column) for i in issues] == [(2, "site"), (3, "site"), (3, "patient_id")]


def test_workbook_with_data_beyond_its_declared_dimension_is_read_whole(tmp_path):
    path = workbook(tmp_path / "p.xlsx", good_rows())
    rewrite_member(path, "xl/worksheets/sheet1.xml",
                   lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:B2"', xml))
    df = read_patients(path)
    assert len(df) == 2 and df["age"].tolist() == [64.0, 64.0]

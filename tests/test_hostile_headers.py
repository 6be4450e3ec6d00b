"""Headers that hide what they are, and tables given as the wrong kind or with an odd extension.

A header with an invisible character, a doubled byte-order mark or a no-break space, and a table
without ``site``, are each a message naming the file and the header found (escaped), with the
column it was probably meant to be; never ``KeyError: 'site'``. An aggregate table is recognised
by its columns whatever its extension.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.run.update import is_aggregate_file
from rechallenge.data import DataValidationError, file_kind, read_aggregate, read_patients

HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")
GOOD = [
    "S01,P01,ICI-1,PR,5.2,1,0,ici_alone,1,M,64",
    "S01,P01,ICI-2,PD,3.1,1,1,dual_ici,2,M,64",
]
AGG_HEADER = "site,line,endpoint,n,events,median_months,median_lower,median_upper"
AGG_ROWS = ["S20,ICI-2,response,25,4,,,", "S20,ICI-2,ttp,25,,2.96,1.61,4.31"]


def write(path: Path, header: str = HEADER, rows: list[str] = GOOD, sep: str = ",",
          prefix: bytes = b"") -> Path:
    text = "\n".join([header, *rows]).replace(",", sep) + "\n"
    path.write_bytes(prefix + text.encode("utf-8"))
    return path


def validate(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = main(["validate", *map(str, args)])  # a KeyError would escape here and fail the test
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out + captured.err


# ---- hidden characters -------------------------------------------------------------------------

@pytest.mark.parametrize("hidden, escaped, named", [
    ("\u200b", "\\u200b", "U+200B ZERO WIDTH SPACE"),
    ("\u200d", "\\u200d", "U+200D ZERO WIDTH JOINER"),
    ("\u00a0", "\\xa0", "U+00A0 NO-BREAK SPACE"),
])
def test_site_header_with_a_hidden_character_names_it_and_suggests_site(
        tmp_path, capsys, hidden, escaped, named):
    path = write(tmp_path / "p.csv", header=HEADER.replace("site", f"si{hidden}te", 1))
    code, out = validate(capsys, path)
    assert code == 1
    assert (f"{path}, column 'site': expected this column (a key column of the patient table); "
            f"the file's columns are: 'si{escaped}te', patient_id,") in out
    assert f"the header 'si{escaped}te' is 'site' with hidden characters ({named}): did you " \
           "mean 'site'?" in out
    assert f"{path}, row 1: got 'si{escaped}te', expected a column name" in out
    assert hidden not in out  # shown escaped only


def test_doubled_byte_order_mark_is_named_with_its_likely_cause(tmp_path, capsys):
    path = write(tmp_path / "twice.csv", prefix=b"\xef\xbb\xbf" * 2)
    code, out = validate(capsys, path)
    assert code == 1
    assert "the file's columns are: '\\ufeffsite', patient_id" in out
    assert "did you mean 'site'?" in out and "converted to UTF-8 twice" in out


def test_one_byte_order_mark_is_still_fine(tmp_path, capsys):
    path = write(tmp_path / "once.csv", prefix=b"\xef\xbb\xbf")
    assert validate(capsys, path) == (0, f"OK: {path}: 2 rows, 1 patient, 1 site\n")


def test_optional_column_with_a_no_break_space_is_not_dropped_silently(tmp_path, capsys):
    path = write(tmp_path / "p.csv", header=HEADER.replace(",age", ",a\u00a0ge"))
    code, out = validate(capsys, path)
    assert code == 1
    assert (f"{path}, row 1: got 'a\\xa0ge', expected a column name: a name without unusual "
            "spaces; found U+00A0 NO-BREAK SPACE at character 2; did you mean 'age'?") in out


def test_missing_site_and_a_near_spelling(tmp_path, capsys):
    missing = write(tmp_path / "nosite.csv", header=HEADER.replace("site,", "", 1),
                    rows=[r.split(",", 1)[1] for r in GOOD])
    typo = write(tmp_path / "typo.csv", header=HEADER.replace("site", "sitte", 1))
    code, out = validate(capsys, missing, typo)
    assert code == 1
    assert (f"{missing}, column 'site': expected this column (a key column of the patient "
            "table); the file's columns are: patient_id, line,") in out
    assert f"{typo}, column 'site'" in out and "did you mean 'site' for the column sitte?" in out


def test_aggregate_table_without_site_is_a_message(tmp_path, capsys):
    path = write(tmp_path / "counts.csv", header=AGG_HEADER.replace("site,", ""),
                 rows=[r.split(",", 1)[1] for r in AGG_ROWS])
    code, out = validate(capsys, "--aggregate", path)
    assert code == 1
    assert (f"{path}, column 'site': expected this column (a column of every aggregate table); "
            "the file's columns are: line, endpoint, n, events") in out


def test_every_header_problem_of_every_file_at_once(tmp_path, capsys):
    hidden = write(tmp_path / "a.csv", header=HEADER.replace("site", "si\u200bte", 1))
    counts = write(tmp_path / "c.csv", header=AGG_HEADER.replace("site", "\u2060site"),
                   rows=AGG_ROWS)
    bad_cell = write(tmp_path / "b.csv", rows=[GOOD[0].replace("PR", "XX")])
    code, out = validate(capsys, hidden, bad_cell, "--aggregate", counts)
    assert code == 1
    assert f"{hidden}, column 'site'" in out and f"{counts}, column 'site'" in out
    assert "'\\u2060site' is 'site' with hidden characters (U+2060 WORD JOINER)" in out
    assert f"{bad_cell}, row 2, column 'best_response': got 'XX'" in out


def test_a_python_caller_gets_the_same_problems(tmp_path):
    path = write(tmp_path / "p.csv", header=HEADER.replace("site", "si\u200bte", 1))
    with pytest.raises(DataValidationError) as info:
        read_patients(path)
    assert {(i.row, i.column) for i in info.value.issues} == {(None, "site"), (1, None)}


# ---- the kind of a table -----------------------------------------------------------------------

def aggregate_workbook(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for line in [AGG_HEADER, *AGG_ROWS]:
        sheet.append(line.split(","))
    book.save(path)
    return path


@pytest.mark.parametrize("name, sep", [("c.csv", ","), ("c.tsv", "\t"), ("c.tab", "\t"),
                                       ("c.txt", "\t"), ("c.txt", ","), ("c.data", ",")])
def test_an_aggregate_table_is_recognised_whatever_its_extension(tmp_path, name, sep):
    path = write(tmp_path / name, header=AGG_HEADER, rows=AGG_ROWS, sep=sep)
    assert file_kind(path) == "aggregates" and is_aggregate_file(path)
    assert len(read_aggregate(path)) == 2  # and read by the same rules as it was sorted
    patients = write(tmp_path / f"p{Path(name).suffix}", sep=sep)
    assert file_kind(patients) == "patients" and not is_aggregate_file(patients)


def test_an_aggregate_workbook_is_recognised(tmp_path):
    assert file_kind(aggregate_workbook(tmp_path / "c.xlsx")) == "aggregates"


def test_a_tab_separated_txt_patient_table_validates(tmp_path, capsys):
    path = write(tmp_path / "p.txt", sep="\t")
    assert validate(capsys, path) == (0, f"OK: {path}: 2 rows, 1 patient, 1 site\n")


def test_a_table_given_as_the_wrong_kind_says_so(tmp_path, capsys):
    counts = write(tmp_path / "counts.tab", header=AGG_HEADER, rows=AGG_ROWS, sep="\t")
    patients = write(tmp_path / "patients.csv")
    code, out = validate(capsys, counts, "--aggregate", patients)
    assert code == 1
    assert (f"{counts}: expected a patient table; this file has the columns of an aggregate "
            "table (endpoint and n, no patient_id): give it as an aggregate table") in out
    assert (f"{patients}: expected an aggregate table; this file has the columns of a patient "
            "table (patient_id)") in out
    assert "expected this column" not in out  # one message per file, not a list of columns


@pytest.mark.integration
def test_update_sorts_a_tab_aggregate_file_as_aggregate(small_run, tmp_path, monkeypatch):
    from rechallenge.analysis.run import update

    counts = write(tmp_path / "wong.tab", header=AGG_HEADER, rows=AGG_ROWS, sep="\t")
    seen = {}

    def no_refit(config, out, **options):  # the refit is tested in test_update.py
        seen["config"], seen["study"] = config, options["study"]
        raise RuntimeError("stop before fitting")

    monkeypatch.setattr(update, "analyze", no_refit)
    with pytest.raises(RuntimeError, match="stop before fitting"):
        update.update_run(small_run, [counts], out=tmp_path / "new", progress=lambda _m: None)
    assert str(counts.resolve()) in seen["config"].data.aggregates
    assert str(counts.resolve()) not in seen["config"].data.patients
    assert "S20" in set(seen["study"].aggregates["site"])


def test_a_curve_header_with_a_hidden_character_is_named(tmp_path):
    from rechallenge.data.curve_input import read_curve_inputs

    curve = write(tmp_path / "curve.csv", header="ti\u00a0me,survival", rows=["0,1", "5,0.5"])
    at_risk = write(tmp_path / "at_risk.csv", header="time,n_at_risk", rows=["0,20", "5,10"])
    with pytest.raises(DataValidationError) as info:
        read_curve_inputs(curve, at_risk)
    assert "the header 'ti\\xa0me' is 'time' with hidden characters (U+00A0 NO-BREAK SPACE): " \
           "did you mean 'time'?" in str(info.value)

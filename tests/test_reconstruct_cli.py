"""``rechallenge reconstruct`` end to end, and the reconstructed table in the rest of the package:
validation, the binary endpoints leaving its rows out, and the update that takes it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.cli.reconstruct import output_paths, reconstruct_files
from rechallenge.analysis.plots.reconstruction import plot_reconstruction, reconstruction_km
from rechallenge.analysis.run.update import reconstructed_sites
from rechallenge.analysis.summaries.descriptive import descriptive_table
from rechallenge.data import Study, load_example, load_study, read_patients, schema

# Illustrative 25-patient curve in percent with digitiser jitter (step corners out of order).
CURVE = """time,survival
0,100
0.6,99.7
0.58,96.7
1.1,96.4
1.09,88.0
2.0,88.2
1.98,76.0
2.96,76.4
2.94,48.0
4.3,48.3
4.33,36.0
6.5,36.0
6.48,20.0
10.1,20.3
10.08,8.0
14,8.0
"""
AT_RISK = "time,n_at_risk\n0,25\n2,19\n4,12\n6,9\n8,4\n10,2\n12,1\n"
ARGS = ["--site", "S15", "--line", "ICI-2"]


def _inputs(tmp_path: Path, curve: str = CURVE) -> tuple[str, str]:
    (tmp_path / "curve.csv").write_text(curve)
    (tmp_path / "at_risk.csv").write_text(AT_RISK)
    return str(tmp_path / "curve.csv"), str(tmp_path / "at_risk.csv")


def test_cli_writes_patients_comparison_and_plot(tmp_path: Path, capsys) -> None:
    curve, at_risk = _inputs(tmp_path)
    out = tmp_path / "out" / "wong.csv"
    assert main(["reconstruct", curve, "--at-risk", at_risk, *ARGS, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "25 pseudo patients" in printed and "percent" in printed
    patients_csv, table_csv, plot_png = output_paths(out)
    assert table_csv.name == "wong.reconstruction.csv" and plot_png.name == "wong.reconstruction.png"
    assert plot_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(table_csv)
    assert list(table.columns) == ["time", "published", "reconstructed", "difference"]
    assert table["published"].tolist() == [25, 19, 12, 9, 4, 2, 1]
    patients = pd.read_csv(patients_csv, keep_default_na=False)
    assert list(patients.columns) == ["site", "patient_id", "line", "best_response", "ttp_months",
                                      "progressed", "trae_grade_3_4", "source"]
    assert len(patients) == 25 and set(patients["source"]) == {schema.RECONSTRUCTED_SOURCE}
    assert set(patients["best_response"]) == {""} and (patients["ttp_months"] > 0).all()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_validate_accepts_the_output(tmp_path: Path, capsys) -> None:
    curve, at_risk = _inputs(tmp_path)
    out = str(tmp_path / "wong.csv")
    main(["reconstruct", curve, "--at-risk", at_risk, *ARGS, "--out", out])
    capsys.readouterr()
    assert main(["validate", "--endpoints", "ttp", out]) == 0
    # All endpoints: the reconstructed rows may leave response and toxicity blank.
    assert main(["validate", out]) == 0
    assert "OK: " in capsys.readouterr().out


def test_existing_outputs_are_kept_without_overwrite(tmp_path: Path, capsys) -> None:
    curve, at_risk = _inputs(tmp_path)
    out = tmp_path / "wong.csv"
    _, table_csv, _ = output_paths(out)
    table_csv.write_text("keep me\n")
    assert main(["reconstruct", curve, "--at-risk", at_risk, *ARGS, "--out", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert table_csv.read_text() == "keep me\n" and not out.exists()
    assert main(["reconstruct", curve, "--at-risk", at_risk, *ARGS, "--out", str(out),
                 "--overwrite", "--time-unit", "weeks", "--total-events", "21"]) == 0
    weeks = pd.read_csv(out)
    assert weeks["ttp_months"].max() == pytest.approx(14 * 7 / (365.25 / 12), rel=1e-6)


def test_malformed_curve_exits_1_naming_file_row_and_column(tmp_path: Path, capsys) -> None:
    bad = CURVE.replace("4.3,48.3", "4.3,70.0").replace("0.6,99.7", "-0.6,99.7")
    curve, at_risk = _inputs(tmp_path, bad)
    out = tmp_path / "wong.csv"
    assert main(["reconstruct", curve, "--at-risk", at_risk, *ARGS, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{curve}, row 3, column 'time': got '-0.6'" in err
    assert "2 problems" in err
    assert not out.exists()
    # Once the negative time is fixed the rise is checked, and reported with its row.
    curve, at_risk = _inputs(tmp_path, CURVE.replace("4.3,48.3", "4.3,70.0"))
    assert main(["reconstruct", curve, "--at-risk", at_risk, *ARGS, "--out", str(out)]) == 1
    assert f"{curve}, row 11, column 'survival': got '70', expected at most 48" in \
        capsys.readouterr().err


def test_unknown_line_label_is_refused(tmp_path: Path, capsys) -> None:
    curve, at_risk = _inputs(tmp_path)
    out = tmp_path / "wong.csv"
    assert main(["reconstruct", curve, "--at-risk", at_risk, "--site", "S15", "--line", "ICI-3",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    # Named by its option, not by rows of an output file that was never written.
    assert "line (--line): got 'ICI-3'" in err and str(out) not in err and not out.exists()
    assert main(["reconstruct", curve, "--at-risk", at_risk, "--site", "S15", "--line", "ici-3",
                 "--lines", "ICI-1,ICI-2,ICI-3", "--out", str(out)]) == 0
    assert set(pd.read_csv(out)["line"]) == {"ICI-3"}


def test_binary_endpoints_leave_reconstructed_rows_out(tmp_path: Path) -> None:
    curve, at_risk = _inputs(tmp_path)
    made = reconstruct_files(curve, at_risk, site="S15", line="ICI-2", out=tmp_path / "w.csv")
    example = tmp_path / "example.csv"
    load_example().to_csv(example, index=False)
    study = load_study([example, made.paths[0]])
    assert "S15" in study.sites
    response = study.for_endpoint("response")
    assert "S15" not in set(response.patients[schema.SITE])
    assert len(response.patients) == len(study.patients) - 25
    ttp = study.for_endpoint("ttp")
    assert (ttp.patients[schema.SITE] == "S15").sum() == 25
    # The example's rows are untouched, so fits of earlier runs keep their data hashes.
    plain = load_study([example])
    assert plain.for_endpoint("response").data_hash() == Study(
        plain.patients, plain.aggregates, plain.lines).for_endpoint("response").data_hash()
    table = descriptive_table(study.patients, study.lines)
    assert table.loc["ICI-2", "n_patients"] == 58 + 25
    assert table.loc["ICI-2", "response_n"] == descriptive_table(
        plain.patients, plain.lines).loc["ICI-2", "response_n"]
    assert reconstructed_sites(study) == {"S15": schema.RECONSTRUCTED_SOURCE}
    assert reconstructed_sites(plain) == {}


def test_plot_takes_results_and_axes(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    curve, at_risk = _inputs(tmp_path)
    made = reconstruct_files(curve, at_risk, site="S15", line="ICI-2", out=tmp_path / "w.csv")
    km = reconstruction_km(made.result)
    assert km["time"].iloc[0] == 0 and km["events"].sum() == made.result.events
    fig, ax = plt.subplots()
    try:
        assert plot_reconstruction(made.result, ax=ax, time_label="Months") is ax
        assert ax.get_xlabel() == "Months"
    finally:
        plt.close(fig)


def test_read_patients_keeps_the_provenance_column(tmp_path: Path) -> None:
    curve, at_risk = _inputs(tmp_path)
    made = reconstruct_files(curve, at_risk, site="S15", line="ICI-2", out=tmp_path / "w.csv")
    rows = read_patients(made.paths[0], endpoints=("ttp",))
    assert rows[schema.SOURCE].unique().tolist() == [schema.RECONSTRUCTED_SOURCE]
    # A blank response on an ordinary row is still an error.
    plain = made.paths[0].read_text().replace(schema.RECONSTRUCTED_SOURCE, "")
    (tmp_path / "plain.csv").write_text(plain)
    with pytest.raises(ValueError, match="best_response"):
        read_patients(tmp_path / "plain.csv")


@pytest.mark.integration
def test_update_takes_a_reconstructed_site_and_says_so(small_run: Path, tmp_path: Path, engine) -> None:
    """Refits (about 1 minute): the reconstructed site enters TTP only, and the report says so."""
    import json

    from rechallenge.analysis.run.update import update_run

    curve, at_risk = _inputs(tmp_path)
    made = reconstruct_files(curve, at_risk, site="S15", line="ICI-2", out=tmp_path / "w.csv")
    new = tmp_path / "updated"
    update_run(small_run, [made.paths[0]], out=new, allow_unconverged=True, engine=engine,
               progress=lambda _m: None)
    source = json.loads((new / "update" / "source.json").read_text())
    assert source["reconstructed_sites"] == {"S15": schema.RECONSTRUCTED_SOURCE}
    conflicts = pd.read_csv(new / "update" / "conflict.csv")
    assert conflicts[["site", "endpoint", "line"]].values.tolist() == [["S15", "ttp", "ICI-2"]]
    report = (new / "report.md").read_text()
    assert "site S15 were reconstructed from a published Kaplan-Meier curve" in report

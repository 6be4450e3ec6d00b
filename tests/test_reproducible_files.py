"""Word files are the same bytes for the same content, whatever the clock says.

python-docx stamped every zip entry with the time of saving and kept its template's core
properties (author "python-docx", created 2013), so the same run written twice, or rebuilt, gave
different ``report.docx`` and ``table2_headline.docx`` bytes. The end-to-end checks (a rebuilt
report, a second run with the same seed, outputs made on the engine) are in test_pipeline.py.
"""

from __future__ import annotations

import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import docx
import pandas as pd
import pytest

from rechallenge.analysis.reporting.document import ReportContent, Section
from rechallenge.analysis.reporting.docx_report import write_docx, write_table_docx
from rechallenge.analysis.reporting.tables import Table

TABLE = Table("table2_headline", "Table 2. Estimates with 95% CrI.",
              pd.DataFrame({"Endpoint": ["Response", "TTP"], "Estimate": [0.25, 4.2]}))
CONTENT = ReportContent(title="A report", header_lines=("Data: test",), banner=None,
                        sections=(Section("Results", paragraphs=("Some text.",), tables=(TABLE,)),))


def _at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    """Make the wall clock read ``when`` (zipfile stamps entries with ``time.time()``)."""
    monkeypatch.setattr(time, "time", lambda: when.timestamp())


#: The time a run stamps on its Word files unless it recorded another (docs/run_directory.md).
RUN_TIME = datetime(1980, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("write", [
    lambda folder: write_table_docx(TABLE, folder / "t.docx"),
    lambda folder: write_docx(CONTENT, folder),
], ids=["table", "report"])
def test_a_docx_written_at_two_wall_clock_times_is_the_same_bytes(write, tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _at(monkeypatch, datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc))
    a = write(first).read_bytes()
    _at(monkeypatch, datetime(2025, 11, 30, 23, 59, 58, tzinfo=timezone.utc))
    b = write(second).read_bytes()
    assert a == b


def test_core_properties_and_zip_entries_hold_the_runs_time(tmp_path):
    path = write_table_docx(TABLE, tmp_path / "t.docx")
    props = docx.Document(str(path)).core_properties
    assert props.created == props.modified == RUN_TIME
    assert (props.author, props.last_modified_by, props.revision) == ("rechallenge",) * 2 + (1,)
    assert "python-docx" not in (props.comments or "")
    with zipfile.ZipFile(path) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert z.testzip() is None


def test_another_recorded_time_is_stamped_as_given(tmp_path):
    when = datetime(2031, 5, 6, 9, 8, 10, tzinfo=timezone(timedelta(hours=2)))
    path = write_table_docx(TABLE, tmp_path / "t.docx", when=when)
    props = docx.Document(str(path)).core_properties
    assert props.created == props.modified == when.astimezone(timezone.utc)
    with zipfile.ZipFile(path) as z:
        assert {info.date_time for info in z.infolist()} == {(2031, 5, 6, 7, 8, 10)}
    other = write_table_docx(TABLE, tmp_path / "u.docx", when=when + timedelta(days=1))
    assert other.read_bytes() != path.read_bytes()  # the time is in the bytes, and only it


def test_the_recorded_time_is_read_back_and_checked():
    from rechallenge.analysis.reporting.docx_files import DOCUMENT_TIME, document_time

    assert DOCUMENT_TIME == RUN_TIME
    assert document_time(None) == DOCUMENT_TIME
    assert document_time(DOCUMENT_TIME.isoformat()) == DOCUMENT_TIME
    for bad in ("yesterday", "2020-01-01T00:00:00", "1970-01-01T00:00:00+00:00"):
        with pytest.raises(ValueError):
            document_time(bad)


def test_the_figures_in_a_report_keep_it_reproducible(tmp_path, monkeypatch):
    """A report with a figure: the picture is embedded by content, not by time or path."""
    from matplotlib.figure import Figure

    from rechallenge.analysis.plots.style import save_figure
    from rechallenge.analysis.reporting.document import FigureRef

    outputs = []
    for name, clock in (("a", datetime(2024, 1, 1, tzinfo=timezone.utc)),
                        ("b", datetime(2026, 6, 1, tzinfo=timezone.utc))):
        folder = tmp_path / name
        fig = Figure(figsize=(3, 2))
        fig.add_subplot().plot([0, 1], [1, 0])
        _at(monkeypatch, clock)
        save_figure(fig, folder / "figures", "forest_response")
        content = ReportContent(title="R", header_lines=(), banner=None, sections=(
            Section("Results", figures=(FigureRef("forest_response", "A figure."),)),))
        outputs.append({p.relative_to(folder): p.read_bytes() for p in
                        [write_docx(content, folder), *Path(folder, "figures").iterdir()]})
    assert outputs[0] == outputs[1]

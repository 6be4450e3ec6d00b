"""Write a design's tables, record, figure and summary into an output directory atomically.

Every file is first written into a hidden staging directory inside the output directory and
then moved into place with :func:`os.replace`, one file at a time: a reader never sees a half
written file, a failed command leaves the earlier files untouched, and nothing in the output
directory that this command did not write is removed (only the staging directory it made).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from rechallenge.analysis.plots.style import save_figure

#: Decimal places of probabilities in the CSV tables (well below the 1e-6 accuracy claimed).
CSV_FLOAT_FORMAT = "%.10g"


@contextmanager
def staged_outputs(out: str | Path) -> Iterator[Path]:
    """Yield a staging directory; on success its files are moved into ``out``.

    ``out`` is created if missing. On error the staging directory (and only it) is removed.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".design-partial-", dir=out))
    try:
        yield staging
        for path in sorted(staging.iterdir()):
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_csv(frame: pd.DataFrame, directory: Path, name: str) -> str:
    """Write ``frame`` as ``<name>`` (no index); return the file name."""
    frame.to_csv(directory / name, index=False, float_format=CSV_FLOAT_FORMAT)
    return name


def write_json(payload: dict[str, Any], directory: Path, name: str) -> str:
    """Write ``payload`` as indented JSON with a final newline; return the file name."""
    text = json.dumps(payload, indent=2, allow_nan=False)
    (directory / name).write_text(text + "\n", encoding="utf-8")
    return name


def write_text(text: str, directory: Path, name: str) -> str:
    """Write ``text`` (UTF-8); return the file name."""
    (directory / name).write_text(text, encoding="utf-8")
    return name


def write_figure(fig: Figure, directory: Path, stem: str) -> list[str]:
    """Write ``<stem>.png`` and ``<stem>.pdf`` (the package's reproducible figure writer)."""
    return [p.name for p in save_figure(fig, directory, stem)]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _prior_line(prior: dict[str, Any]) -> str:
    parts = [f"{w:.3f} x Beta({a:.2f}, {b:.2f})" for w, a, b in
             zip(prior["mixture"]["weights"], prior["mixture"]["a"], prior["mixture"]["b"])]
    return (f"{prior['choice']} prior: {' + '.join(parts)}; mean {prior['mean']:.3f}, "
            f"ESS {prior['ess']['elir']:.1f} patients (ELIR; moment {prior['ess']['moment']:.1f})")


def _inputs_line(record: dict[str, Any]) -> str:
    """Which prior file the design read, its hash, and whether the run's manifest vouched for it."""
    inputs = record["inputs"]
    prior = inputs["map_prior"]
    check = ("matching the run's manifest" if prior["checked_against_manifest"]
             else "not checked: the run records no file hashes")
    return (f"MAP prior: `{inputs['run_dir']}/{prior['file']}` (sha256 `{prior['sha256']}`, "
            f"{check}), from run `{record['source_run_hash'][:12]}`")


def one_sample_markdown(record: dict[str, Any], oc: pd.DataFrame,
                        points: Sequence[float]) -> str:
    """Short Markdown summary of a one-sample design (``record`` is design.json's content)."""
    n, b = record["n"], record["boundary"]
    rows = oc.set_index("true_rate")["prob_success"]
    table = "\n".join(f"| {p:.2f} | {rows.loc[p]:.4f} |" for p in points if p in rows.index)
    verdict = (f"Success if at least **{b} of {n}** patients respond." if b <= n
               else f"No outcome of {n} patients gives success.")
    lines = [
        f"# One-sample design: {record['endpoint']}, {record['line']}",
        "",
        f"Decision rule: {record['decision_rule']}. {verdict}",
        "",
        f"- {_prior_line(record['prior'])}",
        f"- {_inputs_line(record)}",
        f"- Operating characteristics: {record['oc_method']}",
        "",
        "| true rate | P(success) |",
        "|---|---|",
        table,
        "",
    ]
    if "sample_size" in record:
        ss = record["sample_size"]
        lines += [
            f"## Sample size (type I error <= {ss['alpha']} at {ss['null_rate']}, "
            f"power >= {ss['power']} at {ss['alt_rate']}, n <= {ss['max_n']})",
            "",
            "Each prior's search stopped at the first n that meets both targets.",
            "",
            "| prior | n | boundary | type I error | power |",
            "|---|---|---|---|---|",
        ]
        for name, row in ss["smallest_n"].items():
            lines.append(f"| {name} | n > {ss['max_n']} | | | |" if row is None else
                         f"| {name} | {row['n']} | {row['boundary']} | "
                         f"{_pct(row['type_i_error'])} | {_pct(row['power'])} |")
        saving = ss.get("saving")
        if saving is not None:
            # Under strict type I error control borrowing often saves nothing or costs
            # patients (see docs/design.md); say which, in words.
            lines += ["", f"Borrowing saves {saving} patients against the vague prior."
                      if saving > 0 else f"Borrowing costs {-saving} patients against the vague "
                      "prior." if saving < 0 else "Borrowing saves no patients against the "
                      "vague prior."]
        lines.append("")
    lines += ["Files: " + ", ".join(f"`{f}`" for f in record["files"]), ""]
    return "\n".join(lines)


def two_sample_markdown(record: dict[str, Any], conflict: pd.DataFrame) -> str:
    """Short Markdown summary of a two-sample design (``record`` is design.json's content)."""
    t1 = conflict.set_index("control_rate")
    picks = [p for p in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8) if p in t1.index]
    table = "\n".join(
        f"| {p:.2f} | {t1.loc[p, 'prob_success_robust']:.4f} | {t1.loc[p, 'prob_success_map']:.4f}"
        f" | {t1.loc[p, 'prob_success_vague']:.4f} | {t1.loc[p, 'prob_robust_dominates']:.3f} |"
        for p in picks)
    return "\n".join([
        f"# Two-sample design: {record['endpoint']}, {record['line']} as control",
        "",
        f"Decision rule: {record['decision_rule']}; {record['n_control']} control and "
        f"{record['n_treatment']} treatment patients.",
        "",
        f"- Control arm, {_prior_line(record['prior'])}",
        f"- Treatment arm: Beta({record['prior_treatment']['a'][0]:g}, "
        f"{record['prior_treatment']['b'][0]:g})",
        f"- {record['oc_method']}",
        f"- {_inputs_line(record)}",
        "",
        "Type I error (treatment = control + margin) by true control rate, and the probability "
        "that the robust component dominates the control posterior:",
        "",
        "| control rate | robust | map | vague | P(robust dominates) |",
        "|---|---|---|---|---|",
        table,
        "",
        "Files: " + ", ".join(f"`{f}`" for f in record["files"]),
        "",
    ])

"""``rechallenge reconstruct``: a published Kaplan-Meier curve in, a patient table out.

Reads a digitised curve and its numbers-at-risk table, reconstructs pseudo patient data
(:mod:`rechallenge.data.reconstruct`), and writes, beside one another:

- ``PATIENTS.csv`` (``--out``): the package's patient table, time to progression only, each row
  marked ``source = reconstructed:Guyot2012``; ``rechallenge validate`` and
  ``rechallenge update --new-sites`` take it;
- ``PATIENTS.reconstruction.csv``: published against reconstructed numbers at risk;
- ``PATIENTS.reconstruction.png``: the reconstructed Kaplan-Meier curve over the digitised points.

Every file is written to a temporary file and renamed into place; nothing existing is replaced
without ``--overwrite``. :func:`reconstruct_files` does the same from Python.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from rechallenge.analysis.cli.common import Subparsers
    from rechallenge.data.reconstruct import Reconstruction

# The command line imports this module to register the command: data and plotting libraries are
# imported inside the functions, so `rechallenge --help` stays fast (as in cli.py).

#: Suffixes of the two files written beside the patient table.
TABLE_SUFFIX = ".reconstruction.csv"
PLOT_SUFFIX = ".reconstruction.png"


@dataclass(frozen=True)
class ReconstructionFiles:
    """What :func:`reconstruct_files` produced.

    Parameters
    ----------
    result
        The reconstruction (pseudo patients in the curve's time unit, at-risk comparison).
    patients
        The validated patient table that was written.
    paths
        Patient table, at-risk comparison and plot, in that order.
    """

    result: Reconstruction
    patients: pd.DataFrame
    paths: tuple[Path, Path, Path]


def output_paths(out: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """The patient table and the two files written beside it (``X.csv`` ->
    ``X.reconstruction.csv``, ``X.reconstruction.png``).
    """
    out = Path(out)
    stem = out.with_suffix("") if out.suffix else out
    return out, Path(f"{stem}{TABLE_SUFFIX}"), Path(f"{stem}{PLOT_SUFFIX}")


def reconstruct_files(
    curve: str | os.PathLike[str],
    at_risk: str | os.PathLike[str],
    *,
    site: str,
    line: str,
    out: str | os.PathLike[str],
    total_events: int | None = None,
    time_unit: str = "months",
    percent: bool | None = None,
    lines: Sequence[str] = ("ICI-1", "ICI-2"),
    overwrite: bool = False,
) -> ReconstructionFiles:
    """Reconstruct a site's time to progression from its curve and write the three files.

    Parameters
    ----------
    curve, at_risk
        Digitised curve (``time``, ``survival``) and numbers at risk (``time``, ``n_at_risk``).
    site, line
        Labels of every reconstructed row; ``line`` must be one of ``lines``.
    out
        The patient table to write (CSV); the other two files go beside it.
    total_events
        Total number of events, when the paper gives it.
    time_unit
        ``months``, ``weeks`` or ``days``: the unit of both tables' times.
    percent
        Survival in percent (``True``), as a proportion (``False``) or detected (``None``).
    lines
        Allowed line labels (as for ``rechallenge validate``; default ICI-1, ICI-2).
    overwrite
        Replace existing outputs.

    Returns
    -------
    ReconstructionFiles

    Raises
    ------
    FileExistsError
        If an output exists and ``overwrite`` is false (checked before any work).
    DataValidationError
        If the curve or the at-risk table is malformed, or the labels are invalid.
    """
    from rechallenge.data import schema, validate_patients
    from rechallenge.data.atomic import write_atomic
    from rechallenge.data.curve_input import read_curve_inputs
    from rechallenge.data.reconstruct import patient_table, reconstruct

    paths = output_paths(out)
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} exist(s); pass --overwrite "
                              "(overwrite=True) to replace")
    inputs = read_curve_inputs(curve, at_risk, percent=percent)
    result = reconstruct(inputs, total_events=total_events)
    table = patient_table(result, site=site, line=line, time_unit=time_unit)
    # The file must pass the checks every reader applies, so validate before writing.
    patients = validate_patients(table, source=str(paths[0]), lines=lines,
                                 endpoints=(schema.TTP_ENDPOINT,))
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    write_atomic(paths[0], lambda f: patients.to_csv(f, index=False, lineterminator="\n"))
    write_atomic(paths[1], lambda f: result.at_risk.to_csv(f, index=False, lineterminator="\n"))
    write_atomic(paths[2], lambda f: _save_plot(result, f, site, line, time_unit))
    return ReconstructionFiles(result, patients, paths)


def _save_plot(result: Reconstruction, target: str, site: str, line: str, unit: str) -> None:
    import matplotlib.pyplot as plt

    from rechallenge.analysis.plots.reconstruction import plot_reconstruction

    ax = plot_reconstruction(result, time_label=unit.capitalize(),
                             title=f"{site} {line}: reconstructed from the published curve")
    figure = cast("Figure", ax.figure)
    try:
        # No software stamp, so the same inputs give the same bytes.
        figure.savefig(target, format="png", dpi=200, bbox_inches="tight",
                       metadata={"Software": None})
    finally:
        plt.close(figure)


def register_reconstruct(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge reconstruct``."""
    from rechallenge.analysis.cli.common import comma_list
    from rechallenge.data import schema

    parser = sub.add_parser(
        "reconstruct",
        help="pseudo patient TTP data from a published Kaplan-Meier curve (Guyot et al. 2012)",
        description=(
            "Reconstruct pseudo patient data for time to progression from a digitised "
            "Kaplan-Meier curve (CURVE: columns time, survival) and its numbers at risk "
            "(columns time, n_at_risk; first row at time 0) with the algorithm of Guyot et al., "
            "BMC Med Res Methodol 2012;12:9. Writes a patient table marked as reconstructed "
            "(--out), the published vs reconstructed numbers at risk (OUT.reconstruction.csv) "
            "and a plot (OUT.reconstruction.png). See docs/updating.md."),
    )
    parser.add_argument("curve", metavar="CURVE", help="digitised points: time, survival")
    parser.add_argument("--at-risk", required=True, metavar="TABLE",
                        help="numbers at risk as printed under the figure: time, n_at_risk")
    parser.add_argument("--site", required=True, help="site label of the reconstructed rows")
    parser.add_argument("--line", required=True, help="treatment line of the curve, e.g. ICI-2")
    parser.add_argument("--total-events", type=int, default=None, metavar="E",
                        help="total number of events, when the paper gives it")
    parser.add_argument("--time-unit", choices=("months", "weeks", "days"), default="months",
                        help="unit of the times in both tables (default: months)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--percent", action="store_true", default=None,
                       help="survival is in percent (default: detected)")
    scale.add_argument("--proportion", dest="percent", action="store_false",
                       help="survival is a proportion from 0 to 1 (default: detected)")
    parser.add_argument("--lines", type=comma_list, default=None, metavar="LABELS",
                        help=(f"allowed line labels (default: {','.join(schema.DEFAULT_LINES)}); each at "
                              f"most {schema.MAX_LABEL_LENGTH} characters, no control characters"))
    parser.add_argument("--out", required=True, metavar="PATIENTS.csv",
                        help="patient table to write")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return parser


def run_reconstruct(args: argparse.Namespace) -> int:
    """Reconstruct, write the files, and print what was made and how well it fits."""
    from rechallenge.analysis.cli.common import EXIT_FAILURE, EXIT_OK, INPUT_PROBLEMS, report_problem
    from rechallenge.data import DataValidationError, schema

    try:
        made = reconstruct_files(
            args.curve, args.at_risk, site=args.site, line=args.line, out=args.out,
            total_events=args.total_events, time_unit=args.time_unit, percent=args.percent,
            lines=args.lines or schema.DEFAULT_LINES, overwrite=args.overwrite)
    except DataValidationError as exc:  # its own header line lists every problem
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    except INPUT_PROBLEMS as exc:
        return report_problem(exc)
    r = made.result
    worst = int(r.at_risk["difference"].abs().max())
    print(f"Reconstructed {r.n} pseudo patients ({r.events} events, {r.n - r.events} censored) "
          f"for site {args.site}, line {args.line}; survival read as "
          f"{'percent' if r.percent else 'proportion'}; {r.adjusted_points} digitised point(s) "
          f"lowered to keep the curve non-increasing.")
    print(f"Numbers at risk: largest difference from the published table {worst} "
          f"(see {made.paths[1]}).")
    if r.total_events is not None and r.events != r.total_events:
        print(f"note: the paper gives {r.total_events} events; the curve and the at-risk table "
              f"allow {r.events}.")
    print(f"Wrote {made.paths[0]}, {made.paths[1]}, {made.paths[2]}")
    return EXIT_OK

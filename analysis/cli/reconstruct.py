"""``rechallenge reconstruct``: a published Kaplan-Meier curve in, a patient table out.

Reads a digitised curve and its numbers-at-risk table, reconstructs pseudo patient data
(:mod:`rechallenge.data.reconstruct`), and writes, beside one another:

- ``PATIENTS.csv`` (``--out``): the package's patient table, time to progression only, each row
  marked ``source = reconstructed:Guyot2012``; ``rechallenge validate`` and
  ``rechallenge update --new-sites`` take it;
- ``PATIENTS.reconstruction.csv``: published against reconstructed numbers at risk;
- ``PATIENTS.reconstruction.png``: the reconstructed Kaplan-Meier curve over the digitised points.

Everything that can fail (the options, both tables, the reconstruction, the checks of the
patient table, the plot, the text printed afterwards) is done before any file is written; the
three files are then written to temporary files and renamed into place together. Nothing
existing is replaced without ``--overwrite``, and an input is never replaced.
:func:`reconstruct_files` does the same from Python.
"""

from __future__ import annotations

import argparse
import errno
import io
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
class PreparedReconstruction:
    """A finished reconstruction and the bytes of its three files, not yet written.

    Parameters
    ----------
    result
        The reconstruction (pseudo patients in the curve's time unit, at-risk comparison).
    patients
        The validated patient table.
    contents
        The bytes of the patient table, the at-risk comparison and the plot, by path.
    source
        The curve's file, as named in messages.
    """

    result: Reconstruction
    patients: pd.DataFrame
    contents: dict[Path, bytes]
    source: str = "the curve"

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        """Patient table, at-risk comparison and plot, in that order."""
        first, second, third = self.contents
        return first, second, third

    def write(self) -> ReconstructionFiles:
        """Write the three files (all renamed into place, or none)."""
        from rechallenge.data.atomic import write_files_atomic

        write_files_atomic(self.contents)
        return ReconstructionFiles(self.result, self.patients, self.paths)


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


def prepare_reconstruction(
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
) -> PreparedReconstruction:
    """Reconstruct a site's time to progression from its curve; the three files' bytes.

    Everything but the writing: :func:`reconstruct_files` with the files not yet written
    (:meth:`PreparedReconstruction.write` writes them).

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
    PreparedReconstruction

    Raises
    ------
    FileExistsError
        If an output exists and ``overwrite`` is false (checked before any work).
    ValueError
        An output that is a folder or one of the inputs, a site or line label that a patient
        table cannot have, a time unit not known, or an output inside a run directory (all
        checked before any work; :func:`rechallenge.analysis.run.run_nesting.check_outside_runs`).
    DataValidationError
        If the curve or the at-risk table is malformed or too large, or describes a curve the
        numbers at risk cannot produce (a reconstruction that merely departs from the curve is
        flagged in ``result.departure`` instead).
    """
    from rechallenge.analysis.run.run_nesting import check_outside_runs
    from rechallenge.data import validate_patients
    from rechallenge.data.curve_input import max_time, read_curve_inputs
    from rechallenge.data.reconstruct import (
        RECONSTRUCTED_ENDPOINTS,
        check_labels,
        patient_table,
        reconstruct,
    )

    paths = output_paths(out)
    _check_outputs(paths, (curve, at_risk), overwrite)
    # Never inside a run: the run's manifest lists every file it holds.
    check_outside_runs(paths[0], reads={Path(curve).resolve(), Path(at_risk).resolve()})
    max_time(time_unit)  # a unit it does not know is refused before any work
    check_labels(site, line, lines)
    inputs = read_curve_inputs(curve, at_risk, percent=percent, time_unit=time_unit)
    result = reconstruct(inputs, total_events=total_events)
    table = patient_table(result, site=site, line=line, time_unit=time_unit)
    # The file must pass the checks every reader applies, so validate before writing. It is not
    # written yet, so a problem is named after the table, not after a file that does not exist.
    patients = validate_patients(table, source=f"the reconstructed table (not written to {out})",
                                 lines=lines, endpoints=RECONSTRUCTED_ENDPOINTS)
    return PreparedReconstruction(result, patients, {
        paths[0]: patients.to_csv(index=False, lineterminator="\n").encode("utf-8"),
        paths[1]: result.at_risk.to_csv(index=False, lineterminator="\n").encode("utf-8"),
        paths[2]: _plot_png(result, site, line, time_unit),
    }, str(curve))


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

    Parameters and errors as :func:`prepare_reconstruction`; the files are written only when
    everything else has passed, all three or none.

    Returns
    -------
    ReconstructionFiles
    """
    return prepare_reconstruction(
        curve, at_risk, site=site, line=line, out=out, total_events=total_events,
        time_unit=time_unit, percent=percent, lines=lines, overwrite=overwrite).write()


def _check_outputs(
    paths: tuple[Path, Path, Path], inputs: Sequence[str | os.PathLike[str]], overwrite: bool
) -> None:
    """Refuse outputs that exist (without ``overwrite``), are folders, or are an input, and a
    folder for them that a file stands in the way of.
    """
    ancestor = paths[0].parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(ancestor))
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:
        raise ValueError(f"--out: {', '.join(folders)} is a folder; give the patient table's file "
                         "name, e.g. --out PATIENTS.csv")
    for given in inputs:
        source = Path(given)
        for path in paths:
            # realpath, unlike Path.resolve, never raises (a symlink loop, say).
            same = (path.exists() and source.exists() and os.path.samefile(path, source)) or (
                os.path.realpath(path) == os.path.realpath(source))
            if same:
                raise ValueError(f"--out: writing {path} would replace the input {given}; "
                                 "choose another --out")
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} exist(s); pass --overwrite "
                              "(overwrite=True) to replace")


def _plot_png(result: Reconstruction, site: str, line: str, unit: str) -> bytes:
    """The plot as PNG bytes (drawn before any file is written)."""
    buffer = io.BytesIO()
    _save_plot(result, buffer, site, line, unit)
    return buffer.getvalue()


def _save_plot(result: Reconstruction, target: str | io.BytesIO, site: str, line: str,
               unit: str) -> None:
    import matplotlib.pyplot as plt

    from rechallenge.analysis.plots.reconstruction import plot_reconstruction
    from rechallenge.analysis.plots.style import PNG_DPI

    ax = plot_reconstruction(result, time_label=unit.capitalize(),
                             title=f"{site} {line}: reconstructed from the published curve")
    figure = cast("Figure", ax.figure)
    try:
        # No software stamp, so the same inputs give the same bytes.
        figure.savefig(target, format="png", dpi=PNG_DPI, bbox_inches="tight",
                       metadata={"Software": None})
    finally:
        plt.close(figure)


def register_reconstruct(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge reconstruct``."""
    from rechallenge.analysis.cli.common import comma_list
    from rechallenge.data import schema
    from rechallenge.data.curve_input import MAX_AT_RISK, MAX_AT_RISK_ROWS, MAX_CURVE_POINTS

    parser = sub.add_parser(
        "reconstruct",
        help="pseudo patient TTP data from a published Kaplan-Meier curve (Guyot et al. 2012)",
        description=(
            "Reconstruct pseudo patient data for time to progression from a digitised "
            "Kaplan-Meier curve (CURVE: columns time, survival) and its numbers at risk "
            "(columns time, n_at_risk; first row at time 0) with the algorithm of Guyot et al., "
            "BMC Med Res Methodol 2012;12:9. Writes a patient table marked as reconstructed "
            "(--out), the published vs reconstructed numbers at risk (OUT.reconstruction.csv) "
            "and a plot (OUT.reconstruction.png), all three only when everything has passed. "
            f"Limits, checked before any work: at most {MAX_CURVE_POINTS:,} digitised points, "
            f"{MAX_AT_RISK_ROWS:,} at-risk rows and {MAX_AT_RISK:,} patients at risk; times up "
            "to 100 years in --time-unit. A curve the numbers at risk cannot produce (every "
            "point at one time, a drop after nobody is left at risk) is refused; a "
            "reconstruction that departs from the curve is written with a warning. See "
            "docs/updating.md."),
    )
    parser.add_argument("curve", metavar="CURVE",
                        help=f"digitised points: time, survival (at most {MAX_CURVE_POINTS:,} rows)")
    parser.add_argument("--at-risk", required=True, metavar="TABLE",
                        help="numbers at risk as printed under the figure: time, n_at_risk (at "
                             f"most {MAX_AT_RISK_ROWS:,} rows and {MAX_AT_RISK:,} patients)")
    parser.add_argument("--site", required=True, help="site label of the reconstructed rows")
    parser.add_argument("--line", required=True, help="treatment line of the curve, e.g. ICI-2")
    parser.add_argument("--total-events", type=int, default=None, metavar="E",
                        help="total number of events, when the paper gives it (0 to the number "
                             "at time 0; above 0 only for a curve that falls)")
    parser.add_argument("--time-unit", choices=("months", "weeks", "days"), default="months",
                        help="unit of the times in both tables, each at most 100 years "
                             "(default: months)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--percent", action="store_true", default=None,
                       help="survival is in percent (default: detected)")
    scale.add_argument("--proportion", dest="percent", action="store_false",
                       help="survival is a proportion from 0 to 1 (default: detected)")
    parser.add_argument("--lines", type=comma_list, default=None, metavar="LABELS",
                        help=(f"allowed line labels (default: {','.join(schema.DEFAULT_LINES)}); each at "
                              f"most {schema.MAX_LABEL_LENGTH} characters, no control characters"))
    parser.add_argument("--out", required=True, metavar="PATIENTS.csv",
                        help="patient table to write (not an input, not inside a run)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return parser


def run_reconstruct(args: argparse.Namespace) -> int:
    """Reconstruct, write the files, and print what was made and how well it fits.

    The text is composed before the files are written, and nothing is printed until they are:
    a problem found first leaves no file behind.
    """
    from rechallenge.analysis.cli.common import EXIT_FAILURE, EXIT_OK, INPUT_PROBLEMS, report_problem
    from rechallenge.data import DataValidationError, schema

    try:
        prepared = prepare_reconstruction(
            args.curve, args.at_risk, site=args.site, line=args.line, out=args.out,
            total_events=args.total_events, time_unit=args.time_unit, percent=args.percent,
            lines=args.lines or schema.DEFAULT_LINES, overwrite=args.overwrite)
    except DataValidationError as exc:  # its own header line lists every problem
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    except INPUT_PROBLEMS as exc:
        return report_problem(exc, consequence="no file was written")
    text, warning = _summary(prepared, args.site, args.line)
    try:
        prepared.write()
    except OSError as exc:
        consequence = "none of the three files was written"
        if exc.filename and Path(exc.filename).exists():
            return report_problem(exc, consequence=consequence)
        # Name the folder, not a temporary file that is gone by now.
        print(f"error: {exc.strerror or exc} while writing into {prepared.paths[0].parent}; "
              f"{consequence}", file=sys.stderr)
        return EXIT_FAILURE
    print(text)
    if warning:
        print(warning, file=sys.stderr)
    return EXIT_OK


def _summary(prepared: PreparedReconstruction, site: str, line: str) -> tuple[str, str]:
    """What was made and how well it fits, and a warning when the reconstruction departs from
    the curve (empty otherwise): printed after the files are written.
    """
    r = prepared.result
    paths = prepared.paths
    worst = int(r.at_risk["difference"].abs().max())
    lines = [
        f"Reconstructed {r.n} pseudo patients ({r.events} events, {r.n - r.events} censored) "
        f"for site {site}, line {line}; survival read as "
        f"{'percent' if r.percent else 'proportion'}; {r.adjusted_points} digitised point(s) "
        f"lowered to keep the curve non-increasing.",
        f"Numbers at risk: largest difference from the published table {worst} "
        f"(see {paths[1]}).",
    ]
    if r.total_events is not None and r.events != r.total_events:
        lines.append(f"note: the paper gives {r.total_events} events; the curve and the at-risk "
                     f"table allow {r.events}.")
    lines.append(f"Wrote {paths[0]}, {paths[1]}, {paths[2]}")
    departure = r.departure
    warning = "" if departure is None else f"warning: {departure.describe(prepared.source)}."
    return "\n".join(lines), warning

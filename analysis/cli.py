"""Command line: ``rechallenge <command> ...``, a thin layer over the Python API.

Adding a command takes two functions and one line in :data:`COMMANDS`::

    def register_report(sub: Subparsers) -> argparse.ArgumentParser:
        parser = sub.add_parser("report", help="...", description="...")
        parser.add_argument("run_dir")
        return parser

    def run_report(args: argparse.Namespace) -> int:
        ...                      # call the Python API; return the exit status
        return 0

    COMMANDS["report"] = Command(register_report, run_report)

Keep the heavy imports (PyMC, ArviZ) inside the run function so ``rechallenge validate`` and
``--help`` stay fast. Exit statuses: 0 success, 1 the input or the run failed (problems printed),
2 usage error (argparse's convention).
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Command:
    """One subcommand: how its parser is registered and what runs it."""

    register: Callable[[Subparsers], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


def _comma_list(text: str) -> tuple[str, ...]:
    """``ICI-1,ICI-2`` -> ``("ICI-1", "ICI-2")``; argparse turns ValueError into a usage error."""
    items = tuple(part.strip() for part in text.split(","))
    if not items or any(item == "" for item in items):
        raise argparse.ArgumentTypeError(f"expected comma-separated labels, got {text!r}")
    if len({item.upper() for item in items}) != len(items):
        raise argparse.ArgumentTypeError(f"labels must differ (ignoring case), got {text!r}")
    return items


def _endpoint_list(text: str) -> tuple[str, ...]:
    from rechallenge.data import schema

    items = _comma_list(text)
    unknown = [e for e in items if e not in schema.ENDPOINTS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown endpoint(s) {', '.join(unknown)}; choose from {', '.join(schema.ENDPOINTS)}")
    return items


# ---- validate -------------------------------------------------------------------------------

def register_validate(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge validate``."""
    from rechallenge.data import schema

    parser = sub.add_parser(
        "validate",
        help="check input files against the data contract",
        description=(
            "Check patient-level files (and aggregate files given with --aggregate) against the "
            "data contract described in docs/data_format.md. Every problem in every file is "
            "reported with its file, row (the header is row 1), column and value. Exit status 0 "
            "when all files are valid, 1 otherwise. Options given here override --config."),
    )
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="patient table(s): CSV, TSV or XLSX, one row per patient per line")
    parser.add_argument("--aggregate", nargs="+", default=[], metavar="FILE", action="extend",
                        help="aggregate table(s): counts per site, line and endpoint")
    parser.add_argument("--lines", type=_comma_list, default=None, metavar="LABELS",
                        help=f"line labels in order (default: {','.join(schema.DEFAULT_LINES)})")
    parser.add_argument("--endpoints", type=_endpoint_list, default=None, metavar="NAMES",
                        help=("endpoints to be analysed; only their columns are required "
                              f"(default: {','.join(schema.ENDPOINTS)})"))
    parser.add_argument("--config", metavar="TOML", default=None,
                        help=("analysis config; its [data] files and lines and its [analysis] "
                              "endpoints are used where not given on the command line"))
    return parser


def _validate_inputs(args: argparse.Namespace) -> tuple[list[str], list[str], tuple, tuple]:
    """Files, aggregate files, lines and endpoints: command line first, then config, then defaults.

    Raises
    ------
    ValueError
        If the config file cannot be used (``ConfigError`` is a ValueError).
    """
    from rechallenge.data import schema

    files, aggregates = list(args.files), list(args.aggregate)
    lines, endpoints = args.lines, args.endpoints
    if args.config is not None:
        # Imported only when asked for: the config module pulls in the sampler settings.
        from rechallenge.analysis.config import load_config

        config = load_config(args.config)
        if not files and not aggregates:
            files, aggregates = list(config.data.patients), list(config.data.aggregates)
        lines = lines or config.data.lines
        endpoints = endpoints or config.analysis.endpoints
    return (files, aggregates, tuple(lines or schema.DEFAULT_LINES),
            tuple(endpoints or schema.ENDPOINTS))


def run_validate(args: argparse.Namespace) -> int:
    """Validate all files together; print an OK line per clean file and every problem."""
    from rechallenge.data import DataValidationError, check_study

    try:
        files, aggregates, lines, endpoints = _validate_inputs(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if not files and not aggregates:
        print("rechallenge validate: error: give at least one FILE or --aggregate FILE "
              "(or a --config that names data files)", file=sys.stderr)
        return EXIT_USAGE
    try:
        # One call sees every file at once, so problems between files (the same patient-line
        # twice; patient rows and counts for the same site, line and endpoint) are found too;
        # it reads each file once and counts what each holds.
        checked = check_study(files, aggregates, lines=lines, endpoints=endpoints)
    except ImportError as exc:  # an .xlsx file without openpyxl installed
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE

    issues = checked.issues
    failed = {issue.file for issue in issues}
    for summary in checked.files:
        if summary.source in failed:
            continue
        if summary.kind == "patients":
            print(f"OK: {summary.source}: {summary.rows} rows, {summary.patients} patients, "
                  f"{summary.sites} sites")
        else:
            print(f"OK: {summary.source}: {summary.rows} rows, {summary.sites} sites "
                  "(aggregate counts)")
    if issues:
        print(DataValidationError(issues))
        return EXIT_FAILURE
    return EXIT_OK


# ---- analyze / report -----------------------------------------------------------------------

def register_analyze(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge analyze``."""
    parser = sub.add_parser(
        "analyze",
        help="fit every endpoint, check the fits and write the report",
        description=(
            "Fit the hierarchical models of every endpoint (response, disease control, toxicity, "
            "time to progression), run the diagnostics gate, model checks and sensitivity "
            "analyses, and write a run directory with fits, tables, figures and report. Without "
            "DATA (or data files in --config) the shipped SYNTHETIC dataset is analysed. Exit "
            "status 1 if the data are invalid or the convergence gate fails (unless "
            "--allow-unconverged)."),
    )
    parser.add_argument("data", nargs="*", metavar="DATA", help="patient table(s) (CSV, TSV, XLSX)")
    parser.add_argument("--aggregate", nargs="+", default=[], action="extend", metavar="FILE",
                        help="aggregate table(s): counts per site, line and endpoint")
    parser.add_argument("--out", required=True, metavar="DIR", help="run directory to create")
    parser.add_argument("--config", metavar="FILE", help="TOML config (see docs/config.md)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    parser.add_argument("--allow-unconverged", action="store_true",
                        help="accept fits that fail the diagnostics gate (the report says so)")
    for flag, kind, text in (
        ("--backend", str, "sampler backend: nutpie or pymc"),
        ("--chains", int, "number of chains"),
        ("--draws", int, "posterior draws per chain"),
        ("--tune", int, "tuning steps per chain"),
        ("--seed", int, "master seed"),
        ("--target-accept", float, "NUTS target acceptance rate"),
    ):
        parser.add_argument(flag, type=kind, default=None, help=f"{text} (overrides the config)")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def _config_from_args(args: argparse.Namespace):  # -> RunConfig (heavy import kept local)
    from dataclasses import replace

    from rechallenge.analysis.config import load_config

    config = load_config(args.config)
    if args.data or args.aggregate:
        config = replace(config, data=replace(
            config.data, patients=tuple(map(str, args.data)), aggregates=tuple(map(str, args.aggregate))))
    changes = {name: getattr(args, name) for name in
               ("backend", "chains", "draws", "tune", "seed", "target_accept")
               if getattr(args, name) is not None}
    return config.with_sampler(**changes) if changes else config


def _run_job(job: Callable[[], Any]) -> int:
    """Run an analysis job; print the verdict, or the problem, and return the exit status.

    Input problems (config, data, an existing run, a fit made from other data) exit 1 with the
    message; a failed convergence gate exits 1 after saying where the run was written.
    """
    from rechallenge.analysis.pipeline import UnconvergedError
    from rechallenge.analysis.rundir import RunExistsError

    try:
        result = job()
    except (ValueError, RunExistsError, FileNotFoundError) as exc:
        # ValueError covers ConfigError, DataValidationError and DataHashMismatch.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except UnconvergedError as exc:
        print(exc.gate.message(), file=sys.stderr)
        print(f"The run was written to {exc.out} for inspection; rerun with --allow-unconverged "
              "to accept it.", file=sys.stderr)
        return EXIT_FAILURE
    print(result.gate.message())
    print(f"Report: {result.out / 'report.md'} (and report.html)")
    return EXIT_OK


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    from rechallenge.analysis.pipeline import stderr_progress

    return (lambda _m: None) if args.quiet else stderr_progress


def run_analyze(args: argparse.Namespace) -> int:
    """Run the whole analysis; print where it went and the gate verdict."""
    from rechallenge.analysis.pipeline import analyze

    return _run_job(lambda: analyze(
        _config_from_args(args), args.out, overwrite=args.overwrite,
        allow_unconverged=args.allow_unconverged, progress=_progress(args)))


def register_report(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge report``."""
    parser = sub.add_parser(
        "report",
        help="rebuild tables, figures and report of a run from its saved fits",
        description="Rebuild the tables, figures and report of RUN_DIR from its saved fits, "
                    "without sampling. The fits are checked against the run's data hash.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def run_report(args: argparse.Namespace) -> int:
    """Rebuild the report of a run (exit 1 if its fits failed the gate and were not accepted)."""
    from rechallenge.analysis.pipeline import UnconvergedError, rebuild_report

    def job() -> Any:
        result = rebuild_report(args.run_dir, progress=_progress(args))
        if not result.gate.passed and not result.manifest["gate"].get("allowed_unconverged"):
            raise UnconvergedError(result.gate, result.out)
        return result

    return _run_job(job)


# ---- update -----------------------------------------------------------------------------------

def register_update(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge update``."""
    parser = sub.add_parser(
        "update",
        help="add new sites to a run: conflict check, refit, before/after",
        description=(
            "Add new sites to an earlier run: check each new site against the run's predictive "
            "distribution for a new site, refit the same models with the same config on the "
            "combined data into --out, and report what moved. The earlier run is not changed. "
            "New files may be patient tables or aggregate tables (told apart by their header)."),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the earlier run")
    parser.add_argument("--new-sites", nargs="+", required=True, action="extend", metavar="FILE",
                        help="new sites' data (patient and/or aggregate tables)")
    parser.add_argument("--out", required=True, metavar="NEW_DIR", help="run directory to create")
    parser.add_argument("--same-site", nargs="+", default=[], action="extend", metavar="SITE",
                        help="labels in the new data that are sites already in the run")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing NEW_DIR")
    parser.add_argument("--allow-unconverged", action="store_true",
                        help="accept fits that fail the diagnostics gate (the report says so)")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def run_update(args: argparse.Namespace) -> int:
    """Update a run with new sites."""
    from rechallenge.analysis.update import update_run

    return _run_job(lambda: update_run(
        args.run_dir, args.new_sites, out=args.out, same_site=args.same_site,
        overwrite=args.overwrite, allow_unconverged=args.allow_unconverged,
        progress=_progress(args)))


#: Subcommands in the order ``--help`` lists them. Other modules add theirs here.
COMMANDS: dict[str, Command] = {
    "validate": Command(register_validate, run_validate),
    "analyze": Command(register_analyze, run_analyze),
    "report": Command(register_report, run_report),
    "update": Command(register_update, run_update),
}


# ---- entry point ----------------------------------------------------------------------------

def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rechallenge")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (package metadata not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="rechallenge",
        description=("Bayesian hierarchical models for multicentre studies of immune checkpoint "
                     "inhibitor rechallenge."),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.register(sub).set_defaults(_command=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 failure, 2 usage error).

    Parameters
    ----------
    argv
        Arguments without the program name; ``None`` reads ``sys.argv[1:]``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, --version and usage errors: return, don't exit
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    name = getattr(args, "_command", None)
    if name is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return COMMANDS[name].run(args)


def console_main() -> None:
    """Entry point of the ``rechallenge`` script: :func:`main`, then exit with its status.

    Raises
    ------
    SystemExit
        Always, with the exit status.
    """
    status = main()
    # Every file is written and closed by now. What is left is large cyclic object graphs
    # (compiled models, PyTensor graphs, fits) that the interpreter would walk and free one by
    # one on the way out: about 1.2 s after an analysis. Frozen, they are left to the operating
    # system; exit handlers still run.
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    raise SystemExit(status)


if __name__ == "__main__":
    console_main()

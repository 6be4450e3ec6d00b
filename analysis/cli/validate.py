"""``rechallenge validate``: check data files (and a config) against the data contract."""

from __future__ import annotations

import argparse
import sys

from rechallenge.analysis.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    comma_list,
    endpoint_list,
    table_limits_help,
)


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
            "when all files are valid, 1 otherwise. Options given here override --config. "
            f"Data files: {table_limits_help()}; a named pipe, a device or a directory is "
            "refused before it is opened."),
    )
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="patient table(s): CSV, TSV or XLSX, one row per patient per line")
    parser.add_argument("--aggregate", nargs="+", default=[], metavar="FILE", action="extend",
                        help="aggregate table(s): counts per site, line and endpoint")
    parser.add_argument("--lines", type=comma_list, default=None, metavar="LABELS",
                        help=(f"line labels in order (default: {','.join(schema.DEFAULT_LINES)}); each at "
                              f"most {schema.MAX_LABEL_LENGTH} characters, no control characters"))
    parser.add_argument("--endpoints", type=endpoint_list, default=None, metavar="NAMES",
                        help=("endpoints to be analysed; only their columns are required "
                              f"(default: {','.join(schema.ENDPOINTS)})"))
    parser.add_argument("--config", metavar="TOML", default=None,
                        help=("analysis config (a regular file of at most 1 MiB); its [data] "
                              "files and lines and its [analysis] endpoints are used where not "
                              "given on the command line"))
    return parser


def _validate_inputs(args: argparse.Namespace) -> tuple[list[str], list[str], tuple, tuple, tuple]:
    """Files, aggregates, lines, endpoints (command line, else config, else defaults), covariates.

    Raises
    ------
    ValueError
        If the config file cannot be used (``ConfigError`` is a ValueError).
    """
    from rechallenge.data import schema

    files, aggregates = list(args.files), list(args.aggregate)
    lines, endpoints = args.lines, args.endpoints
    covariates: tuple[str, ...] = ()
    if args.config is not None:
        # Imported only when asked for: the config module pulls in the sampler settings.
        from rechallenge.analysis.settings.config import load_config

        config = load_config(args.config)
        if not files and not aggregates:
            files, aggregates = list(config.data.patients), list(config.data.aggregates)
        lines = lines or config.data.lines
        endpoints = endpoints or config.analysis.endpoints
        covariates = config.analysis.covariates
    return (files, aggregates, tuple(lines or schema.DEFAULT_LINES),
            tuple(endpoints or schema.ENDPOINTS), covariates)


def run_validate(args: argparse.Namespace) -> int:
    """Validate all files together; print an OK line per clean file and every problem."""
    from rechallenge.data import DataValidationError, check_study

    try:
        files, aggregates, lines, endpoints, covariates = _validate_inputs(args)
    except ValueError as exc:  # every problem of the config, one per line
        print("\n".join(f"error: {line}" for line in str(exc).splitlines()), file=sys.stderr)
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
    bad_covariates: list[str] = []
    if covariates and checked.study is not None:  # as the model builders of `analyze` will
        from rechallenge.analysis.settings.config_checks import covariate_problems

        bad_covariates = covariate_problems(checked.study.patients, covariates)

    from rechallenge.analysis.reporting.vocabulary import counted

    issues = checked.issues
    failed = {issue.file for issue in issues}
    for summary in checked.files:
        if summary.source in failed:
            continue
        if summary.kind == "patients":
            print(f"OK: {summary.source}: {counted(summary.rows, 'row')}, "
                  f"{counted(summary.patients or 0, 'patient')}, {counted(summary.sites, 'site')}")
        else:
            print(f"OK: {summary.source}: {counted(summary.rows, 'row')}, "
                  f"{counted(summary.sites, 'site')} (aggregate counts)")
    for problem in bad_covariates:
        print(f"error: {args.config}: {problem}", file=sys.stderr)
    if issues:
        print(DataValidationError(issues))
    return EXIT_FAILURE if issues or bad_covariates else EXIT_OK

"""``rechallenge analyze``, ``report`` and ``update``: the jobs that write run directories."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rechallenge.analysis.cli.common import (
    Subparsers,
    progress_of,
    run_job,
    scheduler_address,
    table_limits_help,
)

if TYPE_CHECKING:  # the engine imports Dask: loaded only when a job runs
    from rechallenge.analysis.run.engine import EngineSettings


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
    parser.add_argument("data", nargs="*", metavar="DATA",
                        help=f"patient table(s) (CSV, TSV, XLSX; {table_limits_help()})")
    parser.add_argument("--aggregate", nargs="+", default=[], action="extend", metavar="FILE",
                        help="aggregate table(s): counts per site, line and endpoint")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="run directory to create (not inside another run: refused before "
                             "any work)")
    parser.add_argument("--config", metavar="FILE", help="TOML config (see docs/config.md)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    parser.add_argument("--allow-unconverged", action="store_true",
                        help="accept fits that fail the diagnostics gate (the report says so)")
    for flag, kind, text in (
        ("--backend", str, "sampler backend: nutpie, jax, pymc or auto"),
        ("--chains", int, "number of chains"),
        ("--draws", int, "posterior draws per chain"),
        ("--tune", int, "tuning steps per chain"),
        ("--seed", int, "master seed"),
        ("--target-accept", float, "NUTS target acceptance rate"),
    ):
        parser.add_argument(flag, type=kind, default=None, help=f"{text} (overrides the config)")
    add_scheduler(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def scheduler_engine(args: argparse.Namespace) -> EngineSettings | None:
    """The engine ``--scheduler`` names, or ``None`` for the run config's own."""
    from rechallenge.analysis.run.engine import EngineSettings

    return None if args.scheduler is None else EngineSettings(scheduler=args.scheduler)


def add_scheduler(parser: argparse.ArgumentParser) -> None:
    """The ``--scheduler ADDRESS`` option of every command that runs many tasks."""
    parser.add_argument(
        "--scheduler", type=scheduler_address, default=None, metavar="ADDRESS",
        help="run the tasks on the Dask cluster of this scheduler (e.g. tcp://10.0.0.5:8786; "
             "overrides [engine] scheduler); default: a local cluster")


def _config_from_args(args: argparse.Namespace):  # -> RunConfig (heavy import kept local)
    from dataclasses import replace

    from rechallenge.analysis.settings.config import load_config

    config = load_config(args.config)
    if args.data or args.aggregate:
        config = replace(config, data=replace(
            config.data, patients=tuple(map(str, args.data)), aggregates=tuple(map(str, args.aggregate))))
    changes = {name: getattr(args, name) for name in
               ("backend", "chains", "draws", "tune", "seed", "target_accept")
               if getattr(args, name) is not None}
    config = config.with_scheduler(args.scheduler)
    return config.with_sampler(**changes) if changes else config


def run_analyze(args: argparse.Namespace) -> int:
    """Run the whole analysis; print where it went and the gate verdict."""
    from rechallenge.analysis.run.pipeline import analyze

    return run_job(lambda: analyze(
        _config_from_args(args), args.out, overwrite=args.overwrite,
        allow_unconverged=args.allow_unconverged, progress=progress_of(args)))


def register_report(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge report``."""
    parser = sub.add_parser(
        "report",
        help="rebuild tables, figures and report of a run from its saved fits",
        description="Rebuild the tables, figures and report of RUN_DIR from its saved fits, "
                    "without sampling. The fits are checked against the run's data hash.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    add_scheduler(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def run_report(args: argparse.Namespace) -> int:
    """Rebuild the report of a run (exit 1 if its fits failed the gate and were not accepted)."""
    from rechallenge.analysis.run.pipeline import UnconvergedError, rebuild_report

    def job() -> Any:
        result = rebuild_report(args.run_dir, progress=progress_of(args),
                                engine=scheduler_engine(args))
        if not result.gate.passed and not result.manifest["gate"].get("allowed_unconverged"):
            raise UnconvergedError(result.gate, result.out)
        return result

    return run_job(job)


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
            "New files may be patient tables or aggregate tables (told apart by their header, "
            "whatever the extension)."),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the earlier run")
    parser.add_argument("--new-sites", nargs="+", required=True, action="extend", metavar="FILE",
                        help=("new sites' data: patient and/or aggregate tables, told apart by "
                              f"their columns whatever the extension ({table_limits_help()})"))
    parser.add_argument("--out", required=True, metavar="NEW_DIR",
                        help="run directory to create (not RUN_DIR, not inside it or any other "
                             "run: refused before any work)")
    parser.add_argument("--same-site", nargs="+", default=[], action="extend", metavar="SITE",
                        help="labels in the new data that are sites already in the run")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing NEW_DIR")
    parser.add_argument("--allow-unconverged", action="store_true",
                        help="accept fits that fail the diagnostics gate (the report says so)")
    add_scheduler(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def run_update(args: argparse.Namespace) -> int:
    """Update a run with new sites."""
    from rechallenge.analysis.run.update import update_run

    return run_job(lambda: update_run(
        args.run_dir, args.new_sites, out=args.out, same_site=args.same_site,
        overwrite=args.overwrite, allow_unconverged=args.allow_unconverged,
        progress=progress_of(args), engine=scheduler_engine(args)))

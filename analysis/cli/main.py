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

Each command lives in its own module of this package (validate, jobs, reconstruct, design, simulate);
:mod:`rechallenge.analysis.cli.common` holds what they share.
Keep the heavy imports (PyMC, ArviZ) inside the run function so ``rechallenge validate`` and
``--help`` stay fast. Exit statuses: 0 success, 1 the input or the run failed (problems printed),
2 usage error (argparse's convention).
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from rechallenge.analysis.cli.common import EXIT_USAGE, Command
from rechallenge.analysis.cli.design import register_design, run_design
from rechallenge.analysis.cli.environment import prepare_environment
from rechallenge.analysis.cli.jobs import (
    register_analyze,
    register_report,
    register_update,
    run_analyze,
    run_report,
    run_update,
)
from rechallenge.analysis.cli.reconstruct import register_reconstruct, run_reconstruct
from rechallenge.analysis.cli.simulate import register_simulate, run_simulate
from rechallenge.analysis.cli.validate import register_validate, run_validate

#: Subcommands in the order ``--help`` lists them. Other modules add theirs here.
COMMANDS: dict[str, Command] = {
    "validate": Command(register_validate, run_validate),
    "analyze": Command(register_analyze, run_analyze),
    "report": Command(register_report, run_report),
    "update": Command(register_update, run_update),
    "design": Command(register_design, run_design),
    "reconstruct": Command(register_reconstruct, run_reconstruct),
    "simulate": Command(register_simulate, run_simulate),
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
        epilog=("Library caches (ArviZ, Matplotlib, PyTensor, numba, Dask) that cannot be "
                "written, e.g. under a read-only HOME, go to a private folder rechallenge-UID "
                "in the temporary folder. Characters the terminal's encoding lacks are printed "
                "as backslash escapes. No command writes inside a run directory."),
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

    Notes
    -----
    Before anything else, output streams are made to escape characters their encoding lacks,
    and library caches that cannot be written are pointed to a private temporary folder
    (:mod:`rechallenge.analysis.cli.environment`); the libraries are imported later, by the
    commands.
    """
    prepare_environment()
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

"""What every command shares: the :class:`Command` record, exit statuses, argument types and
the way a job's outcome is reported (message and exit status, never a traceback for input, disk
or permission problems).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class Subparsers(Protocol):
    """What a command's ``register`` function uses of ``ArgumentParser.add_subparsers()``."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add the parser of one subcommand."""
        ...


@dataclass(frozen=True)
class Command:
    """One subcommand: how its parser is registered and what runs it."""

    register: Callable[[Subparsers], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


def comma_list(text: str) -> tuple[str, ...]:
    """``ICI-1,ICI-2`` -> ``("ICI-1", "ICI-2")``; argparse turns ValueError into a usage error."""
    items = tuple(part.strip() for part in text.split(","))
    if not items or any(item == "" for item in items):
        raise argparse.ArgumentTypeError(f"expected comma-separated labels, got {text!r}")
    if len({item.upper() for item in items}) != len(items):
        raise argparse.ArgumentTypeError(f"labels must differ (ignoring case), got {text!r}")
    from rechallenge.data import line_label_problems

    # Labels are shown in messages and reports: the data's label rules (no control characters).
    problems = line_label_problems(items)
    if problems:
        raise argparse.ArgumentTypeError("; ".join(problems))
    return items


def scheduler_address(text: str) -> str:
    """A ``--scheduler`` value, checked as ``[engine] scheduler`` is (argparse: usage error)."""
    from rechallenge.analysis.settings.config_checks import scheduler_address_problem

    expected = scheduler_address_problem(text)
    if expected is not None:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return text


def endpoint_list(text: str) -> tuple[str, ...]:
    """``response,ttp`` -> ``("response", "ttp")``, each a known endpoint (else a usage error)."""
    from rechallenge.data.endpoints import registered_endpoints

    items = comma_list(text)
    known = registered_endpoints()
    unknown = [e for e in items if e not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown endpoint(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return items


def table_limits_help() -> str:
    """The limits on data tables, for the ``--help`` text of every option that reads them."""
    from rechallenge.data import schema

    return (f"regular files only, each at most {schema.MAX_TABLE_BYTES // 2**20:,} MiB, "
            f"{schema.MAX_TABLE_ROWS:,} data rows in all (docs/data_format.md)")


#: What a command reports as a problem with its input or destination: a message, exit 1, no
#: traceback. ValueError covers ConfigError, DataValidationError (every problem listed),
#: DesignInputError and bad options; OSError a missing or existing file, an unreachable
#: scheduler, a full disk or a folder without write permission.
INPUT_PROBLEMS = (ValueError, OSError)


def report_problem(exc: ValueError | OSError, *, consequence: str = "") -> int:
    """Print ``exc`` as one ``error:`` message on standard error and return :data:`EXIT_FAILURE`.

    Parameters
    ----------
    exc
        The problem. An operating-system error is told by its reason and the file it concerns
        (``No such file or directory (data.csv)``) rather than by errno.
    consequence
        What the failure left behind, appended after a semicolon when given.
    """
    message = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        message = exc.strerror + (f" ({exc.filename})" if exc.filename else "")
    print(f"error: {message}" + (f"; {consequence}" if consequence else ""), file=sys.stderr)
    return EXIT_FAILURE


def run_job(job: Callable[[], Any]) -> int:
    """Run an analysis job; print the verdict, or the problem, and return the exit status.

    Input problems (config, data, an unsafe or existing run directory, a fit made from other
    data), disk and permission errors, and a failure after the fits were saved (the run is kept
    for ``report``) exit 1 with a message and no traceback; a failed convergence gate exits 1
    after saying where the run was written.
    """
    from rechallenge.analysis.run.pipeline import UnconvergedError
    from rechallenge.analysis.run.rundir import IncompleteRunError, RunExistsError

    try:
        result = job()
    except (ValueError, RunExistsError, FileNotFoundError, IncompleteRunError) as exc:
        # ValueError covers ConfigError, DataValidationError, DataHashMismatch, RunDirectoryError.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except UnconvergedError as exc:
        print(exc.gate.message(), file=sys.stderr)
        print(f"The run was written to {exc.out} for inspection; rerun with --allow-unconverged "
              "to accept it.", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:  # a full disk, a folder without write permission, ...
        # A run is staged beside its destination and moved into place whole (rundir).
        return report_problem(exc, consequence="nothing was changed at the destination")
    print(result.gate.message())
    print(f"Report: {result.out / 'report.md'} (and report.html, report.docx; the supplement: "
          "supplement.md, .html, .docx)")
    return EXIT_OK


def progress_of(args: argparse.Namespace) -> Callable[[str], None]:
    """The progress reporter a command's ``--quiet`` flag asks for."""
    from rechallenge.analysis.run.pipeline import stderr_progress

    return (lambda _m: None) if args.quiet else stderr_progress

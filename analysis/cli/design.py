"""``rechallenge design RUN_DIR ...``: plan the next trial from a run's MAP prior.

Three designs, chosen by the options given (see ``docs/design.md``):

- one-sample (default): ``--n N --threshold T --confidence C``;
- sample size: ``--find-n --null-rate P0 --alt-rate P1 --alpha A --power B --confidence C``;
- two-sample: ``--control-n NC --treatment-n NT [--margin M] --confidence C``.

Registered in :data:`rechallenge.analysis.cli.main.COMMANDS`; the computation is
:mod:`rechallenge.analysis.design.plan`, imported only when the command runs. Before any work the
sizes are checked against :mod:`rechallenge.analysis.design.limits`, RUN_DIR must be a run, and
the hash its manifest records for ``map_prior.json`` is handed to the reader, which refuses a file
that does not match. Library warnings are captured, never printed raw.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rechallenge.analysis.design.limits import MAX_ARM_PATIENTS, MAX_PATIENTS, MAX_TRUE_RATES

if TYPE_CHECKING:
    from rechallenge.analysis.cli.common import Subparsers

#: Output directory when --out is not given: ``RUN_DIR`` + this suffix, a sibling of the run. Not
#: inside the run: a run holding files it did not write is not replaced by ``--overwrite``.
DEFAULT_OUT_SUFFIX = "-design"


def register_design(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge design``."""
    parser = sub.add_parser(
        "design",
        help="operating characteristics and sample size of a trial with the run's MAP prior",
        description=(
            "Plan a trial with the MAP prior of RUN_DIR (map_prior.json) for one binary "
            "endpoint and line. One-sample: success when P(rate > T | data) > C with N "
            "patients (--n, --threshold). Sample size: --find-n with --null-rate, --alt-rate, "
            "--alpha, --power. Two-sample: --control-n and --treatment-n, success when "
            "P(rate_t - rate_c > margin | data) > C with the MAP prior on the control arm. "
            "Operating characteristics are exact sums over the binomial outcomes. "
            "map_prior.json must match the hash in the run's manifest. A rule that no outcome "
            "meets, or that every outcome meets, is an error. Files go to "
            f"--out (default RUN_DIR{DEFAULT_OUT_SUFFIX}, beside the run); files already there "
            "that this command does not write are left alone. Exit status 1 on bad input."),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory with map_prior.json")
    parser.add_argument("--endpoint", required=True, help="binary endpoint, e.g. response")
    parser.add_argument("--line", required=True, help="treatment line, e.g. ICI-2")
    parser.add_argument("--confidence", type=float, required=True, metavar="C",
                        help="posterior probability required for success, in (0, 1)")
    parser.add_argument("--prior", choices=("robust", "map", "vague"), default="robust",
                        help="robust MAP (default), MAP without the vague component, or "
                             "Beta(1, 1)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"output directory (default RUN_DIR{DEFAULT_OUT_SUFFIX}, beside the "
                             "run); not inside a run, not RUN_DIR or a folder holding it")
    one = parser.add_argument_group("one-sample design")
    one.add_argument("--n", type=int, metavar="N",
                     help=f"number of patients, 1 to {MAX_PATIENTS:,}")
    one.add_argument("--threshold", type=float, metavar="T",
                     help="rate to beat, in (0, 1) (with --find-n: default --null-rate)")
    one.add_argument("--true-rates", default="", metavar="P,P,...",
                     help=f"extra true rates for the OC table, comma-separated (at most "
                          f"{MAX_TRUE_RATES})")
    size = parser.add_argument_group("sample size (one-sample)")
    size.add_argument("--find-n", action="store_true",
                      help="search N = 1, 2, ... and stop at the first N that meets the targets")
    size.add_argument("--null-rate", type=float, metavar="P0", help="rate of no interest")
    size.add_argument("--alt-rate", type=float, metavar="P1", help="rate to detect")
    size.add_argument("--alpha", type=float, metavar="A", help="largest type I error at P0")
    size.add_argument("--power", type=float, metavar="B", help="smallest power at P1")
    size.add_argument("--max-n", type=int, default=200, metavar="N",
                      help=f"largest N tried (default 200, at most {MAX_PATIENTS:,})")
    two = parser.add_argument_group("two-sample design (MAP prior on the control arm)")
    two.add_argument("--control-n", type=int, metavar="NC",
                     help=f"control patients, 1 to {MAX_ARM_PATIENTS:,}")
    two.add_argument("--treatment-n", type=int, metavar="NT",
                     help=f"treatment patients, 1 to {MAX_ARM_PATIENTS:,}")
    two.add_argument("--margin", type=float, default=0.0, metavar="M",
                     help="difference to exceed, rate_t - rate_c, in (-1, 1) (default 0)")
    return parser


class _InputError(ValueError):
    pass


def _rates(text: str) -> list[float]:
    parts = [part for part in text.split(",") if part.strip()]
    if len(parts) > MAX_TRUE_RATES:
        raise _InputError(f"--true-rates takes at most {MAX_TRUE_RATES} rates, got {len(parts)}")
    try:
        rates = [float(part) for part in parts]
    except ValueError:
        raise _InputError(f"--true-rates must be comma-separated numbers, got {text[:80]!r}"
                          ) from None
    bad = [r for r in rates if not 0 <= r <= 1]
    if bad:
        raise _InputError(f"--true-rates must lie in [0, 1], got {bad}")
    return rates


def _check_sizes(args: argparse.Namespace) -> None:
    """Every size option within its limit (docs/design.md), before anything is read."""
    from rechallenge.analysis.design.limits import check_count

    limits = {"n": MAX_PATIENTS, "max_n": MAX_PATIENTS, "control_n": MAX_ARM_PATIENTS,
              "treatment_n": MAX_ARM_PATIENTS}
    for name, limit in limits.items():
        value = getattr(args, name)
        if value is not None and (name != "max_n" or args.find_n):
            check_count(f"--{name.replace('_', '-')}", value, limit)


def _recorded_hash(run_dir: Path) -> str | None:
    """The hash the run's manifest records for map_prior.json (``None``: no hashes recorded).

    Raises RunDirectoryError when RUN_DIR is not a run, or holds a map_prior.json the run did
    not write.
    """
    from rechallenge.analysis.map_prior.export import MAP_PRIOR_FILE
    from rechallenge.analysis.run.manifest import read_manifest, recorded_hash

    if not run_dir.is_dir():  # before anything is computed or written
        raise _InputError(f"run directory {run_dir} does not exist" if not run_dir.exists()
                          else f"{run_dir} is not a directory")
    recorded = recorded_hash(run_dir, read_manifest(run_dir), MAP_PRIOR_FILE)
    if recorded is None and (run_dir / MAP_PRIOR_FILE).exists():
        print(f"note: {run_dir} was made before runs recorded file hashes; its "
              f"{MAP_PRIOR_FILE} could not be checked (design.json says so)", file=sys.stderr)
    return recorded


def _require(args: argparse.Namespace, mode: str, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is None]
    if missing:
        raise _InputError(f"{mode} needs {', '.join(missing)}")


def _check_unit(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and not 0 < value < 1:
            raise _InputError(f"--{name.replace('_', '-')} must be between 0 and 1 "
                              f"(exclusive), got {value}")


def _job(args: argparse.Namespace, out: Path) -> tuple[Any, list[str]]:
    """Run the design the options ask for; return its result and the lines to print."""
    from rechallenge.analysis.design import plan
    from rechallenge.analysis.run.run_nesting import check_outside_runs

    _check_unit(args, "confidence", "threshold", "null_rate", "alt_rate", "alpha", "power")
    _check_sizes(args)  # the sizes before the run is even looked at
    true_rates = _rates(args.true_rates)
    if not Path(args.run_dir).is_dir():  # before anything is computed or written
        raise _InputError(f"run directory {args.run_dir} does not exist")
    check_outside_runs(out, reads=[args.run_dir])  # the run (or any other) is never written into
    recorded = _recorded_hash(Path(args.run_dir))
    common = {"endpoint": args.endpoint, "line": args.line, "confidence": args.confidence,
              "prior": args.prior, "out": out, "recorded_sha256": recorded}
    if args.find_n:
        _require(args, "--find-n", "null_rate", "alt_rate", "alpha", "power")
        result = plan.design_sample_size(
            args.run_dir, null_rate=args.null_rate, alt_rate=args.alt_rate, alpha=args.alpha,
            power=args.power, threshold=args.threshold, max_n=args.max_n,
            true_rates=true_rates, **common)
        lines = [_inputs_line(result.record, args.run_dir)]
        for name, row in result.record["sample_size"]["smallest_n"].items():
            lines.append(f"{name} prior: no N up to {args.max_n} meets the targets" if row is None
                         else f"{name} prior: N = {row['n']}, the first N that meets the "
                              f"targets (the search stopped there; success at >= "
                              f"{row['boundary']} responders; type I error "
                              f"{row['type_i_error']:.4f}, power {row['power']:.4f})")
        return result, lines
    if args.control_n is not None or args.treatment_n is not None:
        _require(args, "a two-sample design", "control_n", "treatment_n")
        result = plan.design_two_sample(args.run_dir, n_control=args.control_n,
                                        n_treatment=args.treatment_n, margin=args.margin,
                                        **common)
        row = result.tables["conflict_two_sample.csv"].set_index("control_rate")
        power = result.tables["power_two_sample.csv"].set_index("difference")
        column = f"prob_success_{args.prior}"
        return result, [
            _inputs_line(result.record, args.run_dir),
            result.record["decision_rule"],
            "type I error at control rates 0.2 / 0.5 / 0.8: "
            + " / ".join(f"{row.loc[p, column]:.4f}" for p in (0.2, 0.5, 0.8)),
            f"power at control = MAP mean {result.record['power_at_map_mean']['control_rate']:.3f}"
            ", differences 0.2 / 0.3: "
            + " / ".join(f"{power.loc[d, column]:.4f}" for d in (0.2, 0.3) if d in power.index)]
    _require(args, "a one-sample design", "n", "threshold")
    result = plan.design_one_sample(args.run_dir, n=args.n, threshold=args.threshold,
                                    true_rates=true_rates, **common)
    record = result.record
    return result, [_inputs_line(record, args.run_dir), f"{record['decision_rule']}",
                    f"boundary: success at >= {record['boundary']} of {record['n']} responders",
                    f"P(success) at the threshold rate: {record['prob_success_at_threshold']:.4f}"]


def _inputs_line(record: dict[str, Any], run_dir: str) -> str:
    """The prior file read (as the user named the run; design.json has the full path)."""
    prior = record["inputs"]["map_prior"]
    return (f"MAP prior: {Path(run_dir) / prior['file']} (sha256 "
            f"{prior['sha256'][:16]}..., "
            + ("as the run's manifest records it)" if prior["checked_against_manifest"]
               else "not checked)"))


def _no_n_reason(result: Any, prior: str) -> str:
    """Why no N qualified, when the rule itself never decides at any N tried."""
    table = result.tables["sample_size.csv"]
    rows = table[table["prior"] == prior]
    if (rows["boundary"] > rows["n"]).all():
        return (f"; with the {prior} prior the decision rule is never met at any N tried "
                "(lower --threshold or --confidence)")
    if (rows["boundary"] == 0).all():
        return (f"; with the {prior} prior the decision rule is met at every N tried whatever "
                "the outcome, so the type I error is 1 (raise --threshold or --confidence)")
    return ""


def run_design(args: argparse.Namespace) -> int:
    """Compute the design, write its files and print a short summary (exit 1 on bad input).

    Library warnings (scipy's numerical warnings, matplotlib's layout) are captured: a count is
    printed as one note after a successful design, nothing raw; a numerical failure or a lack of
    memory is an ``error:`` message, not a traceback.
    """
    from rechallenge.analysis.cli.common import EXIT_FAILURE, EXIT_OK, INPUT_PROBLEMS, report_problem
    from rechallenge.analysis.summaries.captured import captured_warnings, describe_counts

    run = Path(args.run_dir).resolve()
    out = Path(args.out) if args.out is not None else run.with_name(run.name + DEFAULT_OUT_SUFFIX)
    try:
        with captured_warnings() as caught:
            result, lines = _job(args, out)
    except INPUT_PROBLEMS as exc:
        return report_problem(exc)
    except (ArithmeticError, MemoryError) as exc:  # overflow in a library's special function
        print(f"error: the design could not be computed with these settings ({type(exc).__name__}"
              f": {exc}); nothing was written", file=sys.stderr)
        return EXIT_FAILURE
    for line in lines:
        print(line)
    if caught:
        print(f"note: the libraries warned while computing: {describe_counts(caught)}; check "
              "the numbers", file=sys.stderr)
    print(f"Written to {out}: {', '.join(result.record.get('files', []))}")
    if args.find_n and result.record["n"] is None:
        print(f"error: no N up to --max-n {args.max_n} meets the type I error and power "
              f"targets{_no_n_reason(result, args.prior)}; see sample_size.csv",
              file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK

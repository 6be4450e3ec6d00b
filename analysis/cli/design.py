"""``rechallenge design RUN_DIR ...``: plan the next trial from a run's MAP prior.

Three designs, chosen by the options given (see ``docs/design.md``):

- one-sample (default): ``--n N --threshold T --confidence C``;
- sample size: ``--find-n --null-rate P0 --alt-rate P1 --alpha A --power B --confidence C``;
- two-sample: ``--control-n NC --treatment-n NT [--margin M] --confidence C``.

Registered in :data:`rechallenge.analysis.cli.main.COMMANDS`; the computation is
:mod:`rechallenge.analysis.design.plan`, imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
            "Operating characteristics are exact sums over the binomial outcomes. Files go to "
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
    one.add_argument("--n", type=int, metavar="N", help="number of patients")
    one.add_argument("--threshold", type=float, metavar="T",
                     help="rate to beat, in (0, 1) (with --find-n: default --null-rate)")
    one.add_argument("--true-rates", default="", metavar="P,P,...",
                     help="extra true rates for the OC table, comma-separated")
    size = parser.add_argument_group("sample size (one-sample)")
    size.add_argument("--find-n", action="store_true", help="search for the smallest N")
    size.add_argument("--null-rate", type=float, metavar="P0", help="rate of no interest")
    size.add_argument("--alt-rate", type=float, metavar="P1", help="rate to detect")
    size.add_argument("--alpha", type=float, metavar="A", help="largest type I error at P0")
    size.add_argument("--power", type=float, metavar="B", help="smallest power at P1")
    size.add_argument("--max-n", type=int, default=200, metavar="N",
                      help="largest N tried (default 200)")
    two = parser.add_argument_group("two-sample design (MAP prior on the control arm)")
    two.add_argument("--control-n", type=int, metavar="NC", help="control patients")
    two.add_argument("--treatment-n", type=int, metavar="NT", help="treatment patients")
    two.add_argument("--margin", type=float, default=0.0, metavar="M",
                     help="difference to exceed, rate_t - rate_c (default 0)")
    return parser


class _InputError(ValueError):
    pass


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise _InputError(f"--true-rates must be comma-separated numbers, got {text!r}") from None
    bad = [r for r in rates if not 0 <= r <= 1]
    if bad:
        raise _InputError(f"--true-rates must lie in [0, 1], got {bad}")
    return rates


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

    common = {"endpoint": args.endpoint, "line": args.line, "confidence": args.confidence,
              "prior": args.prior, "out": out}
    _check_unit(args, "confidence", "threshold", "null_rate", "alt_rate", "alpha", "power")
    if not Path(args.run_dir).is_dir():  # before anything is computed or written
        raise _InputError(f"run directory {args.run_dir} does not exist")
    check_outside_runs(out, reads=[args.run_dir])  # the run (or any other) is never written into
    if args.find_n:
        _require(args, "--find-n", "null_rate", "alt_rate", "alpha", "power")
        result = plan.design_sample_size(
            args.run_dir, null_rate=args.null_rate, alt_rate=args.alt_rate, alpha=args.alpha,
            power=args.power, threshold=args.threshold, max_n=args.max_n,
            true_rates=_rates(args.true_rates), **common)
        lines = []
        for name, row in result.record["sample_size"]["smallest_n"].items():
            lines.append(f"{name} prior: no N up to {args.max_n} meets the targets" if row is None
                         else f"{name} prior: N = {row['n']} (success at >= {row['boundary']} "
                              f"responders; type I error {row['type_i_error']:.4f}, power "
                              f"{row['power']:.4f})")
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
            result.record["decision_rule"],
            "type I error at control rates 0.2 / 0.5 / 0.8: "
            + " / ".join(f"{row.loc[p, column]:.4f}" for p in (0.2, 0.5, 0.8)),
            f"power at control = MAP mean {result.record['power_at_map_mean']['control_rate']:.3f}"
            ", differences 0.2 / 0.3: "
            + " / ".join(f"{power.loc[d, column]:.4f}" for d in (0.2, 0.3) if d in power.index)]
    _require(args, "a one-sample design", "n", "threshold")
    result = plan.design_one_sample(args.run_dir, n=args.n, threshold=args.threshold,
                                    true_rates=_rates(args.true_rates), **common)
    record = result.record
    return result, [f"{record['decision_rule']}",
                    f"boundary: success at >= {record['boundary']} of {record['n']} responders",
                    f"P(success) at the threshold rate: {record['prob_success_at_threshold']:.4f}"]


def run_design(args: argparse.Namespace) -> int:
    """Compute the design, write its files and print a short summary (exit 1 on bad input)."""
    from rechallenge.analysis.cli.common import EXIT_FAILURE, EXIT_OK, INPUT_PROBLEMS, report_problem

    run = Path(args.run_dir).resolve()
    out = Path(args.out) if args.out is not None else run.with_name(run.name + DEFAULT_OUT_SUFFIX)
    try:
        result, lines = _job(args, out)
    except INPUT_PROBLEMS as exc:
        return report_problem(exc)
    for line in lines:
        print(line)
    print(f"Written to {out}: {', '.join(result.record.get('files', []))}")
    if args.find_n and result.record["n"] is None:
        print(f"error: no N up to --max-n {args.max_n} meets the type I error and power "
              "targets; see sample_size.csv", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK

"""``rechallenge simulate sbc|coverage|precision --out DIR ...``: simulation studies.

Registered in :data:`rechallenge.analysis.cli.main.COMMANDS`; the work is
:func:`rechallenge.analysis.simulation.simulate`, imported only when the command runs.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rechallenge.analysis.cli.common import comma_list
from rechallenge.analysis.cli.jobs import add_scheduler

if TYPE_CHECKING:
    from rechallenge.analysis.cli.common import Subparsers


def _numbers(text: str, convert: Callable[[str], Any], what: str) -> tuple[Any, ...]:
    try:
        values = tuple(convert(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _int_list(text: str) -> tuple[int, ...]:
    return _numbers(text, int, "whole numbers")


def _positive_list(text: str) -> tuple[float, ...]:
    values = _numbers(text, float, "numbers")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers above 0, got {text!r}")
    return values


def register_simulate(sub: Subparsers) -> argparse.ArgumentParser:
    """Parser of ``rechallenge simulate``."""
    from rechallenge.analysis.settings import simulation_limits as lim

    parser = sub.add_parser(
        "simulate",
        help="simulation studies: calibration (SBC), coverage, precision as sites join",
        description=(
            "Simulate studies with the design of the config's data (sites, patients per site "
            "and line, censoring), fit each with the config's models on a Dask cluster (local "
            "by default, --scheduler for an existing one) and write tables, figures, a report "
            "and a manifest to --out. sbc: parameters drawn from the prior, ranks of the truth "
            "among thinned posterior draws, uniformity tests. coverage: fixed true values (the "
            "posterior medians of a fit of the data, or --truth FILE), share of intervals that "
            "contain the truth; --tau repeats it at each true between-site SD (a coverage "
            "profile). precision: K new sites of n patients (--k-sites, --n-patients), "
            "interval widths and P(contrast interval excludes no effect) at --effect. Results "
            "are written as simulations finish; --resume continues a killed study. Every size "
            "is limited and checked before any work (see each option; at most "
            f"{lim.MAX_TOTAL_SIMULATIONS:,} simulations in one study), and --truth values must "
            "be finite and plausible (docs/simulation.md). Exit status 1 on bad input."),
    )
    parser.add_argument("kind", choices=("sbc", "coverage", "precision"))
    parser.add_argument("--config", metavar="FILE", help="analysis config (TOML)")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="output directory (not inside an analysis run)")
    add_scheduler(parser)
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes of the local cluster (default: one per core; at "
                             f"most {lim.MAX_WORKERS} or the number of cores if larger)")
    parser.add_argument("--n-sims", type=int, metavar="N",
                        help="simulations per family (per design cell for precision and a tau "
                             f"profile); 1 to {lim.MAX_N_SIMS:,}")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="master seed, a whole number >= 0 (default: config's)")
    parser.add_argument("--families", type=comma_list, metavar="LIST",
                        help="comma-separated subset of binary,ttp,joint (default: from "
                             "endpoints, and joint when [benefit_risk] enables it; joint: sbc "
                             "only)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the study in --out, skipping finished simulations")
    parser.add_argument("--thin", type=int, default=99, metavar="L",
                        help="posterior draws kept for SBC ranks (default 99; 2 to "
                             f"{lim.MAX_THIN:,}, and at most chains x draws)")
    parser.add_argument("--truth", metavar="FILE",
                        help="JSON of true hyperparameters per family (coverage, precision), "
                             "as the truth.json a study writes; each value finite and "
                             "plausible (binary |mu| <= 10, TTP mu a scale of 0.01-1200 months, shape in "
                             "(0.05, 20), SDs 0-5)")
    parser.add_argument("--tau", type=_positive_list, default=(), metavar="T,T,...",
                        help="coverage: repeat the study at each true between-site SD (every "
                             "line; other true values as in --truth or the fit), a coverage "
                             f"profile against tau; up to {lim.MAX_GRID_VALUES} distinct values, "
                             f"each above 0 and at most {lim.TAU_BOUNDS[1]:g}")
    parser.add_argument("--k-sites", type=_int_list, default=(0, 5, 10), metavar="K,K,...",
                        help="precision: new sites to add (default 0,5,10; up to "
                             f"{lim.MAX_GRID_VALUES} distinct values, each 0 to "
                             f"{lim.MAX_K_SITES})")
    parser.add_argument("--n-patients", type=_int_list, default=(5, 10), metavar="N,N,...",
                        help="precision: patients per new site (default 5,10; up to "
                             f"{lim.MAX_GRID_VALUES} distinct values, each 1 to "
                             f"{lim.MAX_N_PATIENTS})")
    parser.add_argument("--binary-effect", type=float, metavar="X",
                        help="precision: assumed ICI-2 vs ICI-1 log odds ratio (default 0.8; "
                             f"at most {lim.MAX_EFFECT:g} either way)")
    parser.add_argument("--ttp-effect", type=float, metavar="X",
                        help="precision: assumed ICI-2 vs ICI-1 effect on the TTP model's location: "
                             "a log time ratio (default 0.4), or for a proportional-hazards "
                             "distribution a log hazard ratio (default -0.4; "
                             f"at most {lim.MAX_EFFECT:g} either way)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_simulate(args: argparse.Namespace) -> int:
    """Run the study; print where it was written and the verdict lines (exit 1 on bad input)."""
    from pathlib import Path

    from rechallenge.analysis.cli.common import (
        EXIT_FAILURE,
        EXIT_OK,
        INPUT_PROBLEMS,
        report_problem,
    )
    from rechallenge.analysis.run.engine import EngineSettings
    from rechallenge.analysis.settings.config import load_config
    from rechallenge.analysis.simulation import simulate
    from rechallenge.analysis.simulation.calibration import NOT_FINITE

    try:
        config = load_config(args.config)
        # Only the effects given: the others default to the simulated model's own.
        effects = {family: value for family, value in (("binary", args.binary_effect),
                                                       ("ttp", args.ttp_effect))
                   if value is not None}
        result = simulate(
            args.kind, out=args.out, config=config, n_sims=args.n_sims, seed=args.seed,
            families=args.families, engine=EngineSettings(args.scheduler, args.workers),
            resume=args.resume, truth=args.truth, thin=args.thin, k_sites=args.k_sites,
            n_patients=args.n_patients, effects=effects, tau_grid=args.tau,
            progress=not args.quiet)
    except INPUT_PROBLEMS as exc:  # finished simulations stay in --out for --resume
        return report_problem(exc)
    sims = result.manifest["simulations"]
    print(f"{sims['finished']} simulations ({sims['errors']} errors, "
          f"{sims['failed_convergence_gate']} failed the convergence gate)")
    if "sbc_uniformity" in result.tables:
        bad = result.tables["sbc_uniformity"].query("not in_band")
        print("SBC: every quantity inside its uniformity band" if bad.empty else
              "SBC: outside the band: " + ", ".join(bad["family"] + " " + bad["quantity"]))
    if "coverage" in result.tables:
        table = result.tables["coverage"]
        names = table["family"] + " " + table["quantity"]
        if "tau" in table:
            names = names + " at tau " + table["tau"].map("{:g}".format)
        for verdict in ("conservative", "too narrow"):
            rows = table["verdict"] == verdict
            if rows.any():
                print(f"coverage {verdict} (nominal level outside the binomial bounds): "
                      + ", ".join(names[rows]))
        broken = table["verdict"] == NOT_FINITE
        if broken.any():
            print("coverage not assessed: an infinite or undefined summary (truth, bias, RMSE "
                  "or interval width) for " + ", ".join(names[broken]), file=sys.stderr)
        if (table["verdict"] == "consistent").all():
            print("coverage: nominal level within the binomial bounds for every quantity")
    print(f"Report: {Path(result.out) / 'report.md'}")
    first = sims.get("first_error")
    if first and sims["errors"] == sims["finished"]:
        # Nothing to summarise: a setting the models cannot fit, not bad luck.
        print(f"error: every simulation raised an error; the first ({first['name']}): "
              f"{first['error']}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK

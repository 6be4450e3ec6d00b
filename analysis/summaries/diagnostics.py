"""Convergence diagnostics and the gate a fit must pass before it is reported.

Checked for every parameter and every derived quantity: rank-normalised split R-hat, bulk and
tail effective sample size and Monte Carlo standard error (Vehtari et al. 2021); for every fit:
divergent transitions and the energy Bayesian fraction of missing information (E-BFMI, Betancourt
2016). Thresholds follow Vehtari et al.: R-hat <= 1.01 and ESS >= 400 (100 per chain for 4 chains).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd

#: Columns of the diagnostics table.
DIAGNOSTIC_COLUMNS: tuple[str, ...] = (
    "model", "kind", "name", "r_hat", "ess_bulk", "ess_tail", "mcse_mean", "passed",
)


@dataclass(frozen=True)
class Thresholds:
    """Pass criteria of the diagnostics gate."""

    r_hat_max: float = 1.01
    ess_bulk_min: float = 400.0
    ess_tail_min: float = 400.0
    bfmi_min: float = 0.3
    divergences_max: int = 0


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class GateResult:
    """Outcome of the gate over all fits of a run."""

    passed: bool
    failures: tuple[str, ...] = ()
    advice: tuple[str, ...] = field(default_factory=tuple)

    def message(self) -> str:
        """Human-readable verdict: what failed and what to try."""
        if self.passed:
            return "All convergence diagnostics passed."
        lines = ["Convergence diagnostics FAILED:"]
        lines += [f"  - {f}" for f in self.failures]
        lines.append("What to try:")
        lines += [f"  - {a}" for a in self.advice]
        return "\n".join(lines)


def parameter_diagnostics(
    idata: az.InferenceData, *, model: str, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> pd.DataFrame:
    """R-hat, ESS and MCSE for every scalar element of every posterior variable.

    Elements with no posterior variance (e.g. the unit diagonal of a correlation matrix) have
    nothing to converge and pass by definition; ArviZ reports NaN for them.
    """
    # One summary for the diagnostics and the sd of the same rows, unrounded: ArviZ's default
    # rounding to 2 decimals would call a posterior with sd < 0.005 constant (passing it
    # unexamined) and round an R-hat of 1.014 to 1.01, under the threshold.
    with warnings.catch_warnings():
        # A constant element divides 0 by 0 in ArviZ (a printed RuntimeWarning on the user's
        # terminal); it is found below and passes by definition.
        warnings.filterwarnings("ignore", message="invalid value encountered",
                                category=RuntimeWarning)
        summary = az.summary(idata, kind="all", stat_focus="mean", round_to="none")
    sd, mean = summary["sd"].to_numpy(dtype=float), summary["mean"].to_numpy(dtype=float)
    # Constant up to float rounding (e.g. the unit diagonal of a correlation matrix).
    constant = np.nan_to_num(sd) <= 1e-12 * np.maximum(1.0, np.abs(mean))
    frame = pd.DataFrame(
        {
            "model": model,
            "kind": "parameter",
            "name": summary.index.astype(str),
            "r_hat": np.where(constant, 1.0, summary["r_hat"].to_numpy(dtype=float)),
            "ess_bulk": summary["ess_bulk"].to_numpy(dtype=float),
            "ess_tail": summary["ess_tail"].to_numpy(dtype=float),
            "mcse_mean": summary["mcse_mean"].to_numpy(dtype=float),
        }
    )
    ess_floor = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
    frame.loc[constant, ["ess_bulk", "ess_tail"]] = float(ess_floor)
    frame["passed"] = _passes(frame, thresholds)
    return frame


def derived_diagnostics(
    summary: pd.DataFrame, *, model: str, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> pd.DataFrame:
    """Diagnostics rows for derived quantities from a tidy summary table (see ``analysis.tidy``)."""
    names = [_derived_label(row) for _, row in summary.iterrows()]
    frame = pd.DataFrame(
        {
            "model": model,
            "kind": "derived",
            "name": names,
            "r_hat": summary["r_hat"].to_numpy(dtype=float),
            "ess_bulk": summary["ess_bulk"].to_numpy(dtype=float),
            "ess_tail": summary["ess_tail"].to_numpy(dtype=float),
            "mcse_mean": summary["mcse_mean"].to_numpy(dtype=float),
        }
    )
    frame["passed"] = _passes(frame, thresholds)
    return frame


def _derived_label(row: pd.Series) -> str:
    """``quantity[line, site]`` with whatever labels the row has."""
    parts = [str(row[c]) for c in ("line", "site") if c in row.index and pd.notna(row[c])]
    return f"{row['quantity']}[{', '.join(parts)}]"


def _passes(frame: pd.DataFrame, t: Thresholds) -> np.ndarray:
    return (
        (frame["r_hat"] <= t.r_hat_max)
        & (frame["ess_bulk"] >= t.ess_bulk_min)
        & (frame["ess_tail"] >= t.ess_tail_min)
    ).to_numpy()


def sampler_diagnostics(idata: az.InferenceData, *, model: str) -> dict[str, float | int | str]:
    """Divergences, minimum E-BFMI over chains, draws and chains of one fit."""
    stats = idata.sample_stats
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = float(np.min(az.bfmi(idata))) if "energy" in stats else float("nan")
    return {
        "model": model,
        "chains": int(idata.posterior.sizes["chain"]),
        "draws": int(idata.posterior.sizes["draw"]),
        "divergences": divergences,
        "bfmi_min": bfmi,
    }


def evaluate_gate(
    diagnostics: pd.DataFrame,
    sampler: Iterable[dict[str, float | int | str]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> GateResult:
    """Decide whether the fits of a run may be reported, and say why not.

    Parameters
    ----------
    diagnostics
        Rows from :func:`parameter_diagnostics` and :func:`derived_diagnostics`.
    sampler
        Rows from :func:`sampler_diagnostics`.
    """
    failures: list[str] = []
    advice: set[str] = set()
    t = thresholds
    bad = diagnostics[~diagnostics["passed"].astype(bool)]
    for model, rows in bad.groupby("model", sort=False):
        for criterion, mask, limit in (
            ("R-hat", rows["r_hat"] > t.r_hat_max, f"> {t.r_hat_max}"),
            ("bulk ESS", rows["ess_bulk"] < t.ess_bulk_min, f"< {t.ess_bulk_min:.0f}"),
            ("tail ESS", rows["ess_tail"] < t.ess_tail_min, f"< {t.ess_tail_min:.0f}"),
        ):
            hit = rows[mask.to_numpy() | rows[_column(criterion)].isna().to_numpy()]
            # A parameter that is also reported as a derived quantity (tau) is named once.
            names = list(dict.fromkeys(hit["name"]))
            if names:
                shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
                failures.append(f"{model}: {criterion} {limit} for {len(names)} quantities ({shown})")
        advice.add(
            "run longer chains (e.g. --draws 2000 --tune 2000); persistent R-hat failures suggest "
            "multimodality or a weakly identified parameter: consider a tighter heterogeneity "
            "prior (tau_sd) or complete pooling"
        )
    for row in sampler:
        if int(row["divergences"]) > t.divergences_max:
            failures.append(f"{row['model']}: {row['divergences']} divergent transitions")
            advice.add(
                "raise target_accept (e.g. --target-accept 0.95 or 0.99); if divergences remain, "
                "the heterogeneity prior may be too wide for the data (lower tau_sd)"
            )
        bfmi = float(row["bfmi_min"])
        if np.isfinite(bfmi) and bfmi < t.bfmi_min:
            failures.append(f"{row['model']}: E-BFMI {row['bfmi_min']:.2f} < {t.bfmi_min}")
            advice.add("low E-BFMI: longer tuning (--tune 2000) or tighter priors on scale parameters")
    return GateResult(not failures, tuple(failures), tuple(sorted(advice)))


def _column(criterion: str) -> str:
    return {"R-hat": "r_hat", "bulk ESS": "ess_bulk", "tail ESS": "ess_tail"}[criterion]

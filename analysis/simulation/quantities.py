"""The quantities a simulation study records, from true values and from posterior draws alike.

One function, :func:`quantities`, computes every quantity from arrays of hyperparameters with
any leading shape: ``(1,)`` for the true values of a simulation, ``(chain, draw)`` for a fit. So
the truth and the posterior are computed the same way (a rank or a coverage indicator compares
like with like). Names follow the package's vocabulary (``rechallenge.analysis.summaries``):

binary
    ``mu[line]``, ``tau[line]``, ``site_corr[contrast]``, ``sigma_patient[all]``,
    ``probability_population[line]``, ``difference_population[contrast]``,
    ``odds_ratio_typical_site[contrast]``;
ttp
    ``mu[line]``, ``shape[line]`` (or ``shape[all]``), ``tau[line]``, ``site_corr[contrast]``,
    ``sigma_patient[all]``, ``median_population[line]``, ``median_ratio_population[contrast]``,
    ``median_ratio_typical_site[contrast]``.

The contrast label is ``"<later> vs <first>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import numpy as np
from scipy.special import expit

from rechallenge.analysis.summaries.site_effects import population_average
from rechallenge.analysis.summaries.ttp import marginal_weibull_median

#: Per family: the pooled quantity (per line) and the contrast, with the contrast's no-effect
#: value, that coverage verdicts and precision studies report.
HEADLINE: dict[str, tuple[str, str, float]] = {
    "binary": ("probability_population", "difference_population", 0.0),
    "ttp": ("median_population", "median_ratio_population", 1.0),
}


def key(name: str, label: str) -> str:
    """``name[label]``: how a quantity is named in records and tables."""
    return f"{name}[{label}]"


def split_key(text: str) -> tuple[str, str]:
    """Inverse of :func:`key`."""
    name, _, rest = text.partition("[")
    return name, rest[:-1]


def quantities(
    family: str, params: Mapping[str, np.ndarray], lines: Sequence[str]
) -> dict[str, np.ndarray]:
    """Every recorded quantity from hyperparameter arrays with a common leading shape.

    Parameters
    ----------
    family
        ``"binary"`` or ``"ttp"``.
    params
        ``mu`` (..., line); ``log_shape`` (..., line) or (..., 1); and when present
        ``tau`` (..., line), ``corr`` (..., line, line), ``sigma_patient`` (...).
    lines
        Line labels in order.

    Returns
    -------
    dict
        ``{key(name, label): array of the leading shape}``, in a fixed order.
    """
    lines = [str(x) for x in lines]
    contrasts = [(j, f"{lines[j]} vs {lines[0]}") for j in range(1, len(lines))]
    loc = np.asarray(params["mu"], dtype=float)
    lead = loc.shape[:-1]
    tau = np.asarray(params["tau"], dtype=float) if "tau" in params else np.zeros_like(loc)
    patient = "sigma_patient"
    patient_sd = (np.asarray(params[patient], dtype=float).reshape(lead) if patient in params
                  else np.zeros(lead))
    population_sd = np.sqrt(tau**2 + patient_sd[..., None] ** 2)
    out: dict[str, np.ndarray] = {}
    for j, line in enumerate(lines):
        out[key("mu", line)] = loc[..., j]
    if family == "ttp":
        log_shape = np.asarray(params["log_shape"], dtype=float)
        shared = log_shape.shape[-1:] == (1,) and len(lines) > 1
        shape = np.broadcast_to(np.exp(log_shape), loc.shape)
        for j, line in enumerate(["all"] if shared else lines):
            out[key("shape", line)] = shape[..., j]
    if "tau" in params:
        for j, line in enumerate(lines):
            out[key("tau", line)] = tau[..., j]
        corr = np.asarray(params["corr"], dtype=float)
        for j, label in contrasts:
            out[key("site_corr", label)] = corr[..., 0, j]
    if patient in params:
        out[key(patient, "all")] = patient_sd
    if family == "binary":
        population = population_average(expit, loc, population_sd)
        for j, line in enumerate(lines):
            out[key("probability_population", line)] = population[..., j]
        for j, label in contrasts:
            out[key("difference_population", label)] = population[..., j] - population[..., 0]
            out[key("odds_ratio_typical_site", label)] = np.exp(loc[..., j] - loc[..., 0])
        return out
    population = marginal_weibull_median(loc, population_sd, shape)
    typical = marginal_weibull_median(loc, patient_sd[..., None] * np.ones_like(loc), shape)
    for j, line in enumerate(lines):
        out[key("median_population", line)] = population[..., j]
    for j, label in contrasts:
        out[key("median_ratio_population", label)] = population[..., j] / population[..., 0]
        out[key("median_ratio_typical_site", label)] = typical[..., j] / typical[..., 0]
    return out


def truth_arrays(hyper: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """True hyperparameters (JSON lists) as arrays with a leading axis of length 1."""
    out = {}
    for name, value in hyper.items():
        array = np.asarray(value, dtype=float)
        out[name] = array[None, ...] if array.ndim else array.reshape(1)
    return out


def posterior_arrays(idata: az.InferenceData, family: str) -> dict[str, np.ndarray]:
    """The hyperparameters of a fit as arrays (chain, draw, ...), named as in the generators."""
    post = idata.posterior
    lines = [str(x) for x in post.coords["line"].to_numpy()]

    def by_line(name: str) -> np.ndarray:
        return post[name].sel(line=lines).transpose("chain", "draw", "line").to_numpy()

    out: dict[str, np.ndarray] = {"mu": by_line("mu")}
    if family != "binary":
        log_shape = post["log_shape"]
        out["log_shape"] = (by_line("log_shape") if "line" in log_shape.dims
                            else log_shape.transpose("chain", "draw").to_numpy()[..., None])
    if "tau" in post:
        out["tau"] = by_line("tau")
        if "site_corr" in post:
            out["corr"] = post["site_corr"].sel(line=lines, line_b=lines).transpose(
                "chain", "draw", "line", "line_b").to_numpy()
        else:
            out["corr"] = np.ones(out["tau"].shape + (1,))
    if "sigma_patient" in post:
        out["sigma_patient"] = post["sigma_patient"].transpose("chain", "draw").to_numpy()
    return out

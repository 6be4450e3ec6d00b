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
    ``median_ratio_typical_site[contrast]``;
joint
    its simulator's (``JointSimulator.recorded_quantities``): ``mu_eff[line]``,
    ``mu_tox[line]``, ``log_or[line]``, ``tau_efficacy[line]``, ``tau_safety[line]``,
    ``sigma_patient_efficacy[all]``, ``sigma_patient_safety[all]``,
    ``site_corr_efficacy_safety[line]``, ``probability_efficacy_population[line]``,
    ``probability_safety_population[line]``, ``difference_efficacy_population[contrast]``,
    ``difference_safety_population[contrast]``, ``difference_net_benefit_population[contrast]``.

The contrast label is ``"<later> vs <first>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import numpy as np

from rechallenge.analysis.settings.family_hooks import DrawsWholeStudies
from rechallenge.analysis.simulation.generators import ModelRef, simulator_of


def headline(family: ModelRef) -> tuple[str, str, float]:
    """The pooled quantity (per line) and the contrast, with the contrast's no-effect value,
    that coverage verdicts and precision studies report for model ``family``.
    """
    return simulator_of(family).headline


def key(name: str, label: str) -> str:
    """``name[label]``: how a quantity is named in records and tables."""
    return f"{name}[{label}]"


def split_key(text: str) -> tuple[str, str]:
    """Inverse of :func:`key`."""
    name, _, rest = text.partition("[")
    return name, rest[:-1]


def quantities(
    family: ModelRef, params: Mapping[str, np.ndarray], lines: Sequence[str]
) -> dict[str, np.ndarray]:
    """Every recorded quantity from hyperparameter arrays with a common leading shape.

    Parameters
    ----------
    family
        The model's key (``"binary"`` or ``"ttp"``).
    params
        The family's line parameters (..., line) (see its simulator); and when present
        ``tau`` (..., line), ``corr`` (..., line, line) and its patient SD (...).
    lines
        Line labels in order.

    Returns
    -------
    dict
        ``{key(name, label): array of the leading shape}``, in a fixed order.
    """
    lines = [str(x) for x in lines]
    simulator = simulator_of(family)
    if isinstance(simulator, DrawsWholeStudies):  # the joint model names its own
        return {key(name, label): v for (name, label), v in
                simulator.recorded_quantities(params, lines).items()}
    contrasts = [(j, f"{lines[j]} vs {lines[0]}") for j in range(1, len(lines))]
    loc = np.asarray(params[simulator.location], dtype=float)
    lead = loc.shape[:-1]
    tau = np.asarray(params["tau"], dtype=float) if "tau" in params else np.zeros_like(loc)
    patient = simulator.patient_sd
    patient_sd = (np.asarray(params[patient], dtype=float).reshape(lead) if patient in params
                  else np.zeros(lead))
    population_sd = np.sqrt(tau**2 + patient_sd[..., None] ** 2)
    out = {key(name, label): v for (name, label), v in
           simulator.line_quantities(params, lines).items()}
    if "tau" in params:
        for j, line in enumerate(lines):
            out[key("tau", line)] = tau[..., j]
        corr = np.asarray(params["corr"], dtype=float)
        for j, label in contrasts:
            out[key("site_corr", label)] = corr[..., 0, j]
    if patient in params:
        out[key(patient, "all")] = patient_sd
    derived = simulator.derived_quantities(params, lines, patient_sd, population_sd)
    out.update({key(name, label): v for (name, label), v in derived.items()})
    return out


def truth_arrays(hyper: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """True hyperparameters (JSON lists) as arrays with a leading axis of length 1."""
    out = {}
    for name, value in hyper.items():
        array = np.asarray(value, dtype=float)
        out[name] = array[None, ...] if array.ndim else array.reshape(1)
    return out


def posterior_arrays(idata: az.InferenceData, family: ModelRef) -> dict[str, np.ndarray]:
    """The hyperparameters of a fit as arrays (chain, draw, ...), named as in the generators."""
    post = idata.posterior
    lines = [str(x) for x in post.coords["line"].to_numpy()]

    def by_line(name: str) -> np.ndarray:
        return post[name].sel(line=lines).transpose("chain", "draw", "line").to_numpy()

    simulator = simulator_of(family)
    if isinstance(simulator, DrawsWholeStudies):
        return simulator.parameter_arrays(post)
    out = simulator.posterior_line_parameters(post, by_line)
    if "tau" in post:
        out["tau"] = by_line("tau")
        if "site_corr" in post:
            out["corr"] = post["site_corr"].sel(line=lines, line_b=lines).transpose(
                "chain", "draw", "line", "line_b").to_numpy()
        else:
            out["corr"] = np.ones(out["tau"].shape + (1,))
    if simulator.patient_sd in post:
        out[simulator.patient_sd] = post[simulator.patient_sd].transpose("chain",
                                                                          "draw").to_numpy()
    return out

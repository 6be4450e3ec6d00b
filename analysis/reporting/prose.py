"""Manuscript text generated from the numbers: a methods paragraph and results sentences.

The third of the three reporting steps (compute -> format -> prose). Every sentence reads its
numbers from the tidy summary tables and its interval wording from the one :class:`Interval`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from rechallenge.analysis.reporting.estimates import Scale, interval_cell, number_text
from rechallenge.analysis.reporting.references import Citations
from rechallenge.analysis.reporting.vocabulary import counted, endpoint_label
from rechallenge.analysis.settings.families import endpoint_order, family_of
from rechallenge.analysis.settings.family_hooks import NamesReferenceMethods
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.diagnostics import Thresholds
from rechallenge.analysis.summaries.prior_reweighting import MAX_PARETO_K

_POOLING_WORDS = {
    "partial": "partial pooling across institutions (random site effects)",
    "complete": "complete pooling (no site effects)",
    "none": "no pooling (a separate fixed effect per site)",
}


def _row(summary: pd.DataFrame, quantity: str, line: str) -> pd.Series | None:
    hit = summary[(summary["quantity"] == quantity) & (summary["line"] == line)]
    return None if hit.empty else hit.iloc[0]


def _pct(row: pd.Series) -> str:
    # As the tables write it: "23.5% (13.1 to 36.4)", with a true minus sign.
    return interval_cell(row["median"], row["lower"], row["upper"], "percent")


def _num(row: pd.Series, scale: Scale = "ratio", unit: str = "") -> str:
    """A summary row's median and interval on ``scale`` ("1.16 (0.72 to 1.81)")."""
    u = f" {unit}" if unit else ""
    bounds = " to ".join(number_text(row[b], scale) for b in ("lower", "upper"))
    return f"{number_text(row['median'], scale)}{u} ({bounds})"


def _points(row: pd.Series) -> str:
    value = {b: number_text(row[b], "points", unit=False) for b in ("median", "lower", "upper")}
    return f"{value['median']} percentage points ({value['lower']} to {value['upper']})"


def contrast_label(later: str, first: str) -> str:
    """Label of a contrast between two lines, as used in the ``line`` column of summaries."""
    return f"{later} vs {first}"


def binary_sentence(summary: pd.DataFrame, endpoint: str, lines: Sequence[str], interval: Interval) -> str:
    """One results sentence for a binary endpoint (medians of the posterior, with intervals)."""
    label = endpoint_label(endpoint)
    parts = []
    for line in lines:
        row = _row(summary, "probability_population", line)
        if row is not None:
            parts.append(f"{_pct(row)} at {line}")
    text = (
        f"{label}: the population-averaged probability was {' and '.join(parts)} "
        f"(posterior median and {interval.label})"
    )
    first = lines[0]
    for later in lines[1:]:
        c = contrast_label(later, first)
        diff = _row(summary, "difference_population", c)
        odds = _row(summary, "odds_ratio_typical_site", c)
        prob = _row(summary, "prob_greater_population", c)
        if diff is not None:
            text += f"; the difference {later} minus {first} was {_points(diff)}"
        if odds is not None:
            text += f", the odds ratio at a typical site {_num(odds)}"
        if prob is not None:
            text += f", and the posterior probability that it is higher at {later} was {prob['mean']:.2f}"
    return text + "."


def ttp_sentence(summary: pd.DataFrame, lines: Sequence[str], interval: Interval) -> str:
    """One results sentence for time to progression."""
    parts = []
    for line in lines:
        row = _row(summary, "median_population", line)
        if row is not None:
            parts.append(f"{_num(row, 'months', 'months')} at {line}")
    text = (
        f"Time to progression: the population median was {' and '.join(parts)} "
        f"(posterior median and {interval.label})"
    )
    first = lines[0]
    for later in lines[1:]:
        c = contrast_label(later, first)
        ratio = _row(summary, "median_ratio_population", c)
        hr = _row(summary, "hazard_ratio", c)
        prob = _row(summary, "prob_greater_population", c)
        if ratio is not None:
            text += f"; the ratio of medians {later}/{first} was {_num(ratio)}"
        if hr is not None:
            text += f", the hazard ratio {later} vs {first} {_num(hr)}"
        if prob is not None:
            text += (
                f", and the posterior probability that the median is longer at {later} was "
                f"{prob['mean']:.2f}"
            )
    return text + "."


def results_sentences(
    summaries: Mapping[str, pd.DataFrame], lines: Sequence[str], interval: Interval
) -> list[str]:
    """Results sentences for every analysed endpoint, in the registry's endpoint order."""
    return [family_of(endpoint).results_sentence(summaries[endpoint], lines, interval)
            for endpoint in sorted(summaries, key=endpoint_order)]


#: Hyperparameters that only matter for an optional part of a model, and the option that turns
#: that part on (read from a fit's recorded options).
_OPTIONAL_PRIORS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    # The same names in every model: covariate coefficients, patient effect, no-pooling effects.
    "beta_sd": lambda o: bool(o.get("covariates")),
    "sigma_patient_sd": lambda o: bool(o.get("patient_effect")),
    "site_effect_sd": lambda o: o.get("pooling") == "none",
    "tau_sd": lambda o: o.get("pooling", "partial") == "partial",
    "lkj_eta": lambda o: o.get("pooling", "partial") == "partial",
}


def used_priors(endpoint: str, priors: Mapping[str, float], options: Mapping[str, Any]) -> dict[str, float]:
    """The hyperparameters the fitted model structure actually uses, in name order."""
    return {
        name: value for name, value in sorted(priors.items())
        if name not in _OPTIONAL_PRIORS or _OPTIONAL_PRIORS[name](options)
    }


def _sensitivity_words(methods: Sequence[str], max_pareto_k: float, cite: Citations) -> str:
    """How the prior sensitivity was assessed, saying which variants were reweighted or refitted."""
    def power() -> str:
        # Cited when written, after the reweighting's reference: numbers follow the text.
        return f"by power-scaling {cite.cite('kallioinen2023')}"

    if not methods:
        return f"prior sensitivity {power()}"
    n, refitted = len(methods), sum(m == "refitted" for m in methods)
    scales = "halved and doubled heterogeneity prior scales"
    if refitted == n:
        return (f"prior sensitivity by refits under {scales} (the Pareto k of importance "
                f"reweighting exceeded {max_pareto_k:.2f} for all {n} variants) and {power()}")
    reweighted = (f"prior sensitivity under {scales} by Pareto-smoothed importance reweighting "
                  f"of the main posterior {cite.cite('vehtari2024')}")
    if refitted == 0:
        return (f"{reweighted}, with Pareto k at most {max_pareto_k:.2f} for all {n} variants "
                f"(a variant above it would have been refitted), and {power()}")
    return (f"{reweighted} for the {n - refitted} of {n} variants with Pareto k at most "
            f"{max_pareto_k:.2f} and by refits for the {refitted} above it, and {power()}")


#: A family's sentence cites a reference of :data:`~.references.REFERENCES` as ``[cite:key]``
#: (or ``[cite:key1,key2]``); the methods paragraph numbers it in its place.
_CITATION: re.Pattern[str] = re.compile(r"\[cite:([a-z0-9_,]+)\]")


def cited(text: str, cite: Citations) -> str:
    """``text`` with its ``[cite:key]`` markers numbered by ``cite`` (``"[7]"``)."""
    return _CITATION.sub(lambda m: cite.cite(*m.group(1).split(",")), text)


def methods_paragraph(
    *,
    fit_attrs: Mapping[str, Mapping[str, Any]],
    interval: Interval,
    thresholds: Thresholds,
    n_patients: int,
    n_sites: int,
    lines: Sequence[str],
    synthetic: bool,
    sensitivity: bool,
    comparators: bool,
    sensitivity_methods: Sequence[str] = (),
    max_pareto_k: float = MAX_PARETO_K,
    every_line: bool = False,
    citations: Citations | None = None,
    priors_table: str = "the priors table",
) -> str:
    """The statistical-methods paragraph of a manuscript.

    Parameters
    ----------
    n_patients, n_sites, lines
        The study's counts (patients with patient-level rows, sites) and its lines, as computed
        from the data.
    every_line
        Whether every patient has a row at every line (the paragraph then says "each treated
        at" the lines).
    fit_attrs
        Per endpoint, the decoded provenance of its main fit (``models.fit_settings.fit_attrs``).
    sensitivity_methods
        How each prior-sensitivity variant (endpoint and prior scale) was obtained:
        ``"reweighted"`` or ``"refitted"``; the paragraph says how many of each.
    max_pareto_k
        The Pareto k above which a variant was refitted rather than reweighted.
    citations
        Numbers the methods the paragraph names ("[3]"); the caller lists them under References
        (:meth:`~rechallenge.analysis.reporting.references.Citations.listed`). ``None``: numbered
        from 1 here.
    priors_table
        How the text names the table of priors ("Table S4").
    """
    cite = Citations() if citations is None else citations
    any_attrs = next(iter(fit_attrs.values()))
    sampler = any_attrs["sampler"]
    versions = any_attrs["versions"]
    options = any_attrs.get("options", {})
    pooling = _POOLING_WORDS.get(str(options.get("pooling", "partial")), str(options.get("pooling")))
    data_words = (
        "a synthetic reconstruction of the reference study (not the patient-level data)"
        if synthetic else "the study data"
    )
    by_family: dict[str, list[str]] = {}
    for endpoint in fit_attrs:
        by_family.setdefault(family_of(endpoint).family, []).append(endpoint)
    if synthetic:
        data_words += f" {cite.cite('scheiner2023')}"
    text = [
        f"We analysed {data_words}: {counted(n_patients, 'patient')} at "
        f"{counted(n_sites, 'institution')}, {'each ' if every_line else ''}treated at "
        f"{' and '.join(lines)}.",
    ]
    if n_sites == 1 and options.get("pooling", "partial") == "partial":
        text.append(
            "With a single institution the data say nothing about how institutions differ: the "
            "between-site standard deviations (\u03c4) rest on their prior, and so do the "
            "estimates for a new site and the prior exported for a future study."
        )
    text += [cited(family_of(endpoints[0]).methods_sentence(
        endpoints, pooling, fit_attrs[endpoints[0]].get("options", {})), cite)
        for endpoints in by_family.values()]
    text.append(
        f"Weakly informative priors were used; {priors_table} lists each with its distribution "
        f"and the reason for its scale {cite.cite('gelman2013')}."
    )
    text.append(
        f"Posteriors were sampled with {sampler['backend']} (No-U-Turn sampler "
        f"{cite.cite('hoffman2014')}), {sampler['chains']} chains of {sampler['draws']} draws "
        f"after {sampler['tune']} tuning steps, target acceptance {sampler['target_accept']}, "
        f"seed {sampler['seed']}."
    )
    text.append(
        f"Convergence was required for every parameter and derived quantity: rank-normalised "
        f"R-hat {cite.cite('vehtari2021')} \u2264 {thresholds.r_hat_max}, bulk and tail "
        f"effective sample size \u2265 {thresholds.ess_bulk_min:.0f}, no divergent transitions "
        f"and E-BFMI {cite.cite('betancourt2016')} \u2265 {thresholds.bfmi_min}."
    )
    checks = ["posterior predictive checks of site counts and of Kaplan-Meier curves"]
    if comparators:
        checks.append(f"PSIS-LOO comparison {cite.cite('vehtari2017')} with complete and no "
                      "pooling")
    if sensitivity:
        checks.append(_sensitivity_words(sensitivity_methods, max_pareto_k, cite))
    text.append("Model checks comprised " + ", ".join(checks) + ".")
    # The families' frequentist references, in the order the families are fitted.
    references = [cited(family.reference_methods(every_line), cite)
                  for family in (family_of(e[0]) for e in by_family.values())
                  if isinstance(family, NamesReferenceMethods)]
    if references:
        text.append("As frequentist references, " + "; ".join(references) + ".")
    text.append(
        f"Estimates are posterior medians with {interval.label}s; population-averaged quantities "
        "integrate over the distribution of sites, and predictive quantities are for a new site."
    )
    text.append(
        "Software: "
        + ", ".join(f"{name} {versions[name]}" for name in
                    ("rechallenge", "pymc", "nutpie", "arviz", "numpy", "pandas") if name in versions)
        + "."
    )
    return " ".join(text)

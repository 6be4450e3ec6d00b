"""Reader versions of the run's tables: words for headers, one cell per estimate.

The machine tables (``tables/*.csv``, columns as the summaries name them) are for programs; the
report, the Word document and ``tables/reader/`` show these. Each keeps the columns a reader
needs: the per-site tables show site, patients, events, the observed estimate with its CI and the
shrunken estimate with its credible interval; diagnostics stay in the diagnostics tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from rechallenge.analysis.reporting import estimates
from rechallenge.analysis.reporting.estimates import (
    Scale,
    estimate_words,
    interval_cell,
)
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import (
    endpoint_label,
    fit_label,
    quantity_label,
    reader_frame,
    reader_text,
)
from rechallenge.analysis.settings.families import family_of
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.reference import NOT_ESTIMABLE
from rechallenge.data.endpoints import endpoints_of_kind, registered_endpoints

#: Subdirectory of ``tables/`` that holds the reader tables.
READER_DIR = "reader"


def _blank_repeats(frame: pd.DataFrame, column: str, *also: str) -> pd.DataFrame:
    # A group label, and what is said once per group (``also``), is written on the group's first
    # row only, as a printed table shows it.
    out = frame.copy()
    out.loc[out[column].eq(out[column].shift()), [column, *also]] = ""
    return out


def sites_table(result: EndpointResults, interval: Interval, *, estimate: str = "median") -> Table:
    """Per line and site: patients, events, the observed estimate and the shrunken one."""
    family = family_of(result.endpoint)
    s = result.sites.sort_values(["line", "site"], kind="stable",
                                 key=lambda c: c.map({v: i for i, v in enumerate(
                                     dict.fromkeys(result.sites[c.name]))}))
    rows = [{"Line": str(r["line"]), "Site": str(r["site"]), "Patients": int(r["n"]),
             **family.site_reader_row(r, estimate, estimates)} for _, r in s.iterrows()]
    caption = (f"{endpoint_label(result.endpoint)} by site. Observed: "
               f"{family.site_observed_words(interval)}. Shrunken: the site's estimate under "
               f"partial pooling, {estimate_words(estimate, interval)}.")
    return Table(f"sites_{result.endpoint}", caption, _blank_repeats(pd.DataFrame(rows), "Line"))


#: Words of the descriptive table's statistics, by suffix or whole name.
_STATISTICS = {
    "n_patients": "Patients", "progression_events": "Progressions", "censored": "Censored",
    "ttp_median": "Median TTP, months (Kaplan-Meier)", "ttp_lower": "Median TTP: lower CI bound",
    "ttp_upper": "Median TTP: upper CI bound", "ttp_se": "Median TTP: standard error",
    "ttp_lower_loglog": "Median TTP: lower bound (log-log CI)",
    "ttp_upper_loglog": "Median TTP: upper bound (log-log CI)",
    "line_number_median": "Line of therapy: median", "line_number_min": "Line of therapy: lowest",
    "line_number_max": "Line of therapy: highest",
}
_ENDPOINT_STATS = {"n": "patients with the event", "prop": "proportion",
                   "lower": "lower CI bound", "upper": "upper CI bound"}


def statistic_label(name: str) -> str:
    """Reader label of a row of the descriptive table (``"response_prop"`` -> ``"Objective
    response (CR or PR): proportion"``).
    """
    if name in _STATISTICS:
        return _STATISTICS[name]
    for endpoint in registered_endpoints():
        suffix = name.removeprefix(endpoint + "_")
        if suffix != name and suffix in _ENDPOINT_STATS:
            return f"{endpoint_label(endpoint)}: {_ENDPOINT_STATS[suffix]}"
    if name.startswith("regimen_"):
        return "Regimen: " + name.removeprefix("regimen_").replace("_", " ").replace(
            "ici", "ICI")
    return name.replace("_", " ")


# Rows of the descriptive table shown as one cell, estimate with interval, as in Table 2:
# (lower, upper, scale, label), keyed by the estimate's machine name.
def _merged_rows() -> dict[str, tuple[str, str, Scale, str]]:
    rows: dict[str, tuple[str, str, Scale, str]] = {
        f"{e}_prop": (f"{e}_lower", f"{e}_upper", "percent",
                      statistic_label(f"{e}_prop") + " (exact CI)")
        for e in endpoints_of_kind("binary")}
    rows["ttp_median"] = ("ttp_lower", "ttp_upper", "months",
                          "Median TTP, months (Kaplan-Meier; linear CI)")
    rows["ttp_lower_loglog"] = ("ttp_lower_loglog", "ttp_upper_loglog", "months",
                                "Median TTP, months (Kaplan-Meier; log-log CI)")
    return rows


def descriptive_table(machine: Table, lines: Sequence[str]) -> Table:
    """The descriptive table in words, in Table 2's style: an estimate and its confidence
    interval in one cell ("22.4% (12.5 to 35.3)"); counts as whole numbers.

    Where a line has time-to-progression data but its median or interval does not exist, the
    cell says so ("not reached", "not estimable", "5.4 (CI not estimable)").
    """
    frame = machine.frame.set_index("statistic")
    merged = _merged_rows()
    bounds = {b for lo, hi, _, _ in merged.values() for b in (lo, hi)} - set(merged)
    out = []
    for stat in frame.index:
        stat = str(stat)
        if stat in bounds:
            continue
        row: dict[str, str] = {}
        for line in (line for line in lines if line in frame.columns):
            timed = pd.notna(pd.to_numeric(frame.at["progression_events", line], errors="coerce")
                             ) if "progression_events" in frame.index else False
            if stat in merged:
                lo, hi, scale, _ = merged[stat]
                point = frame.at["ttp_median", line] if stat == "ttp_lower_loglog" else frame.at[
                    stat, line]
                row[line] = _estimate_cell(point, frame.at[lo, line], frame.at[hi, line], scale,
                                           timed and stat.startswith("ttp_"))
            else:
                cell = _statistic_value(stat, frame.at[stat, line])
                row[line] = NOT_ESTIMABLE if cell == "" and timed and stat.startswith("ttp_") else cell
        label = merged[stat][3] if stat in merged else statistic_label(stat)
        out.append({"Statistic": label, **row})
    return Table(machine.name, machine.caption, pd.DataFrame(out))


def _estimate_cell(point: Any, lower: Any, upper: Any, scale: Scale, timed: bool) -> str:
    values = [pd.to_numeric(v, errors="coerce") for v in (point, lower, upper)]
    point, lower, upper = (float(v) if pd.notna(v) else float("nan") for v in values)
    cell = interval_cell(point, lower, upper, scale)
    if not cell:
        return NOT_ESTIMABLE if timed else ""
    if timed and not (np.isfinite(lower) or np.isfinite(upper)):
        cell += " (CI not estimable)"
    return cell


def _statistic_value(name: str, value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "not reached" if isinstance(value, float) and np.isinf(value) else ""
    v = float(cast(Any, value))  # a number, or text of one, by now
    # A binary endpoint's proportion and its bounds are percentages (the median TTP's are months).
    binary = endpoints_of_kind("binary")
    if re.search(r"_(prop|lower|upper)$", name) and name.startswith(tuple(f"{e}_" for e in binary)):
        return f"{100 * v:.1f}%"
    if v.is_integer():
        return f"{int(v)}"
    return f"{v:.2f}"


def sensitivity_table(machine: Table, interval: Interval) -> Table:
    """Prior sensitivity: one cell per prior variant (median with interval), and per endpoint how
    each variant was obtained (reweighted main posterior or refit) with its Pareto k.
    """
    f = machine.frame
    variants = [c.removesuffix("_median") for c in f.columns if c.endswith("_median")]
    obtained = [v for v in variants if f"{v}_method" in f.columns]
    rows = []
    for _, r in f.iterrows():
        q = str(r["quantity"])
        scale = estimates.quantity_scale(q)
        row = {"Endpoint": endpoint_label(str(r["endpoint"])),
               "Quantity": quantity_label(q, str(r["line"]), endpoint=str(r["endpoint"])),
               "Line": "" if " vs " in str(r["line"]) else str(r["line"])}
        for v in variants:
            row[fit_label(v)] = interval_cell(r[f"{v}_median"], r[f"{v}_lower"], r[f"{v}_upper"],
                                              scale)
        row["Largest shift (posterior SDs)"] = f"{float(r['max_shift_sd']):.2f}"
        if obtained:
            row["Variants obtained by"] = "; ".join(
                f"{fit_label(v).split()[-1]}: {r[f'{v}_method']}, k = {_k_text(r[f'{v}_pareto_k'])}"
                for v in obtained)
        rows.append(row)
    caption = (f"Headline quantities under the default heterogeneity prior and with its scale "
               f"halved and doubled (posterior medians with {interval.label}s); the largest "
               f"shift is the largest move of a median, in default posterior SDs."
               + (" Each variant is the main posterior reweighted by Pareto-smoothed importance "
                  "sampling, or a refit where the Pareto k of the weights was too high for that "
                  "(last column: how each variant of the endpoint was obtained, with its k)."
                  if obtained else ""))
    once = ("Variants obtained by",) if obtained else ()
    return Table(machine.name, caption, _blank_repeats(pd.DataFrame(rows), "Endpoint", *once))


def cross_reader_table(machine: Table, lines: Sequence[str], interval: Interval) -> Table:
    """Response at the second line by best response at the first, in Table 2's style: counts,
    and the proportion in % with its interval in one cell.
    """
    frame = machine.frame
    first, second = lines[0], lines[1]
    rows = [{f"Best response at {first}": str(r[frame.columns[0]]), "Patients": int(r["n"]),
             f"Responders at {second}": int(r["yes"]),
             f"Response at {second}, % ({interval.percent} CI)": interval_cell(
                 r["proportion"], r["lower"], r["upper"], "percent")}
            for _, r in frame.iterrows()]
    return Table(machine.name, machine.caption, pd.DataFrame(rows))


def _k_text(k: object) -> str:
    value = float(cast(Any, k))
    return estimates.decimal_text(value, 2) if np.isfinite(value) else "not estimated"


def words_table(machine: Table, *, caption: str | None = None, digits: int | None = None) -> Table:
    """Any machine table with reader headers, quantities, endpoints and fit names."""
    frame = reader_frame(machine.frame)
    # Free text written by the models (a prior's formula) may name a derived quantity.
    for column in ("Prior", "Reason for the default"):
        if column in frame:
            frame[column] = frame[column].astype(str).map(reader_text)
    return Table(machine.name, caption or machine.caption, frame,
                 machine.digits if digits is None else digits)


def map_prior_reader_table(machine: Table, interval: Interval) -> Table:
    """The MAP prior table for readers: per endpoint and line, the mixture beside the predictive
    draws it approximates, each as centre (bounds) on the reader's scale (probabilities in %,
    time to progression in months, back from the log scale it is fitted on), and the prior's
    effective sample size before and after robustification.
    """
    rows = []
    for _, r in machine.frame.iterrows():
        log = family_of(str(r["endpoint"])).map_prior.log
        scale: Scale = "months" if log else "percent"

        def cell(kind: str, r: pd.Series = r, log: bool = log, scale: Scale = scale) -> str:
            centre, lower, upper = (float(np.exp(v)) if log else v for v in (
                float(r[f"{kind}_{b}"]) for b in ("mean", "lower", "upper")))
            return interval_cell(centre, lower, upper, scale)

        rows.append({"Endpoint": endpoint_label(str(r["endpoint"])), "Line": str(r["line"]),
                     "Components": int(r["components"]),
                     "Predictive draws": cell("draws"), "Mixture": cell("mixture"),
                     "Effective sample size (ELIR)": f"{float(r['ess_elir']):.0f}",
                     "Robust effective sample size (ELIR)": f"{float(r['robust_ess_elir']):.0f}"})
    caption = (
        "Meta-analytic-predictive prior per endpoint and line: the mixture against the "
        f"predictive draws for a new site it approximates (centre with {interval.percent} "
        "equal-tailed bounds; probabilities: mean in %; time to progression: the median in "
        "months, the exponentiated mean of the log median it is fitted on), and its effective "
        "sample size in patients before and after robustification.")
    return Table(machine.name, caption, _blank_repeats(pd.DataFrame(rows), "Endpoint"),
                 folder=READER_DIR)


#: Hyperparameters in words (the config's ``[priors.<family>]`` names are in the machine table).
HYPERPARAMETER_WORDS: dict[str, str] = {
    "mu_mean": "Mean of the line intercept",
    "mu_sd": "SD of the line intercept",
    "tau_sd": "Scale of the between-site SD",
    "lkj_eta": "LKJ shape of the site-effect correlation",
    "shape_log_sd": "SD of the log Weibull shape",
    "beta_sd": "SD of the covariate coefficients",
    "sigma_patient_sd": "Scale of the between-patient SD",
    "site_effect_sd": "SD of the site effects (no pooling)",
    "sigma_log_sd": "SD of the log \u03c3 (SD of log time)",
    "loglogistic_shape_log_sd": "SD of the log log-logistic shape",
    "gompertz_shape_sd": "SD of the Gompertz shape",
    "hazard_step_sd": "SD of the change of the log hazard at a cut point",
    "q_mean": "Mean of the generalised gamma Q",
    "q_sd": "SD of the generalised gamma Q",
    "log_or_sd": "SD of the within-patient log odds ratio",
}


#: Model names in a prior's formula and its reason, in the notation of a manuscript's methods
#: (Greek letters for the model's parameters; the hyperparameters' names become their values).
PRIOR_NOTATION: dict[str, str] = {
    "site_corr": "R", "log_shape": "log(shape)", "log_loglogistic_shape": "log(shape)",
    "gompertz_shape": "Gompertz shape", "log_sigma": "log \u03c3", "sigma": "\u03c3",
    # The patient SD is also a summary quantity, whose name a reader never sees.
    "sigma_patient": "\u03c3(patient)", "mu_eff": "\u03bc(efficacy)",
    "mu_tox": "\u03bc(toxicity)", "mu": "\u03bc", "tau": "\u03c4", "eta": "\u03b7",
    "beta": "\u03b2", "log_or": "log OR", "u_site": "u", "hazard_step": "\u0394 log h",
    "interval_step": "cut point", "r^2": "r\u00b2", "+-1": "\u00b11",
}


def in_notation(text: str, values: dict[str, str] | None = None) -> str:
    """A prior's formula or reason in a manuscript's notation: each hyperparameter of ``values``
    replaced by its value, then each model name of :data:`PRIOR_NOTATION` by its symbol
    (``"tau[line] ~ HalfNormal(tau_sd)"`` -> ``"\u03c4[line] ~ HalfNormal(1)"``).
    """
    for name, shown in {**(values or {}), **PRIOR_NOTATION}.items():
        text = re.sub(rf"(?<![\w^+-]){re.escape(name)}(?![\w^])", shown, text)
    return text


def priors_reader_table(machine: Table) -> Table:
    """The priors for readers: each hyperparameter in words, its distribution with the value
    written in (``mu[line] ~ Normal(0, 1.5)``), the default where it differs, and the reason.
    """
    frame = machine.frame
    values = {(str(r["endpoint"]), str(r["name"])): f"{float(r['value']):.3g}"
              for _, r in frame.iterrows()}
    rows = []
    for _, r in frame.iterrows():
        name, value = str(r["name"]), float(r["value"])
        shown = values[str(r["endpoint"]), name]
        own = {other: text for (endpoint, other), text in values.items()
               if endpoint == str(r["endpoint"])}
        prior = in_notation(str(r["distribution"]), own)
        rows.append({
            "Endpoint": fit_label(str(r["endpoint"])),
            "Hyperparameter": HYPERPARAMETER_WORDS.get(name, name.replace("_", " ")),
            "Value": (shown if float(r["default"]) == value
                      else f"{shown} (default {float(r['default']):.3g})"),
            "Prior": prior,
            "Reason for the default": in_notation(str(r["reason"])),
        })
    return Table(machine.name, machine.caption, _blank_repeats(pd.DataFrame(rows), "Endpoint"),
                 folder=READER_DIR)

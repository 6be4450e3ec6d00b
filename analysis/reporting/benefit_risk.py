"""The benefit-risk model's words: its quantities' labels, its results and methods sentences,
and its reader table (the quadrants of the benefit-risk plane), from the tidy summary of
:mod:`rechallenge.analysis.summaries.benefit_risk`.

The summary names the endpoints read as the two outcomes (``efficacy``, ``safety`` columns) and
the net benefit's weights, so every sentence here says what it is about without the config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import pandas as pd

from rechallenge.analysis.reporting.estimates import (
    Scale,
    estimate_words,
    number_text,
    posterior_cell,
    probability_cell,
)
from rechallenge.analysis.reporting.vocabulary import READINGS, endpoint_label
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.benefit_risk import QUADRANTS

#: How each quadrant reads ({later}: the later line).
QUADRANT_WORDS: Final[dict[str, str]] = {
    "benefit_without_harm": "efficacy higher, toxicity not higher at {later}",
    "benefit_with_harm": "efficacy and toxicity both higher at {later}",
    "no_benefit_no_harm": "neither efficacy nor toxicity higher at {later}",
    "harm_without_benefit": "toxicity higher, efficacy not higher at {later}",
}
_READING_SUFFIX: Final[dict[str, str]] = {"population": ", population average",
                                          "new_site": ", new site (predictive)", "site": ", site"}


def _labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for reading, suffix in _READING_SUFFIX.items():
        labels.update({
            f"probability_efficacy_{reading}": f"Efficacy{suffix}",
            f"probability_safety_{reading}": f"Toxicity{suffix}",
            f"net_benefit_{reading}": f"Net benefit{suffix}",
            f"difference_efficacy_{reading}": f"Difference in efficacy {{later}} minus {{first}}{suffix}",
            f"difference_safety_{reading}": f"Difference in toxicity {{later}} minus {{first}}{suffix}",
            f"difference_net_benefit_{reading}":
                f"Difference in net benefit {{later}} minus {{first}}{suffix}",
            f"prob_greater_{reading}": f"P(net benefit higher at {{later}}){suffix}",
            **{f"prob_{name}_{reading}": f"P({words}){suffix}"
               for name, words in QUADRANT_WORDS.items()},
        })
    labels.update({
        "odds_ratio_within_patient": "Within-patient odds ratio of efficacy and toxicity",
        "site_corr_efficacy_safety": "Correlation of the site effects on efficacy and toxicity",
        "tau_efficacy": "Between-site SD of efficacy", "tau_safety": "Between-site SD of toxicity",
        "sigma_patient_efficacy": "Between-patient SD of efficacy",
        "sigma_patient_safety": "Between-patient SD of toxicity",
    })
    return labels


#: Reader labels of every quantity of the benefit-risk summary and site table.
QUANTITY_LABELS: Final[Mapping[str, str]] = MappingProxyType(_labels())


def outcome_words(endpoint: str) -> str:
    """An outcome in running text: ``"objective response"`` for ``"response"``."""
    label = endpoint_label(endpoint).split(" (")[0] if endpoint else "the outcome"
    return label[:1].lower() + label[1:]


def _pick(summary: pd.DataFrame, quantity: str, line: str) -> pd.Series | None:
    hit = summary[(summary["quantity"] == quantity) & (summary["line"] == line)]
    return None if hit.empty else hit.iloc[0]


def _about(summary: pd.DataFrame) -> tuple[str, str, float, float]:
    """The two outcomes in words and the weights, as the summary records them."""
    first = summary.iloc[0] if len(summary) else pd.Series(dtype=object)
    return (outcome_words(str(first.get("efficacy", "") or "")),
            outcome_words(str(first.get("safety", "") or "")),
            float(first.get("weight_efficacy", 1.0)), float(first.get("weight_safety", 1.0)))


def _points(row: pd.Series) -> str:
    value = {b: number_text(row[b], "points", unit=False) for b in ("median", "lower", "upper")}
    return f"{value['median']} percentage points ({value['lower']} to {value['upper']})"


def _ratio(row: pd.Series) -> str:
    return (f"{number_text(row['median'], 'ratio')} ({number_text(row['lower'], 'ratio')} to "
            f"{number_text(row['upper'], 'ratio')})")


def results_sentence(summary: pd.DataFrame, lines: Sequence[str], interval: Interval) -> str:
    """The joint answer in one sentence: the probability of more efficacy without more
    toxicity, the two differences, the net benefit and the within-patient dependence.
    """
    eff, tox, w_eff, w_tox = _about(summary)
    first, parts = lines[0], []
    for later in lines[1:]:
        c = f"{later} vs {first}"
        good, good_new = (_pick(summary, f"prob_benefit_without_harm_{r}", c)
                          for r in ("population", "new_site"))
        d_eff, d_tox = (_pick(summary, f"difference_{o}_population", c)
                        for o in ("efficacy", "safety"))
        net, positive = (_pick(summary, q, c) for q in ("difference_net_benefit_population",
                                                        "prob_greater_population"))
        if good is None or d_eff is None or d_tox is None:
            continue
        text = (f"the posterior probability that {later} gives a higher rate of {eff} without a "
                f"higher rate of {tox} than {first} was {probability_cell(good['mean'])} for the "
                "population average")
        if good_new is not None:
            text += f" ({probability_cell(good_new['mean'])} for a new site)"
        text += (f"; the differences {later} minus {first} were {_points(d_eff)} in {eff} and "
                 f"{_points(d_tox)} in {tox}")
        if net is not None and positive is not None:
            text += (f", and the net benefit (weights {w_eff:g} for {eff} and {w_tox:g} for "
                     f"{tox}) changed by {_points(net)}, with posterior probability "
                     f"{probability_cell(positive['mean'])} that it improved")
        parts.append(text)
    odds = [(line, _pick(summary, "odds_ratio_within_patient", line)) for line in lines]
    shown = [f"{_ratio(row)} at {line}" for line, row in odds if row is not None]
    text = "Benefit and risk together: " + "; ".join(parts) if parts else (
        f"Benefit and risk together: {eff} and {tox} were modelled jointly")
    if shown:
        text += (f"; the odds ratio of {tox} in a patient with {eff} against one without, at the "
                 f"same line, was {' and '.join(shown)}")
    return text + f" (posterior medians and {interval.label}s)."


def methods_sentence(options: Mapping[str, Any]) -> str:
    """The joint model in the methods, citing Dale and Costa and Drury as ``[cite:key]``
    markers (the methods paragraph numbers them).
    """
    eff = outcome_words(str(options.get("efficacy", "")))
    tox = outcome_words(str(options.get("safety", "")))
    weights = options.get("weights", {})
    w_eff, w_tox = float(weights.get("efficacy", 1.0)), float(weights.get("safety", 1.0))
    return (
        f"Benefit and risk were also analysed together, with a joint model of {eff} and {tox} "
        "in the same patients: each outcome logistic, with correlated site effects of both "
        "outcomes at every line (LKJ prior, non-centred) and a patient effect per outcome shared "
        "by the patient's lines; within a patient and line, the two outcomes follow Dale's "
        "bivariate logistic model with one odds ratio per line [cite:dale1986]; sites that "
        "reported counts only enter through their margins. From it we report the joint "
        "posterior of the population-averaged differences in the two outcomes between the "
        "lines, the posterior probability of each quadrant of the benefit-risk plane and a net "
        f"benefit, {w_eff:g} times the difference in {eff} minus {w_tox:g} times the difference "
        f"in {tox} [cite:costa2018]. The joint model has partial pooling only: it has no "
        "complete- or no-pooling comparators."
    )


def _row_cells(summary: pd.DataFrame, quantity: str, line: str, scale: Scale,
               estimate: str) -> dict[str, str]:
    cells = {}
    for reading in ("population", "new_site"):
        row = _pick(summary, f"{quantity}_{reading}", line) if quantity else None
        if row is None:
            cells[READINGS[reading]] = ""
        elif scale == "number":
            cells[READINGS[reading]] = probability_cell(row["mean"])
        else:
            cells[READINGS[reading]] = posterior_cell(row, scale, estimate=estimate)
    return cells


def reader_table_frame(summary: pd.DataFrame, lines: Sequence[str], estimate: str) -> pd.DataFrame:
    """The reader's benefit-risk table: per later line the differences, the net benefit and the
    quadrant probabilities (population average and new site); per line the dependence.
    """
    first, rows = lines[0], []
    for later in lines[1:]:
        c = f"{later} vs {first}"
        specs: list[tuple[str, str, Scale]] = [
            ("difference_efficacy", f"Difference in efficacy, {later} minus {first}", "points"),
            ("difference_safety", f"Difference in toxicity, {later} minus {first}", "points"),
            ("difference_net_benefit", f"Difference in net benefit, {later} minus {first}",
             "points"),
            ("prob_greater", f"P(net benefit higher at {later})", "number"),
            *((f"prob_{name}", f"P({words.format(later=later)})", "number")
              for name, words in QUADRANT_WORDS.items() if name in QUADRANTS),
        ]
        rows += [{"Quantity": words, **_row_cells(summary, q, c, scale, estimate)}
                 for q, words, scale in specs]
    for quantity, words in (("odds_ratio_within_patient", QUANTITY_LABELS["odds_ratio_within_patient"]),
                            ("site_corr_efficacy_safety", QUANTITY_LABELS["site_corr_efficacy_safety"])):
        for line in lines:
            row = _pick(summary, quantity, line)
            if row is not None:
                rows.append({"Quantity": f"{words}, {line}", READINGS["population"]:
                             posterior_cell(row, "ratio", estimate=estimate),
                             READINGS["new_site"]: ""})
    return pd.DataFrame(rows, columns=["Quantity", READINGS["population"], READINGS["new_site"]])


def reader_table_caption(summary: pd.DataFrame, interval: Interval, estimate: str,
                         label: str) -> str:
    """The caption of :func:`reader_table_frame`."""
    eff, tox, w_eff, w_tox = _about(summary)
    return (f"{label}: efficacy is {eff}, toxicity is {tox}. Differences and the net benefit in "
            f"percentage points, {estimate_words(estimate, interval)}; P: posterior "
            f"probabilities (of each quadrant of the benefit-risk plane, and of a positive change "
            f"in net benefit; the four quadrants add up to 1). Net benefit: {w_eff:g} x "
            f"{eff} \u2212 {w_tox:g} x {tox}. Population average: over the distribution of "
            "sites and patients; new site: predictive for a site not in the data. The "
            "within-patient odds ratio compares the odds of toxicity in a patient with and "
            "without efficacy at the same line; the correlation is that of the sites' effects "
            "on the two outcomes at one line.")

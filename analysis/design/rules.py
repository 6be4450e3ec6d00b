"""Decision rules that cannot decide: never met, or met whatever the outcome.

A rule such as "success when P(rate > 0.99 | data) > 0.9 with 30 patients" is met by no outcome
(even 30 responders of 30 leave the posterior probability below 0.9), and one with a threshold
of 0.001 is met by every outcome, 0 responders included. Either way the trial it describes
decides nothing, and its operating characteristics (0 or 1 at every rate) are not a design.
Such a rule is an error (:class:`ImpossibleRuleError`, a :class:`DesignInputError`), raised
before any file is written, with the posterior probability of the most favourable (or least
favourable) outcome and what to change. ``--find-n`` is not affected: a sample size whose rule
never decides simply fails its targets (power 0, or type I error 1).
"""

from __future__ import annotations

import numpy as np

from rechallenge.analysis.design.one_sample import OneSampleDesign, rule_number
from rechallenge.analysis.design.reader import DesignInputError
from rechallenge.analysis.design.two_sample import TwoSampleDesign


class ImpossibleRuleError(DesignInputError):
    """A decision rule that no outcome meets, or that every outcome meets."""


def check_one_sample_rule(design: OneSampleDesign, prior: str) -> None:
    """Raise :class:`ImpossibleRuleError` unless some outcomes succeed and some fail.

    Parameters
    ----------
    design
        The design with the prior it will use.
    prior
        The prior's name (``robust``, ``map``, ``vague``), for the message.
    """
    n, boundary = design.n, design.boundary()
    if 0 < boundary <= n:
        return
    rule = f"P(rate > {rule_number(design.threshold)} | data)"
    probs = design.posterior_probabilities()
    confidence = rule_number(design.confidence)
    if boundary > n:
        raise ImpossibleRuleError(
            f"the decision rule can never be met: even with all {n} patients responding, {rule} "
            f"= {_shown(probs[-1], design.confidence)}, not above the confidence {confidence} "
            f"({prior} prior). Lower the threshold or the confidence, or treat more patients")
    raise ImpossibleRuleError(
        f"the decision rule is met whatever the outcome: even with none of the {n} patients "
        f"responding, {rule} = {_shown(probs[0], design.confidence)}, above the confidence "
        f"{confidence} ({prior} prior), so the trial cannot fail. Raise the threshold or the "
        "confidence")


def _shown(probability: float, confidence: float) -> str:
    """The probability to 6 significant digits, or in full where rounding would put it on the
    other side of the confidence (0.99999999986 is not shown as 1 against 0.999999999).
    """
    short = f"{probability:.6g}"
    same_side = (float(short) > confidence) == (probability > confidence)
    return short if same_side else rule_number(probability)


def check_two_sample_rule(design: TwoSampleDesign, prior: str) -> None:
    """Raise :class:`ImpossibleRuleError` unless some outcomes succeed and some fail.

    The most favourable outcome is no control and every treatment patient responding; the least
    favourable the reverse (the posterior probability is monotone in each count).
    """
    boundary, n_c, n_t = design.boundary, design.n_control, design.n_treatment
    rule = f"P(rate_t - rate_c > {rule_number(design.margin)} | data)"
    confidence = rule_number(design.confidence)
    if np.all(boundary > n_t):
        best = design.posterior_probability(0, n_t)
        raise ImpossibleRuleError(
            f"the decision rule can never be met: even with none of {n_c} control and all "
            f"{n_t} treatment patients responding, {rule} = {_shown(best, design.confidence)}, "
            f"not above the confidence {confidence} ({prior} prior on the control arm). Lower "
            "the margin or the confidence, or treat more patients")
    if np.all(boundary == 0):
        worst = design.posterior_probability(n_c, 0)
        raise ImpossibleRuleError(
            f"the decision rule is met whatever the outcome: even with all {n_c} control and "
            f"none of {n_t} treatment patients responding, {rule} = "
            f"{_shown(worst, design.confidence)}, above the confidence {confidence} ({prior} "
            "prior on the control arm), so the trial cannot fail. Raise the margin or the "
            "confidence")

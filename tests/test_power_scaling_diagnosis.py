"""The power-scaling diagnosis per parameter, on hand-made sensitivities (priorsense's rule)."""

from __future__ import annotations

from rechallenge.analysis.summaries.checks import PSENS_THRESHOLD, psens_diagnosis


def test_each_quadrant_of_prior_and_likelihood_sensitivity_gets_priorsenses_diagnosis() -> None:
    high, low = PSENS_THRESHOLD, PSENS_THRESHOLD / 2
    prior = [high, high, low, low]
    likelihood = [high, low, high, low]
    assert psens_diagnosis(prior, likelihood).tolist() == [
        "potential prior-data conflict",
        "potential strong prior / weak likelihood",
        "-",  # the data dominate: the ordinary case
        "-",  # sensitive to neither: nothing flagged, as priorsense does
    ]

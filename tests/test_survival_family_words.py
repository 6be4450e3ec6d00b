"""Survival distributions in the reader's words, and the comparison sentence's rules, checked on
hand-made inputs (no fitting).
"""

from __future__ import annotations

import pandas as pd
import pytest

from rechallenge.analysis import families  # noqa: F401 - registers the endpoint families
from rechallenge.analysis.families.survival import power_scaled_of
from rechallenge.analysis.reporting.family_tables import families_sentence
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import fit_label, reader_frame
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL
from rechallenge.models.survival import (
    DISTRIBUTIONS,
    PiecewiseExponential,
    Weibull,
    fit_distribution,
)

LINES = ("ICI-1", "ICI-2")
RATIO = "median_ratio_population[ICI-2 vs ICI-1]"
PROB = "prob_greater_population[ICI-2 vs ICI-1]"


def test_a_distribution_fitted_beside_the_main_model_is_named_in_words() -> None:
    assert fit_label("ttp__lognormal") == "Time to progression, log-normal distribution"
    assert fit_label("ttp__gengamma") == "Time to progression, generalised gamma distribution"
    # The family's own names do not hide the pooling and sensitivity variants.
    assert fit_label("ttp__complete") == "Time to progression, complete pooling"
    assert fit_label("response__lognormal") == "Objective response (CR or PR), lognormal"
    frame = reader_frame(pd.DataFrame({"endpoint": ["ttp__loglogistic", "ttp"]}))
    assert frame.iloc[:, 0].tolist() == ["Time to progression (log-logistic distribution)",
                                         "Time to progression"]


def test_every_distribution_has_a_reader_label_and_power_scaled_parameters() -> None:
    for name, dist in DISTRIBUTIONS.items():
        assert dist.label and dist.label != name or name == "weibull" and dist.label == "Weibull"
        reported, scaled = power_scaled_of(dist)
        assert reported[0] == "mu" and reported[-1] == "tau"
        assert {p.name for p in dist.parameters} <= set(reported) <= set(scaled) | {"tau"}
    assert power_scaled_of(Weibull()) == (("mu", "shape", "tau"),
                                          ("mu", "shape", "log_shape", "tau", "site_corr_pairs"))


def test_the_distribution_of_a_fit_is_rebuilt_from_its_options() -> None:
    assert isinstance(fit_distribution({}), Weibull)  # fits made before it was recorded
    piecewise = fit_distribution({"distribution": "piecewise", "cuts": [2.0, 5.5], "other": 1})
    assert isinstance(piecewise, PiecewiseExponential)
    assert list(piecewise.cuts) == [2.0, 5.5]
    with pytest.raises(ValueError, match="unknown survival distribution 'weibul'"):
        fit_distribution({"distribution": "weibul"})


def _comparison(elpd_diff: list[float], dse: list[float], probs: list[float]) -> Table:
    labels = ["log-normal", "log-logistic", "Weibull"][: len(elpd_diff)]
    frame = pd.DataFrame({
        "label": labels, "rank": range(1, len(labels) + 1), "elpd_diff": elpd_diff, "dse": dse,
        "weight": [0.9] + [0.1 / (len(labels) - 1)] * (len(labels) - 1),
        "main": [False] * (len(labels) - 1) + [True],
        RATIO: [1.2, 1.1, 1.15][: len(labels)], f"{RATIO}_lower": 0.8, f"{RATIO}_upper": 1.8,
        PROB: probs,
    })
    return Table("ttp_distributions", "caption", frame)


def test_the_sentence_names_the_distributions_within_two_standard_errors_of_the_best() -> None:
    # log-logistic: 3.1 below with SE 2.0 (within 2 SE); Weibull: 7.9 below with SE 2.4 (beyond).
    text = families_sentence(_comparison([0.0, 3.1, 7.9], [float("nan"), 2.0, 2.4],
                                         [0.81, 0.70, 0.73]), LINES, DEFAULT_INTERVAL)
    assert "the data favour the log-normal by PSIS-LOO (stacking weight 0.90)" in text
    assert "log-logistic is within two standard errors of it" in text
    assert "Weibull is within" not in text and "Weibull, " not in text.split("under")[0]
    assert "1.15 (0.80 to 1.80) under the main model (Weibull)" in text
    assert "1.10 to 1.20 across the distributions" in text
    assert "the headline conclusion does not change" in text


def test_the_sentence_says_when_no_distribution_is_close_and_when_the_conclusion_changes() -> None:
    text = families_sentence(_comparison([0.0, 4.1, 7.9], [float("nan"), 2.0, 2.4],
                                         [0.81, 0.45, 0.73]), LINES, DEFAULT_INTERVAL)
    assert "every other is more than two standard errors below it" in text
    assert "the headline conclusion changes with the distribution" in text
    assert "0.45 to 0.81" in text

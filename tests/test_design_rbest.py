"""A published worked example: RBesT's ankylosing spondylitis design, recomputed.

Source: the RBesT vignette "Getting started with RBesT (binary)" (S. Weber; RBesT 1.8-2 on
CRAN, ``vignettes/introduction.Rmd``, output as rendered in ``inst/doc/introduction.html``). The
MAP prior ``map`` is the mixture the vignette prints after ``automixfit(map_mcmc)``, and
``map_robust <- robustify(map, weight = 0.2, mean = 1/2)`` adds Beta(1, 1). The trial: 6
placebo patients (MAP prior) against 24 on secukinumab (prior Beta(0.5, 1)), success when
``P(theta_active - theta_control > 0) > 0.95``. Each test names the vignette section and the
published figure it reproduces.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from rechallenge.analysis.design.beta_mixture import posterior, vague_prior
from rechallenge.analysis.design.two_sample import TwoSampleDesign, prob_difference_above
from rechallenge.analysis.map_prior import BetaMixture

MAP_AS = BetaMixture(weights=(0.6167463, 0.3832537), a=(19.1916387, 3.5278745),
                     b=(57.7779318, 9.3735980))
ROBUST_AS = MAP_AS.robustify(0.2)
TREAT = BetaMixture(weights=(1.0,), a=(0.5,), b=(1.0,))  # "prior for treatment used in trial"
UNIFORM = vague_prior()
DESIGNS = {  # vignette names: design_nonrobust, design_classic, design_robust, design_uniform
    "non-robust": TwoSampleDesign(MAP_AS, TREAT, 6, 24, 0.0, 0.95),
    "uniform 24:24": TwoSampleDesign(UNIFORM, UNIFORM, 24, 24, 0.0, 0.95),
    "robust": TwoSampleDesign(ROBUST_AS, TREAT, 6, 24, 0.0, 0.95),
    "uniform": TwoSampleDesign(UNIFORM, UNIFORM, 6, 24, 0.0, 0.95),
}


def test_map_prior_summary_and_ess() -> None:
    """Sections "Parametric Approximation", "Effective Sample Size", "Robustification".

    Published: ``summary(map)`` mean 0.25857963, sd 0.08423297, quantiles 0.10808237,
    0.25003652, 0.47028444; ``round(ess(map))`` 37 (elir), 26 (moment); robust weights
    0.493397, 0.306603, 0.2; ``round(ess(map_robust))`` 26.
    """
    assert MAP_AS.mean() == pytest.approx(0.25857963, abs=1e-8)
    assert MAP_AS.sd() == pytest.approx(0.08423297, abs=1e-8)
    # RBesT's quantiles come from its own approximate inversion: agreement to 3e-5.
    np.testing.assert_allclose(MAP_AS.quantile(np.array([0.025, 0.5, 0.975])),
                               [0.10808237, 0.25003652, 0.47028444], atol=3e-5)
    assert round(MAP_AS.ess("elir")) == 37 and round(MAP_AS.ess("moment")) == 26
    np.testing.assert_allclose(ROBUST_AS.weights, [0.493397, 0.306603, 0.2], atol=1e-6)
    assert round(ROBUST_AS.ess("elir")) == 26


def test_power_figure_delta_for_80_percent_power() -> None:
    """Section "Power", figure "Power": the table ``target_effect`` of the delta at which each
    design reaches 80% power with the control rate at the MAP mean.

    Published (3 decimals): non-robust 0.298, uniform 24:24 0.341, robust 0.368,
    uniform 0.529.
    """
    published = {"non-robust": 0.298, "uniform 24:24": 0.341, "robust": 0.368, "uniform": 0.529}
    mean = MAP_AS.mean()
    for name, design in DESIGNS.items():
        delta = optimize.brentq(lambda d, des=design: float(des.oc(mean, mean + d)) - 0.8,
                                0, 1 - mean, xtol=1e-10)
        assert round(delta, 3) == published[name], (name, delta)


def test_type_i_error_figure_conflict() -> None:
    """Section "Type I Error", figure "Type I Error": the type I error "can be increased
    compared to the nominal alpha level in case of a conflict", and robustification limits
    it. No number is printed; the shape is checked: at plausible rates (MAP mean) every
    design is near or below 5%, at rates far above the MAP prior the non-robust design's
    type I error is far above 5% and above the robust design's.
    """
    theta = np.round(np.arange(0.1, 0.951, 0.01), 2)
    t1 = {name: d.oc(theta, theta) for name, d in DESIGNS.items()}
    at_mean = int(np.argmin(np.abs(theta - 0.26)))
    assert max(v[at_mean] for v in t1.values()) < 0.06
    far = theta >= 0.6
    assert t1["non-robust"][far].max() > 0.3
    assert np.all(t1["robust"][far] < t1["non-robust"][far])


def test_data_scenarios_figure_critical_values() -> None:
    """Section "Data Scenarios", figure "Critical values y1(y2)": "the decision will always be
    negative if there are less than 10 events in the treatment group"; and the printed checks
    ``decision(postmix(treat_prior, n = 24, r = 15), postmix(map, n = 6, r = 3))`` = 1 and
    ``decision(postmix(treat_prior, n = 24, r = 14), postmix(map, n = 6, r = 4))`` = 0.
    """
    for name in ("robust", "non-robust", "uniform"):
        assert DESIGNS[name].boundary.min() == 10, name
    assert DESIGNS["non-robust"].success(3, 15)
    assert not DESIGNS["non-robust"].success(4, 14)


def test_trial_analysis_probability() -> None:
    """Section "Trial Analysis": with 1/6 responders on placebo (robust MAP prior) and 14/24 on
    treatment, ``pmixdiff(post_treat, post_placebo, 0, lower.tail = FALSE)`` is 0.9913233.
    """
    p = prob_difference_above(posterior(TREAT, 24, 14), posterior(ROBUST_AS, 6, 1), 0.0)
    assert p == pytest.approx(0.9913233, abs=5e-8)

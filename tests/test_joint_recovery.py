"""Parameter recovery of the joint efficacy-toxicity model on a study simulated from it.

One study of 30 sites x 40 patients (each treated at both lines: 2,400 patient-line pairs) drawn
by :func:`rechallenge.models.joint_simulate.simulate_joint_study` with known intercepts, between-
site SDs, a positive site correlation over the four (outcome, line) combinations, patient SDs,
and within-patient odds ratios of opposite signs at the two lines; one fit, 2 chains x 500 draws
after 500 tuning steps (about 25 s compiling and 25 s sampling on a loaded 2-core machine).

What is checked, and why at that width:

* ``log_or`` (the point of the model): the truth inside the central 95% interval at each line,
  and at ICI-1 (true odds ratio e^1) the interval excludes independence;
* the site correlations: the truth inside the central 95% interval of all six, and a positive
  posterior mean for the four true correlations of 0.4 or more;
* the intercepts and between-site SDs: within 3 posterior SD of the truth. They are estimated
  against the 30 sites actually drawn, whose mean effect is off the population's by tau /
  sqrt(30) ~ 0.13 on the scale of the posterior SD, so a 95% check would fail for about one
  draw of sites in twenty with a correct model (in the seeded draw below the realised site
  means are +0.13 to +0.31: 1 to 2.4 of those SEs, and the posterior tracks them);
* convergence of all of these (R-hat < 1.05 with 2 short chains) and no divergences.

The patient SDs are not checked: with one outcome of each kind per line and two lines they are
weakly identified (the fit's smallest effective sample sizes are theirs). Run with
``pytest -m slow tests/test_joint_recovery.py`` (``-s`` prints the estimates).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from conftest import SEED

from rechallenge.models.joint import build_joint_model
from rechallenge.models.joint_simulate import simulate_joint_study
from rechallenge.models.sampling import fit

#: Site correlation over (efficacy:ICI-1, efficacy:ICI-2, safety:ICI-1, safety:ICI-2): the same
#: outcome correlates across lines (0.6), the outcomes at one line (0.4), across lines less (0.2).
SITE_CORR = np.array([[1.0, 0.6, 0.4, 0.2], [0.6, 1.0, 0.2, 0.4],
                      [0.4, 0.2, 1.0, 0.6], [0.2, 0.4, 0.6, 1.0]])
TRUTH = {"mu_eff": np.array([-0.5, -1.0]), "mu_tox": np.array([-1.2, -0.8]),
         "tau": np.full((2, 2), 0.7), "log_or": np.array([1.0, -0.5])}


def _draws(idata: az.InferenceData, name: str) -> np.ndarray:
    return idata.posterior[name].stack(sample=("chain", "draw")).to_numpy()


@pytest.mark.slow
def test_joint_model_recovers_dependence_correlation_and_intercepts() -> None:
    study = simulate_joint_study(**TRUTH, site_corr=SITE_CORR, sigma_patient=[0.6, 0.4],
                                 n_sites=30, patients_per_site=40, seed=SEED)
    idata = fit(build_joint_model(study), draws=500, tune=500, chains=2, seed=SEED, groups=())
    assert int(idata.sample_stats["diverging"].sum()) == 0
    # The sampled partial correlations rather than site_corr, whose diagonal is constant.
    checked = ["mu_eff", "mu_tox", "tau", "log_or", "site_partial_corr"]
    worst = float(az.rhat(idata.posterior[checked]).to_array().max())
    assert worst < 1.05, worst

    log_or = _draws(idata, "log_or")
    lo, hi = np.quantile(log_or, [0.025, 0.975], axis=-1)
    print(f"\nlog_or: truth {TRUTH['log_or']}, 95% intervals {np.c_[lo, hi].round(3).tolist()}")
    assert np.all((lo < TRUTH["log_or"]) & (TRUTH["log_or"] < hi)), (lo, hi)
    assert lo[0] > 0, "the positive dependence at ICI-1 is not detected"

    corr = _draws(idata, "site_corr")
    upper = np.triu_indices(4, 1)
    pairs = corr[upper[0], upper[1]]
    lo, hi = np.quantile(pairs, [0.025, 0.975], axis=-1)
    truth = SITE_CORR[upper]
    print(f"site_corr: truth {truth}, means {pairs.mean(-1).round(2)}, 95% {np.c_[lo, hi].round(2).tolist()}")
    assert np.all((lo < truth) & (truth < hi)), (truth, lo, hi)
    assert np.all(pairs.mean(-1)[truth >= 0.4] > 0)

    for name in ("mu_eff", "mu_tox", "tau"):
        draws = _draws(idata, name)
        z = (draws.mean(-1) - TRUTH[name]) / draws.std(-1)
        print(f"{name}: truth {TRUTH[name].tolist()}, means {draws.mean(-1).round(3).tolist()}, "
              f"z {z.round(2).tolist()}")
        assert np.all(np.abs(z) < 3), (name, z)

"""The Weibull TTP model against reference analyses of the same data.

1. A published Bayesian analysis: "Mice: Weibull regression", BUGS Examples Volume 1
   (Dellaportas and Smith 1993, data of Grieve 1987: photocarcinogenicity in four groups of 20
   mice, survival in weeks, 15 censored). Data as in the BUGS examples (also JuliaBUGS
   ``src/BUGSExamples/Volume_1/17_Mice.jl``). Posterior summaries from the MultiBUGS manual's
   Examples Volume 1 (MultiBUGS/MultiBUGS-txt, ``Examples/Mice.odc.cp`` and
   ``Example/Mice.odc.cp``; multibugs.org/examples/latest/Mice.html), two runs of 20,000 draws.
2. A frequentist one: lifelines ``WeibullFitter`` maximum likelihood on the shipped data.
"""

from __future__ import annotations

from importlib import resources

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from lifelines import WeibullFitter

from rechallenge.data.study import Study
from rechallenge.models.sampling import fit
from rechallenge.models.ttp import build_ttp_model

#: Vague priors: flat on log scale and log shape over any relevant range.
VAGUE = {"mu_sd": 100.0, "shape_log_sd": 100.0}

# ---- Mice data: t[group, mouse] in weeks; NaN = censored at t_cen[group, mouse].
_NA = np.nan
MICE_T = np.array([
    [12, 1, 21, 25, 11, 26, 27, 30, 13, 12, 21, 20, 23, 25, 23, 29, 35, _NA, 31, 36],
    [32, 27, 23, 12, 18, _NA, _NA, 38, 29, 30, _NA, 32, _NA, _NA, _NA, _NA, 25, 30, 37, 27],
    [22, 26, _NA, 28, 19, 15, 12, 35, 35, 10, 22, 18, _NA, 12, _NA, _NA, 31, 24, 37, 29],
    [27, 18, 22, 13, 18, 29, 28, _NA, 16, 22, 26, 19, _NA, _NA, 17, 28, 26, 12, 17, 26],
])
MICE_T_CEN = np.zeros((4, 20))
MICE_T_CEN[0, 17] = 40
MICE_T_CEN[1, [5, 6, 10, 12, 13, 14, 15]] = 40
MICE_T_CEN[2, [2, 12, 14, 15]] = [10, 24, 40, 40]
MICE_T_CEN[3, [7, 12, 13]] = [20, 29, 10]
MICE_GROUPS = ("irradiated_control", "vehicle_control", "test_substance", "positive_control")

#: Published posterior (mean, sd, MC error, ESS) of two MultiBUGS runs, 20,000 draws each.
#: Model: t ~ dweib(r, mu[g]) censored, log mu[g] = beta[g] ~ dnorm(0, 0.001), r ~ dunif(0.1, 10);
#: veh.control = beta[2] - beta[1], test.sub = beta[3] - beta[1], pos.control = beta[4] - beta[1].
PUBLISHED = {
    "r": [(2.951, 0.294, 0.01766, 277), (2.98, 0.3134, 0.01894, 273)],
    "veh.control": [(-1.135, 0.369, 0.005432, 4615), (-1.15, 0.3713, 0.005118, 5263)],
    "test.sub": [(-0.3474, 0.3421, 0.003402, 10111), (-0.3499, 0.3436, 0.003248, 11188)],
    "pos.control": [(0.3228, 0.3439, 0.004274, 6476), (0.3255, 0.3439, 0.004532, 5758)],
}
#: Allowance for the prior differences left after reweighting: BUGS' beta ~ Normal(0, sd 31.6)
#: against our flat prior, at |beta| ~ 10 with posterior sd ~ 0.5, shifts means by about
#: sd^2 * |beta| / 31.6^2 ~ 0.003; r's U(0.1, 10) bounds are 9 posterior sds away.
PRIOR_ALLOWANCE = 0.01


def mice_study() -> Study:
    rows = []
    for g, group in enumerate(MICE_GROUPS):
        for j in range(20):
            censored = np.isnan(MICE_T[g, j])
            rows.append({"site": "grieve1987", "patient_id": f"{group}-{j + 1}", "line": group,
                         "ttp_months": MICE_T_CEN[g, j] if censored else MICE_T[g, j],
                         "progressed": int(not censored)})
    return Study(pd.DataFrame(rows), lines=MICE_GROUPS)


def test_mice_data_as_published():
    study = mice_study()
    assert len(study.patients) == 80 and study.patients["progressed"].sum() == 65
    events = study.patients.groupby("line", sort=False)["progressed"].sum()
    assert events.tolist() == [19, 13, 16, 17]


@pytest.mark.integration
def test_mice_weibull_regression_matches_the_bugs_examples():
    """Groups enter as "lines" (one site, complete pooling, one shared shape).

    The BUGS model is the same likelihood in PH form: mu[g] = lambda_g^(-r), so
    beta_BUGS[g] = -r log lambda_g, and the contrasts are -r (mu[g] - mu[1]) in our terms.
    Priors differ in form. BUGS is flat on (beta_BUGS[1..4], r); we are flat on
    (log lambda[1..4], log r). The Jacobian of beta_BUGS = -r log lambda is r^4 and the density
    of a flat prior on r, seen on log r, carries one more r, so importance weights r^5 turn our
    draws into draws from the BUGS posterior (Kish ESS stays above 70% of the draws). The
    tolerance is three combined Monte Carlo standard errors (ours from the weighted ESS, theirs as
    published) plus :data:`PRIOR_ALLOWANCE`; sds must agree within three standard errors of an
    sd estimate, sd * sqrt(1 / (2 ESS)), combined.
    """
    idata = fit(build_ttp_model(mice_study(), pooling="complete", shared_shape=True, priors=VAGUE),
                draws=2000, seed=SEED)
    post = idata.posterior
    r = post["shape"].to_numpy()
    mu = post["mu"].sel(line=list(MICE_GROUPS)).transpose("chain", "draw", "line").to_numpy()
    bugs_beta = -r[..., None] * mu
    ours = {"r": r, "veh.control": bugs_beta[..., 1] - bugs_beta[..., 0],
            "test.sub": bugs_beta[..., 2] - bugs_beta[..., 0],
            "pos.control": bugs_beta[..., 3] - bugs_beta[..., 0]}
    weights = r.ravel() ** 5 / np.sum(r.ravel() ** 5)
    kish = 1.0 / np.sum(weights**2)
    assert kish > 0.7 * r.size
    for name, draws in ours.items():
        flat = draws.ravel()
        mean = float(np.sum(weights * flat))
        sd = float(np.sqrt(np.sum(weights * (flat - mean) ** 2)))
        ess = float(np.ravel(az.ess(draws))[0]) * kish / r.size
        for pub_mean, pub_sd, pub_mcse, pub_ess in PUBLISHED[name]:
            tol = 3 * np.hypot(sd / np.sqrt(ess), pub_mcse) + PRIOR_ALLOWANCE
            assert abs(mean - pub_mean) < tol, (name, mean, pub_mean, tol)
            sd_tol = 3 * pub_sd * np.sqrt(1 / (2 * pub_ess) + 1 / (2 * ess))
            assert abs(sd - pub_sd) < sd_tol, (name, sd, pub_sd, sd_tol)


@pytest.mark.integration
def test_vague_complete_pooling_agrees_with_lifelines_maximum_likelihood():
    """Posterior medians of log shape and log scale per line against lifelines' MLE.

    Under flat priors on (log lambda, log k) the posterior is the normalised likelihood. Its
    marginal medians differ from the joint maximum by O(1/n), i.e. O(SE / sqrt(n)) with SE the
    MLE's standard error (observed: 0.17-0.19 SE for log k, 0.04 SE for log scale, n = 58 per
    line). We allow SE / 3 plus three Monte Carlo standard errors of the posterior median. An
    error in the likelihood would show up far beyond that: ignoring the censoring moves log scale
    by 1.0-1.3 SE, reading the shape as 1 / shape moves log k by 2-5 SE.
    """
    frame = pd.read_csv(resources.files("rechallenge.data") / "synthetic_scheiner2023.csv")
    study = Study(frame, synthetic=True)
    idata = fit(build_ttp_model(study, pooling="complete", priors=VAGUE), seed=SEED)
    post = idata.posterior
    for line in study.lines:
        rows = frame[frame["line"] == line]
        mle = WeibullFitter().fit(rows["ttp_months"], rows["progressed"])
        se = mle.summary["se(coef)"]
        checks = {
            "log shape": (np.log(post["shape"].sel(line=line).to_numpy()), np.log(mle.rho_),
                          se["rho_"] / mle.rho_),
            "log scale": (post["mu"].sel(line=line).to_numpy(), np.log(mle.lambda_),
                          se["lambda_"] / mle.lambda_),
        }
        for name, (draws, estimate, log_se) in checks.items():
            mcse = float(np.ravel(az.mcse(draws, method="quantile", prob=0.5))[0])
            gap = abs(np.median(draws) - estimate)
            assert gap < log_se / 3 + 3 * mcse, (line, name, gap, log_se, mcse)

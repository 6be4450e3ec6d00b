"""Prior defaults of the joint efficacy-toxicity model (:mod:`rechallenge.models.joint`).

The margins' priors are the binary model's (:data:`rechallenge.models.binary.BINARY_PRIORS`):
their values and reasons are taken from there, written once, so each outcome's margin gets the
prior it gets when analysed on its own. New here are the LKJ concentration's meaning in four
dimensions and the prior of the within-patient odds ratio.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from .binary import BINARY_PRIORS
from .priors import PriorDefault

JOINT_PRIORS: Final[dict[str, PriorDefault]] = {
    "mu_sd": replace(
        BINARY_PRIORS["mu_sd"],
        distribution="mu_eff[line], mu_tox[line] ~ Normal(0, mu_sd)  (log-odds of the typical "
                     "site, each outcome)",
    ),
    "tau_sd": replace(
        BINARY_PRIORS["tau_sd"],
        distribution="tau[outcome, line] ~ HalfNormal(tau_sd)  (between-site SD of the log-odds)",
    ),
    "lkj_eta": PriorDefault(
        BINARY_PRIORS["lkj_eta"].value,
        "R ~ LKJ(lkj_eta)  (correlation of a site's effects across the (outcome, line) "
        "combinations; sampled through its partial correlations)",
        "The binary model's value, so the shrinkage per unit of the LKJ density is the same. With "
        "four combinations (two outcomes, two lines) eta = 2 gives each correlation a marginal "
        "prior (r + 1) / 2 ~ Beta(3, 3) (prior SD 0.38): mild shrinkage toward 0 that still lets "
        "strongly correlated sites through; the cross-outcome correlations (do sites with more "
        "responses also report more toxicity?) rest on few sites and need that shrinkage.",
        True,
        about_sites=True,
    ),
    "sigma_patient_sd": replace(
        BINARY_PRIORS["sigma_patient_sd"],
        distribution="sigma_patient[outcome] ~ HalfNormal(sigma_patient_sd)  (SD of the patient "
                     "effect of each outcome, log-odds)",
    ),
    "log_or_sd": PriorDefault(
        1.5,
        "log_or[line] ~ Normal(0, log_or_sd)  (log odds ratio of efficacy and toxicity in the "
        "same patient and line)",
        "Centred on independence (no direction is presumed: toxicity may go with response, as "
        "immune activation would suggest, or against it, through dose interruptions). Its 95% "
        "range, odds ratios from 1/19 to 19, holds any association plausible between a tumour "
        "response and a grade 3-4 adverse event, while it gives little mass to the "
        "near-deterministic association (|log OR| > 4.5, under 0.3%) that a 2 x 2 table with an "
        "empty cell, common with a few patients per line, would otherwise push the posterior to.",
        True,
    ),
}

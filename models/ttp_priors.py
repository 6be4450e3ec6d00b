"""Prior defaults of the time-to-progression model (:mod:`rechallenge.models.ttp`).

The structure's hyperparameters (site effects, patient effect, covariates) are the same for
every survival distribution; the location prior (``mu_mean``, ``mu_sd``) and the shape priors
are each distribution's own (:mod:`rechallenge.models.survival`). :data:`TTP_PRIORS` holds the
Weibull model's, written out once with their reasons.
"""

from __future__ import annotations

import math
from typing import Final

from .priors import PriorDefault
from .survival import SurvivalDistribution, Weibull, survival_distribution

TTP_PRIORS: Final[dict[str, PriorDefault]] = {
    "mu_mean": PriorDefault(
        math.log(6.0),
        "mu[line] ~ Normal(mu_mean, mu_sd)  (log scale, months)",
        "Centred on a scale of 6 months: median TTP on ICIs in advanced HCC is typically 3-8 "
        "months, and with k = 1 a scale of 6 means a median of 4.2 months.",
        positive=False,
    ),
    "mu_sd": PriorDefault(
        1.0,
        "mu[line] ~ Normal(mu_mean, mu_sd)",
        "95% of the prior scale lies in 0.8-43 months, so medians from about 1 to 40 months are "
        "all plausible while medians of days or decades are not.",
    ),
    # The Weibull shape prior is the distribution's own (models/survival/weibull.py).
    "shape_log_sd": Weibull.priors["shape_log_sd"],
    "tau_sd": PriorDefault(
        0.5,
        "tau[line] ~ HalfNormal(tau_sd)  (between-site SD of log scale)",
        "Prior median tau 0.34: 95% of sites' medians within a factor exp(1.96 tau) = 1.9 of the "
        "typical site's; the prior 95% point tau = 0.98 allows a factor 6.8, more is ruled out. "
        "With few or small sites the data barely inform tau, so a heavier tail would let it "
        "wander to implausible values.",
        about_sites=True,
    ),
    "lkj_eta": PriorDefault(
        2.0,
        "site_corr ~ LKJ(lkj_eta)",
        "Mildly favours small correlations between a site's effects at different lines (density "
        "proportional to 1 - r^2 for two lines) without excluding strong ones.",
        about_sites=True,
    ),
    "sigma_patient_sd": PriorDefault(
        0.5,
        "sigma_patient ~ HalfNormal(sigma_patient_sd)  (patient effect on log scale)",
        "sigma = 0.5 puts 95% of patients' times within a factor 2.7 of the typical patient's, at "
        "every line; the Weibull itself already spreads log times with sd 1.28 / k, and with one "
        "row per patient and line a larger frailty would not be identified.",
    ),
    "beta_sd": PriorDefault(
        1.0,
        "beta ~ Normal(0, beta_sd)  (log time ratio per unit or vs reference level)",
        "Time ratios between 0.14 and 7.1 a priori (95%): no plausible covariate changes median "
        "TTP more than that.",
    ),
    "site_effect_sd": PriorDefault(
        1.0,
        "u_site[site, line] ~ Normal(0, site_effect_sd)  (no-pooling comparator only)",
        "Wide enough that each site's scale is set by its own data (site time ratios 0.14-7.1), "
        "narrow enough to keep sites with only censored rows finite.",
    ),
}

#: Hyperparameters that belong to the survival distribution (its location and shape priors):
#: each distribution declares its own, the Weibull's are the ones above.
_DISTRIBUTION_PRIORS: Final = ("mu_mean", "mu_sd", "shape_log_sd")


def ttp_priors(distribution: str | SurvivalDistribution = "weibull") -> dict[str, PriorDefault]:
    """The default prior hyperparameters of the TTP model with ``distribution``: the
    structure's (site effects, patient effect, covariates) and the distribution's own (its
    location and shape priors).
    """
    dist = (distribution if isinstance(distribution, SurvivalDistribution)
            else survival_distribution(distribution))
    own = dict(dist.priors)
    # The location prior, the shape's, then the structure's: the order of the priors table.
    location = {k: own.pop(k, TTP_PRIORS[k]) for k in ("mu_mean", "mu_sd")}
    structure = {k: v for k, v in TTP_PRIORS.items() if k not in _DISTRIBUTION_PRIORS}
    return {**location, **own, **structure}

"""The meta-analytic-predictive (MAP) prior: beta and normal mixtures fitted by EM to the
predictive draws for a new site (:mod:`em`), the mixtures themselves with robustification and
effective sample sizes (:mod:`mixtures`), the ``map_prior.json`` record (:mod:`record`) and its
export from a run's fits (:mod:`export`). Imports summaries and settings only.
"""

from rechallenge.analysis.map_prior.em import fit_beta_mixture, fit_normal_mixture
from rechallenge.analysis.map_prior.mixtures import BetaMixture, NormalMixture
from rechallenge.analysis.map_prior.record import (
    MAP_PRIOR_FORMAT,
    MAP_PRIOR_VERSION,
    load_map_prior,
    map_prior_entry,
    map_prior_json,
)

__all__ = [
    "BetaMixture",
    "NormalMixture",
    "fit_beta_mixture",
    "fit_normal_mixture",
    "load_map_prior",
    "map_prior_entry",
    "map_prior_json",
    "MAP_PRIOR_FORMAT",
    "MAP_PRIOR_VERSION",
]

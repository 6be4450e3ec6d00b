"""Export a run's new-site predictive distributions as a MAP prior for a future study.

Per endpoint and line: binary endpoints as a Beta mixture fitted to the draws of
``probability_new_site``; time to progression as a normal mixture on the log of
``median_new_site``. Each is robustified with a vague component of the configured weight and
recorded with its effective sample size and the source run's hash (``map_prior.json``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import arviz as az
import numpy as np

from rechallenge.analysis.map_prior.em import fit_beta_mixture, fit_normal_mixture
from rechallenge.analysis.map_prior.mixtures import BetaMixture, NormalMixture
from rechallenge.analysis.map_prior.record import map_prior_entry, map_prior_json
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import family_of
from rechallenge.analysis.settings.fit_names import fit_key
from rechallenge.data import Study

MAP_PRIOR_FILE = "map_prior.json"


def run_hash(study: Study, config: RunConfig) -> str:
    """Identity of a run: its data and its resolved config."""
    return hashlib.sha256((study.data_hash() + "\n" + config.to_toml()).encode()).hexdigest()


def new_site_draws(
    fits: Mapping[str, az.InferenceData], endpoint: str, seed: int
) -> dict[str, np.ndarray]:
    """Predictive draws for a new site per line, of the quantity and on the scale its family
    exports (its ``map_prior``):
    probabilities, or log median TTP in months.
    """
    family = family_of(endpoint)
    spec = family.map_prior
    draws = family.quantity_draws(fits[fit_key(endpoint)], seed)
    return {line: (np.log(v) if spec.log else v).ravel()
            for q, line, v in draws if q == spec.quantity}


#: The MAP prior of some endpoints: per endpoint its mixtures by line, and what it is.
MapPriorParts = tuple[dict[str, dict], dict[str, dict]]


def map_prior_record(
    study: Study, fits: Mapping[str, az.InferenceData], config: RunConfig
) -> str | None:
    """JSON text of the MAP priors of every endpoint with a partially pooled main fit.

    Returns ``None`` when the run has no partial pooling (no new-site predictive exists).
    """
    if config.analysis.pooling != "partial":
        return None
    return map_prior_from_parts([map_prior_parts(fits, config)], study, config)


def map_prior_from_parts(parts: Sequence[MapPriorParts], study: Study, config: RunConfig) -> str:
    """The JSON text of :func:`map_prior_record` from parts made apart (e.g. each on the worker
    that holds its fits), endpoints in the config's order.
    """
    mixtures = {e: m for part in parts for e, m in part[0].items()}
    info = {e: i for part in parts for e, i in part[1].items()}
    order = [e for e in config.analysis.endpoints if e in mixtures]
    return map_prior_json({e: mixtures[e] for e in order}, source_run_hash=run_hash(study, config),
                          endpoint_info={e: info[e] for e in order})


def map_prior_parts(fits: Mapping[str, az.InferenceData], config: RunConfig) -> MapPriorParts:
    """The mixtures and descriptions of the endpoints whose main fits are in ``fits``."""
    seed, weight = config.sampler.seed, config.analysis.map_robust_weight
    mixtures: dict[str, dict] = {}
    info: dict[str, dict] = {}
    for endpoint in config.analysis.endpoints:
        if fit_key(endpoint) not in fits:
            continue
        mixtures[endpoint] = {}
        spec = family_of(endpoint).map_prior
        for line, draws in new_site_draws(fits, endpoint, seed).items():
            draws = draws[np.isfinite(draws)]
            mixture: BetaMixture | NormalMixture
            mixture = (fit_normal_mixture(draws, seed=seed) if spec.mixture == "normal"
                       else fit_beta_mixture(np.clip(draws, 1e-9, 1 - 1e-9), seed=seed))
            mixtures[endpoint][line] = map_prior_entry(
                mixture, draws, robust_weight=weight, interval=config.interval
            )
        info[endpoint] = {
            "label": family_of(endpoint).label,
            "scale": spec.scale_words,
            "quantity": spec.quantity,
        }
    return mixtures, info

"""What a fit is made with and what it records: sampler settings, seeds, package versions, and
the provenance attributes of a fit (:func:`fit_attrs`).

Kept apart from :mod:`rechallenge.models.sampling` so that code which reads settings or saved fits
(configs, summaries, reports) does not import the sampler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import arviz as az
import numpy as np

#: Seed used when the caller gives none; every random step derives from it.
DEFAULT_SEED = 20230105
#: Samplers a fit can run with (``"auto"`` is resolved per model by :func:`choose_backend`).
BACKENDS: tuple[str, ...] = ("nutpie", "jax", "pymc", "auto")
DEFAULT_BACKEND = "nutpie"
#: Models with at least this many observed values (likelihood rows) are sampled with JAX under
#: ``backend = "auto"``; smaller ones with nutpie (measured: ``docs/performance.md``).
AUTO_JAX_MIN_ROWS = 1000
_VERSIONED_PACKAGES = ("rechallenge", "pymc", "pytensor", "arviz", "nutpie", "jax", "jaxlib",
                       "blackjax", "numpy", "pandas", "xarray", "scipy")
#: How each backend is described in a report's methods (see :func:`describe_sampler`).
SAMPLER_DESCRIPTIONS: dict[str, str] = {
    "nutpie": "nutpie's No-U-Turn sampler on a numba-compiled log density",
    "jax": "BlackJAX's No-U-Turn sampler (window adaptation) on a JAX-compiled log density",
    "pymc": "PyMC's No-U-Turn sampler",
}

#: Version of the parameter names a fit uses, recorded in its attrs (``rechallenge_vocabulary``).
#: 2: one name per concept in every model (line intercept ``mu``, covariate coefficients ``beta``,
#: patient effect ``sigma_patient``/``z_patient``/``u_patient``, no-pooling prior
#: ``site_effect_sd``). Fits without the attribute were written with the older names (the TTP
#: model's ``beta`` was its line intercept) and are refused on loading, not misread.
VOCABULARY = 2

#: Groups :func:`fit` can compute besides the posterior (``groups=``): ``"prior"`` (prior and
#: prior predictive draws), ``"posterior_predictive"`` and ``"log_likelihood"``.
OPTIONAL_GROUPS: tuple[str, ...] = ("prior", "posterior_predictive", "log_likelihood")


@dataclass(frozen=True)
class SamplerSettings:
    """Sampler settings recorded with every fit.

    Parameters
    ----------
    draws, tune, chains
        Posterior draws and tuning steps per chain, and the number of chains.
    seed
        Master seed; the sampler, prior and predictive draws use seeds derived from it.
    backend
        One of :data:`BACKENDS`.
    target_accept
        NUTS target acceptance rate. 0.9 rather than 0.8: hierarchical models with weakly
        identified scales need the smaller step size to avoid divergences.
    prior_draws
        Draws from the prior and prior predictive.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = DEFAULT_SEED
    backend: str = DEFAULT_BACKEND
    target_accept: float = 0.9
    prior_draws: int = 500

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {BACKENDS}")
        for name in ("draws", "tune", "chains", "prior_draws"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < (0 if name == "tune" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.5 <= self.target_accept < 1:
            raise ValueError(f"target_accept must be in [0.5, 1), got {self.target_accept}")


def choose_backend(observed_values: int) -> str:
    """The backend ``"auto"`` runs for a model with ``observed_values`` likelihood values.

    nutpie below :data:`AUTO_JAX_MIN_ROWS` (its sampling is faster on small models and a run
    compiles few structures), JAX from there (XLA's gradient is cheaper on large ones).
    """
    return "jax" if observed_values >= AUTO_JAX_MIN_ROWS else "nutpie"


def describe_sampler(sampler: dict[str, Any]) -> str:
    """The sampler a fit ran, in words, from its recorded settings (``fit_attrs(...)["sampler"]``).

    E.g. ``"nutpie's No-U-Turn sampler on a numba-compiled log density"``; a backend without a
    description is named as recorded.
    """
    backend = str(sampler.get("backend", ""))
    return SAMPLER_DESCRIPTIONS.get(backend, backend)


def samplers_ran(fits: dict[str, az.InferenceData]) -> dict[str, dict[str, str]]:
    """Per fit, the backend that sampled it and its description (for a run's manifest)."""
    ran = {}
    for name, idata in sorted(fits.items()):
        sampler = fit_attrs(idata).get("sampler", {})
        ran[name] = {"backend": str(sampler.get("backend", "")),
                     "sampler": describe_sampler(sampler)}
    return ran


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a fit depends on."""
    versions = {}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def derived_seeds(seed: int) -> dict[str, int]:
    """Independent seeds for each random step, all determined by ``seed``."""
    states = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint32)
    return {"sampler": int(states[0]), "prior": int(states[1]), "predictive": int(states[2])}


def fit_attrs(idata: az.InferenceData) -> dict[str, Any]:
    """Decode the provenance a :func:`fit` stored in ``idata.posterior.attrs``."""
    attrs = idata.posterior.attrs
    missing = [k for k in ("rechallenge_model", "rechallenge_data_hash") if k not in attrs]
    if missing:
        raise ValueError(f"not a rechallenge fit: posterior attrs lack {missing}")
    decoded: dict[str, Any] = {}
    for key, value in attrs.items():
        if not key.startswith("rechallenge_"):
            continue
        short = key.removeprefix("rechallenge_")
        try:
            decoded[short] = json.loads(value) if short not in ("model", "endpoint", "data_hash") else value
        except (TypeError, json.JSONDecodeError):
            decoded[short] = value
    return decoded

"""One sampler front-end for every model: ``fit(model, ...) -> az.InferenceData``.

The result always has the groups posterior, sample_stats, prior, prior_predictive,
posterior_predictive, log_likelihood, observed_data and constant_data, and its posterior attrs
record the model, priors, sampler settings, package versions, seed and data hash (see
:func:`fit_attrs`), so a saved fit describes itself.

Backends
--------
``"nutpie"`` (default)
    nutpie's NUTS on a numba-compiled log density. Compiling costs a few seconds once; the compiled
    model is cached per ``pm.Model`` object, and :func:`fit` can reuse it for new data or prior
    values through ``data=`` (no recompilation).
``"pymc"``
    PyMC's own NUTS.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

import arviz as az
import numpy as np
import pymc as pm

from .info import model_info
from .priors import PRIOR_DATA_PREFIX

#: Seed used when the caller gives none; every random step derives from it.
DEFAULT_SEED = 20230105
BACKENDS: tuple[str, ...] = ("nutpie", "pymc")
DEFAULT_BACKEND = "nutpie"
_VERSIONED_PACKAGES = ("rechallenge", "pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas",
                       "xarray", "scipy")

_compiled_cache: "weakref.WeakKeyDictionary[pm.Model, Any]" = weakref.WeakKeyDictionary()


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


def compiled_nutpie_model(model: pm.Model) -> Any:
    """Return nutpie's compiled version of ``model``, compiling at most once per model object."""
    import nutpie

    compiled = _compiled_cache.get(model)
    if compiled is None:
        compiled = nutpie.compile_pymc_model(model)
        _compiled_cache[model] = compiled
    return compiled


def fit(
    model: pm.Model,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = DEFAULT_SEED,
    backend: str = DEFAULT_BACKEND,
    target_accept: float = 0.9,
    prior_draws: int = 500,
    data: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> az.InferenceData:
    """Sample a model built by a rechallenge builder and return complete InferenceData.

    Parameters
    ----------
    model
        A model from :func:`rechallenge.models.build_binary_model` or
        :func:`rechallenge.models.build_ttp_model`.
    draws, tune, chains, seed, backend, target_accept, prior_draws
        See :class:`SamplerSettings`.
    data
        New values for the model's ``pm.Data`` containers (same shapes), e.g. prior
        hyperparameters ``{"prior_tau_sd": 0.5}`` for a sensitivity refit. The model is updated
        in place through ``pm.set_data`` and, with nutpie, its compiled form is reused.
    progress
        Show the sampler's progress bar.

    Returns
    -------
    arviz.InferenceData
        Groups posterior, sample_stats, prior, prior_predictive, posterior_predictive,
        log_likelihood, observed_data, constant_data; provenance in ``posterior.attrs``.
    """
    settings = SamplerSettings(draws, tune, chains, seed, backend, target_accept, prior_draws)
    info = model_info(model)
    if data:
        unknown = sorted(set(data) - {d.name for d in model.data_vars})
        if unknown:
            raise ValueError(f"no pm.Data named {unknown} in the model")
        # The model is shared between refits: put its data back afterwards, so one refit's
        # values (e.g. a sensitivity prior) never leak into the next fit.
        original = {name: model[name].get_value() for name in data}
        pm.set_data(dict(data), model=model)
        try:
            return _fit(model, settings, info, data, progress)
        finally:
            pm.set_data(original, model=model)
    return _fit(model, settings, info, None, progress)


def _fit(
    model: pm.Model,
    settings: SamplerSettings,
    info: Any,
    data: Mapping[str, Any] | None,
    progress: bool,
) -> az.InferenceData:
    seeds = derived_seeds(settings.seed)
    backend, prior_draws, seed = settings.backend, settings.prior_draws, settings.seed
    if backend == "nutpie":
        idata = _sample_nutpie(model, settings, seeds["sampler"], data, progress)
    else:
        idata = _sample_pymc(model, settings, seeds["sampler"], progress)

    with model:
        # The prior draws also bring observed_data and constant_data. They must come before the
        # posterior predictive: PyMC treats every variable that depends on pm.Data (here the
        # prior hyperparameters) as changed, and redraws it from the prior, unless the trace
        # carries constant_data to compare with.
        idata.extend(pm.sample_prior_predictive(prior_draws, random_seed=seeds["prior"]))
        # Name the observed variables: without var_names, PyMC 5.28 appends them to
        # model.observed_RVs a second time when the trace has observed_data, corrupting the model.
        observed = [rv.name for rv in model.observed_RVs]
        pm.sample_posterior_predictive(
            idata,
            var_names=observed,
            random_seed=seeds["predictive"],
            extend_inferencedata=True,
            progressbar=False,
        )
        pm.compute_log_likelihood(idata, extend_inferencedata=True, progressbar=False)

    attrs = dict(info.to_attrs())
    # Record the prior values this fit used: a sensitivity refit (data={"prior_tau_sd": ...})
    # runs with values other than the ones the model was built with.
    used = {
        name: float(model[PRIOR_DATA_PREFIX + name].get_value())
        if PRIOR_DATA_PREFIX + name in model.named_vars else value
        for name, value in info.priors.items()
    }
    attrs["rechallenge_priors"] = json.dumps(used, sort_keys=True)
    attrs.update(
        rechallenge_sampler=json.dumps(asdict(settings), sort_keys=True),
        rechallenge_versions=json.dumps(package_versions(), sort_keys=True),
        rechallenge_seed=str(seed),
    )
    idata.posterior.attrs.update(attrs)
    return idata


def _sample_nutpie(
    model: pm.Model,
    settings: SamplerSettings,
    seed: int,
    data: Mapping[str, Any] | None,
    progress: bool,
) -> az.InferenceData:
    import nutpie

    compiled = compiled_nutpie_model(model)
    if data:
        compiled = compiled.with_data(**{k: np.asarray(v) for k, v in data.items()})
    idata = nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=min(settings.chains, os.cpu_count() or 1),
        seed=seed,
        target_accept=settings.target_accept,
        save_warmup=False,
        progress_bar=progress,
    )
    # nutpie also stores the unconstrained values (``tau_log__``); keep the model's own names.
    transformed = [name for name in idata.posterior.data_vars if name.endswith("__")]
    idata.posterior = idata.posterior.drop_vars(transformed)
    return idata


def _sample_pymc(
    model: pm.Model, settings: SamplerSettings, seed: int, progress: bool
) -> az.InferenceData:
    return pm.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=min(settings.chains, os.cpu_count() or 1),
        random_seed=seed,
        target_accept=settings.target_accept,
        progressbar=progress,
        compute_convergence_checks=False,
        model=model,
    )


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

"""One sampler front-end for every model: ``fit(model, ...) -> az.InferenceData``.

By default the result has the groups posterior, sample_stats, prior, prior_predictive,
posterior_predictive, log_likelihood, observed_data and constant_data (``groups=`` can leave out
the prior, predictive and log-likelihood draws of a fit that needs only its posterior), and its
posterior attrs record the model, priors, sampler settings, package versions, seed and data hash
(see :func:`fit_attrs`), so a saved fit describes itself.

Backends
--------
``"nutpie"`` (default)
    nutpie's NUTS on a numba-compiled log density: on the shipped data a fit samples in well under
    a second, against 10-20 s for PyMC's NUTS (``docs/performance.md``). Compiling costs seconds,
    so a compiled model is kept per model *structure*: every model whose log-density graph, coords
    and data shapes are the same (the three binary endpoints of one study, a model refitted with
    other prior values through ``data=``) reuses one compilation, with its own ``pm.Data`` values
    and its own initial point. A fit is the same whether or not it reused a compilation.
``"pymc"``
    PyMC's own NUTS (compiled per fit by PyMC).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

import arviz as az
import numpy as np
import pymc as pm

from .info import PRIOR_ONLY, model_info
from .log_density import add_pointwise_log_density
from .nutpie_cache import (  # noqa: F401 - re-exported: the sampler front-end's cache API
    clear_compiled_cache, compiled_nutpie_model, compiled_structures, is_compiled, prepared_for,
)
from .priors import PRIOR_DATA_PREFIX

#: Seed used when the caller gives none; every random step derives from it.
DEFAULT_SEED = 20230105
BACKENDS: tuple[str, ...] = ("nutpie", "pymc")
DEFAULT_BACKEND = "nutpie"
_VERSIONED_PACKAGES = ("rechallenge", "pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas",
                       "xarray", "scipy")

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
    groups: Collection[str] | None = None,
    progress: bool = False,
    timings: dict[str, float] | None = None,
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
        in place through ``pm.set_data`` for the fit and restored afterwards; with nutpie its
        compiled form is reused.
    groups
        Which of :data:`OPTIONAL_GROUPS` to compute; ``None`` (the default) computes all of them.
        A fit that only needs its posterior (e.g. a prior-sensitivity refit) can pass ``()`` and
        skip the prior, predictive and log-likelihood draws and their compilation. The posterior,
        sample_stats, observed_data and constant_data groups are always there, and leaving a
        group out changes no number in the others (each step has its own derived seed).
    progress
        Show the sampler's progress bar.
    timings
        If given, filled with the seconds each step took: ``compile`` (nutpie: finding or
        compiling the model; PyMC compiles inside ``sample``), ``sample`` (tuning and draws), and
        ``prior``, ``posterior_predictive``, ``log_likelihood`` for the groups computed.

    Returns
    -------
    arviz.InferenceData
        Groups posterior, sample_stats, observed_data, constant_data and, as asked, prior and
        prior_predictive, posterior_predictive, log_likelihood; provenance in
        ``posterior.attrs``.
    """
    settings = SamplerSettings(draws, tune, chains, seed, backend, target_accept, prior_draws)
    wanted = set(OPTIONAL_GROUPS if groups is None else groups)
    unknown_groups = sorted(wanted - set(OPTIONAL_GROUPS))
    if unknown_groups:
        raise ValueError(f"unknown groups {unknown_groups}; choose from {OPTIONAL_GROUPS}")
    info = model_info(model)
    timings = {} if timings is None else timings
    if data:
        unknown = sorted(set(data) - {d.name for d in model.data_vars})
        if unknown:
            raise ValueError(f"no pm.Data named {unknown} in the model")
        # The model is shared between refits: put its data back afterwards, so one refit's
        # values (e.g. a sensitivity prior) never leak into the next fit.
        original = {name: model[name].get_value() for name in data}
        pm.set_data(dict(data), model=model)
        try:
            return _fit(model, settings, info, wanted, progress, timings)
        finally:
            pm.set_data(original, model=model)
    return _fit(model, settings, info, wanted, progress, timings)


def _fit(
    model: pm.Model,
    settings: SamplerSettings,
    info: Any,
    groups: set[str],
    progress: bool,
    timings: dict[str, float],
) -> az.InferenceData:
    seeds = derived_seeds(settings.seed)
    backend, prior_draws, seed = settings.backend, settings.prior_draws, settings.seed
    if backend == "nutpie":
        idata = _sample_nutpie(model, settings, seeds["sampler"], progress, timings)
    else:
        start = time.perf_counter()
        idata = _sample_pymc(model, settings, seeds["sampler"], progress)
        timings["sample"] = time.perf_counter() - start

    with model:
        if "prior" in groups:
            # The prior draws also bring observed_data and constant_data.
            start = time.perf_counter()
            idata.extend(pm.sample_prior_predictive(prior_draws, random_seed=seeds["prior"]))
            timings["prior"] = time.perf_counter() - start
        else:
            _add_data_groups(idata, model)
        # constant_data must be in the trace before the posterior predictive: PyMC treats every
        # variable that depends on pm.Data (here the prior hyperparameters) as changed, and
        # redraws it from the prior, unless the trace carries constant_data to compare with.
        if "posterior_predictive" in groups:
            start = time.perf_counter()
            # Name the observed variables: without var_names, PyMC 5.28 appends them to
            # model.observed_RVs a second time when the trace has observed_data, corrupting the
            # model.
            observed = [rv.name for rv in model.observed_RVs]
            pm.sample_posterior_predictive(
                idata,
                var_names=observed,
                random_seed=seeds["predictive"],
                extend_inferencedata=True,
                progressbar=False,
            )
            timings["posterior_predictive"] = time.perf_counter() - start
        if "log_likelihood" in groups:
            start = time.perf_counter()
            add_pointwise_log_density(model, idata, "likelihood")
            timings["log_likelihood"] = time.perf_counter() - start

    _drop_prior_only(idata, info)
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


def _drop_prior_only(idata: az.InferenceData, info: Any) -> None:
    """Drop a nested comparator's switched-off variables (their posterior is their prior).

    Only after every group is drawn: the log-likelihood and predictive draws evaluate the model
    at full posterior points.
    """
    names = list(info.extra.get(PRIOR_ONLY, ()))
    if not names:
        return
    for group in ("posterior", "prior"):
        if group in idata.groups():
            setattr(idata, group, getattr(idata, group).drop_vars(names, errors="ignore"))


def _add_data_groups(idata: az.InferenceData, model: pm.Model) -> None:
    """observed_data and constant_data, as PyMC's prior draws would bring them (no compiling)."""
    from pymc.backends.arviz import InferenceDataConverter

    converter = InferenceDataConverter(trace=None, prior={}, model=model)
    new = {}
    for group, dataset in (("observed_data", converter.observed_data_to_xarray()),
                           ("constant_data", converter.constant_data_to_xarray())):
        if dataset is not None and group not in idata.groups():
            new[group] = dataset
    if new:
        idata.add_groups(new)


def _sample_nutpie(
    model: pm.Model,
    settings: SamplerSettings,
    seed: int,
    progress: bool,
    timings: dict[str, float],
) -> az.InferenceData:
    import nutpie

    start = time.perf_counter()
    compiled = prepared_for(model)
    timings["compile"] = time.perf_counter() - start
    start = time.perf_counter()
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
    timings["sample"] = time.perf_counter() - start
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

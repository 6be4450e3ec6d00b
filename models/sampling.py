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
    so a compiled model is kept per model *structure* in each process
    (:mod:`rechallenge.models.nutpie_cache`): every model whose builder gave it the same structure
    key (the three binary endpoints of one study, a model refitted with other prior values through
    ``data=``, a nested comparator) reuses one compilation, with its own ``pm.Data`` values and
    its own initial point. A fit is the same whether or not it reused a compilation.
``"jax"``
    BlackJAX's NUTS on the model's log density compiled by JAX
    (:mod:`rechallenge.models.jax_backend`): one program per model structure with the
    ``pm.Data`` values as arguments, kept in the process and in JAX's persistent compilation
    cache on disk.
``"pymc"``
    PyMC's own NUTS (compiled per fit by PyMC).
``"auto"``
    nutpie or JAX, chosen per model by :func:`~rechallenge.models.fit_settings.choose_backend`
    (the rule measured in ``docs/performance.md``); the fit records the backend that ran.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import pytensor

from .fit_settings import (  # noqa: F401 - re-exported: the front-end's settings and provenance
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_SEED,
    OPTIONAL_GROUPS,
    VOCABULARY,
    SamplerSettings,
    choose_backend,
    derived_seeds,
    fit_attrs,
    package_versions,
)
from .info import NEEDS_BACKEND, PRIOR_ONLY, model_info
from .log_density import add_pointwise_log_density
from .nutpie_cache import (  # noqa: F401 - re-exported: the sampler front-end's cache API
    bound,
    clear_compiled_cache,
    compiled_structures,
    is_compiled,
)
from .priors import PRIOR_DATA_PREFIX


def backend_for(model: pm.Model, requested: str) -> str:
    """The sampler that runs ``model`` when ``requested`` is asked for (the fit records it).

    ``"auto"`` is chosen by the model's size (:func:`choose_backend`); then ``"nutpie"`` gives
    way to the sampler the model's builder says it needs (:data:`~.info.NEEDS_BACKEND`: the
    generalised gamma's gradient, which numba does not compile in practical time). ``"jax"``
    and ``"pymc"`` run as asked.
    """
    backend = choose_backend(_observed_values(model)) if requested == "auto" else requested
    needed = model_info(model).extra.get(NEEDS_BACKEND)
    return str(needed) if backend == "nutpie" and needed else backend


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
    backend = backend_for(model, backend)
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


def _observed_values(model: pm.Model) -> int:
    """How many observed values the model's likelihood has (the size of its observed data)."""
    total = 0
    for rv in model.observed_RVs:
        value = model.rvs_to_values[rv]
        data = value.get_value() if hasattr(value, "get_value") else getattr(value, "data", None)
        total += int(np.size(data)) if data is not None else 0
    return total


def _fit(
    model: pm.Model,
    settings: SamplerSettings,
    info: Any,
    groups: set[str],
    progress: bool,
    timings: dict[str, float],
) -> az.InferenceData:
    # Library warnings of the sampling steps are recorded with the fit (rechallenge_warnings)
    # and counted in the report, not printed raw in the middle of a run's progress lines.
    _look_up_machine_once()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = _sample_all(model, settings, groups, progress, timings)
    _drop_prior_only(idata, info)
    messages = Counter(str(w.message).strip().split("\n")[0] for w in caught)
    return _with_provenance(idata, model, info, settings, dict(messages))


def _look_up_machine_once() -> None:
    """Let PyTensor look for a BLAS library now, outside any fit's recorded warnings.

    PyTensor looks once per process, at the first compilation, and warns then if there is none:
    a fact of the machine, not of a fit. Recorded with whichever fit came first on a worker, it
    made the same run's fit files and report differ with the order of tasks and between a local
    and a cluster run (whose workers may have looked already). Speed only; no number changes.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ = pytensor.config.blas__ldflags


def _sample_all(
    model: pm.Model,
    settings: SamplerSettings,
    groups: set[str],
    progress: bool,
    timings: dict[str, float],
) -> az.InferenceData:
    """The posterior and the groups asked for (no provenance yet)."""
    seeds = derived_seeds(settings.seed)
    backend, prior_draws = settings.backend, settings.prior_draws
    if backend == "nutpie":
        idata = _sample_nutpie(model, settings, seeds["sampler"], progress, timings)
    elif backend == "jax":
        from .jax_backend import sample_jax

        idata = sample_jax(model, draws=settings.draws, tune=settings.tune,
                           chains=settings.chains, seed=seeds["sampler"],
                           target_accept=settings.target_accept, timings=timings)
    else:
        start = time.perf_counter()
        idata = _sample_pymc(model, settings, seeds["sampler"], progress)
        timings["sample"] = time.perf_counter() - start

    with model, _quiet_pymc_info():
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
    return idata


def _with_provenance(idata: az.InferenceData, model: pm.Model, info: Any,
                     settings: SamplerSettings, messages: dict[str, int]) -> az.InferenceData:
    """Store the fit's provenance (model, priors, sampler, versions, seed, warnings) in attrs."""
    seed = settings.seed
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
        rechallenge_warnings=json.dumps(messages, sort_keys=True),
        rechallenge_vocabulary=str(VOCABULARY),
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
    with bound(model) as compiled:
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


@contextmanager
def _quiet_pymc_info() -> Iterator[None]:
    """PyMC logs "Sampling: [...]" at INFO for every prior and predictive draw; a run makes dozens
    and says what it does itself, so those lines are held back (warnings still pass).
    """
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)

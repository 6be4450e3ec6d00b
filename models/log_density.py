"""Pointwise log-likelihood and log-prior of a fit, compiled once per model structure.

``pm.compute_log_likelihood`` and ``pm.compute_log_prior`` compile a PyTensor function for every
call: about 0.25 s each, for a draw loop that then takes well under that. The default analysis
computes the log-likelihood of 12 fits and the log-prior of 4, from 2 model structures. Here the
function of a structure is compiled once with the ``pm.Data`` values as inputs (PyTensor
``givens``), kept beside the structure's nutpie compilation
(:func:`~rechallenge.models.nutpie_cache.per_structure`) or JAX program
(:func:`~rechallenge.models.jax_backend.per_structure`), and called with each model's own values.
The graph is PyMC's (``remove_value_transforms``, then ``Model.logp(vars=..., sum=False)``),
compiled the way PyMC compiles it (``Model.compile_fn``), so the values are PyMC's
(tested bit for bit in ``tests/test_log_density.py``).

A model without a nutpie or JAX compilation in this process (PyMC's sampler) goes through PyMC's own
functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from .jax_backend import per_structure as jax_per_structure
from .nutpie_cache import per_structure, shared_inputs

Kind = Literal["likelihood", "prior"]


@dataclass(frozen=True)
class _PointwiseFunction:
    """A compiled pointwise log density: free values and ``pm.Data`` values in, one array per
    target variable out.
    """

    function: object
    value_names: tuple[str, ...]
    data_names: tuple[str, ...]
    output_names: tuple[str, ...]


def _compile(model: pm.Model, kind: Kind) -> _PointwiseFunction:
    from pymc.model.transform.conditioning import remove_value_transforms

    # InferenceData holds the constrained values: evaluate on the untransformed model, as PyMC.
    plain = remove_value_transforms(model)
    targets = list(plain.observed_RVs if kind == "likelihood" else plain.free_RVs)
    shared = shared_inputs(plain)
    inputs = {name: variable.type(name=name) for name, variable in shared.items()}
    function = plain.compile_fn(
        inputs=[*plain.value_vars, *inputs.values()],
        outs=plain.logp(vars=targets, sum=False),
        point_fn=False,
        givens=[(shared[name], inputs[name]) for name in shared],
        on_unused_input="ignore",
    )
    return _PointwiseFunction(
        function,
        tuple(v.name for v in plain.value_vars),
        tuple(shared),
        tuple(rv.name for rv in targets),
    )


def pointwise_log_density(model: pm.Model, idata: az.InferenceData, kind: Kind) -> xr.Dataset:
    """Pointwise log-likelihood (``kind="likelihood"``) or log-prior of every posterior draw.

    The same dataset as ``pm.compute_log_likelihood(idata, extend_inferencedata=False)`` (or
    ``pm.compute_log_prior``): one variable per observed (free) variable, dims ``chain, draw``
    and the variable's own.
    """
    compiled = per_structure(model, f"pointwise_log_{kind}", lambda m: _compile(m, kind))
    if compiled is None:
        compiled = jax_per_structure(model, f"pointwise_log_{kind}", lambda m: _compile(m, kind))
    if compiled is None:
        compute = pm.compute_log_likelihood if kind == "likelihood" else pm.compute_log_prior
        return compute(idata, model=model, extend_inferencedata=False, progressbar=False)
    from pymc.backends.arviz import coords_and_dims_for_inferencedata, dict_to_dataset

    shared = shared_inputs(model)
    data_values = [shared[name].get_value() for name in compiled.data_names]
    posterior = idata.posterior
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    values = [
        posterior[name].transpose("chain", "draw", ...).to_numpy().reshape(
            n_chains * n_draws, *posterior[name].shape[2:])
        for name in compiled.value_names
    ]
    function = compiled.function
    function.trust_input = False  # the first call checks the types; the draws all share them
    columns: list[list[np.ndarray]] = [[] for _ in compiled.output_names]
    for i in range(n_chains * n_draws):
        # v[i, ...]: an array even for a scalar variable (v[i] would be a NumPy scalar, which a
        # function that trusts its input cannot take).
        outputs = function(*[v[i, ...] for v in values], *data_values)
        function.trust_input = True
        for column, output in zip(columns, outputs, strict=True):
            column.append(output)
    arrays = {
        name: np.stack(column).reshape(n_chains, n_draws, *column[0].shape)
        for name, column in zip(compiled.output_names, columns, strict=True)
    }
    coords, dims = coords_and_dims_for_inferencedata(model)
    return dict_to_dataset(arrays, library=pm, coords=coords, dims=dims,
                           default_dims=["chain", "draw"], skip_event_dims=True)


def add_pointwise_log_density(model: pm.Model, idata: az.InferenceData, kind: Kind) -> None:
    """Add the ``log_likelihood`` or ``log_prior`` group to ``idata`` (see
    :func:`pointwise_log_density`).
    """
    idata.add_groups({f"log_{kind}": pointwise_log_density(model, idata, kind)})

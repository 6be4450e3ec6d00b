"""The structure key of a built model: which models can share one compiled log density.

Compiling a model for nutpie takes seconds; sampling it on the shipped data takes well under a
second. Two models built by the same builder from inputs that differ only in *values* that enter
the graph as ``pm.Data`` (the observed counts of another endpoint, other prior scales, the
pooling weights of a nested comparator) compute the same function of their free values and data,
so one compilation serves both, each fit passing its own data (nutpie's ``with_data``).

The builder knows what fixes its graph, so it states it: its family, the options that select
branches of the graph, the values it bakes in as constants (e.g. the LKJ concentration), and the
coords and ``pm.Data`` shapes it produced. :func:`structure_key` hashes exactly that. Nothing
here inspects the compiled graph, so nothing depends on PyTensor's internals; the price is that a
builder that adds a graph branch must add the option that selects it to its key (a test compares
the log densities of models that share a key, ``tests/test_sampling.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm


def structure_key(
    family: str,
    model: pm.Model,
    *,
    options: Mapping[str, Any],
    constants: Mapping[str, float] = {},
) -> str:
    """A short hash naming the compiled structure of ``model``.

    Parameters
    ----------
    family
        The builder (``"binary"``, ``"ttp"``).
    model
        The model just built; its coords (labels included: nutpie labels its draws with the
        compiled model's coords) and the names, dtypes and shapes of its ``pm.Data`` containers
        enter the key.
    options
        The builder options that select parts of the graph (JSON-able). Options that only change
        ``pm.Data`` values (e.g. the pooling of a nested model) must be left out.
    constants
        Values baked into the graph as constants rather than data.

    Returns
    -------
    str
        24 hex digits; equal keys mean one compilation can serve both models.
    """
    described = {
        "family": family,
        "options": dict(options),
        "constants": {name: float(value) for name, value in constants.items()},
        "coords": {name: [str(label) for label in np.asarray(values).tolist()]
                   for name, values in model.coords.items() if values is not None},
        "data": {d.name: [str(d.type.dtype), list(np.shape(d.get_value()))]
                 for d in model.data_vars},
        "free": [rv.name for rv in model.free_RVs],
        "observed": [rv.name for rv in model.observed_RVs],
        "deterministics": [d.name for d in model.deterministics],
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

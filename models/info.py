"""What a built model is: attached to the ``pm.Model`` by its builder, read by ``fit``.

Builders stay pure (data and priors in, model out); the description travels with the model so the
sampler front-end can write self-describing InferenceData attrs without being told again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pymc as pm

from .priors import Priors

_ATTRIBUTE = "_rechallenge_info"
#: Key in :attr:`ModelInfo.extra` of the variables ``fit`` drops from the fit: those a nested
#: comparator samples from their prior only (see :mod:`rechallenge.models.nesting`).
PRIOR_ONLY = "prior_only_variables"
#: Key in :attr:`ModelInfo.extra` of the sampler a model needs instead of nutpie (whose numba
#: compilation of its gradient is impractical): ``fit`` runs it for ``"nutpie"`` and ``"auto"``.
NEEDS_BACKEND = "needs_backend"


@dataclass(frozen=True)
class ModelInfo:
    """Description of a built model.

    Parameters
    ----------
    name
        Model name, e.g. ``"binary_partial_pooling"``.
    endpoint
        Endpoint analysed (``response``, ``disease_control``, ``toxicity``, ``ttp``).
    options
        Structural options (pooling, patient effect, covariates, shape sharing, ...). JSON-able.
    priors
        The resolved priors.
    data_hash
        Hash of the study data the model was built from.
    lines, sites
        Coordinate labels, in model order.
    extra
        Builder-specific facts for the readers of the fit, e.g. the covariate encoding or
        :data:`PRIOR_ONLY`.
    structure
        The model's structure key (:func:`rechallenge.models.structure.structure_key`): models
        with equal keys share one compiled log density. Not written to the fit's attrs.
    """

    name: str
    endpoint: str
    options: Mapping[str, Any]
    priors: Priors
    data_hash: str
    lines: tuple[str, ...]
    sites: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)
    structure: str = ""

    def to_attrs(self) -> dict[str, str]:
        """Flat string attrs for InferenceData (NetCDF attrs must be simple types)."""
        return {
            "rechallenge_model": self.name,
            "rechallenge_endpoint": self.endpoint,
            "rechallenge_options": json.dumps(self.options, sort_keys=True, default=str),
            "rechallenge_priors": self.priors.to_json(),
            "rechallenge_data_hash": self.data_hash,
            "rechallenge_lines": json.dumps(list(self.lines)),
            "rechallenge_sites": json.dumps(list(self.sites)),
        }


def attach_info(model: pm.Model, info: ModelInfo) -> pm.Model:
    """Attach ``info`` to ``model`` and return the model."""
    setattr(model, _ATTRIBUTE, info)
    return model


def model_info(model: pm.Model) -> ModelInfo:
    """Return the description a builder attached; raise if the model was not built here."""
    info = getattr(model, _ATTRIBUTE, None)
    if info is None:
        raise ValueError(
            "this pm.Model was not made by a rechallenge builder; build it with "
            "rechallenge.models.build_binary_model or build_ttp_model"
        )
    return info

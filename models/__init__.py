"""Model builders (pure: data and priors in, ``pm.Model`` out) and the sampler front-end.

Typical use::

    from rechallenge.models import build_binary_model, build_ttp_model, fit

    model = build_binary_model(study, "response")   # partial pooling by default
    idata = fit(model, draws=1000, chains=4, seed=1)

The names below are imported on first use (PEP 562), so importing a light submodule such as
:mod:`rechallenge.models.fit_settings` does not load PyMC's sampler.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    "build_binary_model": "rechallenge.models.binary",
    "BINARY_PRIORS": "rechallenge.models.binary",
    "build_ttp_model": "rechallenge.models.ttp",
    "TTP_PRIORS": "rechallenge.models.ttp",
    "fit": "rechallenge.models.sampling",
    "SamplerSettings": "rechallenge.models.fit_settings",
    "fit_attrs": "rechallenge.models.fit_settings",
    "DEFAULT_SEED": "rechallenge.models.fit_settings",
    "BACKENDS": "rechallenge.models.fit_settings",
    "Priors": "rechallenge.models.priors",
    "UnknownPriorError": "rechallenge.models.priors",
    "model_info": "rechallenge.models.info",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""Model builders (pure: data and priors in, ``pm.Model`` out) and the sampler front-end.

Typical use::

    from rechallenge.models import build_binary_model, build_ttp_model, fit

    model = build_binary_model(study, "response")   # partial pooling by default
    idata = fit(model, draws=1000, chains=4, seed=1)

The names below are imported on first use (PEP 562, through ``lazy_loader``), so importing a
light submodule such as :mod:`rechallenge.models.fit_settings` does not load PyMC's sampler.
"""

from __future__ import annotations

import lazy_loader

# Public names by the submodule that defines them; imported on first use.
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "binary": ["build_binary_model", "BINARY_PRIORS"],
    "ttp": ["build_ttp_model", "TTP_PRIORS"],
    "joint": ["build_joint_model"],
    "joint_priors": ["JOINT_PRIORS"],
    "sampling": ["fit"],
    "fit_settings": ["SamplerSettings", "fit_attrs", "DEFAULT_SEED", "BACKENDS"],
    "priors": ["Priors", "UnknownPriorError"],
    "info": ["model_info"],
})

"""Endpoint families: one object per endpoint, declaring its model, summaries, tables, figures,
sentences, MAP prior and simulation (the protocol: :mod:`rechallenge.analysis.settings.families`).

Importing this package registers the built-in families: :class:`BinaryFamily` for response,
disease control and grade 3-4 toxicity, :class:`SurvivalFamily` for time to progression,
:class:`BenefitRiskFamily` for the joint endpoint of efficacy and toxicity (fitted only when a
config enables it). A new family is one module here and one :func:`register_family` call (see
docs/architecture.md).
"""

from __future__ import annotations

from rechallenge.analysis.families.benefit_risk import BenefitRiskFamily
from rechallenge.analysis.families.binary import BinaryFamily
from rechallenge.analysis.families.survival import SurvivalFamily
from rechallenge.analysis.settings.families import (
    EndpointFamily,
    family_of,
    has_family,
    register_family,
    registered_families,
    simulators,
    unregister_family,
)
from rechallenge.data.endpoints import endpoint_definition, registered_endpoints

#: The family of each kind of endpoint.
_BY_KIND = {"binary": BinaryFamily, "time_to_event": SurvivalFamily, "joint": BenefitRiskFamily}

for _endpoint in registered_endpoints():
    register_family(_BY_KIND[endpoint_definition(_endpoint).kind](_endpoint))

__all__ = ["BenefitRiskFamily", "BinaryFamily", "EndpointFamily", "SurvivalFamily", "family_of",
           "has_family", "register_family", "registered_families", "simulators",
           "unregister_family"]

"""What every endpoint family has: the endpoint it is of (its data definition, name and label).

The model-specific parts are each family's own (:mod:`binary`, :mod:`weibull`); the protocol
they implement is :class:`~rechallenge.analysis.settings.families.EndpointFamily`.
"""

from __future__ import annotations

from typing import ClassVar

from rechallenge.data.endpoints import EndpointDefinition, OutcomeKind, endpoint_definition


class FamilyOfEndpoint:
    """An endpoint's identity in its family.

    Parameters
    ----------
    endpoint
        The endpoint's definition (label, columns, kind, outcome), or the name of one registered
        in the data layer (:func:`rechallenge.data.endpoints.register_endpoint`).

    Raises
    ------
    ValueError
        The endpoint's kind of outcome is not the one the family models.
    """

    #: The kind of outcome the family models.
    outcome_kind: ClassVar[OutcomeKind]

    def __init__(self, endpoint: str | EndpointDefinition) -> None:
        definition = (endpoint if isinstance(endpoint, EndpointDefinition)
                      else endpoint_definition(endpoint))
        if definition.kind != self.outcome_kind:
            raise ValueError(f"{definition.name!r} is not a {self.outcome_kind.replace('_', '-')} "
                             f"endpoint")
        self.definition = definition
        self.endpoint = definition.name
        self.label = definition.label

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

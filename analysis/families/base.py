"""What every endpoint family has: the endpoint it is of (its data definition, name and label).

The model-specific parts are each family's own (:mod:`binary`, :mod:`weibull`); the protocol
they implement is :class:`~rechallenge.analysis.settings.families.EndpointFamily`.
"""

from __future__ import annotations

from typing import ClassVar

import arviz as az

from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import FamilySimulator
from rechallenge.data import Study
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
    #: The family's name (its models' key: ``"binary"``, ``"ttp"``).
    family: str
    #: What simulation studies need of the family's model.
    simulator: FamilySimulator
    #: The parameters whose power-scaling sensitivity is reported, and the priors scaled.
    power_scaled: tuple[tuple[str, ...], tuple[str, ...]]

    def __init__(self, endpoint: str | EndpointDefinition) -> None:
        definition = (endpoint if isinstance(endpoint, EndpointDefinition)
                      else endpoint_definition(endpoint))
        if definition.kind != self.outcome_kind:
            raise ValueError(f"{definition.name!r} is not a {self.outcome_kind.replace('_', '-')} "
                             f"endpoint")
        self.definition = definition
        self.endpoint = definition.name
        self.label = definition.label

    def power_scaled_for(self, idata: az.InferenceData) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The parameters whose sensitivity to power-scaling is reported for ``idata`` and the
        priors that are scaled (the family's ``power_scaled``; a family whose parameters depend
        on the fit overrides this).
        """
        return self.power_scaled

    def simulator_for(self, config: RunConfig, study: Study) -> FamilySimulator:
        """The family's simulator (a family with model variants overrides this)."""
        return self.simulator

    def model_variants(self, config: RunConfig) -> tuple[str, ...]:
        """None here: one model (a family with model variants overrides this)."""
        return ()

    def main_variant(self, config: RunConfig) -> str:
        """The family's name: its one model."""
        return self.family

    def variant_figure_kinds(self, study: Study, config: RunConfig) -> list[str]:
        """Figures drawn for the fits of the family's model variants; none here."""
        return []

    def variant_label(self, variant: str) -> str | None:
        """Reader words of a model variant of the family; None here (a family with variants of
        its own overrides this).
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

"""The names of the fits of a run: ``"<endpoint>"`` for the main model, ``"<endpoint>__<variant>"``
for the comparators and the sensitivity refits (a variant is refitted only when reweighting the
main fit is unreliable). The name is also the fit's file name under
``fits/`` and the order every table and message lists fits in.
"""

from __future__ import annotations

from rechallenge.analysis.settings.families import endpoint_order
from rechallenge.models.dims import Pooling

#: Multipliers of the heterogeneity prior scale for the sensitivity variants (reweighted from the
#: main fit, or refitted where the Pareto k is too high; see summaries/prior_reweighting.py).
SENSITIVITY_SCALES: dict[str, float] = {"tau_half": 0.5, "tau_double": 2.0}
#: The pooling of the comparators fitted beside the main model.
COMPARATORS: tuple[Pooling, ...] = ("complete", "none")

def fit_key(endpoint: str, variant: str | None = None) -> str:
    """Name of a fit in a run (also its file name under ``fits/``)."""
    return endpoint if variant is None else f"{endpoint}__{variant}"


def fit_order(key: str) -> tuple[int, int]:
    """Sort key of fit keys: endpoints in the order their families were registered, then main,
    sensitivity, comparators.

    Every table and message lists fits in this order, so a run and its rebuilt report agree.
    """
    endpoint, _, variant = key.partition("__")
    variants = ("", *SENSITIVITY_SCALES, *COMPARATORS)
    return (endpoint_order(endpoint), variants.index(variant) if variant in variants
            else len(variants))


def endpoint_of(key: str) -> str:
    """The endpoint of a fit key (inverse of :func:`fit_key`)."""
    return key.split("__", 1)[0]

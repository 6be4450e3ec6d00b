"""Survival distributions of the time-to-progression model, by name (see :mod:`.base`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from rechallenge.models.survival.base import ShapeParameter, SurvivalDistribution
from rechallenge.models.survival.gengamma import GeneralisedGamma
from rechallenge.models.survival.gompertz import Gompertz
from rechallenge.models.survival.loglogistic import LogLogistic
from rechallenge.models.survival.lognormal import LogNormal
from rechallenge.models.survival.piecewise import PiecewiseExponential
from rechallenge.models.survival.weibull import Weibull

#: Every distribution by its name, the Weibull first (the default).
DISTRIBUTIONS: Mapping[str, SurvivalDistribution] = MappingProxyType({
    d.name: d for d in (Weibull(), LogNormal(), LogLogistic(), Gompertz(), GeneralisedGamma(),
                          # no cut points (the exponential): fitted_to sets them from the data
                          PiecewiseExponential())
})


def survival_distribution(name: str,
                          settings: Mapping[str, Any] | None = None) -> SurvivalDistribution:
    """The distribution called ``name``, with ``settings`` where it has any (what
    :meth:`SurvivalDistribution.settings` recorded with a fit: the piecewise cut points).

    Raises
    ------
    ValueError
        No distribution has that name; the message lists the names.
    """
    try:
        registered = DISTRIBUTIONS[name]
    except KeyError:
        raise ValueError(f"unknown survival distribution {name!r}; choose one of "
                         f"{sorted(DISTRIBUTIONS)}") from None
    return type(registered)(**settings) if settings else registered


def fit_distribution(options: Mapping[str, Any]) -> SurvivalDistribution:
    """The distribution a TTP fit recorded in its ``options`` (its name and settings).

    A fit without a recorded distribution is a Weibull fit: it was made before the distribution
    was recorded, when the Weibull was the only one.
    """
    registered = survival_distribution(str(options.get("distribution", "weibull")))
    return survival_distribution(registered.name, {k: options[k] for k in registered.setting_names
                                                   if k in options})


__all__ = ["DISTRIBUTIONS", "GeneralisedGamma", "Gompertz", "LogLogistic", "LogNormal",
           "PiecewiseExponential", "ShapeParameter", "SurvivalDistribution", "Weibull",
           "fit_distribution", "survival_distribution"]

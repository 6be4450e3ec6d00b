"""Frozen, serialisable prior settings with named overrides.

Every model module declares its defaults once, as a mapping of hyperparameter name to
:class:`PriorDefault` (value, the distribution it belongs to, and why that value). Users override
by name; an unknown name raises and lists the valid ones.

The prior values enter the PyMC graph as ``pm.Data`` (named ``prior_<name>``) rather than as
constants, so a model compiled once can be refitted under other prior *values* (the sensitivity
analysis) without recompiling. Changing a prior *family* is a different model structure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from rechallenge.data import Study, schema

PRIOR_DATA_PREFIX = "prior_"


@dataclass(frozen=True)
class PriorDefault:
    """One default hyperparameter.

    Parameters
    ----------
    value
        Default value.
    distribution
        The prior it parameterises, in words, e.g. ``"tau[line] ~ HalfNormal(sigma=value)"``.
    reason
        Why this value: the scale it implies and what it rules out.
    positive
        True when the value must be > 0 (scales, concentrations).
    about_sites
        True when what the data say about the value depends on the number and size of the sites
        (the between-site SD and correlation): :meth:`reason_for` then adds the study's counts.
    """

    value: float
    distribution: str
    reason: str
    positive: bool = True
    about_sites: bool = False

    def reason_for(self, size: StudySize | None) -> str:
        """The reason, with what ``size`` (the study's counts) means for it when it is about sites.

        The defaults' reasons hold no fact of any one study; the counts are computed from the
        data (:func:`study_size`), so a report of one site or of forty says so.
        """
        if not self.about_sites or size is None:
            return self.reason
        return f"{self.reason} {size.sentence()}"


def _count(n: float, noun: str) -> str:
    """``"1 site"``, ``"14 sites"``, ``"4.5 patients"``."""
    return f"{n:g} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class StudySize:
    """What the data hold for one endpoint, in the words of a prior's reason.

    Parameters
    ----------
    sites
        Sites with data for the endpoint.
    patients_per_site
        Median number of patients per site and line (patient rows and aggregate counts).
    """

    sites: int
    patients_per_site: float

    def sentence(self) -> str:
        """E.g. ``"This study: 14 sites, a median of 4 patients per site and line."``."""
        if self.sites == 1:
            return (f"This study: 1 site ({_count(self.patients_per_site, 'patient')} per line, "
                    "median), so the data say nothing about differences between sites and this "
                    "prior alone sets them.")
        return (f"This study: {_count(self.sites, 'site')}, a median of "
                f"{_count(self.patients_per_site, 'patient')} per site and line.")


def study_size(study: Study, endpoint: str) -> StudySize:
    """The sites and the median patients per site and line of one endpoint's data.

    Patient rows count once per line; an aggregate row counts its ``n`` patients.
    """
    rows = study.for_endpoint(endpoint)
    keys = [schema.SITE, schema.LINE]
    counts = [rows.patients.groupby(keys, observed=True).size()] if len(rows.patients) else []
    if len(rows.aggregates):
        counts.append(rows.aggregates.groupby(keys, observed=True)[schema.N].sum())
    if not counts:
        return StudySize(0, 0.0)
    per_site_line = pd.concat(counts).groupby(level=[0, 1]).sum()
    sites = per_site_line.index.get_level_values(0).nunique()
    return StudySize(int(sites), float(per_site_line.median()))


class UnknownPriorError(ValueError):
    """A prior override names a hyperparameter the model does not have."""


class Priors(Mapping[str, float]):
    """Resolved prior hyperparameters of one model: defaults with overrides applied.

    Parameters
    ----------
    defaults
        The model's declared defaults.
    overrides
        Values to use instead, by name. Unknown names raise :class:`UnknownPriorError`; values must
        be finite numbers (and > 0 where the default says so).
    model
        Model family name, used in error messages.

    Examples
    --------
    >>> from rechallenge.models.binary import BINARY_PRIORS
    >>> Priors(BINARY_PRIORS, {"tau_sd": 0.5}, model="binary")["tau_sd"]
    0.5
    """

    def __init__(
        self,
        defaults: Mapping[str, PriorDefault],
        overrides: Mapping[str, float] | None = None,
        *,
        model: str,
    ) -> None:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise UnknownPriorError(
                f"unknown prior name(s) {unknown} for the {model} model; "
                f"valid names are {sorted(defaults)}"
            )
        problems = []
        values: dict[str, float] = {}
        for name, default in defaults.items():
            raw = overrides.get(name, default.value)
            try:
                value = float(raw)
            except (TypeError, ValueError):
                problems.append(f"{name}={raw!r} is not a number")
                continue
            if not math.isfinite(value) or (default.positive and value <= 0):
                kind = "a finite number > 0" if default.positive else "a finite number"
                problems.append(f"{name}={raw!r} must be {kind}")
                continue
            values[name] = value
        if problems:
            raise ValueError(f"invalid prior value(s) for the {model} model: " + "; ".join(problems))
        self._values = values
        self._defaults = dict(defaults)
        self._overridden = tuple(sorted(overrides))
        self.model = model

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Priors({self.model!r}, {self._values!r})"

    @property
    def overridden(self) -> tuple[str, ...]:
        """Names whose value differs from the default by the user's request."""
        return self._overridden

    def with_overrides(self, overrides: Mapping[str, float]) -> Priors:
        """Return new priors with further overrides (this object is not changed)."""
        merged = {name: self._values[name] for name in self._overridden}
        merged.update(overrides)
        return Priors(self._defaults, merged, model=self.model)

    def to_dict(self) -> dict[str, float]:
        """Plain ``{name: value}``."""
        return dict(self._values)

    def to_json(self) -> str:
        """JSON text, stable key order (stored in fit attrs and run manifests)."""
        return json.dumps(self._values, sort_keys=True)

    def table(self, size: StudySize | None = None) -> pd.DataFrame:
        """One row per hyperparameter: name, value, default, distribution, reason (with the
        counts of ``size``, the study's, where the reason is about sites).
        """
        return pd.DataFrame(
            [
                {
                    "name": name,
                    "value": self._values[name],
                    "default": d.value,
                    "distribution": d.distribution,
                    "reason": d.reason_for(size),
                }
                for name, d in self._defaults.items()
            ]
        )


def resolve_priors(
    defaults: Mapping[str, PriorDefault], priors: Priors | Mapping[str, float] | None, *, model: str
) -> Priors:
    """Accept ``None``, a plain override mapping, or already-resolved :class:`Priors`."""
    if isinstance(priors, Priors):
        if set(priors) != set(defaults):
            raise UnknownPriorError(
                f"priors for the {priors.model} model do not fit the {model} model"
            )
        return priors
    return Priors(defaults, priors, model=model)


def prior_data(
    priors: Priors, *, constants: tuple[str, ...] = ()
) -> dict[str, pt.TensorVariable | float]:
    """Register the hyperparameters as ``pm.Data('prior_<name>')`` in the current model.

    Must be called inside a model context.

    Parameters
    ----------
    priors
        Resolved priors.
    constants
        Names to keep as plain floats, for distributions whose log density PyMC implements only
        for constant parameters (the LKJ concentration ``eta``).

    Returns
    -------
    dict
        ``{name: tensor or float}``.
    """
    return {
        name: value if name in constants else pm.Data(PRIOR_DATA_PREFIX + name, value)
        for name, value in priors.items()
    }

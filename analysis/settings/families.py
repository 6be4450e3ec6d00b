"""What an endpoint family is, and the registry of the families a run can use.

An endpoint family is one object per endpoint (:class:`EndpointFamily`): its model, its fits,
its derived quantities and summaries, its rows of the tables, its figures, its sentences, its
MAP-prior export and its simulation generator. The families themselves live in
:mod:`rechallenge.analysis.families` (one module per model family: binary, Weibull time to
progression); they register here when that package is imported, which every entry point does.

The layers below the families (summaries, reporting, map_prior) never import a family module:
they look a family up here by its endpoint (:func:`family_of`) and call what the protocol
declares, so adding a family is one module and one :func:`register_family` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rechallenge.data.endpoints import register_endpoint, unregister_endpoint

if TYPE_CHECKING:
    import arviz as az
    import numpy as np
    import pandas as pd
    import pymc as pm
    from matplotlib.figure import Figure

    from rechallenge.analysis.settings.config import RunConfig
    from rechallenge.analysis.settings.intervals import Interval
    from rechallenge.data import Study
    from rechallenge.data.endpoints import EndpointDefinition
    from rechallenge.models.dims import Pooling

#: How a family's numbers are written: probabilities in %, differences in percentage points,
#: months, or ratios.
Scale = Literal["percent", "points", "months", "ratio"]
#: ``(quantity, line, draws)`` of every derived quantity of a fit.
QuantityDraws = list[tuple[str, str, "np.ndarray"]]


@dataclass(frozen=True)
class HeadlineRow:
    """One reading of an endpoint in Table 2: its per-line quantity and its contrast.

    ``fallback`` is the contrast used where ``contrast`` is absent from the summary (the hazard
    ratio exists only with a shared Weibull shape; else the ratio of medians is shown).
    """

    reading: str
    quantity: str
    contrast: str = ""
    words: str = ""
    scale: Scale = "ratio"
    fallback: tuple[str, str] | None = None


@dataclass(frozen=True)
class ReferenceRow:
    """The frequentist reference row of an endpoint in Table 2."""

    words: str
    quantity: str
    contrast: str
    contrast_words: str
    contrast_scale: Scale


@dataclass(frozen=True)
class MapPriorSpec:
    """What a family exports as a MAP prior: which new-site quantity, on which scale."""

    quantity: str
    scale_words: str
    mixture: Literal["beta", "normal"]
    log: bool = False


class FamilySimulator(Protocol):
    """What simulation studies (SBC, coverage, precision) need of a family's model: the
    family-specific steps of :mod:`rechallenge.analysis.simulation.generators`.
    """

    #: The model's key in simulation studies (``--family``, true values, records).
    key: str
    #: The line intercept's name, and the patient effect's SD and its prior scale.
    location: str
    patient_sd: str
    patient_prior: str
    #: (pooled quantity, contrast, the contrast's no-effect value) of coverage and precision.
    headline: tuple[str, str, float]
    #: Precision studies: the assumed later-line effect on the location's scale.
    default_effect: float
    #: Plausible true values of the line parameters, (low, high, words); open ones exclusive.
    bounds: Mapping[str, tuple[float, float, str]]
    open_bounds: frozenset[str]
    #: The options the family's ``prior_defaults`` takes for this model (the distribution).
    prior_options: Mapping[str, Any]

    def draw_line_parameters(self, priors: Mapping[str, float], shared_shape: bool,
                             n_lines: int, rng: np.random.Generator) -> dict[str, Any]:
        """The line parameters drawn from their priors (JSON-ready lists)."""
        ...

    def expected_line_parameters(self, shared_shape: bool, n_lines: int,
                                 per_line: str) -> dict[str, tuple[tuple[int, ...], str]]:
        """Name -> (array shape, words) of the line parameters true values must give."""
        ...

    def outcomes(self, predictor: np.ndarray, line: np.ndarray, hyper: Mapping[str, Any],
                 n_lines: int, rng: np.random.Generator) -> np.ndarray:
        """One outcome per design row given its linear predictor."""
        ...

    def study(self, design: Any, outcomes: np.ndarray) -> Study:
        """The study of the simulated outcomes (``design``: a ``SimulationDesign``)."""
        ...

    def line_quantities(self, params: Mapping[str, np.ndarray],
                        lines: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
        """The line parameters as recorded quantities, ``{(name, label): array}``."""
        ...

    def derived_quantities(self, params: Mapping[str, np.ndarray], lines: Sequence[str],
                           patient_sd: np.ndarray,
                           population_sd: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        """The family's derived quantities (pooled per line, contrasts)."""
        ...

    def posterior_line_parameters(self, posterior: Any, by_line: Any) -> dict[str, np.ndarray]:
        """The line parameters of a fit's posterior, as arrays (chain, draw, ...)."""
        ...

    def build_model(self, study: Study, endpoint: str, pooling: Pooling, patient_effect: bool,
                    shared_shape: bool, priors: Mapping[str, float]) -> pm.Model:
        """The model refitted to one simulated study."""
        ...


class EndpointFamily(Protocol):
    """One endpoint and its model family: everything the run, the report and the simulation
    studies need to know of it.

    Attributes are declarations (data); methods compute from fits or the study.
    """

    #: The endpoint (config name, file names: ``"response"``).
    endpoint: str
    #: The reader's label of the endpoint.
    label: str
    #: What the endpoint is in the data (columns, kind, outcome).
    definition: EndpointDefinition
    #: The model family's name (``"binary"``, ``"weibull"``): simulation studies and the
    #: ``[priors.<section>]`` of the config are keyed by it, and the fits of one family share a
    #: compiled model structure.
    family: str
    #: The config section of its prior overrides (``[priors.binary]``).
    priors_section: str
    #: How the per-line quantity is written (``"percent"`` or ``"months"``).
    value_scale: Scale
    #: Per-line quantities shown in the prior-sensitivity table.
    sensitivity_quantities: tuple[str, ...]
    #: (parameters diagnosed by power-scaling, log-prior terms scaled).
    power_scaled: tuple[tuple[str, ...], tuple[str, ...]]
    #: The rows of Table 2 and the reference row (``None``: no reference).
    headline_rows: tuple[HeadlineRow, ...]
    reference_row: ReferenceRow | None
    #: Quantities of the comparison table, in order.
    comparison_quantities: tuple[str, ...]
    #: What a site's estimate is, in words (``"probability"``).
    site_words: str
    #: The MAP prior this family exports.
    map_prior: MapPriorSpec
    #: Reader labels of quantities that read differently for this family.
    quantity_labels: Mapping[str, str]
    #: Added to the reading in Table 2 (``", median TTP in months"``).
    headline_suffix: str
    #: Its model in simulation studies.
    simulator: FamilySimulator

    def prior_defaults(self, options: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The prior hyperparameters (name -> ``PriorDefault``) of the model a fit's ``options``
        record (the family's default model without).
        """
        ...

    def power_scaled_for(self, idata: az.InferenceData) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """:attr:`power_scaled` for this fit (the names of its model's parameters)."""
        ...

    def build_model(self, study: Study, config: RunConfig, pooling: Pooling,
                    nested: bool, variant: str | None = None) -> pm.Model:
        """The model of this endpoint with the given pooling, on the endpoint's rows; with a
        ``variant`` of :meth:`model_variants`, that variant's model.
        """
        ...

    def model_variants(self, config: RunConfig) -> tuple[str, ...]:
        """Other models of this endpoint the config asks to fit beside the main one and compare
        with it (for time to progression, the other survival distributions); the main one is
        called :meth:`main_variant`.
        """
        ...

    def main_variant(self, config: RunConfig) -> str:
        """The name of the main model among the variants (``"weibull"``), or the family's."""
        ...

    def variant_label(self, variant: str) -> str | None:
        """Reader words of one of :meth:`model_variants`' names (``"log-normal distribution"``),
        or None for a name the family does not define (a pooling or sensitivity variant).
        """
        ...

    def summarise(self, idata: az.InferenceData, interval: Interval, seed: int) -> pd.DataFrame:
        """The tidy summary of one fit."""
        ...

    def quantity_draws(self, idata: az.InferenceData, seed: int) -> QuantityDraws:
        """The draws of every quantity of :meth:`summarise`, same seed."""
        ...

    def site_table(self, idata: az.InferenceData, interval: Interval) -> pd.DataFrame:
        """Per-site estimates of one fit."""
        ...

    def frequentist_reference(self, study: Study, level: float) -> dict[tuple[str, str], Any]:
        """The frequentist reference keyed by (quantity, line)."""
        ...

    def results_sentence(self, summary: pd.DataFrame, lines: Sequence[str],
                         interval: Interval) -> str:
        """The results sentence of this endpoint."""
        ...

    def methods_sentence(self, endpoints: Sequence[str], pooling_words: str,
                         options: Mapping[str, Any]) -> str:
        """The methods sentence of this family's model, for these endpoints of it (``options``:
        the model options recorded with the first endpoint's fit).
        """
        ...

    def site_reader_row(self, row: Mapping[str, Any], estimate: str,
                        cells: Any) -> dict[str, Any]:
        """A site's cells of the reader's site table after site and line (``cells``: the
        reporting module of cell writers).
        """
        ...

    def site_observed_words(self, interval: Interval) -> str:
        """What the observed column of the site table is, in words."""
        ...

    def site_observations(self, patients: pd.DataFrame,
                          aggregates: pd.DataFrame) -> list[dict[str, Any]]:
        """What a new site reports at one line (its patient rows and aggregate rows), as the
        observations :meth:`conflict` reads; ``{"unchecked": reason}`` for one it cannot check.
        """
        ...

    def conflict(self, draws: Any, observation: Mapping[str, Any], interval: Interval,
                 labels: Mapping[str, Any]) -> dict[str, Any]:
        """The prior-data conflict row of one observation against new-site predictive draws."""
        ...

    def figure_kinds(self, study: Study, config: RunConfig) -> list[str]:
        """The figures of this endpoint, in report order (``"rank"`` is added by the caller)."""
        ...

    def simulator_for(self, config: RunConfig, study: Study) -> FamilySimulator:
        """The simulator of the model ``config`` fits to ``study`` (for time to progression,
        the config's main survival distribution, its settings chosen from ``study``).
        """
        ...

    def variant_figure_kinds(self, study: Study, config: RunConfig) -> list[str]:
        """The figures drawn for each of :meth:`model_variants`' fits too (their model checks),
        from that fit by :meth:`draw_figure`.
        """
        ...

    def draw_figure(self, kind: str, *, study: Study, idata: az.InferenceData,
                    result: Any, config: RunConfig, km: Any,
                    highlight_sites: Sequence[str]) -> tuple[Figure, str] | None:
        """One figure of :meth:`figure_kinds` or :meth:`variant_figure_kinds` and its caption
        (``None``: nothing to draw); ``idata`` is the fit the figure is of.
        """
        ...


_FAMILIES: dict[str, EndpointFamily] = {}


def register_family(family: EndpointFamily) -> EndpointFamily:
    """Make ``family`` the family of its endpoint (again: replaced), and its endpoint known to
    the data layer; return it.
    """
    register_endpoint(family.definition)
    _FAMILIES[family.endpoint] = family
    return family


def unregister_family(endpoint: str) -> None:
    """Forget the family of ``endpoint`` and the endpoint itself (a test's toy family, when the
    test ends).
    """
    _FAMILIES.pop(endpoint, None)
    unregister_endpoint(endpoint)


def family_of(endpoint: str) -> EndpointFamily:
    """The family registered for ``endpoint``.

    Raises
    ------
    KeyError
        No family is registered for it (:mod:`rechallenge.analysis.families` not imported, or
        an unknown endpoint).
    """
    try:
        return _FAMILIES[endpoint]
    except KeyError:
        raise KeyError(f"no endpoint family is registered for {endpoint!r} (known: "
                       f"{', '.join(_FAMILIES)})") from None


def has_family(endpoint: str) -> bool:
    """Whether a family is registered for ``endpoint``."""
    return endpoint in _FAMILIES


def registered_families() -> tuple[EndpointFamily, ...]:
    """Every registered family, in registration order (the built-ins in schema order)."""
    return tuple(_FAMILIES.values())


def simulators() -> dict[str, FamilySimulator]:
    """The models simulation studies can simulate, by key (``"binary"``, ``"ttp"``,
    ``"joint"``): the simulator of the first registered family of each key.
    """
    out: dict[str, FamilySimulator] = {}
    for family in _FAMILIES.values():
        out.setdefault(family.simulator.key, family.simulator)
    return out


def endpoint_order(endpoint: str) -> int:
    """Position of ``endpoint`` in the registry (unknown ones last)."""
    order = list(_FAMILIES)
    return order.index(endpoint) if endpoint in order else len(order)

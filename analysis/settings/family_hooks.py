"""What a family may declare beyond the :class:`~rechallenge.analysis.settings.families.EndpointFamily`
protocol, and what the run assumes when it does not.

Each hook is a small protocol of its own, checked at run time (``isinstance``), so the families
that do not need it (the binary and survival families, a test's toy family) are unchanged. The
joint model of efficacy and toxicity (:mod:`rechallenge.analysis.families.benefit_risk`) is the
family that declares them: its model reads two endpoints' rows, has no comparators, adds a
table of its own to the run, reads prior overrides from the binary model's section too, and its
simulator draws whole studies in simulation studies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rechallenge.analysis.settings.families import EndpointFamily, family_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import pandas as pd

    from rechallenge.analysis.settings.config import RunConfig
    from rechallenge.analysis.settings.intervals import Interval
    from rechallenge.data import Study


@runtime_checkable
class ReadsOtherRows(Protocol):
    """A family whose model reads more than its endpoint's own rows (``Study.for_endpoint``)."""

    def model_rows(self, study: Study) -> Study:
        """The rows of ``study`` its model is built from (its fit records their hash)."""
        ...


@runtime_checkable
class DeclaresComparators(Protocol):
    """A family that says whether its model is fitted with complete and no pooling too."""

    #: ``False``: the model has partial pooling only; the run fits no comparator of it.
    comparators: bool


@runtime_checkable
class NamesReferenceMethods(Protocol):
    """A family with a frequentist reference analysis: the methods name it (citing as
    ``[cite:key]``), in the sentence on the references.
    """

    def reference_methods(self, every_line: bool) -> str:
        """The reference's methods, e.g. "each line's crude proportions carry exact ...";
        ``every_line``: every patient was seen at every line (paired methods apply).
        """
        ...


@runtime_checkable
class ReadsSharedPriors(Protocol):
    """A family whose prior overrides are more than its own ``[priors.<section>]`` (the joint
    model's margins take ``[priors.binary]`` first): simulation studies simulate and refit with
    these.
    """

    def priors(self, config: RunConfig) -> dict[str, float]:
        """The config's prior overrides of the family's model."""
        ...


@runtime_checkable
class DrawsWholeStudies(Protocol):
    """A simulator (:class:`~rechallenge.analysis.settings.families.FamilySimulator`) whose
    model is not one outcome per design row from one linear predictor with site effects over the
    lines (the joint model: two outcomes per patient and line, site effects over the (outcome,
    line) combinations). It draws its parameters and whole studies and names its quantities
    itself; :mod:`rechallenge.analysis.simulation.generators` and
    :mod:`~rechallenge.analysis.simulation.quantities` then call these instead of their generic
    steps, and the simulator's per-row methods are not called. Such a model has SBC only:
    coverage and precision studies set true values and a later-line effect on the generic
    parameters.
    """

    def draw_parameters(self, priors: Mapping[str, float], n_lines: int,
                        rng: np.random.Generator) -> dict[str, Any]:
        """Every parameter from its prior (JSON-ready lists)."""
        ...

    def draw_study(self, hyper: Mapping[str, Any], design: Any, rng: np.random.Generator) -> Study:
        """A study of ``design`` (a ``SimulationDesign``) simulated given the parameters."""
        ...

    def parameter_arrays(self, posterior: Any) -> dict[str, np.ndarray]:
        """A fit's parameters, named as :meth:`draw_parameters`' (leading chain, draw)."""
        ...

    def recorded_quantities(self, params: Mapping[str, np.ndarray],
                            lines: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
        """``{(name, label): array}`` from parameters with any leading shape (the truth's
        ``(1,)``, a fit's ``(chain, draw)``), computed alike for both.
        """
        ...


@dataclass(frozen=True)
class FamilyTable:
    """A table of a family's own: the machine version (``tables/<name>.csv``) and the reader's
    (``tables/reader/<name>.csv``, shown in the supplement under the family's label).
    """

    name: str
    caption: str
    machine: pd.DataFrame
    reader: pd.DataFrame
    #: The machine version's caption (empty: the reader's).
    machine_caption: str = ""


@runtime_checkable
class HasOwnTables(Protocol):
    """A family with tables of its own beside the tables every endpoint has."""

    def own_tables(self, summary: pd.DataFrame, interval: Interval,
                   estimate: str) -> Sequence[FamilyTable]:
        """Its tables, from the tidy summary of its main fit (``estimate``: the config's
        ``[report] estimate``).
        """
        ...


def model_rows(endpoint: str, study: Study) -> Study:
    """The rows of ``study`` the model of ``endpoint`` is built from: its own
    (``Study.for_endpoint``), unless its family reads others (:class:`ReadsOtherRows`).
    """
    family = family_of(endpoint)
    return family.model_rows(study) if isinstance(family, ReadsOtherRows) else \
        study.for_endpoint(endpoint)


def fits_comparators(family: EndpointFamily) -> bool:
    """Whether a run fits the comparators of ``family``'s model when the config asks for them
    (yes, unless the family declares otherwise: :class:`DeclaresComparators`).
    """
    return bool(family.comparators) if isinstance(family, DeclaresComparators) else True


def own_tables(endpoint: str, summary: pd.DataFrame, interval: Interval,
               estimate: str) -> list[FamilyTable]:
    """The tables of its own the family of ``endpoint`` adds (:class:`HasOwnTables`), or none."""
    family = family_of(endpoint)
    if not isinstance(family, HasOwnTables):
        return []
    return list(family.own_tables(summary, interval, estimate))

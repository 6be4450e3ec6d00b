"""What a family may declare beyond the :class:`~rechallenge.analysis.settings.families.EndpointFamily`
protocol, and what the run assumes when it does not.

Each hook is a small protocol of its own, checked at run time (``isinstance``), so the families
that do not need it (the binary and survival families, a test's toy family) are unchanged. The
joint model of efficacy and toxicity (:mod:`rechallenge.analysis.families.benefit_risk`) is the
family that declares them: its model reads two endpoints' rows, has no comparators, and adds a
table of its own to the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rechallenge.analysis.settings.families import EndpointFamily, family_of

if TYPE_CHECKING:
    import pandas as pd

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

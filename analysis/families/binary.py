"""The binary family: one 0/1 endpoint per patient and line (response, disease control,
toxicity, or any endpoint registered with a 0/1 outcome), modelled by the hierarchical logistic
model of :mod:`rechallenge.models.binary`.

One :class:`BinaryFamily` per endpoint; the endpoints of this family share one compiled model
structure in a run (their fits differ only in their data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, cast

import arviz as az
import pandas as pd
import pymc as pm
from matplotlib.figure import Figure

from rechallenge.analysis.families.base import FamilyOfEndpoint
from rechallenge.analysis.families.binary_simulation import BinarySimulator
from rechallenge.analysis.plots.contrast import plot_contrast
from rechallenge.analysis.plots.forest import plot_forest_lines
from rechallenge.analysis.plots.ppc import plot_site_count_ppc_lines, site_count_ppc_data
from rechallenge.analysis.reporting.prose import binary_sentence, contrast_label
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import (
    FamilySimulator,
    HeadlineRow,
    MapPriorSpec,
    QuantityDraws,
    ReferenceRow,
    Scale,
)
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries import binary
from rechallenge.analysis.summaries.conflict import binary_conflict
from rechallenge.analysis.summaries.reference import binary_reference
from rechallenge.data import Study, schema
from rechallenge.data.endpoints import binary_outcome, endpoint_definition
from rechallenge.models.binary import BINARY_PRIORS, build_binary_model
from rechallenge.models.dims import Pooling


def draws_of(draws: QuantityDraws, quantity: str, line: str) -> Any:
    """The draws of one quantity and line (``None`` if the fit has none)."""
    return next((v for q, label, v in draws if q == quantity and label == line), None)


class BinaryFamily(FamilyOfEndpoint):
    """One binary endpoint and its hierarchical logistic model.

    Parameters
    ----------
    endpoint
        The endpoint's definition (label, columns and 0/1 outcome), or the name of one
        registered in the data layer (:func:`rechallenge.data.endpoints.register_endpoint`).
    """

    outcome_kind = "binary"
    family: str = "binary"
    priors_section: str = "binary"
    value_scale: Scale = "percent"
    sensitivity_quantities: tuple[str, ...] = ("probability_population", "difference_population", "tau")
    power_scaled: tuple[tuple[str, ...], tuple[str, ...]] = (("mu", "tau"), ("mu", "tau", "site_corr_pairs"))
    headline_rows: tuple[HeadlineRow, ...] = (
        HeadlineRow("population", "probability_population", "difference_population",
                    "Difference", "points"),
        HeadlineRow("typical_site", "probability_typical_site", "odds_ratio_typical_site",
                    "Odds ratio", "ratio"),
        HeadlineRow("new_site", "probability_new_site"),
    )
    reference_row: ReferenceRow | None = ReferenceRow(
        "crude proportion", "probability_population", "difference_population", "Difference",
        "points")
    comparison_quantities: tuple[str, ...] = ("probability_population", "probability_typical_site",
                             "probability_new_site", "difference_population",
                             "odds_ratio_typical_site", "prob_greater_population")
    site_words: str = "probability"
    map_prior: MapPriorSpec = MapPriorSpec("probability_new_site", "probability", "beta")
    quantity_labels: Mapping[str, str] = MappingProxyType({})
    headline_suffix: str = ""
    simulator: FamilySimulator = BinarySimulator()

    # ----------------------------------------------------------------------- the model
    def prior_defaults(self, options: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The binary model's prior hyperparameters."""
        return BINARY_PRIORS

    def build_model(self, study: Study, config: RunConfig, pooling: Pooling,
                    nested: bool, variant: str | None = None) -> pm.Model:
        """The logistic model of this endpoint with ``pooling``, on its rows of ``study`` (the
        family has no model variants).
        """
        if variant is not None:
            raise ValueError(f"{self!r} has no model variant {variant!r}")
        a = config.analysis
        return build_binary_model(
            study.for_endpoint(self.endpoint), self.endpoint, pooling=pooling,
            patient_effect=a.patient_effect, covariates=a.covariates,
            covariate_effects=a.covariate_effects, priors=config.priors.get(self.priors_section),
            nested=nested)

    # ----------------------------------------------------------------------- summaries
    def summarise(self, idata: az.InferenceData, interval: Interval, seed: int) -> pd.DataFrame:
        """Pooled, typical-site and new-site probabilities and the contrasts of the lines."""
        return binary.summarise_binary(idata, interval=interval, seed=seed)

    def quantity_draws(self, idata: az.InferenceData, seed: int) -> QuantityDraws:
        """The draws behind :meth:`summarise`."""
        return binary.quantity_draws(idata, seed=seed)

    def site_table(self, idata: az.InferenceData, interval: Interval) -> pd.DataFrame:
        """Raw and shrunken proportions per site and line."""
        return binary.site_estimates(idata, interval=interval)

    def frequentist_reference(self, study: Study, level: float) -> dict[tuple[str, str], Any]:
        """Crude proportions with exact CIs, and their paired difference."""
        return binary_reference(study, self.endpoint, level)

    # ----------------------------------------------------------------------- words
    def results_sentence(self, summary: pd.DataFrame, lines: Sequence[str],
                         interval: Interval) -> str:
        """Probabilities per line, their difference and the probability it is positive."""
        return binary_sentence(summary, self.endpoint, lines, interval)

    def methods_sentence(self, endpoints: Sequence[str], pooling_words: str,
                         options: Mapping[str, Any]) -> str:
        """The logistic model, naming every endpoint of this family in the run."""
        names = ", ".join(endpoint_definition(e).label.split(" (")[0].lower() for e in endpoints)
        return (f"Binary endpoints ({names}) were modelled with a hierarchical logistic model "
                f"with {pooling_words}: logit p = \u03bc[line] + u[site, line], where the site "
                "effects of the lines are jointly normal with line-specific standard deviations "
                "\u03c4 and an LKJ prior [cite:lewandowski2009] on their correlation "
                "(non-centred parameterisation).")

    def reference_methods(self, every_line: bool) -> str:
        """Exact proportions, and Newcombe's paired difference when the lines are paired."""
        return ("each line's crude proportions carry exact (Clopper-Pearson) confidence "
                "intervals [cite:clopper1934]" + (
                    ", and the crude difference between the lines carries Newcombe's interval "
                    "for paired proportions [cite:newcombe1998]" if every_line else ""))

    def site_reader_row(self, row: Mapping[str, Any], estimate: str,
                        cells: Any) -> dict[str, Any]:
        """A site's cells of the reader's site table (``cells``: the reporting cell writers)."""
        return {"Events": int(row["events"]),
                "Observed, % (CI)": cells.interval_cell(
                    row["proportion"], row["proportion_lower"], row["proportion_upper"],
                    "percent"),
                "Shrunken estimate, % (CrI)": cells.posterior_cell(row, "percent",
                                                                    estimate=estimate)}

    def site_observed_words(self, interval: Interval) -> str:
        """What the observed column of the site table is."""
        return f"proportion with exact {interval.percent} confidence interval"

    # ----------------------------------------------------------------------- updates
    def site_observations(self, patients: pd.DataFrame,
                          aggregates: pd.DataFrame) -> list[dict[str, Any]]:
        """What a new site reports at one line: events out of patients, per source."""
        obs = []
        if len(patients):
            obs.append({"n": len(patients),
                        "events": int(binary_outcome(patients, self.endpoint).sum())})
        obs += [{"n": int(r[schema.N]), "events": int(r[schema.EVENTS])}
                for _, r in aggregates.iterrows()]
        return obs

    def conflict(self, draws: Any, observation: Mapping[str, Any], interval: Interval,
                 labels: Mapping[str, Any]) -> dict[str, Any]:
        """The prior-data conflict of one observation against new-site predictive draws."""
        return binary_conflict(draws, observation["n"], observation["events"],
                               interval=interval, **labels)

    # ----------------------------------------------------------------------- figures
    def figure_kinds(self, study: Study, config: RunConfig) -> list[str]:
        """Contrast (two lines or more), forest (site effects), posterior predictive check."""
        kinds = ["contrast"] if len(study.lines) >= 2 else []
        kinds += ["forest"] if config.analysis.pooling != "none" else []
        return [*kinds, "ppc"]

    def draw_figure(self, kind: str, *, study: Study, idata: az.InferenceData, result: Any,
                    config: RunConfig, km: Any,
                    highlight_sites: Sequence[str]) -> tuple[Figure, str] | None:
        """One figure of :meth:`figure_kinds` and its caption."""
        interval, lines, label = config.interval, study.lines, self.label
        if kind == "contrast":
            diff = draws_of(self.quantity_draws(idata, config.sampler.seed),
                            "difference_population", contrast_label(lines[1], lines[0]))
            if diff is None:
                return None
            # In percentage points, as the tables and sentences give the difference.
            ax = plot_contrast(100 * diff, interval=interval, reference=0.0,
                               label=f"{label}: {lines[1]} minus {lines[0]}, percentage points "
                                     f"(population average)")
            return cast(Figure, ax.figure), (
                f"{label}: posterior of the population-averaged difference {lines[1]} "
                f"minus {lines[0]} ({interval.label} shaded).")
        if kind == "forest":
            # A new site may have reported only some endpoints: mark it where it is present.
            present = [s for s in highlight_sites if s in set(result.sites["site"].astype(str))]
            fig = plot_forest_lines(result.sites, result.summary, lines=lines, interval=interval,
                                    title=label, highlight_sites=present)
            marked = (f" Sites added in this update are marked: {', '.join(present)}."
                      if present else "")
            return fig, (f"{label}: raw site proportions (exact CIs) and shrunken posterior "
                         f"estimates ({interval.label}s), with pooled and new-site rows per "
                         f"line.{marked}")
        if kind == "ppc":
            return plot_site_count_ppc_lines(site_count_ppc_data(idata, interval=interval),
                                             interval=interval, title=label), (
                f"{label}: posterior predictive check of event counts per site and line "
                f"(observed vs {interval.label}s of replicated counts).")
        raise ValueError(f"unknown figure kind {kind!r} of {self!r}")

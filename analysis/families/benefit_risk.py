"""The benefit-risk family: an efficacy and a safety endpoint of the same patients, modelled
together by the joint model of :mod:`rechallenge.models.joint` (Dale's bivariate logistic
model within a patient and line, correlated site effects of both outcomes at every line).

The family is the endpoint ``"benefit_risk"`` (a data-layer endpoint of kind ``"joint"``). A run
fits it when the config enables it (``[benefit_risk] enabled = true``), beside the endpoints'
own models: it is then one of :attr:`RunConfig.run_endpoints`, and every stage of the run (fits,
gate, tables, figures, report) takes it as it takes any endpoint. Beyond the protocol it
declares the hooks of :mod:`rechallenge.analysis.settings.family_hooks`: its model reads the rows
of its two endpoints (not rows of its own), it has no comparators (partial pooling only), and
it adds its table of the benefit-risk plane to the run. Its prior-sensitivity variants (the
heterogeneity prior's scale halved and doubled) are made as for any endpoint. It exports no MAP
prior (the export reads ``[analysis] endpoints``). Its simulation study is SBC
(``rechallenge simulate sbc``, key ``"joint"``), by the simulator of
:mod:`rechallenge.analysis.families.benefit_risk_simulation`, which draws whole studies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import arviz as az
import pandas as pd
import pymc as pm
from matplotlib.figure import Figure

from rechallenge.analysis.families.base import FamilyOfEndpoint
from rechallenge.analysis.families.benefit_risk_simulation import JointSimulator
from rechallenge.analysis.plots.benefit_risk import plot_benefit_risk_plane, plot_site_planes
from rechallenge.analysis.reporting import benefit_risk as words
from rechallenge.analysis.reporting.estimates import probability_cell
from rechallenge.analysis.reporting.vocabulary import quantity_label
from rechallenge.analysis.settings.config import DEFAULT_WEIGHTS, RunConfig
from rechallenge.analysis.settings.families import (
    FamilySimulator,
    HeadlineRow,
    MapPriorSpec,
    QuantityDraws,
    ReferenceRow,
    Scale,
)
from rechallenge.analysis.settings.family_hooks import FamilyTable
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries import benefit_risk as br
from rechallenge.data import Study
from rechallenge.models.dims import Pooling
from rechallenge.models.info import attach_info, model_info
from rechallenge.models.joint import build_joint_model
from rechallenge.models.joint_priors import JOINT_PRIORS

#: What each quadrant is called in the figure's corners.
_CORNER_WORDS = {
    "benefit_without_harm": "Efficacy higher,\ntoxicity not higher",
    "benefit_with_harm": "Both higher",
    "no_benefit_no_harm": "Neither higher",
    "harm_without_benefit": "Toxicity higher,\nefficacy not higher",
}


class BenefitRiskFamily(FamilyOfEndpoint):
    """The joint model of an efficacy and a safety endpoint, and its benefit-risk summaries.

    Parameters
    ----------
    endpoint
        The joint endpoint's name (``"benefit_risk"``) or definition (kind ``"joint"``).
    """

    outcome_kind = "joint"
    family: str = "joint"
    priors_section: str = "benefit_risk"
    #: Net benefits and differences of probabilities: percentage points.
    value_scale: Scale = "points"
    sensitivity_quantities: tuple[str, ...] = (
        "difference_efficacy_population", "difference_safety_population",
        "difference_net_benefit_population")
    power_scaled: tuple[tuple[str, ...], tuple[str, ...]] = (
        ("mu_eff", "mu_tox", "tau", "log_or"),
        ("mu_eff", "mu_tox", "tau", "site_partial_corr", "log_or"))
    headline_rows: tuple[HeadlineRow, ...] = (
        HeadlineRow("population", "net_benefit_population", "difference_net_benefit_population",
                    "Difference", "points"),
        HeadlineRow("new_site", "net_benefit_new_site", "difference_net_benefit_new_site",
                    "Difference", "points"),
    )
    reference_row: ReferenceRow | None = None
    comparison_quantities: tuple[str, ...] = tuple(
        f"{q}_{r}" for r in br.READINGS for q in (
            "difference_efficacy", "difference_safety", "difference_net_benefit", "prob_greater",
            *(f"prob_{name}" for name in br.QUADRANTS))) + (
        "odds_ratio_within_patient", "site_corr_efficacy_safety")
    site_words: str = "differences between the lines"
    #: No MAP prior is exported of the joint model (its margins are the binary endpoints',
    #: exported by their own families); the export never reads this family.
    map_prior: MapPriorSpec = MapPriorSpec("", "none", "normal")
    quantity_labels: Mapping[str, str] = words.QUANTITY_LABELS
    headline_suffix: str = ", net benefit"
    simulator: FamilySimulator = JointSimulator()
    #: Partial pooling only: the run fits no comparator (settings/family_hooks.py).
    comparators: bool = False

    # ----------------------------------------------------------------------- the model
    def prior_defaults(self, options: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The joint model's prior hyperparameters."""
        return JOINT_PRIORS

    def model_rows(self, study: Study) -> Study:
        """The whole study: the model reads the patient rows and counts of its two endpoints,
        with one outcome or both (its fit records the hash of the whole study).
        """
        return study

    def priors(self, config: RunConfig) -> dict[str, float]:
        """The config's prior overrides of the joint model: ``[priors.binary]`` for the names
        its margins share with the binary model (so each margin has the prior it has when
        analysed alone), then ``[priors.benefit_risk]``.
        """
        shared = {k: v for k, v in config.priors.get("binary", {}).items() if k in JOINT_PRIORS}
        return {**shared, **config.priors.get(self.priors_section, {})}

    def build_model(self, study: Study, config: RunConfig, pooling: Pooling,
                    nested: bool, variant: str | None = None) -> pm.Model:
        """The joint model of the config's two endpoints (``[benefit_risk]``), recording the
        net benefit's weights among its options; ``nested`` does not apply (no comparators).

        Raises
        ------
        ValueError
            Another pooling than partial, or a variant: the family has neither.
        """
        if variant is not None or pooling != "partial":
            raise ValueError(f"{self!r} has partial pooling only and no model variants; got "
                             f"{pooling!r}, {variant!r}")
        b = config.benefit_risk
        model = build_joint_model(self.model_rows(study), efficacy=b.efficacy, safety=b.safety,
                                  priors=self.priors(config))
        info = model_info(model)
        weights = {k: float(b.weights.get(k, v)) for k, v in DEFAULT_WEIGHTS.items()}
        return attach_info(model, replace(info, options={**info.options, "weights": weights}))

    def power_scaled_for(self, idata: az.InferenceData) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """:attr:`power_scaled`, without the odds ratio where the fit has none."""
        names, priors = self.power_scaled
        return (tuple(n for n in names if n in idata.posterior),
                tuple(n for n in priors if n in idata.posterior))

    def simulator_for(self, config: RunConfig, study: Study) -> FamilySimulator:
        """The simulator of the config's joint model (its endpoints and net-benefit weights),
        redrawing the aggregate rows ``study`` has of its two endpoints.

        Raises
        ------
        ValueError
            Endpoints a simulated study cannot be written as (efficacy other than response or
            disease control, safety other than toxicity).
        """
        return JointSimulator.for_study(config.benefit_risk, study)

    # ----------------------------------------------------------------------- summaries
    def summarise(self, idata: az.InferenceData, interval: Interval, seed: int) -> pd.DataFrame:
        """The benefit-risk summary (:func:`~rechallenge.analysis.summaries.benefit_risk.
        summarise_benefit_risk`).
        """
        return br.summarise_benefit_risk(idata, interval=interval, seed=seed)

    def quantity_draws(self, idata: az.InferenceData, seed: int) -> QuantityDraws:
        """The draws behind :meth:`summarise`."""
        return br.quantity_draws(idata, seed=seed)

    def site_table(self, idata: az.InferenceData, interval: Interval) -> pd.DataFrame:
        """Per site: the differences in efficacy and toxicity, and P(benefit without harm)."""
        return br.site_estimates(idata, interval=interval)

    def frequentist_reference(self, study: Study, level: float) -> dict[tuple[str, str], Any]:
        """None: the separate endpoints carry their crude proportions."""
        return {}

    def own_tables(self, summary: pd.DataFrame, interval: Interval,
                   estimate: str) -> Sequence[FamilyTable]:
        """The benefit-risk table: the whole tidy summary for programs, and for readers the
        differences, net benefit, quadrant probabilities and dependence (the supplement).
        """
        lines = list(dict.fromkeys(str(x) for x in summary["line"] if " vs " not in str(x)
                                   and str(x) != br.ALL_LINES))
        return [FamilyTable(
            self.endpoint,
            words.reader_table_caption(summary, interval, estimate, self.label),
            summary, words.reader_table_frame(summary, lines, estimate),
            machine_caption=(
                f"{self.label}: every quantity of the joint model's summary, probabilities and "
                f"differences as fractions, with posterior mean, median, SD, {interval.label} "
                "and convergence diagnostics; a probability is the mean of 0/1 draws."))]

    # ----------------------------------------------------------------------- words
    def results_sentence(self, summary: pd.DataFrame, lines: Sequence[str],
                         interval: Interval) -> str:
        """The joint answer in one sentence."""
        return words.results_sentence(summary, lines, interval)

    def methods_sentence(self, endpoints: Sequence[str], pooling_words: str,
                         options: Mapping[str, Any]) -> str:
        """The joint model, with its references as citation markers."""
        return words.methods_sentence(options)

    def site_reader_row(self, row: Mapping[str, Any], estimate: str,
                        cells: Any) -> dict[str, Any]:
        """A site's quantity, its crude difference and its estimate (``cells``: the reporting
        cell writers).
        """
        probability = str(row["quantity"]).startswith("prob_")
        return {"Quantity": quantity_label(str(row["quantity"]), str(row["line"]),
                                           endpoint=self.endpoint),
                "Observed, pp": "" if probability else cells.number_text(row["observed"], "points"),
                "Shrunken estimate (CrI)": (probability_cell(row["mean"]) if probability
                                            else cells.posterior_cell(row, "points",
                                                                      estimate=estimate))}

    def site_observed_words(self, interval: Interval) -> str:
        """What the observed column of the site table is."""
        return ("the crude difference of the site's proportions, later line minus first, in "
                "percentage points (no interval); probabilities have none")

    # ----------------------------------------------------------------------- updates
    def site_observations(self, patients: pd.DataFrame,
                          aggregates: pd.DataFrame) -> list[dict[str, Any]]:
        """None: a new site is checked against each endpoint's own model."""
        return []

    def conflict(self, draws: Any, observation: Mapping[str, Any], interval: Interval,
                 labels: Mapping[str, Any]) -> dict[str, Any]:
        """Never asked (:meth:`site_observations` gives no observation)."""
        raise ValueError(f"{self!r} has no prior-data conflict check")

    # ----------------------------------------------------------------------- figures
    def figure_kinds(self, study: Study, config: RunConfig) -> list[str]:
        """The benefit-risk plane (``"contrast"``) and its small multiples per site
        (``"forest"``), with two lines or more.
        """
        return ["contrast", "forest"] if len(study.lines) >= 2 else []

    def draw_figure(self, kind: str, *, study: Study, idata: az.InferenceData, result: Any,
                    config: RunConfig, km: Any,
                    highlight_sites: Sequence[str]) -> tuple[Figure, str] | None:
        """The plane of the population average and a new site, or the sites' planes."""
        lines = study.lines
        first, later = lines[0], lines[1]
        options = br.fit_options(idata)
        eff = words.outcome_words(str(options.get("efficacy", "")))
        tox = words.outcome_words(str(options.get("safety", "")))
        x_label = f"Difference in {eff}, {later} minus {first}, pp"
        y_label = f"Difference in {tox}, pp"
        contrast = f"{later} vs {first}"
        if kind == "contrast":
            draws = self.quantity_draws(idata, config.sampler.seed)
            planes = {r: br.plane_draws(draws, r, contrast) for r in br.READINGS}
            shown = {words.READINGS[r]: (100 * xy[0], 100 * xy[1])
                     for r, xy in planes.items() if xy is not None}
            if not shown:
                return None
            found = {(q, line): v.mean() for q, line, v in draws}
            text = {name: f"{_CORNER_WORDS[name]}\nP = "
                          f"{probability_cell(found[(f'prob_{name}_population', contrast)])}"
                          f"; new site "
                          f"{probability_cell(found[(f'prob_{name}_new_site', contrast)])}"
                    for name in br.QUADRANTS}
            weights = br.net_benefit_weights(idata)
            fig = plot_benefit_risk_plane(shown, text, x_label=x_label,
                                          y_label=y_label, weights=weights)
            return fig, (
                f"{self.label}: joint posterior of the differences {later} minus {first} in "
                f"{eff} (x) and in {tox} (y), in percentage points: population average (points, "
                "solid highest-density regions holding 50% and 90% of the posterior) and a new "
                "site (dashed). Each corner gives the posterior probability of its quadrant "
                "(population average; new site); the shaded quadrant is higher efficacy without "
                f"higher toxicity. Dotted: no change in net benefit ({weights[0]:g} \u00d7 {eff} "
                f"\u2212 {weights[1]:g} \u00d7 {tox}; it improves below the line).")
        if kind == "forest":
            sites = {s: (100 * x, 100 * y) for s, (x, y) in br.site_plane_draws(idata).items()}
            table = result.sites if result is not None else br.site_estimates(
                idata, interval=config.interval)
            good = table[(table["quantity"] == "prob_benefit_without_harm_site")
                         & (table["line"] == contrast)]
            probabilities = {str(r["site"]): float(r["mean"]) for _, r in good.iterrows()}
            present = [s for s in highlight_sites if s in sites]
            fig = plot_site_planes(sites, probabilities, x_label=x_label,
                                   y_label=y_label, highlight=present)
            marked = (f" Sites added in this update are marked: {', '.join(present)}."
                      if present else "")
            return fig, (
                f"{self.label} by site: posterior draws of each site's differences {later} minus "
                f"{first} in {eff} (x) and {tox} (y), percentage points, averaged over the site's "
                "patients; P is the posterior probability of higher efficacy without higher "
                f"toxicity at that site (shaded quadrant).{marked}")
        raise ValueError(f"unknown figure kind {kind!r} of {self!r}")

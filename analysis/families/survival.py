"""The survival family: time to progression per patient and line, right-censored, modelled by the
hierarchical model of :mod:`rechallenge.models.ttp` with the survival distribution the config
names first (``[ttp] families``; the Weibull by default, see :mod:`rechallenge.models.survival`).

Its per-line quantities are the median and the restricted mean in months; its contrasts the ratio
of medians, the difference and ratio of restricted means and, for a distribution with
proportional hazards and a shared shape, the hazard ratio. Its MAP prior is a normal mixture on
the log median of a new site.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, cast

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from matplotlib.figure import Figure

from rechallenge.analysis.families.base import FamilyOfEndpoint
from rechallenge.analysis.families.binary import draws_of
from rechallenge.analysis.families.survival_simulation import SurvivalSimulator
from rechallenge.analysis.families.weibull_simulation import WeibullSimulator
from rechallenge.analysis.plots.contrast import plot_contrast
from rechallenge.analysis.plots.forest_ttp import plot_ttp_forest_lines
from rechallenge.analysis.plots.loo_pit import plot_loo_pit
from rechallenge.analysis.plots.ppc import plot_km_ppc_lines
from rechallenge.analysis.plots.survival import plot_survival
from rechallenge.analysis.reporting.prose import contrast_label, ttp_sentence
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
from rechallenge.analysis.summaries import ttp, ttp_curves
from rechallenge.analysis.summaries.conflict import ttp_conflict
from rechallenge.analysis.summaries.reference import NOT_REACHED, ttp_reference
from rechallenge.analysis.summaries.ttp_loo_pit import censored_loo_pit
from rechallenge.data import Study, schema
from rechallenge.data.endpoints import EndpointDefinition
from rechallenge.data.frequentist import MedianCI, km_median
from rechallenge.models.dims import Pooling
from rechallenge.models.fit_settings import fit_attrs
from rechallenge.models.survival import (
    DISTRIBUTIONS,
    SurvivalDistribution,
    Weibull,
    fit_distribution,
    survival_distribution,
)
from rechallenge.models.ttp import build_ttp_model, ttp_priors


def power_scaled_of(dist: SurvivalDistribution) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The parameters whose power-scaling sensitivity is reported for a fit of ``dist`` (the
    location, its shape parameters on their natural scale, the between-site SDs) and the priors
    scaled (those of every variable the sampler sees, e.g. ``log_shape`` as well as ``shape``).
    """
    natural = tuple(p.name for p in dist.parameters)
    sampled = tuple(dict.fromkeys(n for p in dist.parameters for n in (p.name, p.sampled)))
    return ("mu", *natural, "tau"), ("mu", *sampled, "tau", "site_corr_pairs")


class SurvivalFamily(FamilyOfEndpoint):
    """Time to progression and its hierarchical survival model.

    Parameters
    ----------
    endpoint
        A time-to-event endpoint's definition, or the name of one registered in the data
        layer (default ``"ttp"``).
    """

    outcome_kind = "time_to_event"
    family: str = "weibull"
    priors_section: str = "ttp"
    value_scale: Scale = "months"
    sensitivity_quantities: tuple[str, ...] = ("median_population", "median_ratio_population", "tau")
    #: The Weibull's (the default distribution); a fit's own come from :meth:`power_scaled_for`.
    power_scaled: tuple[tuple[str, ...], tuple[str, ...]] = power_scaled_of(Weibull())
    headline_rows: tuple[HeadlineRow, ...] = (
        HeadlineRow("population", "median_population", "median_ratio_population",
                    "Ratio of medians", "ratio"),
        # The hazard ratio exists only with a shared Weibull shape; else the ratio of medians.
        HeadlineRow("typical_site", "median_typical_site", "hazard_ratio", "Hazard ratio",
                    "ratio", fallback=("median_ratio_typical_site", "Ratio of medians")),
        HeadlineRow("new_site", "median_new_site"),
    )
    reference_row: ReferenceRow | None = ReferenceRow(
        "Kaplan-Meier median, months", "median_population", "hazard_ratio",
        "Hazard ratio (Cox)", "ratio")
    comparison_quantities: tuple[str, ...] = ("median_population", "median_typical_site", "median_new_site",
                             "median_ratio_population", "hazard_ratio",
                             "prob_greater_population")
    site_words: str = "median TTP (months)"
    map_prior: MapPriorSpec = MapPriorSpec("median_new_site", "log median TTP (months)", "normal", log=True)
    quantity_labels: Mapping[str, str] = MappingProxyType(
        {"prob_greater_population": "P(median {later} > median {first})"})
    headline_suffix: str = ", median TTP in months"
    simulator: FamilySimulator = WeibullSimulator()

    def __init__(self, endpoint: str | EndpointDefinition = schema.TTP_ENDPOINT) -> None:
        super().__init__(endpoint)

    # ----------------------------------------------------------------------- the model
    def prior_defaults(self, options: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The prior hyperparameters of the model with the distribution a fit's ``options``
        record (the Weibull's without).
        """
        return ttp_priors(str((options or {}).get("distribution", "weibull")))

    def build_model(self, study: Study, config: RunConfig, pooling: Pooling,
                    nested: bool, distribution: str | None = None) -> pm.Model:
        """The model with ``pooling`` and ``distribution`` (default: the config's first), on
        the endpoint's rows of ``study``; the ``[priors.ttp]`` overrides that belong to that
        distribution apply (the section holds every distribution's).
        """
        a = config.analysis
        name = distribution or config.ttp.families[0]
        known = ttp_priors(name)
        # The location prior means a different scale in each distribution (a log time, a log
        # hazard rate): a config's mu_mean and mu_sd are the main distribution's alone.
        own = name == self.main_variant(config)
        overrides = {k: v for k, v in config.priors.get(self.priors_section, {}).items()
                     if k in known and (own or k not in ("mu_mean", "mu_sd"))}
        return build_ttp_model(
            study.for_endpoint(self.endpoint), pooling=pooling, patient_effect=a.patient_effect,
            shared_shape=a.shared_shape, covariates=a.covariates,
            covariate_effects=a.covariate_effects, priors=overrides, nested=nested,
            distribution=name, horizons=config.ttp.horizons)

    def model_variants(self, config: RunConfig) -> tuple[str, ...]:
        """The other survival distributions of ``[ttp] families``, compared with the first."""
        return tuple(config.ttp.families[1:])

    def main_variant(self, config: RunConfig) -> str:
        """The first survival distribution of ``[ttp] families``."""
        return config.ttp.families[0]

    def variant_label(self, variant: str) -> str | None:
        """``"log-normal distribution"`` for ``"lognormal"``; None for a name that is not a
        survival distribution.
        """
        dist = DISTRIBUTIONS.get(variant)
        return None if dist is None else f"{dist.label} distribution"

    def power_scaled_for(self, idata: az.InferenceData) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """:func:`power_scaled_of` the distribution ``idata`` was fitted with."""
        return power_scaled_of(fit_distribution(fit_attrs(idata).get("options", {})))

    # ----------------------------------------------------------------------- summaries
    def summarise(self, idata: az.InferenceData, interval: Interval, seed: int) -> pd.DataFrame:
        """Medians per line (population, typical site, new site) and their contrasts."""
        return ttp.summarise_ttp(idata, interval=interval, seed=seed)

    def quantity_draws(self, idata: az.InferenceData, seed: int) -> QuantityDraws:
        """The draws behind :meth:`summarise`."""
        return ttp.quantity_draws(idata, seed=seed)

    def site_table(self, idata: az.InferenceData, interval: Interval) -> pd.DataFrame:
        """Observed and shrunken medians per site and line."""
        return ttp.site_medians(idata, interval=interval)

    def frequentist_reference(self, study: Study, level: float) -> dict[tuple[str, str], Any]:
        """Kaplan-Meier medians and the Cox hazard ratio."""
        return ttp_reference(study, level)

    # ----------------------------------------------------------------------- words
    def results_sentence(self, summary: pd.DataFrame, lines: Sequence[str],
                         interval: Interval) -> str:
        """Medians per line, their ratio, the hazard ratio and P(longer)."""
        return ttp_sentence(summary, lines, interval)

    def methods_sentence(self, endpoints: Sequence[str], pooling_words: str,
                         options: Mapping[str, Any]) -> str:
        """The survival model of the fit (its ``options``) with right censoring."""
        dist = fit_distribution(options)
        return (f"Time to progression was modelled with a {dist.label} likelihood with right "
                f"censoring, {dist.location_words} = \u03bc[line] + u[site, line] with the same "
                f"site-effect structure.")

    def reference_methods(self, every_line: bool) -> str:
        """The Kaplan-Meier median with Collett's interval and the patient-clustered Cox HR."""
        return ("each line's median time to progression is read off the Kaplan-Meier curve "
                "[cite:kaplan1958] with the linear confidence interval [cite:collett2015], and "
                "the hazard ratio of the lines comes from a Cox model [cite:cox1972] with a "
                "robust variance clustered on patients [cite:lin1989]")

    def site_reader_row(self, row: Mapping[str, Any], estimate: str,
                        cells: Any) -> dict[str, Any]:
        """A site's cells of the reader's site table (``cells``: the reporting cell writers)."""
        lower, upper = row.get("raw_lower", np.nan), row.get("raw_upper", np.nan)
        if lower == upper:
            # The curve drops to zero at the median (the last patient progressed): lifelines'
            # band has no width there, which is no interval.
            lower = upper = np.nan
        observed = cells.interval_cell(row["raw_median"], lower, upper, "months")
        if row.get("raw_source") == "reported" and observed:
            observed += " (reported)"
        return {"Progressions": int(row["events"]),
                "Observed median, months": observed,
                "Shrunken median, months (CrI)": cells.posterior_cell(row, "months",
                                                                      estimate=estimate)}

    def site_observed_words(self, interval: Interval) -> str:
        """What the observed column of the site table is."""
        return (f"Kaplan-Meier median of the site's patients with its {interval.percent} "
                f"log-log confidence interval (or the median the site reported). "
                f"{SHRINKAGE_NOTE.removesuffix('.')}")

    # ----------------------------------------------------------------------- updates
    def site_observations(self, patients: pd.DataFrame,
                          aggregates: pd.DataFrame) -> list[dict[str, Any]]:
        """What a new site reports at one line: its Kaplan-Meier median with CI (or why it
        cannot be checked), and any reported median.
        """
        obs: list[dict[str, Any]] = []
        if len(patients):
            est = km_median(patients[schema.TTP_MONTHS], patients[schema.PROGRESSED],
                            method="linear")
            if np.isfinite(est.median) and est.lower > 0 and np.isfinite(est.upper):
                obs.append({"median": est.median, "lower": est.lower, "upper": est.upper})
            else:  # said in the table, not skipped in silence
                obs.append({"unchecked": _unchecked_median(est)})
        obs += [{"median": float(r[schema.MEDIAN_MONTHS]), "lower": float(r[schema.MEDIAN_LOWER]),
                 "upper": float(r[schema.MEDIAN_UPPER])} for _, r in aggregates.iterrows()]
        return obs

    def conflict(self, draws: Any, observation: Mapping[str, Any], interval: Interval,
                 labels: Mapping[str, Any]) -> dict[str, Any]:
        """The prior-data conflict of one median against new-site predictive draws."""
        return ttp_conflict(draws, observation["median"], observation["lower"],
                            observation["upper"], interval=interval, **labels)

    # ----------------------------------------------------------------------- figures
    def figure_kinds(self, study: Study, config: RunConfig) -> list[str]:
        """Contrast, survival curves and PPC (patient rows needed), forest (site effects)."""
        kinds = ["contrast"] if len(study.lines) >= 2 else []
        kinds += ["survival"] if len(study.patients) else []
        kinds += ["forest"] if config.analysis.pooling != "none" else []
        return kinds + self.variant_figure_kinds(study, config)

    def simulator_for(self, config: RunConfig, study: Study) -> FamilySimulator:
        """The Weibull's simulator, or one of the config's main distribution with its settings
        (the piecewise cut points) chosen from the TTP patient rows of ``study``, then fixed.
        """
        name = self.main_variant(config)
        if name == Weibull.name:
            return self.simulator
        rows = study.for_endpoint(self.endpoint).patients
        dist = survival_distribution(name).fitted_to(
            rows[schema.TTP_MONTHS].to_numpy(float), rows[schema.PROGRESSED].to_numpy(float))
        return SurvivalSimulator(dist)

    def variant_figure_kinds(self, study: Study, config: RunConfig) -> list[str]:
        """The model checks of every distribution fitted: the posterior predictive
        Kaplan-Meier band and the LOO-PIT (patient rows needed).
        """
        return ["ppc", "loo_pit"] if len(study.patients) else []

    def draw_figure(self, kind: str, *, study: Study, idata: az.InferenceData, result: Any,
                    config: RunConfig, km: Any,
                    highlight_sites: Sequence[str]) -> tuple[Figure, str] | None:
        """One figure of :meth:`figure_kinds` and its caption."""
        interval, lines = config.interval, study.lines
        if kind == "contrast":
            ratio = draws_of(self.quantity_draws(idata, config.sampler.seed),
                             "median_ratio_population", contrast_label(lines[1], lines[0]))
            if ratio is None:
                return None
            ax = plot_contrast(ratio, interval=interval, reference=1.0, log_scale=True,
                               label=f"Ratio of population median TTP, {lines[1]} / {lines[0]}")
            return cast(Figure, ax.figure), (
                f"Posterior of the ratio of median time to progression, {lines[1]} / "
                f"{lines[0]} ({interval.label} shaded).")
        dist = fit_distribution(fit_attrs(idata).get("options", {})).label
        if kind == "survival":
            ax = plot_survival(ttp_curves.survival_curves(idata, interval=interval), km,
                               interval=interval)
            return cast(Figure, ax.figure), (
                f"Population-averaged {dist} survival (time to progression) per line "
                f"with {interval.label} bands, over the Kaplan-Meier curves of the data.")
        if kind == "forest":
            return self._forest(result, study, interval)
        if kind == "ppc":
            band = ttp_curves.predictive_survival_band(idata, interval=interval,
                                                seed=config.sampler.seed)
            return plot_km_ppc_lines(band, km, interval=interval), (
                f"Posterior predictive check of the {dist} model of time to progression: "
                f"Kaplan-Meier of the data against the {interval.label} band of Kaplan-Meier "
                f"curves of replicated data.")
        if kind == "loo_pit":
            ax = plot_loo_pit(censored_loo_pit(idata, seed=config.sampler.seed),
                              level=interval.level, title=dist, seed=config.sampler.seed)
            return cast(Figure, ax.figure), (
                f"LOO-PIT check of the {dist} model of time to progression: the empirical "
                f"distribution of each patient's leave-one-out probability integral transform "
                f"(randomised for censored times) minus the uniform, inside the band that "
                f"uniform values stay in with probability {interval.percent} (the level of the "
                f"{interval.label}s); a curve leaving the band marks predictions too narrow "
                f"(U shape), too wide or shifted.")
        raise ValueError(f"unknown figure kind {kind!r} of {self!r}")

    def _forest(self, result: Any, study: Study, interval: Interval) -> tuple[Figure, str]:
        """The forest plot, with each line's Kaplan-Meier median of all patients beside the
        population row.
        """
        pooled = {}
        patients = study.patients
        for line in study.lines:
            rows = patients[patients[schema.LINE] == line] if len(patients) else patients
            if len(rows):
                km = km_median(rows[schema.TTP_MONTHS], rows[schema.PROGRESSED],
                               level=interval.level)
                pooled[line] = (km.median, km.lower, km.upper)
        fig = plot_ttp_forest_lines(result.sites, result.summary, lines=study.lines,
                                    interval=interval, pooled_raw=pooled, title=self.label)
        return fig, (f"{self.label}: Kaplan-Meier median of each site's patients and the "
                     f"shrunken posterior median per site ({interval.label}s), with pooled and "
                     f"new-site rows per line; the population row carries the Kaplan-Meier "
                     f"median of all patients with its {interval.percent} confidence interval. "
                     f"{SHRINKAGE_NOTE}")


#: Why a site's shrunken median can lie on the other side of the pooled one from its observed
#: median (a reader otherwise takes it for an error; S01 at ICI-2 in the reference study).
SHRINKAGE_NOTE: Final = (
    "A site's shrunken median can lie beyond the pooled median, on the other side from its "
    "observed one: the model uses every patient's time, and one long time among a site's few "
    "patients moves its fitted survival curve while leaving the Kaplan-Meier median, the "
    "middle time, unchanged.")


def _unchecked_median(est: MedianCI) -> str:
    """Why a Kaplan-Meier median cannot be compared with the predictive (see ``ttp_conflict``)."""
    if not np.isfinite(est.median):
        return NOT_REACHED
    if not np.isfinite(est.se):
        return "the confidence interval of the Kaplan-Meier median is not estimable"
    return "the confidence interval of the Kaplan-Meier median extends to zero or below"

"""The run's figures: which plot of which result, written as PNG and PDF.

Plots never sample: every figure is drawn from the saved fits and the summaries computed from
them. Captions state the interval from the run's one :class:`Interval`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import arviz as az
import numpy as np
from matplotlib.figure import Figure

from rechallenge.analysis.plots.contrast import plot_contrast
from rechallenge.analysis.plots.diagnostics import plot_ranks, top_level_var_names
from rechallenge.analysis.plots.forest import plot_forest_lines
from rechallenge.analysis.plots.forest_ttp import plot_ttp_forest_lines
from rechallenge.analysis.plots.ppc import plot_km_ppc_lines, plot_site_count_ppc_lines, site_count_ppc_data
from rechallenge.analysis.plots.style import save_figure
from rechallenge.analysis.plots.survival import km_data, plot_survival
from rechallenge.analysis.reporting.document import FigureRef
from rechallenge.analysis.reporting.prose import contrast_label
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.fit_names import fit_key
from rechallenge.analysis.summaries.binary import quantity_draws as binary_quantity_draws
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.analysis.summaries.ttp import predictive_survival_band, survival_curves
from rechallenge.analysis.summaries.ttp import quantity_draws as ttp_quantity_draws
from rechallenge.data import Study, schema
from rechallenge.data.frequentist import km_median


def _ttp_forest(result: EndpointResults, study: Study, interval: Any,
                label: str) -> tuple[Figure, str]:
    """The TTP forest plot, with each line's Kaplan-Meier median of all patients beside the
    population row.
    """
    pooled = {}
    patients = study.patients
    for line in study.lines:
        rows = patients[patients[schema.LINE] == line] if len(patients) else patients
        if len(rows):
            km = km_median(rows[schema.TTP_MONTHS], rows[schema.PROGRESSED], level=interval.level)
            pooled[line] = (km.median, km.lower, km.upper)
    fig = plot_ttp_forest_lines(result.sites, result.summary, lines=study.lines,
                                interval=interval, pooled_raw=pooled, title=label)
    return fig, (f"{label}: Kaplan-Meier median of each site's patients and the shrunken "
                 f"posterior median per site ({interval.label}s), with pooled and new-site rows "
                 f"per line; the population row carries the Kaplan-Meier median of all patients "
                 f"with its {interval.percent} confidence interval.")


def _contrast(draws: list[tuple[str, str, np.ndarray]], quantity: str, line: str) -> np.ndarray | None:
    for q, label, values in draws:
        if q == quantity and label == line:
            return values
    return None


@dataclass(frozen=True)
class FigureJob:
    """One figure of the report: which plot (``kind``) of which endpoint.

    Only the forest plots read the endpoint results; the other figures are drawn from the fits,
    so they can be drawn while the results are still being computed (see
    :func:`rechallenge.analysis.run.outputs.build_outputs`).
    """

    kind: str
    endpoint: str

    @property
    def name(self) -> str:
        """File name (without suffix) of the figure, e.g. ``forest_response``."""
        return f"{self.kind}_{self.endpoint}"

    @property
    def needs_results(self) -> bool:
        """Whether drawing the figure needs the endpoint's :class:`EndpointResults`."""
        return self.kind == "forest"


def figure_jobs(study: Study, fits: Mapping[str, az.InferenceData], config: RunConfig) -> list[FigureJob]:
    """Every figure of the report, in report order (endpoints in schema order)."""
    two_lines = len(study.lines) >= 2
    jobs: list[FigureJob] = []
    for endpoint in schema.ENDPOINTS:
        if endpoint not in config.analysis.endpoints or fit_key(endpoint) not in fits:
            continue
        kinds: list[str] = ["contrast"] if two_lines else []
        if endpoint == schema.TTP_ENDPOINT:
            kinds += ["survival"] if len(study.patients) else []
            kinds += ["forest"] if config.analysis.pooling != "none" else []
        elif config.analysis.pooling != "none":
            kinds.append("forest")
        if endpoint != schema.TTP_ENDPOINT or len(study.patients):
            kinds.append("ppc")
        jobs += [FigureJob(kind, endpoint) for kind in (*kinds, "rank")]
    return jobs


def build_figures(
    directory: Path,
    study: Study,
    fits: Mapping[str, az.InferenceData],
    results: Mapping[str, EndpointResults] | None,
    config: RunConfig,
    *,
    highlight_sites: Sequence[str] = (),
    jobs: Sequence[FigureJob] | None = None,
) -> list[FigureRef]:
    """Draw and save the figures of the report; return their references in report order.

    Parameters
    ----------
    directory
        Where the PNG and PDF files go.
    study, fits, config
        The run's data, fits and config.
    results
        The endpoint results; may be ``None`` when no job needs them.
    highlight_sites
        Sites marked in the forest plots (the new sites of an update).
    jobs
        The figures to draw (from :func:`figure_jobs`); ``None``: all of them.
    """
    jobs = figure_jobs(study, fits, config) if jobs is None else jobs
    km = km_data(study.patients, study.lines) if len(study.patients) else None
    refs: list[FigureRef] = []
    for job in jobs:
        drawn = _draw(job, study, fits, results, config, km, highlight_sites)
        if drawn is None:
            continue
        fig, caption = drawn
        save_figure(fig, directory, job.name)
        refs.append(FigureRef(job.name, caption))
    return refs


def draw_figure(
    job: FigureJob,
    study: Study,
    fits: Mapping[str, az.InferenceData],
    results: Mapping[str, EndpointResults] | None,
    config: RunConfig,
    *,
    highlight_sites: Sequence[str] = (),
) -> tuple[Figure, str] | None:
    """One figure of the report and its caption, drawn as :func:`build_figures` draws it, not
    saved (``None`` if there is nothing to draw). Arguments as for :func:`build_figures`.
    """
    km = km_data(study.patients, study.lines) if len(study.patients) else None
    return _draw(job, study, fits, results, config, km, highlight_sites)


def _draw(
    job: FigureJob,
    study: Study,
    fits: Mapping[str, az.InferenceData],
    results: Mapping[str, EndpointResults] | None,
    config: RunConfig,
    km: Any,
    highlight_sites: Sequence[str],
) -> tuple[Figure, str] | None:
    """The figure of ``job`` and its caption (``None`` if there is nothing to draw)."""
    interval, seed, lines = config.interval, config.sampler.seed, study.lines
    endpoint, idata = job.endpoint, fits[fit_key(job.endpoint)]
    label = schema.ENDPOINT_LABELS[endpoint]
    if job.kind == "rank":
        return (plot_ranks(idata, var_names=top_level_var_names(idata)),
                f"{label}: rank plots of the top-level parameters (uniform ranks across chains "
                "indicate mixing).")
    if job.kind == "contrast":
        contrast = contrast_label(lines[1], lines[0])
        if endpoint == schema.TTP_ENDPOINT:
            ratio = _contrast(ttp_quantity_draws(idata, seed=seed), "median_ratio_population", contrast)
            if ratio is None:
                return None
            ax = plot_contrast(ratio, interval=interval, reference=1.0, log_scale=True,
                               label=f"Ratio of population median TTP, {lines[1]} / {lines[0]}")
            return cast(Figure, ax.figure), (
                f"Posterior of the ratio of median time to progression, {lines[1]} / "
                f"{lines[0]} ({interval.label} shaded).")
        diff = _contrast(binary_quantity_draws(idata, seed=seed), "difference_population", contrast)
        if diff is None:
            return None
        # In percentage points, as the tables and sentences give the difference.
        ax = plot_contrast(100 * diff, interval=interval, reference=0.0,
                           label=f"{label}: {lines[1]} minus {lines[0]}, percentage points "
                                 f"(population average)")
        return cast(Figure, ax.figure), (
            f"{label}: posterior of the population-averaged difference {lines[1]} "
            f"minus {lines[0]} ({interval.label} shaded).")
    if job.kind == "survival":
        ax = plot_survival(survival_curves(idata, interval=interval), km, interval=interval)
        return cast(Figure, ax.figure), (
            f"Population-averaged Weibull survival (time to progression) per line "
            f"with {interval.label} bands, over the Kaplan-Meier curves of the data.")
    if job.kind == "forest":
        if results is None:
            raise ValueError("forest plots need the endpoint results")
        result = results[endpoint]
        if endpoint == schema.TTP_ENDPOINT:
            return _ttp_forest(result, study, interval, label)
        # A new site may have reported only some endpoints: mark it where it is present.
        present = [s for s in highlight_sites if s in set(result.sites["site"].astype(str))]
        fig = plot_forest_lines(result.sites, result.summary, lines=lines, interval=interval,
                                title=label, highlight_sites=present)
        marked = (f" Sites added in this update are marked: {', '.join(present)}."
                  if present else "")
        return fig, (f"{label}: raw site proportions (exact CIs) and shrunken posterior estimates "
                     f"({interval.label}s), with pooled and new-site rows per line.{marked}")
    if job.kind == "ppc" and endpoint == schema.TTP_ENDPOINT:
        band = predictive_survival_band(idata, interval=interval, seed=seed)
        return plot_km_ppc_lines(band, km, interval=interval), (
            f"Posterior predictive check: Kaplan-Meier of the data against the "
            f"{interval.label} band of Kaplan-Meier curves of replicated data.")
    if job.kind == "ppc":
        return plot_site_count_ppc_lines(site_count_ppc_data(idata, interval=interval),
                                         interval=interval, title=label), (
            f"{label}: posterior predictive check of event counts per site and line "
            f"(observed vs {interval.label}s of replicated counts).")
    raise ValueError(f"unknown figure kind {job.kind!r}")

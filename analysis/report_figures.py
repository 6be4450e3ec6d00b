"""The run's figures: which plot of which result, written as PNG and PDF.

Plots never sample: every figure is drawn from the saved fits and the summaries computed from
them. Captions state the interval from the run's one :class:`Interval`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import arviz as az
import numpy as np

from rechallenge.data import Study, schema

from .binary_summary import quantity_draws as binary_quantity_draws
from .config import RunConfig
from .endpoint_results import EndpointResults
from .figures import save_figure
from .fitting import fit_key
from .plot_contrast import plot_contrast
from .plot_diagnostics import plot_ranks, top_level_var_names
from .plot_forest import plot_forest_lines
from .plot_ppc import plot_km_ppc_lines, plot_site_count_ppc_lines, site_count_ppc_data
from .plot_survival import km_data, plot_survival
from .prose import contrast_label
from .report import FigureRef
from .ttp_summary import predictive_survival_band, quantity_draws as ttp_quantity_draws, survival_curves


def _contrast(draws: list[tuple[str, str, np.ndarray]], quantity: str, line: str) -> np.ndarray | None:
    for q, label, values in draws:
        if q == quantity and label == line:
            return values
    return None


def build_figures(
    directory: Path,
    study: Study,
    fits: Mapping[str, az.InferenceData],
    results: Mapping[str, EndpointResults],
    config: RunConfig,
    *,
    highlight_sites: Sequence[str] = (),
) -> list[FigureRef]:
    """Draw and save every figure of the report; return their references in report order.

    ``highlight_sites`` are marked in the forest plots (the new sites of an update).
    """
    interval, seed, lines = config.interval, config.sampler.seed, study.lines
    refs: list[FigureRef] = []

    def save(fig, name: str, caption: str) -> None:
        save_figure(fig, directory, name)
        refs.append(FigureRef(name, caption))

    contrast = contrast_label(lines[1], lines[0]) if len(lines) >= 2 else None
    km = km_data(study.patients, lines) if len(study.patients) else None
    for endpoint, result in results.items():
        idata = fits[fit_key(endpoint)]
        label = schema.ENDPOINT_LABELS[endpoint]
        if endpoint == schema.TTP_ENDPOINT:
            if contrast is not None:
                ratio = _contrast(ttp_quantity_draws(idata, seed=seed), "median_ratio_population", contrast)
                if ratio is not None:
                    ax = plot_contrast(ratio, interval=interval, reference=1.0, log_scale=True,
                                       label=f"Ratio of population median TTP, {lines[1]} / {lines[0]}")
                    save(ax.figure, "contrast_ttp",
                         f"Posterior of the ratio of median time to progression, {lines[1]} / "
                         f"{lines[0]} ({interval.label} shaded).")
            if km is not None:
                ax = plot_survival(survival_curves(idata, interval=interval), km, interval=interval)
                save(ax.figure, "survival_ttp",
                     f"Population-averaged Weibull survival (time to progression) per line with "
                     f"{interval.label} bands, over the Kaplan-Meier curves of the data.")
                band = predictive_survival_band(idata, interval=interval, seed=seed)
                save(plot_km_ppc_lines(band, km, interval=interval), "ppc_ttp",
                     f"Posterior predictive check: Kaplan-Meier of the data against the "
                     f"{interval.label} band of Kaplan-Meier curves of replicated data.")
        else:
            if contrast is not None:
                diff = _contrast(binary_quantity_draws(idata, seed=seed), "difference_population", contrast)
                if diff is not None:
                    ax = plot_contrast(diff, interval=interval, reference=0.0,
                                       label=f"{label}: {lines[1]} minus {lines[0]} (population)")
                    save(ax.figure, f"contrast_{endpoint}",
                         f"{label}: posterior of the population-averaged difference {lines[1]} "
                         f"minus {lines[0]} ({interval.label} shaded).")
            if config.analysis.pooling != "none":
                # A new site may have reported only some endpoints: mark it where it is present.
                present = [s for s in highlight_sites if s in set(result.sites["site"].astype(str))]
                fig = plot_forest_lines(result.sites, result.summary, lines=lines, interval=interval,
                                        title=label, highlight_sites=present)
                marked = (f" Sites added in this update are marked: {', '.join(present)}."
                          if present else "")
                save(fig, f"forest_{endpoint}",
                     f"{label}: raw site proportions (exact CIs) and shrunken posterior estimates "
                     f"({interval.label}s), with pooled and new-site rows per line.{marked}")
            save(plot_site_count_ppc_lines(site_count_ppc_data(idata, interval=interval),
                                           interval=interval, title=label),
                 f"ppc_{endpoint}",
                 f"{label}: posterior predictive check of event counts per site and line "
                 f"(observed vs {interval.label}s of replicated counts).")
        save(plot_ranks(idata, var_names=top_level_var_names(idata)), f"rank_{endpoint}",
             f"{label}: rank plots of the top-level parameters (uniform ranks across chains "
             "indicate mixing).")
    return refs

"""The run's figures: which plot of which result, written as PNG and PDF.

Plots never sample: every figure is drawn from the saved fits and the summaries computed from
them. Captions state the interval from the run's one :class:`Interval`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import arviz as az
from matplotlib.figure import Figure

from rechallenge.analysis.plots.diagnostics import plot_ranks, top_level_var_names
from rechallenge.analysis.plots.style import save_figure
from rechallenge.analysis.plots.survival import km_data
from rechallenge.analysis.reporting.document import FigureRef
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import endpoint_order, family_of
from rechallenge.analysis.settings.fit_names import fit_key
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.data import Study


@dataclass(frozen=True)
class FigureJob:
    """One figure of the report: which plot (``kind``) of which endpoint.

    Only the forest plots read the endpoint results; the other figures are drawn from the fits,
    so they can be drawn while the results are still being computed (see
    :func:`rechallenge.analysis.run.outputs.build_outputs`).
    """

    kind: str
    endpoint: str
    #: A model variant of the endpoint's family (another survival distribution); None: the
    #: endpoint's main fit.
    variant: str | None = None

    @property
    def name(self) -> str:
        """File name (without suffix) of the figure, e.g. ``forest_response`` or
        ``ppc_ttp__lognormal``.
        """
        return f"{self.kind}_{self.source}"

    @property
    def source(self) -> str:
        """The key of the fit the figure is drawn from (the main fit's is the endpoint)."""
        return fit_key(self.endpoint, self.variant)

    @property
    def needs_results(self) -> bool:
        """Whether drawing the figure needs the endpoint's :class:`EndpointResults`."""
        return self.kind == "forest"


def figure_jobs(study: Study, fits: Mapping[str, az.InferenceData], config: RunConfig) -> list[FigureJob]:
    """Every figure of the report, in report order (endpoints in registry order): each
    family's own figures, the rank plots of its main fit, then the model checks of each model
    variant fitted beside it.
    """
    jobs: list[FigureJob] = []
    for endpoint in sorted(config.run_endpoints, key=endpoint_order):
        if fit_key(endpoint) not in fits:
            continue
        family = family_of(endpoint)
        jobs += [FigureJob(kind, endpoint) for kind in (*family.figure_kinds(study, config), "rank")]
        jobs += [FigureJob(kind, endpoint, variant)
                 for variant in family.model_variants(config)
                 if fit_key(endpoint, variant) in fits
                 for kind in family.variant_figure_kinds(study, config)]
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
    endpoint, idata = job.endpoint, fits[job.source]
    family = family_of(endpoint)
    if job.kind == "rank":
        return (plot_ranks(idata, var_names=top_level_var_names(idata)),
                f"{family.label}: rank plots of the top-level parameters (uniform ranks across "
                "chains indicate mixing).")
    result = None
    if job.needs_results:
        if results is None:
            raise ValueError("forest plots need the endpoint results")
        result = results[endpoint]
    return family.draw_figure(job.kind, study=study, idata=idata, result=result, config=config,
                              km=km, highlight_sites=highlight_sites)

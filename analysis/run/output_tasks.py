"""The tasks that run on the engine after fitting: figures, the MAP prior, fit files.

Each returns what it made as bytes (figure files, netCDF files) or text (the MAP prior), and the
client process writes them into the run directory: a worker of a remote cluster need not see the
client's disk, and the run directory stays the client's to commit atomically.
"""

from __future__ import annotations

import tempfile
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np

from rechallenge.analysis.map_prior.export import MapPriorParts, map_prior_parts, new_site_draws
from rechallenge.analysis.plots.map_prior import plot_map_prior_lines
from rechallenge.analysis.plots.style import save_figure
from rechallenge.analysis.reporting.document import FigureRef
from rechallenge.analysis.reporting.run_figures import FigureJob, build_figures
from rechallenge.analysis.run.engine import Recorded, TaskRecord
from rechallenge.analysis.run.fitio import save_fit
from rechallenge.analysis.run.fitting import FitStage
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import family_of
from rechallenge.analysis.settings.fit_names import fit_key
from rechallenge.analysis.summaries.computed_once import kept_values
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.data import Study

#: Figures drawn by one task: the references and each file's name and bytes.
DrawnFigures = list[tuple[FigureRef, dict[str, bytes]]]
#: Where a task finds its fits: the fitting task's result on the worker that made them (so the
#: fits need not travel), or a mapping of fits (a rebuilt report's, sent from the client).
FitsSource = Recorded | Mapping[str, az.InferenceData]


def fits_of(source: FitsSource) -> Mapping[str, az.InferenceData]:
    """The fits of a :data:`FitsSource`."""
    return source.value.fits if isinstance(source, Recorded) else source


def draw_figures(
    jobs: Sequence[FigureJob],
    study: Study,
    fits: FitsSource,
    results: Mapping[str, EndpointResults] | None,
    config: RunConfig,
    *,
    highlight_sites: Sequence[str] = (),
) -> DrawnFigures:
    """Draw ``jobs`` (see :func:`~rechallenge.analysis.reporting.run_figures.build_figures`);
    return each figure's reference and its PNG and PDF files as bytes.
    """
    drawn: DrawnFigures = []
    with tempfile.TemporaryDirectory(prefix="rechallenge-figures-") as tmp:
        refs = build_figures(Path(tmp), study, fits_of(fits), results, config,
                             highlight_sites=highlight_sites, jobs=jobs)
        for ref in refs:
            files = {path.name: path.read_bytes()
                     for path in sorted(Path(tmp).glob(f"{ref.name}.*"))}
            drawn.append((ref, files))
    return drawn


def write_figures(directory: Path, drawn: DrawnFigures) -> list[FigureRef]:
    """Write the files of :func:`draw_figures` into ``directory``; return the references."""
    directory.mkdir(parents=True, exist_ok=True)
    for _ref, files in drawn:
        for name, content in files.items():
            (directory / name).write_bytes(content)
    return [ref for ref, _files in drawn]


def map_prior_part_or_note(
    fits: FitsSource, config: RunConfig
) -> tuple[MapPriorParts | None, str | None, DrawnFigures]:
    """The MAP prior of the endpoints whose fits ``fits`` holds, with its figure per endpoint
    (the mixture against the predictive draws it approximates), or a note saying why there is
    none (:func:`~rechallenge.analysis.map_prior.export.map_prior_parts`).
    """
    loaded = fits_of(fits)
    try:
        parts = map_prior_parts(loaded, config)
    except ValueError as exc:  # e.g. too few draws to fit a mixture
        return None, f"No MAP prior was exported: {exc}.", []
    drawn: DrawnFigures = []
    mixtures, _info = parts
    with tempfile.TemporaryDirectory(prefix="rechallenge-figures-") as tmp:
        for endpoint, lines in mixtures.items():
            family = family_of(endpoint)
            draws = new_site_draws(loaded, endpoint, config.sampler.seed)
            panels = [(line, np.exp(draws[line]) if family.map_prior.log else draws[line],
                       entry["mixture"], entry.get("robust_mixture"))
                      for line, entry in lines.items()]
            name = f"map_prior_{endpoint}"
            paths = save_figure(plot_map_prior_lines(panels, title=family.label), Path(tmp), name)
            caption = (f"{family.label}: meta-analytic-predictive prior for a future study per "
                       f"line: the mixture (solid) and its robust version (dashed) against the "
                       f"predictive draws for a new site it approximates "
                       f"({config.interval.percent} bounds in the MAP prior table).")
            drawn.append((FigureRef(name, caption), {p.name: p.read_bytes() for p in paths}))
    return parts, None, drawn


def stage_outcome(
    recorded: Recorded, config: RunConfig
) -> tuple[FitStage, dict[str, bytes], TaskRecord, dict[str, dict[Hashable, Any]]]:
    """What the client takes of one fitting task (chained to it on its worker): the stage
    without its fits, the fits as the bytes of their files, where the fitting ran, and what was
    computed from each main fit (its derived draws, its importance weights); so that a fit
    crosses to the client once, as its file, and its derived draws are computed once (the fits
    stay on the worker for the figures and the MAP prior, which read the same draws).
    """
    stage: FitStage = recorded.value
    files = fit_files(stage.fits)
    computed = {}
    for endpoint in config.run_endpoints:
        main = stage.fits.get(fit_key(endpoint))
        if main is not None:
            family_of(endpoint).quantity_draws(main, config.sampler.seed)
            computed[fit_key(endpoint)] = kept_values(main)
    return replace(stage, fits={}), files, recorded.record, computed


def fit_files(fits: Mapping[str, az.InferenceData]) -> dict[str, bytes]:
    """Every fit as the bytes of its ``<key>.nc`` file (:func:`~rechallenge.analysis.run.fitio.save_fit`)."""
    files = {}
    with tempfile.TemporaryDirectory(prefix="rechallenge-fits-") as tmp:
        for key, idata in fits.items():
            path = save_fit(idata, Path(tmp) / f"{key}.nc", key=key)
            files[path.name] = path.read_bytes()
    return files

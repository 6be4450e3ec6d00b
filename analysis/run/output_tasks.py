"""The outputs stage's tasks that run on the engine: figures, the MAP prior, fit files.

Each returns what it made as bytes (figure files, netCDF files) or text (the MAP prior), and the
client process writes them into the run directory: a worker of a remote cluster need not see the
client's disk, and the run directory stays the client's to commit atomically.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import arviz as az

from rechallenge.analysis.map_prior.export import map_prior_record
from rechallenge.analysis.reporting.document import FigureRef
from rechallenge.analysis.reporting.run_figures import FigureJob, build_figures
from rechallenge.analysis.run.engine import Recorded
from rechallenge.analysis.run.fitio import save_fit
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.summaries.endpoint_results import EndpointResults
from rechallenge.data import Study

#: Figures drawn by one task: the references and each file's name and bytes.
DrawnFigures = list[tuple[FigureRef, dict[str, bytes]]]


def draw_figures(
    jobs: Sequence[FigureJob],
    study: Study,
    fits: Mapping[str, az.InferenceData],
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
        refs = build_figures(Path(tmp), study, fits, results, config,
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


def map_prior_or_note(
    study: Study, fits: Mapping[str, az.InferenceData], config: RunConfig
) -> tuple[str | None, str | None]:
    """The MAP prior's JSON, or a note saying why there is none."""
    try:
        return map_prior_record(study, fits, config), None
    except ValueError as exc:  # e.g. too few draws to fit a mixture
        return None, f"No MAP prior was exported: {exc}."


def stage_fit_files(recorded: Recorded) -> dict[str, bytes]:
    """:func:`fit_files` of the fits of one fitting task (chained to it on its worker)."""
    return fit_files(recorded.value.fits)


def fit_files(fits: Mapping[str, az.InferenceData]) -> dict[str, bytes]:
    """Every fit as the bytes of its ``<key>.nc`` file (:func:`~rechallenge.analysis.run.fitio.save_fit`)."""
    files = {}
    with tempfile.TemporaryDirectory(prefix="rechallenge-fits-") as tmp:
        for key, idata in fits.items():
            path = save_fit(idata, Path(tmp) / f"{key}.nc", key=key)
            files[path.name] = path.read_bytes()
    return files

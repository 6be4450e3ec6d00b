"""A run in memory: per endpoint its results as DataFrames, its fits, its figures on request.

:func:`load_run` reads a run directory; :func:`~rechallenge.analysis.run.pipeline.analyze`,
:func:`~rechallenge.analysis.run.pipeline.rebuild_report` and
:func:`~rechallenge.analysis.run.update.update_run` return the same object for the run they
wrote::

    run = load_run("runs/example")
    run["ttp"].summary            # the tidy summary behind tables/comparison_ttp.csv
    run["ttp"].plot_forest()      # the figure of figures/forest_ttp.png, as a Figure

The numbers are computed from the run's fits by the function the report's tables come from
(:func:`~rechallenge.analysis.summaries.endpoint_results.endpoint_results`, with the run's config
and seed), once per endpoint, on first use: they are the numbers of the run's tables. The figures
are drawn by :func:`~rechallenge.analysis.reporting.run_figures.draw_figure` from the same
inputs as the run's figures, with the same labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import arviz as az
import pandas as pd
from matplotlib.figure import Figure

from rechallenge.analysis.reporting.prose import contrast_label
from rechallenge.analysis.reporting.result_tables import diagnostics_tables
from rechallenge.analysis.reporting.run_figures import draw_figure, figure_jobs
from rechallenge.analysis.run.manifest import INPUT_PARTS, check_listed
from rechallenge.analysis.run.run_reader import Progress, read_run
from rechallenge.analysis.run.update_files import UPDATE_DIR, load_update
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import endpoint_order
from rechallenge.analysis.settings.fit_names import endpoint_of, fit_key, fit_order
from rechallenge.analysis.summaries.diagnostics import GateResult
from rechallenge.analysis.summaries.endpoint_results import EndpointResults, endpoint_results
from rechallenge.data import Study

#: The variant name of an endpoint's main fit in :attr:`EndpointRun.fits`.
MAIN = "main"
#: Quantities of a summary that compare lines but are no contrast of them: the correlation of
#: the site effects between two lines is a parameter of the hierarchy.
NOT_CONTRASTS = ("site_corr",)


def endpoint_figure(
    kind: str,
    endpoint: str,
    study: Study,
    fits: Mapping[str, az.InferenceData],
    results: Mapping[str, EndpointResults] | None,
    config: RunConfig,
    *,
    highlight_sites: Sequence[str] = (),
) -> Figure:
    """The ``kind`` figure (``"forest"``, ``"contrast"``, ``"survival"``, ``"ppc"``,
    ``"rank"``) of one endpoint, as the run draws it
    (:func:`~rechallenge.analysis.reporting.run_figures.draw_figure`).

    Raises
    ------
    ValueError
        The analysis has no such figure (a contrast needs two lines, a forest plot pooling, a
        survival plot patient rows), naming the figures it has.
    """
    jobs = [job for job in figure_jobs(study, fits, config)
            if job.endpoint == endpoint and job.variant is None]
    job = next((job for job in jobs if job.kind == kind), None)
    drawn = None if job is None else draw_figure(job, study, fits, results, config,
                                                 highlight_sites=highlight_sites)
    if drawn is None:
        raise ValueError(
            f"no {kind} figure of {endpoint} in this analysis (a contrast needs two lines, a "
            f"forest plot site pooling, a survival plot patient rows); its figures: "
            f"{', '.join(job.kind for job in jobs) or 'none'}")
    return drawn[0]


def contrast_rows(summary: pd.DataFrame, lines: Sequence[str]) -> pd.DataFrame:
    """The rows of a tidy summary that compare a later line with the first (``line`` is
    ``"<later> vs <first>"``): differences, ratios, odds and hazard ratios, P(later > first).
    """
    labels = {contrast_label(line, lines[0]) for line in lines[1:]}
    keep = summary["line"].isin(labels) & ~summary["quantity"].isin(NOT_CONTRASTS)
    return summary[keep].reset_index(drop=True)


class EndpointRun:
    """One endpoint of a :class:`Run`: its results, fits and figures.

    The results are computed on first use and kept; every table is a DataFrame, or ``None``
    where the run did not compute it (no comparators: no LOO; no sensitivity variants...).
    """

    def __init__(self, run: Run, endpoint: str) -> None:
        self.run = run
        self.endpoint = endpoint

    @cached_property
    def results(self) -> EndpointResults:
        """Everything the report computes for the endpoint
        (:func:`~rechallenge.analysis.summaries.endpoint_results.endpoint_results`).
        """
        return endpoint_results(self.endpoint, self.run.fits, self.run.config)

    @property
    def summary(self) -> pd.DataFrame:
        """The tidy summary of the main fit: one row per quantity and line."""
        return self.results.summary

    @property
    def sites(self) -> pd.DataFrame:
        """Per-site estimates beside the raw data (``tables/sites_<endpoint>.csv``)."""
        return self.results.sites

    @property
    def contrasts(self) -> pd.DataFrame:
        """The summary's rows that compare a later line with the first (:func:`contrast_rows`)."""
        return contrast_rows(self.summary, self.run.study.lines)

    @property
    def loo(self) -> pd.DataFrame | None:
        """PSIS-LOO comparison of the main model and its comparators."""
        return self.results.loo

    @property
    def leave_one_site_out(self) -> pd.DataFrame | None:
        """Leave-one-site-out PSIS of the main fit."""
        return self.results.loso

    @property
    def sensitivity(self) -> pd.DataFrame | None:
        """Headline quantities under the heterogeneity prior's scale halved and doubled."""
        return self.results.sensitivity

    @property
    def power_scaling(self) -> pd.DataFrame | None:
        """Power-scaling sensitivity of the top-level parameters."""
        return self.results.power_scaling

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        """Convergence diagnostics of every parameter of the endpoint's fits and of its derived
        quantities: its rows of ``tables/diagnostics.csv``.
        """
        return diagnostics_tables(self.fits_by_key, {self.endpoint: self.results})[0]

    @property
    def fits_by_key(self) -> dict[str, az.InferenceData]:
        """The endpoint's fits keyed as in the run (``"ttp"``, ``"ttp__none"``, ...), in the
        order of the run's tables.
        """
        keys = sorted((key for key in self.run.fits if endpoint_of(key) == self.endpoint),
                      key=fit_order)
        return {key: self.run.fits[key] for key in keys}

    @property
    def fits(self) -> dict[str, az.InferenceData]:
        """The endpoint's fits keyed by variant: ``"main"``, the comparators' pooling
        (``"complete"``, ``"none"``) and the refitted sensitivity variants (``"tau_half"``...).
        """
        return {(key.partition("__")[2] or MAIN): idata for key, idata in self.fits_by_key.items()}

    @property
    def fit(self) -> az.InferenceData:
        """The main fit."""
        return self.run.fits[fit_key(self.endpoint)]

    def figure(self, kind: str) -> Figure:
        """The run's ``kind`` figure of this endpoint (see :func:`endpoint_figure`)."""
        run = self.run
        results = {self.endpoint: self.results} if kind == "forest" else None
        return endpoint_figure(kind, self.endpoint, run.study, run.fits, results, run.config,
                               highlight_sites=run.new_sites)

    def plot_forest(self) -> Figure:
        """Sites and pooled rows per line (``figures/forest_<endpoint>``)."""
        return self.figure("forest")

    def plot_contrast(self) -> Figure:
        """The posterior of the later line against the first (``figures/contrast_<endpoint>``)."""
        return self.figure("contrast")

    def plot_survival(self) -> Figure:
        """Weibull survival over the Kaplan-Meier curves (time to progression only)."""
        return self.figure("survival")

    def __repr__(self) -> str:
        return (f"EndpointRun({self.endpoint!r} of {str(self.run.out)!r}, "
                f"fits={tuple(self.fits)})")


class Run(Mapping[str, EndpointRun]):
    """A run: its directory, config, study, fits, manifest and gate, and per endpoint an
    :class:`EndpointRun` (``run["ttp"]``).

    Parameters
    ----------
    out
        The run directory.
    config, study, fits, manifest
        The run's config, data, fits (keyed as in its ``fits/``) and manifest.
    gate
        The diagnostics gate's verdict.
    """

    def __init__(
        self,
        out: str | Path,
        *,
        config: RunConfig,
        study: Study,
        fits: Mapping[str, az.InferenceData],
        manifest: dict[str, Any],
        gate: GateResult,
    ) -> None:
        self.out = Path(out)
        self.config = config
        self.study = study
        self.fits = dict(fits)
        self.manifest = manifest
        self.gate = gate
        self._endpoints: dict[str, EndpointRun] = {}

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoints the run reports: configured, with a main fit, in registry order (as
        :func:`~rechallenge.analysis.summaries.endpoint_results.all_endpoint_results`).
        """
        return tuple(e for e in sorted(self.config.run_endpoints, key=endpoint_order)
                     if fit_key(e) in self.fits)

    @cached_property
    def new_sites(self) -> tuple[str, ...]:
        """The sites an update added (marked in its forest plots); empty for a plain run."""
        if not self.out.is_dir():
            return ()
        check_listed(self.out, self.manifest, [f"{UPDATE_DIR}/source.json"])
        update = load_update(self.out)
        return tuple(update[0]["new_sites"]) if update else ()

    def __getitem__(self, endpoint: str) -> EndpointRun:
        if endpoint not in self.endpoints:
            raise KeyError(f"{endpoint!r} is not an endpoint of the run {self.out}; its "
                           f"endpoints: {', '.join(self.endpoints)}")
        return self._endpoints.setdefault(endpoint, EndpointRun(self, endpoint))

    def __iter__(self) -> Iterator[str]:
        return iter(self.endpoints)

    def __len__(self) -> int:
        return len(self.endpoints)

    def __repr__(self) -> str:
        gate = "passed" if self.gate.passed else f"failed ({len(self.gate.failures)} failures)"
        return f"Run({str(self.out)!r}, endpoints={self.endpoints}, gate={gate!r})"


#: The gate of a run that recorded none: its outputs failed after its fits were saved.
NOT_RECORDED = GateResult(False, ("no verdict recorded: the run is incomplete (`rechallenge report "
                                  "RUN` finishes it)",))


def recorded_gate(manifest: Mapping[str, Any]) -> GateResult:
    """The gate's verdict as the run recorded it: passed, and its failures (the advice is not
    recorded); :data:`NOT_RECORDED` for a run that recorded none.
    """
    gate = manifest.get("gate")
    if not isinstance(gate, Mapping):
        return NOT_RECORDED
    return GateResult(bool(gate.get("passed")), tuple(str(f) for f in gate.get("failures", ())))


def load_run(
    run_dir: str | Path, *, check: tuple[str, ...] | None = INPUT_PARTS,
    progress: Progress | None = None,
) -> Run:
    """The run in ``run_dir``, checked as :func:`~rechallenge.analysis.run.run_reader.read_run`
    checks it (same arguments and errors).

    Raises
    ------
    RunDirectoryError
        Not a run, an invalid manifest, or files that do not match it (named).
    DataHashMismatch, ValueError
        A fit made from other data, or a fit file that holds another fit.
    """
    config, study, fits, manifest = read_run(run_dir, check=check, progress=progress)
    return Run(run_dir, config=config, study=study, fits=fits, manifest=manifest,
               gate=recorded_gate(manifest))

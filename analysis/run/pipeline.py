"""The main job: ``analyze`` (fit everything, then report) and ``rebuild_report`` (report only).

A run directory::

    RUN/
      config.toml       the resolved config: `rechallenge analyze --config RUN/config.toml` repeats it
      manifest.json     input hashes, config, seed, versions, gate verdict, timings per stage,
                        how each prior-sensitivity variant was obtained (reweighted or refitted),
                        the document time stamped on its Word files
      data/             the validated input rows the fits were made from
      fits/*.nc         InferenceData per fit made (sensitivity variants only where refitted),
                        with provenance attrs (data hash checked on load)
      tables/           CSV, Markdown and LaTeX
      figures/          PNG and PDF
      report.md, report.html

The whole directory is written atomically (see :mod:`rundir`).

The work runs on the engine (:mod:`rechallenge.analysis.run.engine`): a local Dask cluster for
the duration of the command, or the cluster of ``[engine] scheduler`` / ``--scheduler``. The
fits are tasks (:mod:`rechallenge.analysis.run.fit_tasks`), so are the figures, the MAP prior
and the fit files (:mod:`rechallenge.analysis.run.output_tasks`); this process computes the
summaries, writes the tables and the report, and commits the run directory. The manifest records
where each task ran (``engine``).

Both return the run as a :class:`~rechallenge.analysis.run.run_object.Run` (results per endpoint
in memory); :func:`~rechallenge.analysis.run.run_object.load_run` reads one back.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distributed import Client

from rechallenge.analysis.reporting.docx_files import document_time, run_time
from rechallenge.analysis.run.engine import (
    Engine,
    EngineSettings,
    engine_client,
    engine_description,
)
from rechallenge.analysis.run.fit_tasks import fit_all, submit_fits
from rechallenge.analysis.run.fitting import check_sensitivity_record
from rechallenge.analysis.run.inputs import input_file_hashes, read_inputs
from rechallenge.analysis.run.manifest import (
    MANIFEST,
    RUN_FORMAT,
    STATUS_COMPLETE,
    STATUS_INCOMPLETE,
    RunDirectoryError,
    check_listed,
    hash_tree,
    unlisted_files,
)
from rechallenge.analysis.run.outputs import build_outputs
from rechallenge.analysis.run.run_object import Run
from rechallenge.analysis.run.run_reader import AGGREGATES_COPY, PATIENTS_COPY, read_run
from rechallenge.analysis.run.rundir import atomic_run_directory, check_target, write_json
from rechallenge.analysis.run.update_files import UPDATE_DIR, UPDATE_FILES, UpdateRecord, write_update
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.fit_names import fit_key, fit_order
from rechallenge.analysis.summaries.diagnostics import GateResult
from rechallenge.data import Study
from rechallenge.models.fit_settings import package_versions, samplers_ran

Progress = Callable[[str], None]


class UnconvergedError(RuntimeError):
    """The diagnostics gate failed and the caller did not accept unconverged fits."""

    def __init__(self, gate: GateResult, out: Path) -> None:
        super().__init__(gate.message())
        self.gate = gate
        self.out = out


def stderr_progress(message: str) -> None:
    """Default progress reporter: a timestamped line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _write_data_copy(study: Study, staging: Path) -> None:
    (staging / "data").mkdir(parents=True, exist_ok=True)
    study.patients.to_csv(staging / PATIENTS_COPY, index=False, lineterminator="\n")
    study.aggregates.to_csv(staging / AGGREGATES_COPY, index=False, lineterminator="\n")


def analyze(
    config: RunConfig | None = None,
    out: str | Path = "runs/latest",
    *,
    overwrite: bool = False,
    allow_unconverged: bool = False,
    progress: Progress = stderr_progress,
    study: Study | None = None,
    update: UpdateRecord | None = None,
    protected: Sequence[str | Path] = (),
    engine: Engine = None,
) -> Run:
    """Fit every configured endpoint and write a complete run directory.

    Parameters
    ----------
    config
        The analysis; ``None`` is the default analysis of the shipped synthetic dataset.
    out
        Run directory to create.
    overwrite
        Replace an existing run directory (only once the new one is complete).
    allow_unconverged
        Keep a run whose diagnostics gate failed (the report says so on its first page). Without
        it such a run is still written, for inspection, and :class:`UnconvergedError` is raised.
    study
        The validated data, when the caller has them already (an update); otherwise read from
        the config.
    update
        An update's record (source, the earlier run's summary, the new sites' conflict
        check): written to ``update/`` and handed to the outputs in memory.
    protected
        More paths the run must not replace or contain (an update's earlier run).
    engine
        Where the tasks run (:data:`~rechallenge.analysis.run.engine.Engine`): an open client,
        the settings of a cluster to open, or ``None`` for the config's ``[engine]``.

    Returns
    -------
    Run
        The run written: its directory, gate and manifest, and per endpoint its results in
        memory (:class:`~rechallenge.analysis.run.run_object.Run`).
    """
    config = config or RunConfig()
    out = Path(out)
    inputs = [*config.data.patients, *config.data.aggregates, *protected]
    # Refuse an unsafe --out before anything is read or sampled; checked again at the commit.
    check_target(out, overwrite=overwrite, protected=inputs)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    progress("validating input data")
    if study is None:
        study, file_hashes = read_inputs(config)
    else:
        file_hashes = input_file_hashes(config)
    timings["load_data"] = time.perf_counter() - start
    when = run_time()
    manifest: dict[str, Any] = {
        "format": RUN_FORMAT,
        "synthetic_data": study.synthetic,
        "sources": list(study.sources),
        "input_hashes": {"study_rows": study.data_hash(), "files": file_hashes},
        "config": config.to_dict(),
        "seed": config.sampler.seed,
        "versions": package_versions(),
        "allow_unconverged": allow_unconverged,
        # The run's time (SOURCE_DATE_EPOCH when set, for the same bytes from the same run):
        # the title block's date and the Word files' times, read back by `report`.
        "document_time": when.isoformat(),
    }
    with atomic_run_directory(out, overwrite=overwrite, protected=inputs,
                              report=progress) as staging, engine_of(config, engine) as client:
        (staging / "config.toml").write_text(config.to_toml(), encoding="utf-8")
        _write_data_copy(study, staging)
        if update is not None:
            write_update(staging, update)
        start = time.perf_counter()
        futures = submit_fits(study, config, client)
        # Each task's fits are written to netCDF where they are, as soon as they are made, and
        # come here as those files; the fits stay on their workers for the figures and the MAP
        # prior (the tasks on each endpoint's fits are chained to the task that made them).
        stage = fit_all(study, config, client=client, progress=progress, futures=futures,
                        fits_dir=staging / "fits")
        # Per fit key: the main fits by endpoint, a model variant's (another distribution) by
        # its own key.
        sources = {fit_key(endpoint, group.variant): future for future, group in futures.items()
                   for endpoint in group.endpoints
                   if group.kind in ("main", "nested", "variant")}
        timings["fit_total"] = time.perf_counter() - start
        timings.update({f"fit:{k}": v for k, v in stage.timings.items()})
        # Summed over fits: build, compile, sample, prior, posterior_predictive, log_likelihood...
        timings.update({f"fit_step:{k}": v for k, v in stage.steps.items()})
        manifest["fits"] = sorted(stage.fits, key=fit_order)
        manifest["sensitivity"] = stage.sensitivity
        # The sampler each fit ran (backend "auto" resolves per model).
        manifest["samplers"] = samplers_ran(stage.fits)
        tasks = list(stage.tasks)
        manifest["engine"] = {**engine_description(client), "tasks": tasks}
        start = time.perf_counter()
        progress("saving fits; diagnostics, checks, tables, figures and report")
        try:
            gate = build_outputs(staging, study, stage.fits, config, client=client,
                                 allow_unconverged=allow_unconverged, task_records=tasks,
                                 when=when, update=update, sources=sources)
        except BaseException as exc:
            # Keep what was sampled: the fits are on disk, the run is marked resumable and
            # `rechallenge report` finishes it (atomic_run_directory keeps it).
            _write_manifest(staging, {**manifest, "status": STATUS_INCOMPLETE,
                                      "error": f"{type(exc).__name__}: {exc}"})
            raise
        timings["save_fits"] = sum(record["seconds"] for record in stage.tasks
                                   if record["task"].startswith("save_fits:"))
        timings["report"] = time.perf_counter() - start
        manifest["gate"] = {"passed": gate.passed, "failures": list(gate.failures),
                            "allowed_unconverged": allow_unconverged}
        manifest["timings_seconds"] = {k: round(v, 3) for k, v in timings.items()}
        _write_manifest(staging, {**manifest, "status": STATUS_COMPLETE})
    progress(f"run written to {out}")
    result = Run(out, config=config, study=study, fits=stage.fits, manifest=manifest, gate=gate)
    if not gate.passed and not allow_unconverged:
        raise UnconvergedError(gate, out)
    return result


@contextmanager
def engine_of(config: RunConfig, engine: Engine = None) -> Iterator[Client]:
    """A client of ``engine`` for the duration of the block; ``None`` is the config's engine.

    ``[engine] scheduler`` names an existing cluster; without it a local cluster is started
    (``[engine] workers`` processes, by default one per core).
    """
    default = EngineSettings(scheduler=config.engine.scheduler, workers=config.engine.workers)
    with engine_client(engine, default) as client:
        yield client


def _write_manifest(staging: Path, manifest: dict[str, Any]) -> None:
    """The manifest with the hash of every file the run wrote, written last."""
    write_json(staging / MANIFEST, {**manifest, "files": hash_tree(staging)})


def rebuild_report(
    run_dir: str | Path,
    *,
    allow_unconverged: bool | None = None,
    progress: Progress = stderr_progress,
    engine: Engine = None,
) -> Run:
    """Rebuild tables, figures and report of a run from its saved fits, without sampling.

    Also finishes a run whose outputs failed after its fits were saved (status ``incomplete``).
    Files a user added to the run are kept; a run whose own files changed is refused. The
    figures and the MAP prior run on ``engine``
    (:data:`~rechallenge.analysis.run.engine.Engine`), by default the run config's engine.
    Returns the rebuilt run (:class:`~rechallenge.analysis.run.run_object.Run`).
    """
    run_dir = Path(run_dir)
    progress(f"loading run {run_dir}")
    config, study, fits, manifest = read_run(run_dir, check=None, progress=progress)
    # The outputs read an updated run's update/ folder: only if the run wrote it.
    check_listed(run_dir, manifest, [f"{UPDATE_DIR}/{name}" for name in UPDATE_FILES])
    if "sensitivity" in manifest:  # runs made before variants were reweighted refitted them all
        check_sensitivity_record(manifest["sensitivity"], fits, config)
    try:  # the run's own time, so the rebuilt Word files are the bytes the run wrote
        when = document_time(manifest.get("document_time"))
    except (TypeError, ValueError) as exc:
        raise RunDirectoryError(f"{run_dir / MANIFEST}: document_time: {exc}") from None
    if allow_unconverged is None:
        allow_unconverged = bool(manifest.get("gate", {}).get(
            "allowed_unconverged", manifest.get("allow_unconverged", False)))
    kept = ["config.toml", "data", "fits", "update", *unlisted_files(run_dir, manifest)]
    with atomic_run_directory(run_dir, overwrite=True, keeps_unlisted=True) as staging, \
            engine_of(config, engine) as client:
        for keep in kept:
            src = run_dir / keep
            if not src.exists():
                continue
            (staging / keep).parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, staging / keep)
            else:
                shutil.copy2(src, staging / keep)
        progress("diagnostics, checks, tables, figures and report")
        start = time.perf_counter()
        gate = build_outputs(staging, study, fits, config, allow_unconverged=allow_unconverged,
                             client=client, when=when)
        manifest.pop("error", None)
        manifest["gate"] = {"passed": gate.passed, "failures": list(gate.failures),
                            "allowed_unconverged": allow_unconverged}
        manifest.setdefault("timings_seconds", {})["report_rebuild"] = round(
            time.perf_counter() - start, 3)
        manifest = {**manifest, "format": RUN_FORMAT, "status": STATUS_COMPLETE,
                    "document_time": when.isoformat()}
        _write_manifest(staging, manifest)
    return Run(run_dir, config=config, study=study, fits=fits, manifest=manifest, gate=gate)

"""The fitting stage as Dask tasks: one task per model structure, with every fit of it.

Compiling a model structure for nutpie takes seconds and one core; each fit then samples in well
under a second on the shipped data. So the unit of work is a :class:`FitGroup` (one structure
and all its fits): its task compiles once, in the worker that runs it, and fits the group there
(the worker keeps the compilation, so a later run on the same cluster only samples). Tasks are
independent; Dask hands them to idle workers. The number of tasks is the number of structures
(2 for the default analysis of a small study, 6 without nesting), so no cost table is needed:
with as many workers as tasks every structure is compiled in parallel, with fewer the scheduler
queues them. Groups are dealt to workers in turn, as a loose preference, so that a second run on
the same client reuses the compilations its workers hold.

A fit's draws depend on its seed only, never on the worker or the order in which tasks finish:
the fits are put back in the canonical order before anything reads them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from distributed import Client, Future

from rechallenge.analysis.run.engine import (
    LineStream,
    Recorded,
    TaskProgress,
    gather_as_completed,
    run_recorded,
    task_key,
)
from rechallenge.analysis.run.family_tasks import run_families, with_families
from rechallenge.analysis.run.fitio import load_fit
from rechallenge.analysis.run.fitting import FitGroup, FitStage, canonical_order, fit_group, fit_groups
from rechallenge.analysis.run.output_tasks import stage_outcome
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.summaries.computed_once import keep_values
from rechallenge.analysis.summaries.prior_reweighting import sensitivity_scales
from rechallenge.data import Study

Progress = Callable[[str], None]


def submit_fits(study: Study, config: RunConfig, client: Client) -> dict[Future, FitGroup]:
    """Submit one task per model structure; its result is a :class:`Recorded` :class:`FitStage`."""
    groups = fit_groups(study, config)
    families = run_families(config)
    # Sent once, not once per task.
    [study_future] = client.scatter([study], hash=False)
    # The groups are dealt to the workers in turn, the same way every run on this client: a
    # repeated run finds each structure compiled where it went before (the cache is per worker).
    # A loose preference only: a busy or lost worker's group may run elsewhere.
    workers = sorted(client.scheduler_info().get("workers", {}))
    return {
        client.submit(run_recorded, f"fit:{group.name}", with_families, families, fit_group,
                      study_future, config, group,
                      key=task_key(f"fit-{group.name}"), pure=False,
                      workers=[workers[i % len(workers)]] if workers else None,
                      allow_other_workers=True): group
        for i, group in enumerate(groups)
    }


def fit_all(
    study: Study,
    config: RunConfig,
    *,
    client: Client,
    progress: Progress,
    task_progress: TaskProgress | None = None,
    futures: dict[Future, FitGroup] | None = None,
    fits_dir: Path | None = None,
) -> FitStage:
    """Fit every configured endpoint on the engine; return the fits, timings and task records.

    Parameters
    ----------
    study, config
        The run's data and config.
    client
        The engine (:func:`rechallenge.analysis.run.engine.open_client`).
    progress
        Called with a line of text as the work goes on.
    task_progress
        Counts finished tasks; by default a :class:`TaskProgress` writing to ``progress``.
    futures
        The tasks, if already submitted (:func:`submit_fits`), e.g. to chain other tasks to
        them on the workers that hold their fits.
    fits_dir
        Where the fit files go (a run's ``fits/``); ``None``: a temporary directory. Each fit
        comes to this process once, as the bytes of its file, written there and read back; the
        fits themselves stay on their workers for the tasks chained to the fitting tasks.

    Returns
    -------
    FitStage
        Fits in canonical order (endpoint by endpoint); ``tasks`` says where each group ran and
        ``sensitivity`` how each prior-sensitivity variant was obtained.
    """
    futures = submit_fits(study, config, client) if futures is None else futures
    groups = list(futures.values())
    refits = " (and the sensitivity refits whose Pareto k is too high)" if sensitivity_scales(
        config) else ""
    progress(f"fitting {sum(g.n_fits(config) for g in groups)} models{refits} of {len(groups)} "
             f"structure(s) as {len(groups)} task(s)")
    if task_progress is None:
        task_progress = TaskProgress(len(groups), "fit tasks", stream=LineStream(progress))
    stage = FitStage()
    files: dict[str, bytes] = {}
    families = run_families(config)
    outcomes = {client.submit(run_recorded, f"save_fits:{group.name}", with_families, families,
                              stage_outcome, future, config,
                              key=task_key(f"save_fits-{group.name}"), pure=False): group
                for future, group in futures.items()}
    computed: dict[str, dict] = {}

    def collect(_future: object, recorded: Recorded) -> None:
        part, part_files, fit_record, part_computed = recorded.value
        computed.update(part_computed)
        for message in part.messages:
            progress(message)
        files.update(part_files)
        stage.timings.update(part.timings)
        stage.add_steps(part.steps)
        stage.sensitivity.update(part.sensitivity)
        stage.tasks += [fit_record.to_dict(), recorded.record.to_dict()]

    gather_as_completed(outcomes, on_result=collect, progress=task_progress)
    with ExitStack() as stack:
        if fits_dir is None:
            fits_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="rechallenge-fits-")))
        fits_dir.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (fits_dir / name).write_bytes(content)
        for name in files:
            key = name.removesuffix(".nc")
            fit = load_fit(fits_dir / name, expected_key=key)
            # Read whole now: the run directory is renamed when it is committed, and a fit
            # still backed by its file would then look for it at the staging path.
            for group in fit.groups():
                fit[group].load()
            stage.fits[key] = fit
            keep_values(stage.fits[key], computed.get(key, {}))
    ordered = canonical_order(stage, config)
    ordered.tasks = sorted(stage.tasks, key=lambda record: record["task"])
    return ordered

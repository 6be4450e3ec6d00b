"""Run a simulation study on the engine: ``simulate("sbc" | "coverage" | "precision", ...)``.

Every simulation is a Dask task (:func:`rechallenge.analysis.simulation.tasks.run_task`); its
record is written to ``DIR/results/`` the moment it comes back, so a killed study resumes with
``resume=True`` and repeats none of the finished simulations. ``DIR/spec.json`` fixes what the
study is (kind, seed, families, options, priors, true values); a resumed study must match it
(only the number of simulations may grow). When every simulation is in, the tables, figures,
report and manifest are written (:mod:`rechallenge.analysis.simulation.outputs`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rechallenge.analysis.families import family_of, simulators
from rechallenge.analysis.run.engine import (
    Engine,
    EngineSettings,
    TaskProgress,
    engine_client,
    gather_as_completed,
)
from rechallenge.analysis.run.inputs import load_inputs
from rechallenge.analysis.run.run_nesting import check_outside_runs
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import FamilySimulator, endpoint_order
from rechallenge.analysis.settings.family_hooks import DrawsWholeStudies, ReadsSharedPriors
from rechallenge.analysis.settings.json_files import read_json
from rechallenge.analysis.settings.simulation_limits import size_problems
from rechallenge.analysis.simulation.design import SimulationDesign
from rechallenge.analysis.simulation.generators import (
    Hyper,
    ModelOptions,
)
from rechallenge.analysis.simulation.outputs import StudyOutputs, write_outputs
from rechallenge.analysis.simulation.records import (
    finished_names,
    read_records,
    record_name,
    write_json_atomic,
    write_record,
)
from rechallenge.analysis.simulation.tasks import SimulationTask, run_pilot, run_task, task_entropy
from rechallenge.analysis.simulation.truths import checked_truth, with_effect, with_tau
from rechallenge.models.priors import Priors

KINDS = ("sbc", "coverage", "precision")
#: Simulations per family (per design cell for precision) when none is given.
DEFAULT_SIMS = {"sbc": 200, "coverage": 200, "precision": 50}
def default_effects() -> dict[str, float]:
    """Assumed true ICI-2 vs ICI-1 effect of precision studies, per model: its simulator's
    ``default_effect`` (binary: log odds ratio 0.8; TTP: log time ratio 0.4; of the typical site).
    A model with SBC only (:class:`DrawsWholeStudies`, the joint model) has none.
    """
    return {key: simulator.default_effect for key, simulator in simulators().items()
            if not isinstance(simulator, DrawsWholeStudies)}


def resolved_effects(recorded: Mapping[str, float], given: Mapping[str, float],
                     models: Mapping[str, FamilySimulator]) -> dict[str, float]:
    """The effects of a study: those ``given``, else each simulated model's ``default_effect``
    (for the families of ``models`` that have precision studies), else the ``recorded``
    defaults.
    """
    own = {f: model.default_effect for f, model in models.items()
           if f not in given and not isinstance(model, DrawsWholeStudies)}
    return {**recorded, **own, **given}


SPEC_FILE, TRUTH_FILE = "spec.json", "truth.json"


class SimulationExistsError(FileExistsError):
    """The output directory holds another study, or this one without ``resume``."""


@dataclass(frozen=True)
class StudySpec:
    """What a simulation study is; stored as ``spec.json`` and checked on resume."""

    kind: str
    seed: int
    families: tuple[str, ...]
    thin: int = 99
    k_sites: tuple[int, ...] = (0, 5, 10)
    n_patients: tuple[int, ...] = (5, 10)
    effects: Mapping[str, float] = field(default_factory=default_effects)
    fit_priors: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    tau_grid: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples as lists)."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        # Studies stored before the tau grid existed have no such key: without a grid it is
        # left out, so they still resume.
        if not data["tau_grid"]:
            del data["tau_grid"]
        return data

    def cells(self) -> list[dict[str, float]]:
        """The study's design cells.

        One per (K, n) for precision, one per tau of the grid for a coverage profile, else a
        single empty cell.
        """
        if self.kind == "precision":
            return [{"k_sites": k, "n_patients": n} for k in self.k_sites for n in self.n_patients]
        return [{"tau": t} for t in self.tau_grid] or [{}]


@dataclass
class SimulationResult:
    """A finished study: where it is, its tables and its manifest."""

    out: Path
    tables: dict[str, Any]
    manifest: dict[str, Any]


def simulate(
    kind: str,
    *,
    out: str | Path,
    config: RunConfig | None = None,
    n_sims: int | None = None,
    seed: int | None = None,
    families: Sequence[str] | None = None,
    engine: Engine = None,
    resume: bool = False,
    truth: Mapping[str, Hyper] | str | Path | None = None,
    fit_priors: Mapping[str, Mapping[str, float]] | None = None,
    thin: int = 99,
    k_sites: Sequence[int] = (0, 5, 10),
    n_patients: Sequence[int] = (5, 10),
    effects: Mapping[str, float] | None = None,
    tau_grid: Sequence[float] = (),
    progress: bool = True,
) -> SimulationResult:
    """Run (or resume) a simulation study and write its outputs to ``out``.

    Parameters
    ----------
    kind
        ``"sbc"`` (simulation-based calibration), ``"coverage"`` (interval coverage at fixed true
        values) or ``"precision"`` (interval widths and exclusion probability as sites join).
    out
        Output directory; created. An existing study there is resumed only with ``resume``.
    config
        The analysis config: data (the design), endpoints (families), pooling, patient effect,
        shared shape, priors, sampler settings and interval. Default: the shipped data.
    n_sims
        Simulations per family (per design cell for precision); default :data:`DEFAULT_SIMS`.
    seed
        Master seed; default the config's sampler seed.
    families
        Subset of ``("binary", "ttp", "joint")``; default every family the config's endpoints
        use (``"joint"`` when ``[benefit_risk]`` enables the joint model; SBC only).
    engine
        Where the tasks run (:data:`~rechallenge.analysis.run.engine.Engine`): an open client,
        the settings of a cluster to open, or ``None`` for a local cluster.
    resume
        Continue the study in ``out``, skipping finished simulations.
    truth
        Fixed true hyperparameters per family for coverage and precision studies (as in
        ``truth.json``), or the path of such a JSON file; default the posterior medians of a fit
        of the config's data. Checked before anything runs or is written: every problem is
        reported at once.
    fit_priors
        Prior overrides per family used for fitting only (to inject a mismatch on purpose).
    thin
        Posterior draws kept for SBC ranks (ranks lie in ``0..thin``).
    k_sites, n_patients
        Precision studies: new sites added and patients per new site (every combination).
    effects
        Precision studies: assumed ICI-2 vs ICI-1 effect per family; a family not given takes
        its simulated model's ``default_effect`` (the time-to-progression model's depends on its
        distribution: a log time ratio of 0.4, or a log hazard ratio of -0.4).
    tau_grid
        Coverage studies: repeat the study at each of these true between-site SDs (the same at
        every line; the other true values as in ``truth``), for a coverage profile against tau.
    progress
        Show finished/total simulations with an ETA on standard error.

    Raises
    ------
    SimulationExistsError
        ``out`` holds a study and ``resume`` is not set, or holds a different study.
    ValueError
        Unknown kind or family, covariates or no pooling in the config, counts outside their
        limits (:mod:`~rechallenge.analysis.settings.simulation_limits`, every problem at once),
        true values that are unusable or implausible.
    """
    config = config or RunConfig()
    if kind not in KINDS:
        raise ValueError(f"unknown simulation study {kind!r}; choose from {KINDS}")
    if config.analysis.covariates:
        raise ValueError("simulation studies do not simulate covariates; remove them from the "
                         "config's [analysis] covariates")
    n_sims = DEFAULT_SIMS[kind] if n_sims is None else int(n_sims)
    if tau_grid and kind != "coverage":
        raise ValueError(f"a tau grid needs a coverage study, got {kind!r} and {list(tau_grid)}")
    chosen = _families(config, families, kind)
    # Every size the user controls, before anything is read, started or written.
    problems = size_problems(
        kind, n_sims, int(thin), config.sampler.chains * config.sampler.draws, len(chosen),
        [int(k) for k in k_sites], [int(n) for n in n_patients], [float(t) for t in tau_grid],
        None if seed is None else int(seed), effects,
        engine.workers if isinstance(engine, EngineSettings) and not engine.scheduler else None)
    if problems:
        raise ValueError(f"{len(problems)} problem(s) with the study's options:\n"
                         + "\n".join(f"  - {p}" for p in problems))
    spec = StudySpec(kind, int(config.sampler.seed if seed is None else seed), chosen, int(thin),
                     tuple(int(k) for k in k_sites), tuple(int(n) for n in n_patients),
                     {**default_effects(), **(effects or {})},
                     {k: dict(v) for k, v in (fit_priors or {}).items()},
                     tuple(float(t) for t in tau_grid))
    out = Path(out)
    # An earlier analysis run, or the run a data file belongs to, is never written into.
    check_outside_runs(out, reads=[*config.data.patients, *config.data.aggregates,
                                   *([truth] if isinstance(truth, (str, Path)) else [])])
    # Everything the user gave is read and checked before the output directory is touched.
    study = load_inputs(config)
    endpoints = {f: _endpoint(config, f) for f in spec.families}
    designs = {f: SimulationDesign.from_study(study, endpoints[f]) for f in spec.families}
    # The model each family simulates and refits (time to progression: the config's main
    # survival distribution, a piecewise exponential's cut points fixed from the data).
    models = {f: family_of(endpoints[f]).simulator_for(config, study) for f in spec.families}
    # An effect not given is the simulated model's own default: a longer time to progression at
    # ICI-2 is +0.4 on a log time scale but -0.4 on a log hazard scale (Gompertz, piecewise).
    spec = replace(spec, effects=resolved_effects(spec.effects, effects or {}, models))
    options = ModelOptions(config.analysis.pooling, config.analysis.patient_effect,
                           config.analysis.shared_shape)
    if truth is not None:
        truth = checked_truth(truth, spec.families, options, tuple(study.lines), models)
    _prepare(out, spec, config, resume)
    sim_priors = {f: _priors(config, f, models[f]) for f in spec.families}
    started = time.perf_counter()
    with engine_client(engine) as client:
        truths = None
        if kind != "sbc":
            truths = _truths(out, client, truth, study, spec, endpoints, options, sim_priors,
                             config, models)
        tasks = _tasks(spec, n_sims, designs, endpoints, options, sim_priors, truths, config,
                       models)
        done = finished_names(out)
        todo = [t for t in tasks if t.name not in done]
        workers = len(client.scheduler_info()["workers"])
        gather_start = time.perf_counter()
        # Keys carry the invocation's id, so a long-lived scheduler never confuses two studies.
        futures = [client.submit(run_task, t, key=f"{t.name}-{t.run_id}", pure=False)
                   for t in todo]
        gather_as_completed(
            futures, on_result=lambda _f, record: write_record(out, record),
            progress=TaskProgress(len(todo), "simulations") if progress and todo else None)
        gather_seconds = time.perf_counter() - gather_start
    records = list(read_records(out, [t.name for t in tasks]))
    run = {"ran_now": len(todo), "skipped_finished": len(tasks) - len(todo), "workers": workers,
           "wall_seconds": time.perf_counter() - started, "simulation_seconds": gather_seconds}
    outputs = StudyOutputs(kind=kind, spec=spec.to_dict(), config=config,
                           designs={f: d.summary() for f, d in designs.items()},
                           endpoints=endpoints, n_sims=n_sims, truths=truths, run=run,
                           out=out)
    tables, manifest = write_outputs(out, outputs, records)
    return SimulationResult(out, tables, manifest)


def _families(config: RunConfig, families: Sequence[str] | None, kind: str) -> tuple[str, ...]:
    configured = sorted(config.run_endpoints, key=endpoint_order)
    available = list(dict.fromkeys(family_of(e).simulator.key for e in configured))
    known = simulators()
    sbc_only = [f for f in known if isinstance(known[f], DrawsWholeStudies)]
    if families is None and kind != "sbc":  # the joint model, enabled, is left out
        available = [f for f in available if f not in sbc_only]
    chosen = tuple(available if families is None else families)
    unknown = [f for f in chosen if f not in known]
    if unknown:
        raise ValueError(f"unknown model family {unknown}; choose from {tuple(known)}")
    missing = [f for f in chosen if f not in available]
    if kind != "sbc" and any(f in sbc_only for f in chosen):
        raise ValueError(f"the {', '.join(f for f in chosen if f in sbc_only)} model has "
                         f"simulation-based calibration only (sbc), not {kind} studies")
    if missing or not chosen:
        raise ValueError(f"families {list(chosen)} need their endpoints in the config "
                         f"(endpoints {list(config.run_endpoints)}; the joint model needs "
                         "[benefit_risk] enabled = true)")
    return chosen


def _endpoint(config: RunConfig, family: str) -> str:
    """The endpoint whose design the family simulates (its first configured endpoint; the
    joint model's is ``benefit_risk``: the patient rows with both of its outcomes).
    """
    return next(e for e in sorted(config.run_endpoints, key=endpoint_order)
                if family_of(e).simulator.key == family)


def _priors(config: RunConfig, family: str, simulator: FamilySimulator) -> dict[str, float]:
    """The prior values of ``simulator``'s model with the config's overrides that belong to it
    (``[priors.ttp]`` holds every survival distribution's).
    """
    model = family_of(_endpoint(config, family))
    defaults = model.prior_defaults(simulator.prior_options)
    given = (model.priors(config) if isinstance(model, ReadsSharedPriors)
             else config.priors.get(model.priors_section, {}))
    overrides = {k: v for k, v in given.items() if k in defaults}
    return Priors(defaults, overrides, model=family).to_dict()


def _prepare(out: Path, spec: StudySpec, config: RunConfig, resume: bool) -> None:
    """Create ``out`` with its spec, or check that it holds this study (when resuming)."""
    stored = {"spec": {k: v for k, v in spec.to_dict().items()}, "config": config.to_dict()}
    path = out / SPEC_FILE
    if path.is_file():
        if not resume:
            raise SimulationExistsError(f"{out} holds a simulation study; pass --resume to "
                                        "continue it or choose another --out")
        previous = read_json(path)
        if previous != json.loads(json.dumps(stored)):
            raise SimulationExistsError(
                f"{out} holds a different study (kind, seed, families, options, priors or "
                "config differ); only the number of simulations may change on --resume")
        return
    if out.exists() and any(out.iterdir()):
        raise SimulationExistsError(f"{out} exists and is not a simulation study; choose an "
                                    "empty or new directory")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, stored)


def _truths(
    out: Path, client: Any, truth: Mapping[str, Hyper] | None, study: Any, spec: StudySpec,
    endpoints: Mapping[str, str], options: ModelOptions,
    priors: Mapping[str, Mapping[str, float]], config: RunConfig,
    models: Mapping[str, FamilySimulator],
) -> dict[str, Hyper]:
    """True hyperparameters per family: ``truth.json`` if there, else given, else a pilot fit."""
    path = out / TRUTH_FILE
    if path.is_file():
        return read_json(path)
    if truth is not None:  # already checked and cut to the study's families
        truths = dict(truth)
        source = "given"
    else:
        futures = {f: client.submit(run_pilot, study, models[f], endpoints[f], options, priors[f],
                                    config.sampler, pure=False) for f in spec.families}
        truths = {f: future.result() for f, future in futures.items()}
        source = "posterior medians of a fit of the study's data"
    record: dict[str, Any] = {**truths, "_source": source}
    write_json_atomic(path, record)
    return record


def _tasks(
    spec: StudySpec, n_sims: int, designs: Mapping[str, SimulationDesign],
    endpoints: Mapping[str, str], options: ModelOptions,
    sim_priors: Mapping[str, Mapping[str, float]], truths: Mapping[str, Any] | None,
    config: RunConfig, models: Mapping[str, FamilySimulator],
) -> list[SimulationTask]:
    run_id = uuid.uuid4().hex[:12]
    tasks = []
    for family in spec.families:
        fit_priors = {**sim_priors[family], **spec.fit_priors.get(family, {})}
        for cell in spec.cells():
            design, truth = designs[family], None if truths is None else truths[family]
            if "k_sites" in cell:
                design = design.expanded(int(cell["k_sites"]), int(cell["n_patients"]))
                assert truth is not None, "a precision study has true values"
                truth = with_effect(models[family], truth, spec.effects[family])
            if "tau" in cell:
                assert truth is not None, "a coverage study has true values"
                truth = with_tau(truth, cell["tau"])
            label = cell_label(cell)
            for index in range(n_sims):
                tasks.append(SimulationTask(
                    name=record_name(spec.kind, family, index, label), kind=spec.kind,
                    family=family, index=index,
                    entropy=task_entropy(spec.seed, spec.kind, family, index, label),
                    design=design, endpoint=endpoints[family], options=options,
                    sim_priors=sim_priors[family], fit_priors=fit_priors, sampler=config.sampler,
                    interval=config.interval, thin=spec.thin, truth=truth, cell=cell,
                    run_id=run_id, simulator=models[family]))
    # Submitted index by index across families and cells, so an interrupted study has about as
    # many finished simulations of each (the numbers do not depend on the order).
    return sorted(tasks, key=lambda t: (t.index, t.family, t.name))


def cell_label(cell: Mapping[str, float]) -> str:
    """Record-name part of a design cell: ``k5-n10`` (precision), ``tau0.5`` (profile) or ``""``."""
    if "k_sites" in cell:
        return f"k{int(cell['k_sites'])}-n{int(cell['n_patients'])}"
    if "tau" in cell:
        return f"tau{cell['tau']:g}"
    return ""

"""Shared test fixtures. Every seed in the suite comes from SEED."""

from __future__ import annotations

import os
from pathlib import Path

# Keep BLAS single-threaded: sampling already uses both cores through chains.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Runs made by the tests (and the commands they start) record 1980-01-01 as their time, so two
# runs of the same study write the same bytes (the reproducible-builds convention).
os.environ.setdefault("SOURCE_DATE_EPOCH", "315532800")

SEED = 20230105


import arviz as az  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# The built-in endpoint families register on import; tests call the reporting and summary
# layers directly, which look families up by endpoint.
import rechallenge.analysis.families  # noqa: E402, F401


def small_config(**analysis: object):
    """A cheap analysis of the shipped data: response and TTP, 2 chains x 150 draws.

    Not meant to converge; runs built from it are accepted with ``allow_unconverged``.
    """
    from dataclasses import replace

    from rechallenge.analysis.settings.config import AnalysisConfig, RunConfig

    base = RunConfig(analysis=replace(AnalysisConfig(), endpoints=("response", "ttp"), **analysis))
    return base.with_sampler(draws=150, tune=150, chains=2, seed=SEED)


@pytest.fixture(scope="session")
def engine():
    """One local Dask cluster (two worker processes on 127.0.0.1) for the whole session.

    Every test that runs ``analyze``, ``rebuild_report``, ``update_run`` or ``simulate`` from
    Python passes it as ``engine=``, so the session starts one cluster instead of one per call
    and the workers' compiled models are reused across tests. Results do not depend on the
    layout (tests/test_pipeline.py and tests/test_simulation_cluster.py compare layouts).
    """
    from rechallenge.analysis.run.engine import EngineSettings, open_client

    with open_client(EngineSettings(workers=2)) as client:
        yield client


@pytest.fixture(scope="session")
def small_analysis(tmp_path_factory: pytest.TempPathFactory, engine):
    """One small run (with comparators and sensitivity refits), shared by the slower tests: the
    :class:`~rechallenge.analysis.run.run_object.Run` that ``analyze`` returned.
    """
    from rechallenge.analysis.run.pipeline import analyze

    out = tmp_path_factory.mktemp("runs") / "small"
    messages: list[str] = []
    run = analyze(small_config(), out, allow_unconverged=True, progress=messages.append,
                  engine=engine)
    # What the console would have shown, beside (not inside) the run.
    (out.parent / "progress.txt").write_text("\n".join(messages) + "\n")
    return run


@pytest.fixture(scope="session")
def small_run(small_analysis) -> Path:
    """The directory of the session's small run (:func:`small_analysis`)."""
    return small_analysis.out


def assert_posteriors_agree(a: az.InferenceData, b: az.InferenceData, names: list[str], k: float = 4.0) -> None:
    """Posterior means agree within k combined Monte Carlo standard errors, per element."""
    for name in names:
        ma, mb = a.posterior[name].mean(("chain", "draw")), b.posterior[name].mean(("chain", "draw"))
        sa, sb = az.mcse(a.posterior[[name]])[name], az.mcse(b.posterior[[name]])[name]
        z = np.abs(ma - mb) / np.sqrt(sa**2 + sb**2)
        assert float(z.max()) < k, (name, float(z.max()))

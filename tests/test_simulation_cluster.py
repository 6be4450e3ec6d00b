"""A real Dask cluster: scheduler and two workers started with the ``dask`` command line on
127.0.0.1 (random ports), then stopped. Both workers take part; one local worker gives the same
numbers; a study killed half-way resumes without repeating a finished simulation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SEED
from distributed import Client

from rechallenge.analysis.run.engine import EngineSettings
from rechallenge.analysis.settings.config import AnalysisConfig, RunConfig
from rechallenge.analysis.simulation import simulate
from rechallenge.analysis.simulation.records import read_records

pytestmark = pytest.mark.integration

DASK = str(Path(sys.executable).with_name("dask"))
#: True values of the binary model, so coverage studies need no pilot fit.
TRUTH = {"binary": {"mu": [-1.2, -1.1], "tau": [0.3, 0.5], "corr": [[1.0, 0.0], [0.0, 1.0]]}}
CONFIG_TOML = f"""
[analysis]
endpoints = ["response"]
[sampler]
chains = 2
draws = 200
tune = 200
seed = {SEED}
"""


def small_config() -> RunConfig:
    base = RunConfig(analysis=replace(AnalysisConfig(), endpoints=("response",)))
    return base.with_sampler(draws=200, tune=200, chains=2, seed=SEED)


def _start(args: list[str], log: Path) -> subprocess.Popen:
    # Own session: the test stops exactly the processes it started, by their group id.
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a scheduler with two single-threaded workers."""
    tmp = tmp_path_factory.mktemp("cluster")
    file = tmp / "scheduler.json"
    processes = [_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                         "--no-dashboard", "--scheduler-file", str(file)], tmp / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not file.is_file():
            assert time.monotonic() < deadline, (tmp / "scheduler.log").read_text()
            time.sleep(0.2)
        for i in range(2):
            processes.append(_start([DASK, "worker", "--scheduler-file", str(file), "--nthreads",
                                     "1", "--host", "127.0.0.1", "--no-dashboard"],
                                    tmp / f"worker{i}.log"))
        address = json.loads(file.read_text())["address"]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


def _values(out: Path) -> dict[str, object]:
    return {r["name"]: (r["truth"], r["quantities"]) for r in read_records(out)}


def test_both_workers_take_part_and_one_worker_gives_the_same_numbers(
    scheduler: str, tmp_path: Path
) -> None:
    common = {"config": small_config(), "n_sims": 8, "truth": TRUTH, "progress": False}
    two = simulate("coverage", out=tmp_path / "two", engine=EngineSettings(scheduler=scheduler),
                   **common)
    records = list(read_records(two.out))
    assert len(records) == 8 and not any(r["error"] for r in records)
    assert len({r["worker"] for r in records}) == 2
    one = simulate("coverage", out=tmp_path / "one", engine=EngineSettings(workers=1), **common)
    assert len({r["worker"] for r in read_records(one.out)}) == 1
    assert _values(two.out) == _values(one.out)
    assert two.tables["coverage"].equals(one.tables["coverage"])


def test_a_killed_study_resumes_without_repeating_finished_simulations(
    scheduler: str, tmp_path: Path
) -> None:
    config, out, total = tmp_path / "config.toml", tmp_path / "study", 24
    config.write_text(CONFIG_TOML)
    command = [str(Path(sys.executable).with_name("rechallenge")), "simulate", "sbc", "--config",
               str(config), "--out", str(out), "--scheduler", scheduler, "--n-sims", str(total),
               "--thin", "19", "--quiet"]
    process = _start(command, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 300
        while len(list((out / "results").glob("*.json"))) < 3:
            assert process.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    before = {p.name: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert 3 <= len(before) < total, "the study finished before it could be killed"
    assert not (out / "manifest.json").exists()

    result = simulate("sbc", out=out, config=small_config(), n_sims=total, thin=19,
                      engine=EngineSettings(scheduler=scheduler), resume=True, progress=False)
    after = {p.name: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert len(after) == total
    assert all(after[name] == content for name, content in before.items())
    run = result.manifest["this_invocation"]
    assert run["ran_now"] == total - len(before) and run["skipped_finished"] == len(before)
    old_runs = {json.loads(c)["run_id"] for c in before.values()}
    new = [r for r in read_records(out) if r["run_id"] not in old_runs]
    assert len(new) == total - len(before)

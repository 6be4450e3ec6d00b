"""``rechallenge analyze --scheduler`` on a real Dask cluster: the session's cluster (a scheduler
and two worker processes on 127.0.0.1, :func:`conftest.engine`), reached from a command-line
process by its address, as a user reaches a cluster started with ``dask scheduler`` and
``dask worker``.

The run must use both workers (its manifest records where each task ran) and write the same
files as the session's run made from Python (``small_run``): another entry point and another
client process give the same bytes. Sharing the session's cluster keeps the suite to one
cluster (its workers have compiled the models already).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED
from distributed import Client

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


@pytest.fixture
def cluster(engine: Client) -> tuple[str, list[str]]:
    """The session cluster's scheduler address and its workers."""
    return engine.scheduler.address, sorted(engine.scheduler_info()["workers"])


def test_analyze_on_a_two_worker_cluster_uses_both_and_equals_a_local_run(
        cluster: tuple[str, list[str]], small_run: Path, tmp_path: Path) -> None:
    address, workers = cluster
    # The settings of conftest.small_config, as a config file.
    config = tmp_path / "small.toml"
    config.write_text(
        '[analysis]\nendpoints = ["response", "ttp"]\n'
        f"[sampler]\ndraws = 150\ntune = 150\nchains = 2\nseed = {SEED}\n", encoding="utf-8")
    out = tmp_path / "remote"
    done = subprocess.run(
        [str(BIN / "rechallenge"), "analyze", "--config", str(config), "--out", str(out),
         "--scheduler", address, "--allow-unconverged", "--quiet"],
        capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    engine = json.loads((out / "manifest.json").read_text())["engine"]
    assert engine["scheduler"] == address
    assert sorted(engine["workers"]) == workers
    ran = {record["worker"] for record in engine["tasks"]}
    assert ran == set(workers), engine["tasks"]
    fit_tasks = [r for r in engine["tasks"] if r["task"].startswith("fit:")]
    assert len(fit_tasks) == 2  # one per model structure (binary, TTP)

    # Reproducible bytes (issue 28): the same inputs, seed and package version on another engine
    # layout and another entry point (the command line on a remote cluster against Python on the
    # session's local one) give every file the same bytes: fits, tables, Word documents, figures.
    local, remote = _files(small_run), _files(out)
    assert local.keys() == remote.keys() and Path("tables/reader/table2_headline.docx") in local
    assert [str(k) for k in local if local[k] != remote[k]] == []
    hashes = [json.loads((r / "manifest.json").read_text())["files"] for r in (small_run, out)]
    assert hashes[0] == hashes[1]


def _files(run: Path) -> dict[Path, bytes]:
    """Every file of a run but its manifest (which records timings and the engine), by path."""
    return {p.relative_to(run): p.read_bytes() for p in run.rglob("*")
            if p.is_file() and p.name != "manifest.json"}

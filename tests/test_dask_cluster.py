"""``rechallenge analyze --scheduler`` on a real Dask cluster: a scheduler and two worker processes
started with the ``dask`` command-line tools on 127.0.0.1, stopped at the end even on failure.

The run must use both workers (its manifest records where each task ran) and write the same
tables as a local run with the same seed (the session's ``small_run``).
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEED

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):  # workers first, the scheduler last
        if process.poll() is None:
            process.terminate()
    for process in reversed(processes):
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A scheduler and two single-threaded workers; yields its address and the workers'."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "cluster-logs"
    logs.mkdir()
    processes: list[subprocess.Popen] = []
    try:
        processes.append(subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"],
            stdout=(logs / "scheduler.log").open("wb"), stderr=subprocess.STDOUT, cwd=tmp_path))
        for i in range(2):
            processes.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--host", "127.0.0.1", "--no-dashboard", "--name", f"test-worker-{i}",
                 "--local-directory", str(tmp_path / f"worker-{i}")],
                stdout=(logs / f"worker-{i}.log").open("wb"), stderr=subprocess.STDOUT,
                cwd=tmp_path))
        deadline = time.monotonic() + 120
        while True:  # the scheduler may not listen yet
            try:
                client = Client(address, timeout="10s")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with client:
            client.wait_for_workers(2, timeout=120)
            workers = sorted(client.scheduler_info()["workers"])
        yield address, workers
    finally:
        _stop(processes)


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
    assert [_difference(k, local[k], remote[k]) for k in local if local[k] != remote[k]] == []
    hashes = [json.loads((r / "manifest.json").read_text())["files"] for r in (small_run, out)]
    assert hashes[0] == hashes[1]


def _difference(path: Path, local: bytes, remote: bytes) -> str:
    """Where two versions of a file differ: for a Word file, each differing part of its zip and
    the text around the first differing character (so a failure says what changed)."""
    if path.suffix != ".docx":
        return str(path)
    with zipfile.ZipFile(io.BytesIO(local)) as a, zipfile.ZipFile(io.BytesIO(remote)) as b:
        parts = {i.filename: (i.date_time, a.read(i)) for i in a.infolist()}
        others = {i.filename: (i.date_time, b.read(i)) for i in b.infolist()}
    found = [str(path)]
    for name in sorted(parts.keys() | others.keys()):
        x, y = parts.get(name, (None, b"")), others.get(name, (None, b""))
        if x == y:
            continue
        at = next((i for i, (p, q) in enumerate(zip(x[1], y[1])) if p != q),
                  min(len(x[1]), len(y[1])))
        start = max(at - 150, 0)
        found.append(f"{name} {x[0]} {y[0]} at byte {at}: local {x[1][start:at + 150]!r} "
                     f"remote {y[1][start:at + 150]!r}")
    return "\n".join(found)


def _files(run: Path) -> dict[Path, bytes]:
    """Every file of a run but its manifest (which records timings and the engine), by path."""
    return {p.relative_to(run): p.read_bytes() for p in run.rglob("*")
            if p.is_file() and p.name != "manifest.json"}

"""The Dask engine: a local cluster runs tasks, results arrive as they finish, progress counts."""

from __future__ import annotations

import io
import logging

import pytest

from rechallenge.analysis.run.engine import (
    DISTRIBUTED_LOGGERS,
    EngineSettings,
    TaskProgress,
    gather_as_completed,
    local_workers,
    open_client,
    quiet_distributed_logs_here,
)


def square(x: int) -> int:
    return x * x


@pytest.mark.integration
def test_a_local_cluster_runs_tasks_and_hands_on_every_result() -> None:
    seen: dict[int, int] = {}
    stream = io.StringIO()
    with open_client(EngineSettings(workers=1)) as client:
        futures = {client.submit(square, x, key=f"square-{x}"): x for x in range(5)}
        gather_as_completed(futures, progress=TaskProgress(5, "squares", stream=stream),
                            on_result=lambda f, r: seen.__setitem__(futures[f], r))
    assert seen == {x: x * x for x in range(5)}
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5 and lines[-1].startswith("5/5 squares done")


def test_a_closing_cluster_logs_only_critical_messages_and_the_levels_come_back() -> None:
    before = {name: logging.getLogger(name).level for name in DISTRIBUTED_LOGGERS}
    with quiet_distributed_logs_here():
        worker = logging.getLogger("distributed.worker")
        assert not worker.isEnabledFor(logging.ERROR) and worker.isEnabledFor(logging.CRITICAL)
    assert {name: logging.getLogger(name).level for name in DISTRIBUTED_LOGGERS} == before


def test_progress_shows_finished_over_total_and_an_eta() -> None:
    stream = io.StringIO()
    progress = TaskProgress(4, "fits", stream=stream)
    assert progress.eta_seconds() is None
    progress.advance("a")
    assert progress.eta_seconds() is not None
    assert stream.getvalue().startswith("1/4 fits done (a), about ")


def test_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECHALLENGE_WORKERS", "1")
    assert local_workers() == 1 and local_workers(3) == 3
    with pytest.raises(ValueError):
        local_workers(0)
    monkeypatch.setenv("RECHALLENGE_WORKERS", "two")
    with pytest.raises(ValueError, match="RECHALLENGE_WORKERS"):
        local_workers()

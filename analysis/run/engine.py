"""The engine that runs many tasks: Dask (``dask.distributed``), locally or on a cluster.

Every command that runs many independent tasks (the fits of an analysis, the simulations of a
study) gets its :class:`distributed.Client` from :func:`open_client`: a local cluster of worker
processes sized to the machine by default, or an existing cluster when a scheduler address is
given (``--scheduler tcp://host:8786``, or ``[engine] scheduler`` in the config). Nothing here
starts or manages processes by hand; Dask does.

Results must not depend on the layout: a task's randomness comes from its own seed, never from
which worker runs it or in which order tasks finish.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from distributed import Client, Future, LocalCluster, as_completed, get_worker

#: Environment variable that caps the workers of a local cluster (e.g. 1 on a shared machine).
WORKERS_ENV = "RECHALLENGE_WORKERS"


@dataclass(frozen=True)
class EngineSettings:
    """Where tasks run.

    Parameters
    ----------
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); ``None`` starts a local
        cluster for the duration of the command.
    workers
        Worker processes of a local cluster; ``None`` is one per core (capped by the
        ``RECHALLENGE_WORKERS`` environment variable). Ignored with ``scheduler``.
    """

    scheduler: str | None = None
    workers: int | None = None


#: Where a command's tasks run, the one way every entry point (``analyze``, ``rebuild_report``,
#: ``update_run``, ``simulate``) takes it: an open :class:`distributed.Client` (used as it is and
#: left open, so a script or a test session shares one cluster across commands), the
#: :class:`EngineSettings` of a cluster to open for the command, or ``None`` for the command's
#: default (the run config's ``[engine]``, else a local cluster).
Engine = Client | EngineSettings | None


def local_workers(requested: int | None = None) -> int:
    """Worker processes for a local cluster: ``requested``, else the cores (or the env cap)."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"workers must be at least 1, got {requested}")
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env = os.environ.get(WORKERS_ENV)
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"{WORKERS_ENV}={env!r}: expected a whole number") from None
    return max(1, cores or 1)


@contextmanager
def open_client(settings: EngineSettings = EngineSettings()) -> Iterator[Client]:
    """A Dask client for the duration of a command.

    A local cluster uses worker processes with one thread each (the samplers are single-threaded
    per chain and hold the GIL in Python code) and no dashboard; it is closed on exit. A client of
    an existing cluster is closed on exit, the cluster is left running.

    Raises
    ------
    OSError
        The scheduler cannot be reached (Dask's own message, with the address).
    """
    if settings.scheduler is not None:
        client = Client(settings.scheduler, timeout="30s")
        try:
            # A scheduler without workers would queue the tasks for ever: wait a while for one.
            client.wait_for_workers(1, timeout=60)
            yield client
        finally:
            client.close()
        return
    # ":0": the scheduler's HTTP server (which runs even without the dashboard) takes a free
    # port; its default, 8787, warns on the terminal when another cluster holds it.
    cluster = LocalCluster(n_workers=local_workers(settings.workers), threads_per_worker=1,
                           processes=True, dashboard_address=":0", host="127.0.0.1")
    try:
        with Client(cluster) as client:
            try:
                yield client
            finally:
                # A worker that compiled models otherwise spends seconds at exit collecting
                # their object graphs, and the nanny kills it after 4 s (measured: close 4.1 s
                # -> 0.4 s). These workers are ours and end now; a remote cluster's are left be.
                with suppress(Exception):  # never hide the error that ended the block
                    client.run(gc.freeze)
                    # A worker whose heartbeat is in flight when the scheduler closes logs a
                    # traceback (dask/distributed#7192) on the user's terminal, about nothing
                    # the user did; errors of the command's own tasks reach it through the
                    # client, so the closing cluster's logs are dropped.
                    client.run(quiet_distributed_logs)
    finally:
        with quiet_distributed_logs_here():
            cluster.close()


#: The loggers a closing local cluster writes through (some carry their own level, so a level
#: set on ``distributed`` alone would not reach them).
DISTRIBUTED_LOGGERS = ("distributed", "distributed.core", "distributed.comm", "distributed.nanny",
                       "distributed.scheduler", "distributed.worker")


def quiet_distributed_logs() -> None:
    """Let the ``distributed`` loggers of this process print only critical messages."""
    for name in DISTRIBUTED_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextmanager
def quiet_distributed_logs_here() -> Iterator[None]:
    """:func:`quiet_distributed_logs` in this process for a block, the levels restored after."""
    levels = {name: logging.getLogger(name).level for name in DISTRIBUTED_LOGGERS}
    quiet_distributed_logs()
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def engine_client(engine: Engine, default: EngineSettings = EngineSettings()) -> Iterator[Client]:
    """A client of ``engine`` for the duration of a command.

    Parameters
    ----------
    engine
        An open client (yielded as it is and not closed: its owner closes it), the settings of a
        cluster to open and close with the block, or ``None`` for ``default``.
    default
        The settings used when ``engine`` is ``None`` (a command's configured engine).
    """
    if isinstance(engine, Client):
        yield engine
        return
    with open_client(default if engine is None else engine) as client:
        yield client


class TextStream(Protocol):
    """What :class:`TaskProgress` writes to: a terminal, a file, or a :class:`LineStream`."""

    def write(self, text: str, /) -> int:
        """Write ``text``."""
        ...

    def flush(self) -> None:
        """Make what was written visible."""
        ...


class TaskProgress:
    """Progress of finished over total tasks: a bar on a terminal, plain lines otherwise.

    Parameters
    ----------
    total
        Number of tasks.
    label
        What the tasks are ("fits", "simulations").
    stream
        Where to write; standard error by default.
    """

    def __init__(self, total: int, label: str, *, stream: TextStream | None = None) -> None:
        self.total, self.label = total, label
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())

    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far; ``None`` before the first task finishes."""
        if self.done == 0:
            return None
        elapsed = time.perf_counter() - self.start
        return elapsed / self.done * (self.total - self.done)

    def advance(self, name: str = "") -> None:
        """Count one finished task and show it."""
        self.done += 1
        eta = self.eta_seconds()
        left = f", about {eta:.0f} s left" if eta is not None and self.done < self.total else ""
        if self.terminal:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} {self.label}{left}   ")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            what = f" ({name})" if name else ""
            self.stream.write(f"{self.done}/{self.total} {self.label} done{what}{left}\n")
        self.stream.flush()


def gather_as_completed(
    futures: Iterable[Future],
    *,
    on_result: Callable[[Future, Any], object] | None = None,
    progress: TaskProgress | None = None,
) -> None:
    """Wait for ``futures`` in the order they finish, handing each result to ``on_result``.

    A task's exception is raised here, when its future is reached, after the results that
    finished before it were handed on (so they can be written first).
    """
    for future in as_completed(list(futures)):
        result = future.result()
        if on_result is not None:
            on_result(future, result)
        if progress is not None:
            progress.advance(str(future.key))


def engine_description(client: Client) -> dict[str, Any]:
    """Where a client's tasks run: the scheduler address and its workers (for the manifest)."""
    info = client.scheduler_info()
    return {"scheduler": str(client.scheduler.address),
            "workers": sorted(info.get("workers", {}))}


def task_key(name: str) -> str:
    """A Dask key for a task called ``name``, unique across runs sharing one cluster."""
    return f"{name}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class TaskRecord:
    """Where and how long one task ran (recorded in a run's manifest).

    ``worker`` is the Dask worker's address (``"client"`` when run in the client process).
    """

    task: str
    worker: str
    host: str
    pid: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class Recorded:
    """A task's value and its :class:`TaskRecord`."""

    value: Any
    record: TaskRecord


def run_recorded(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Recorded:
    """``fn(*args, **kwargs)`` with a record of where it ran; submit this to the cluster.

    Examples
    --------
    >>> future = client.submit(run_recorded, "square", square, 3, key=task_key("square"))  # doctest: +SKIP
    """
    try:
        worker = str(get_worker().address)
    except ValueError:  # not inside a Dask worker
        worker = "client"
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    record = TaskRecord(name, worker, socket.gethostname(), os.getpid(),
                        round(time.perf_counter() - start, 3))
    return Recorded(value, record)


class LineStream:
    """A text stream that hands each complete line to ``write_line`` (e.g. a run's progress).

    For :class:`TaskProgress` when progress goes to a callback rather than a terminal.
    """

    def __init__(self, write_line: Callable[[str], None]) -> None:
        self.write_line = write_line
        self.pending = ""

    def write(self, text: str) -> int:
        """Buffer ``text``; pass on every line it completes."""
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.write_line(line)
        return len(text)

    def flush(self) -> None:
        """Nothing is held but an unfinished line."""

    def isatty(self) -> bool:
        """Never a terminal: progress is written as plain lines."""
        return False


class Finished:
    """A task already run in this process, with the ``result()`` of a Dask future."""

    def __init__(self, value: Recorded) -> None:
        self.value = value

    def result(self) -> Recorded:
        """The task's :class:`Recorded` value."""
        return self.value


def submit(
    client: Client | None, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Future | Finished:
    """Run ``fn(*args, **kwargs)`` as the task ``name``: on the cluster, or here without a client.

    Either way ``.result()`` gives a :class:`Recorded` (or raises the task's exception). Futures
    among ``args`` are resolved by Dask on the worker (without a client, pass plain values).
    """
    if client is None:
        return Finished(run_recorded(name, fn, *args, **kwargs))
    return client.submit(run_recorded, name, fn, *args, key=task_key(name.replace(":", "-")),
                         pure=False, **kwargs)

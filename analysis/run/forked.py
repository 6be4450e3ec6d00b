"""Run a function in a forked child process and collect its result in the parent.

A run has two cores and long stretches of single-threaded Python (compiling a model, drawing
figures, fitting mixtures), so independent pieces of work run side by side in child processes.
On Linux the child is forked: it starts at once with everything imported and the parent's data
in place (copy-on-write), so nothing but the result is pickled. Elsewhere it is spawned.

The child dies with the parent (even on SIGKILL) and leaves signals to it; the parent terminates
and reaps every child before it returns or raises (use :class:`ForkedCall` as a context manager),
so an interrupted run leaves no process behind that could still write into its directory.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any


#: Environment variable with the number of processes a run may use (1: everything in this one).
WORKERS_ENV = "RECHALLENGE_WORKERS"


def run_workers() -> int:
    """Processes a run may use: ``$RECHALLENGE_WORKERS``, else 2 (1 on a one-core machine).

    Two, not more: the work that runs side by side (a fitting worker, the figures, the MAP prior,
    saving fits) is single-threaded, and the machines this package targets have two cores.
    """
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return min(2, os.cpu_count() or 1)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{WORKERS_ENV} must be a positive integer, got {value!r}")
    return int(value)


class ChildProcessDied(RuntimeError):
    """The child process ended without sending a result (killed, or ``os._exit``)."""


def _child_setup(parent: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _child_main(conn: Any, parent: int, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    _child_setup(parent)
    try:
        conn.send(("ok", fn(*args, **kwargs)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        detail = traceback.format_exc()
        try:
            conn.send(("error", exc, detail))
        except Exception:  # noqa: BLE001 - an unpicklable exception: send its text
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), detail))
    finally:
        conn.close()


def forks() -> bool:
    """Whether :class:`ForkedCall` forks (Linux), so the child inherits this process's memory."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class ForkedCall:
    """``fn(*args, **kwargs)`` running in a child process.

    Parameters
    ----------
    fn
        The function; with the spawn start method it and its arguments must be picklable.
    *args, **kwargs
        Its arguments.
    name
        Process name, also used in error messages.

    Examples
    --------
    >>> with ForkedCall(sum, [1, 2, 3], name="adder") as call:  # doctest: +SKIP
    ...     call.result()
    6
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str, **kwargs: Any) -> None:
        context = multiprocessing.get_context("fork" if forks() else "spawn")
        self.name = name
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child_main, args=(sender, os.getpid(), fn, args, kwargs), name=name)
        self._process.start()
        sender.close()

    def result(self) -> Any:
        """Wait for the child; return its value or raise its exception (with its traceback)."""
        try:
            message = self._receiver.recv()
        except EOFError:
            self._process.join()
            raise ChildProcessDied(f"the {self.name} process died (exit code "
                                   f"{self._process.exitcode})") from None
        finally:
            self._receiver.close()
        self._process.join()
        if message[0] == "error":
            _, exc, detail = message
            if hasattr(exc, "add_note"):
                exc.add_note(f"raised in the {self.name} process:\n{detail}")
            raise exc
        return message[1]

    def stop(self) -> None:
        """Terminate the child if it still runs, and reap it."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._receiver.close()

    def __enter__(self) -> ForkedCall:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class InlineCall:
    """``fn(*args, **kwargs)`` run at once in this process, with the interface of ForkedCall."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str, **kwargs: Any) -> None:
        self.name = name
        self._value: Any = None
        self._error: BaseException | None = None
        try:
            self._value = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - raised where ForkedCall would raise it
            self._error = exc

    def result(self) -> Any:
        """The function's value, or its exception raised."""
        if self._error is not None:
            raise self._error
        return self._value

    def stop(self) -> None:
        """Nothing to stop."""

    def __enter__(self) -> InlineCall:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(
    fn: Callable[..., Any], *args: Any, name: str, parallel: bool, **kwargs: Any
) -> ForkedCall | InlineCall:
    """``fn(*args, **kwargs)`` in a child process when ``parallel``, else at once in this one.

    Either way the returned object's ``result()`` gives the value or raises the exception, and
    leaving its ``with`` block stops and reaps a child that still runs.
    """
    cls = ForkedCall if parallel else InlineCall
    return cls(fn, *args, name=name, **kwargs)

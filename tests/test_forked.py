"""Child-process calls: values and errors come back, and nothing outlives its ``with`` block."""

from __future__ import annotations

import os
import time

import pytest

from rechallenge.analysis.run.forked import ChildProcessDied, ForkedCall, InlineCall, start


def _pid_and_sum(values: list[int], *, offset: int = 0) -> tuple[int, int]:
    return os.getpid(), sum(values) + offset


def _fail(message: str) -> None:
    raise ValueError(message)


def _die() -> None:
    os._exit(3)


def _sleep() -> None:
    time.sleep(120)


def test_a_forked_call_returns_its_value_from_another_process() -> None:
    with ForkedCall(_pid_and_sum, [1, 2, 3], offset=10, name="adder") as call:
        pid, total = call.result()
    assert total == 16
    assert pid != os.getpid()


def test_a_forked_call_raises_the_childs_exception_with_its_traceback() -> None:
    with ForkedCall(_fail, "bad value in row 7", name="checker") as call:
        with pytest.raises(ValueError, match="bad value in row 7") as info:
            call.result()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "raised in the checker process" in notes and "_fail" in notes


def test_a_child_that_dies_is_reported_with_its_exit_code() -> None:
    with ForkedCall(_die, name="doomed") as call:
        with pytest.raises(ChildProcessDied, match=r"doomed process died \(exit code 3\)"):
            call.result()


def test_leaving_the_block_stops_a_child_that_still_runs() -> None:
    with pytest.raises(KeyError):
        with ForkedCall(_sleep, name="sleeper") as call:
            process = call._process
            raise KeyError("the parent failed")
    assert not process.is_alive()
    assert process.exitcode is not None and process.exitcode < 0  # terminated by a signal


def test_inline_calls_behave_like_forked_ones() -> None:
    call = start(_pid_and_sum, [4, 5], name="adder", parallel=False)
    assert isinstance(call, InlineCall)
    assert call.result() == (os.getpid(), 9)
    with start(_fail, "no", name="checker", parallel=False) as failing:
        with pytest.raises(ValueError, match="no"):
            failing.result()
    assert isinstance(start(_pid_and_sum, [1], name="adder", parallel=True), ForkedCall)

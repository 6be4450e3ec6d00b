"""Derived draws and importance weights are computed once per fit, whoever asks for them."""

from __future__ import annotations

import gc

import arviz as az
import numpy as np

from rechallenge.analysis.summaries.computed_once import computed_count, kept_fits, once_per_fit


def test_a_value_is_computed_once_and_forgotten_with_its_fit() -> None:
    idata = az.from_dict(posterior={"a": np.zeros((1, 3))})
    calls: list[int] = []

    def compute() -> list[int]:
        calls.append(1)
        return [len(calls)]

    first = once_per_fit(idata, ("k", 1), compute)
    again = once_per_fit(idata, ("k", 1), compute)
    other = once_per_fit(idata, ("k", 2), compute)
    assert first is again and calls == [1, 1] and other == [2]
    assert computed_count(idata) == 2
    other_fit = az.from_dict(posterior={"a": np.zeros((1, 3))})
    assert once_per_fit(other_fit, ("k", 1), compute) == [3]  # another fit: its own value
    gc.collect()  # fits of earlier tests in this process that are garbage go first
    kept = kept_fits()
    del idata
    gc.collect()
    assert kept_fits() == kept - 1  # its values went with it


def test_a_fitting_task_hands_the_client_files_and_draws_not_fits() -> None:
    """What crosses from a fitting task to the client: the fits' files and the draws derived
    from them, computed once on the worker; the fits themselves stay where they were made."""
    from test_binary_summary import hand_made

    from rechallenge.analysis.run.engine import Recorded, TaskRecord
    from rechallenge.analysis.run.fitting import FitStage
    from rechallenge.analysis.run.output_tasks import stage_outcome
    from rechallenge.analysis.settings.config import RunConfig
    from rechallenge.analysis.summaries import binary

    idata = hand_made(np.array([-0.5, 0.2]), tau=np.array([0.5, 0.8]), corr=0.3)
    config = RunConfig()
    record = TaskRecord("fit:main", "worker", "host", 1, 0.5)
    stage, files, fit_record, computed = stage_outcome(
        Recorded(FitStage(fits={"response": idata}), record), config)
    assert stage.fits == {} and fit_record == record
    assert list(files) == ["response.nc"] and files["response.nc"].startswith(b"\x89HDF")
    draws = computed["response"][("quantity_draws", config.sampler.seed)]
    expected = binary.quantity_draws(idata, seed=config.sampler.seed)
    assert [(q, line) for q, line, _ in draws] == [(q, line) for q, line, _ in expected]

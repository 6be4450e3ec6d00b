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
    kept = kept_fits()
    del idata
    gc.collect()
    assert kept_fits() == kept - 1  # its values went with it

"""Saving and loading fits: a saved fit loads back identical, and a wrong data hash is refused."""

from __future__ import annotations

import arviz as az
import h5py
import numpy as np
import pytest

from rechallenge.analysis.run.fitio import (
    CLOCK_ATTRS,
    CLOCK_STATS,
    DataHashMismatch,
    OldVocabularyError,
    load_fit,
    save_fit,
)
from rechallenge.models.fit_settings import VOCABULARY


def _fit() -> az.InferenceData:
    rng = np.random.default_rng(3)
    coords = {"line": ["ICI-1", "ICI-2"], "obs": np.arange(5)}
    idata = az.from_dict(
        posterior={"mu": rng.normal(size=(2, 50, 2)), "tau": rng.gamma(2.0, size=(2, 50))},
        log_likelihood={"y": rng.normal(size=(2, 50, 5))},
        sample_stats={"diverging": np.zeros((2, 50), dtype=bool)},
        observed_data={"y": np.array([0, 1, 1, 0, 1])},
        constant_data={"site_idx": np.array([0, 0, 1, 1, 2], dtype=np.int64)},
        coords=coords,
        dims={"mu": ["line"], "y": ["obs"], "site_idx": ["obs"]},
        attrs={"note": "root attribute"},
    )
    idata.posterior.attrs.update(rechallenge_model="binary", rechallenge_data_hash="abc123",
                                 rechallenge_vocabulary=str(VOCABULARY))
    return idata


def test_saved_fit_loads_back_identical(tmp_path):
    idata = _fit()
    path = save_fit(idata, tmp_path / "fits" / "response.nc")
    loaded = load_fit(path, expected_hash="abc123")
    assert loaded.groups() == idata.groups()
    assert loaded.attrs["note"] == "root attribute"
    for group in idata.groups():
        expected = idata[group].copy()
        expected.attrs = {k: v for k, v in expected.attrs.items() if k not in CLOCK_ATTRS}
        assert loaded[group].identical(expected), group
    with h5py.File(path, "r") as f:  # numbers are stored compressed (zlib, with shuffle)
        assert f["posterior/mu"].compression == "gzip" and f["posterior/mu"].shuffle


def test_the_same_fit_saved_at_another_time_gives_the_same_bytes(tmp_path):
    """ArviZ stamps each group with its creation time (PyMC adds the sampling time): the file
    leaves them out, so a run made twice, or on another machine, writes the same fit bytes."""
    first, again = _fit(), _fit()
    for group in again.groups():
        again[group].attrs["created_at"] = "2031-05-06T07:08:09.101112+00:00"
    again.sample_stats.attrs["sampling_time"] = 12.5
    for idata, seconds in ((first, 0.01), (again, 0.02)):  # PyMC's per-draw times
        for name in CLOCK_STATS:
            idata.sample_stats[name] = (("chain", "draw"), np.full((2, 50), seconds))
    a = save_fit(first, tmp_path / "a.nc", key="response").read_bytes()
    b = save_fit(again, tmp_path / "b.nc", key="response").read_bytes()
    assert a == b
    assert "created_at" in again.posterior.attrs  # the fit in memory is not changed
    assert CLOCK_STATS <= set(again.sample_stats.data_vars)
    assert not CLOCK_STATS & set(load_fit(tmp_path / "b.nc").sample_stats.data_vars)


def test_load_refuses_a_fit_of_other_data(tmp_path):
    path = save_fit(_fit(), tmp_path / "response.nc")
    with pytest.raises(DataHashMismatch, match="abc123"):
        load_fit(path, expected_hash="ffffff")


def test_a_fit_written_with_the_old_parameter_names_is_refused_by_name(tmp_path):
    """Fits from before one vocabulary (the TTP line intercept was ``beta``) lack the attribute:
    read with today's names they would be misread, so loading says what the file is."""
    old = _fit()
    del old.posterior.attrs["rechallenge_vocabulary"]
    path = save_fit(old, tmp_path / "run" / "fits" / "ttp.nc", key="ttp")
    with pytest.raises(OldVocabularyError) as caught:
        load_fit(path, expected_key="ttp")
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "old parameter names" in message, message
    assert "run the analysis again" in message
    assert isinstance(caught.value, ValueError)  # the command line reports it without a traceback
    newer = _fit()
    newer.posterior.attrs["rechallenge_vocabulary"] = str(VOCABULARY + 1)
    with pytest.raises(OldVocabularyError, match=f"vocabulary {VOCABULARY + 1}"):
        load_fit(save_fit(newer, tmp_path / "newer.nc"))

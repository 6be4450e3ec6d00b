"""Saving and loading fits: a saved fit loads back identical, and a wrong data hash is refused."""

from __future__ import annotations

import arviz as az
import h5py
import numpy as np
import pytest

from rechallenge.analysis.run.fitio import DataHashMismatch, load_fit, save_fit


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
    idata.posterior.attrs.update(rechallenge_model="binary", rechallenge_data_hash="abc123")
    return idata


def test_saved_fit_loads_back_identical(tmp_path):
    idata = _fit()
    path = save_fit(idata, tmp_path / "fits" / "response.nc")
    loaded = load_fit(path, expected_hash="abc123")
    assert loaded.groups() == idata.groups()
    assert loaded.attrs["note"] == "root attribute"
    for group in idata.groups():
        assert loaded[group].identical(idata[group]), group
    with h5py.File(path, "r") as f:  # numbers are stored compressed (zlib, with shuffle)
        assert f["posterior/mu"].compression == "gzip" and f["posterior/mu"].shuffle


def test_load_refuses_a_fit_of_other_data(tmp_path):
    path = save_fit(_fit(), tmp_path / "response.nc")
    with pytest.raises(DataHashMismatch, match="abc123"):
        load_fit(path, expected_hash="ffffff")

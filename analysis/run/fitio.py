"""Saving and loading fits (NetCDF), with the data-hash check on load."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import xarray as xr

from rechallenge.models.fit_settings import VOCABULARY, fit_attrs


class DataHashMismatch(ValueError):
    """A saved fit was made from other data than the data it is being used with."""


#: Kinds of array that are compressed (as ArviZ chooses them): numbers, booleans and bytes.
_COMPRESSED_KINDS = frozenset("biufcS")


#: Group attributes that hold the wall-clock time of a fit (ArviZ's ``created_at``, PyMC's
#: ``sampling_time``): left out of the file, so the same fit always gives the same bytes (the
#: run's manifest records how long each step took).
CLOCK_ATTRS: frozenset[str] = frozenset({"created_at", "sampling_time"})
#: Sampler statistics that are wall-clock times of each draw (PyMC's NUTS), left out likewise.
CLOCK_STATS: frozenset[str] = frozenset({"perf_counter_diff", "perf_counter_start",
                                         "process_time_diff"})


#: Posterior attribute naming the fit a file holds (endpoint and variant, e.g. ``ttp__none``).
FIT_KEY_ATTR = "rechallenge_fit_key"


class WrongFitError(ValueError):
    """A fit file holds another fit than the one its name and the run's manifest say."""


class OldVocabularyError(ValueError):
    """A fit file uses other parameter names than this version's (:data:`VOCABULARY`)."""


def save_fit(idata: az.InferenceData, path: Path, *, key: str | None = None) -> Path:
    """Write ``idata`` to ``path`` (NetCDF via h5netcdf); the directory is created if needed.

    ``key`` (the fit's name in its run: endpoint and variant) is recorded in the file's posterior
    attributes, without changing ``idata``, so that loading can check it.

    The file has the layout of ``idata.to_netcdf(path, engine="h5netcdf")`` (a NetCDF group per
    InferenceData group, numeric arrays zlib-compressed) and loads back identically, but it is
    written in one pass: ``to_netcdf`` reopens the file for each group, and h5netcdf reads back
    everything already written every time. The lossless shuffle filter makes the draws compress
    a little better (about 6% smaller files) at no extra cost.

    The file is byte-for-byte the same for the same fit, whenever and wherever it is written: the
    attributes of :data:`CLOCK_ATTRS` and the per-draw times of :data:`CLOCK_STATS` are left
    out (HDF5 records no other time here).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    groups = {group: _without_clock(idata[group]) for group in idata.groups()}
    if "sample_stats" in groups:
        groups["sample_stats"] = groups["sample_stats"].drop_vars(CLOCK_STATS, errors="ignore")
    if key is not None:
        groups["posterior"] = groups["posterior"].assign_attrs({FIT_KEY_ATTR: key})
    if not hasattr(xr, "DataTree"):  # xarray < 2024.10: group by group
        az.InferenceData(attrs=dict(idata.attrs), **groups).to_netcdf(str(path), engine="h5netcdf")
        return path
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = dict(idata.attrs)
    encoding = {
        f"/{group}": {name: {"zlib": True, "shuffle": True}
                      for name, variable in data.variables.items() if _compressible(variable.dtype)}
        for group, data in groups.items()
    }
    tree.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    return path


def _without_clock(data: xr.Dataset) -> xr.Dataset:
    """``data`` with the same arrays and without the wall-clock attributes (not a copy of them)."""
    if not CLOCK_ATTRS & set(data.attrs):
        return data
    out = data.copy(deep=False)
    out.attrs = {k: v for k, v in data.attrs.items() if k not in CLOCK_ATTRS}
    return out


def _compressible(dtype: np.dtype) -> bool:
    """Whether arrays of ``dtype`` are compressed; structured dtypes if all their fields are."""
    if dtype.fields is not None:
        return all(_compressible(field[0]) for field in dtype.fields.values())
    return dtype.kind in _COMPRESSED_KINDS


def load_fit(
    path: str | Path, *, expected_hash: str | None = None, expected_key: str | None = None
) -> az.InferenceData:
    """Read a fit written by :func:`save_fit` (or ``idata.to_netcdf``).

    Parameters
    ----------
    path
        The ``.nc`` file.
    expected_hash
        ``Study.data_hash()`` of the data the fit is to be used with; a different hash raises
        :class:`DataHashMismatch`, naming both.
    expected_key
        The fit the file should hold (endpoint and variant); a file that records another raises
        :class:`WrongFitError`. Files written before the key was recorded are not checked.

    Raises
    ------
    OldVocabularyError
        The file was written with other parameter names (an older run, before every model used
        the names of :data:`~rechallenge.models.fit_settings.VOCABULARY`).
    FileNotFoundError, ValueError
        Missing file, or a file that is not a rechallenge fit.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such fit")
    idata = az.from_netcdf(str(path), engine="h5netcdf")
    attrs = fit_attrs(idata)
    _check_vocabulary(path, attrs.get("vocabulary"))
    recorded = idata.posterior.attrs.get(FIT_KEY_ATTR)
    if expected_key is not None and recorded is not None and recorded != expected_key:
        raise WrongFitError(f"{path}: holds the fit {recorded!r}, not {expected_key!r}")
    if expected_hash is not None and attrs["data_hash"] != expected_hash:
        raise DataHashMismatch(
            f"{path}: the fit was made from data with hash {attrs['data_hash'][:12]}..., but the "
            f"data given now hash to {expected_hash[:12]}...; refit, or use the data it was made from"
        )
    return idata


def _check_vocabulary(path: Path, found: object) -> None:
    """Refuse a fit whose parameter names are not this version's: read with today's names, an old
    TTP fit's ``beta`` (its line intercept then) would be taken for covariate coefficients.
    """
    if found == VOCABULARY:
        return
    if found is None:
        raise OldVocabularyError(
            f"{path}: this fit was written by an older rechallenge with the old parameter names "
            "(the TTP line intercept was 'beta', its covariate coefficients 'gamma', the patient "
            "effect 'sigma_frailty'; now 'mu', 'beta' and 'sigma_patient' in every model), which "
            "this version does not read; run the analysis again to refit it")
    raise OldVocabularyError(
        f"{path}: this fit uses parameter names of vocabulary {found!r}, and this version of "
        f"rechallenge reads vocabulary {VOCABULARY}; run the analysis again with this version")

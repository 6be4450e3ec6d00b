"""Saving and loading fits (NetCDF), with the data-hash check on load."""

from __future__ import annotations

from pathlib import Path

import arviz as az

from rechallenge.models.sampling import fit_attrs


class DataHashMismatch(ValueError):
    """A saved fit was made from other data than the data it is being used with."""


def save_fit(idata: az.InferenceData, path: Path) -> Path:
    """Write ``idata`` to ``path`` (NetCDF via h5netcdf); the directory is created if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    idata.to_netcdf(str(path), engine="h5netcdf")
    return path


def load_fit(path: str | Path, *, expected_hash: str | None = None) -> az.InferenceData:
    """Read a fit written by :func:`save_fit` (or ``idata.to_netcdf``).

    Parameters
    ----------
    path
        The ``.nc`` file.
    expected_hash
        ``Study.data_hash()`` of the data the fit is to be used with; a different hash raises
        :class:`DataHashMismatch`, naming both.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, or a file that is not a rechallenge fit.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such fit")
    idata = az.from_netcdf(str(path), engine="h5netcdf")
    attrs = fit_attrs(idata)
    if expected_hash is not None and attrs["data_hash"] != expected_hash:
        raise DataHashMismatch(
            f"{path}: the fit was made from data with hash {attrs['data_hash'][:12]}..., but the "
            f"data given now hash to {expected_hash[:12]}...; refit, or use the data it was made from"
        )
    return idata

"""Rank plots of the top-level parameters (ArviZ ``plot_rank``), one panel per scalar.

Vector parameters are split into one scalar per element (``tau[ICI-1]``); of a correlation matrix
only the distinct off-diagonal elements are kept (the diagonal is constant 1). The number of
panels is capped so the figure stays readable; :func:`rank_data` gives the ranks as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from scipy import stats

from rechallenge.analysis.plots.style import DOUBLE_WIDTH, SMALL_PT, TEXT_PT, figure_style, new_figure
from rechallenge.models.survival import DISTRIBUTIONS

#: Parameters shown by default, where the fit has them (line intercepts ``mu``, covariate
#: coefficients ``beta``, ...: the names every model uses).
TOP_LEVEL_PARAMETERS: Final[tuple[str, ...]] = (
    "mu", "mu_eff", "mu_tox", "beta", "tau", "log_or",
    *dict.fromkeys(p.name for d in DISTRIBUTIONS.values() for p in d.parameters),
    "site_corr", "sigma_patient",
)
#: What each top-level parameter is, in words, for the panel titles.
PARAMETER_WORDS: Final[dict[str, str]] = {
    # One name per concept in every model: mu is the log-odds (binary) or the log Weibull scale
    # (time to progression) of a typical site.
    "mu": "Line intercept, typical site",
    "beta": "Covariate coefficient",
    "tau": "Between-site SD",
    "shape": "Weibull shape",
    "site_corr": "Correlation of site effects",
    "sigma_patient": "Between-patient SD",
    # What the sampler samples beneath them (named by the convergence gate when it fails).
    "z_site": "Standardised site effect",
    "u_site": "Site effect",
    "site_corr_pairs": "Partial correlation of site effects",
    "z_patient": "Standardised patient effect",
    "u_patient": "Patient effect",
    # The joint model of efficacy and toxicity (models/joint.py).
    "mu_eff": "Efficacy intercept, typical site",
    "mu_tox": "Toxicity intercept, typical site",
    "log_or": "Within-patient log odds ratio of efficacy and toxicity",
    # Each survival distribution's shape parameters, in its own words.
    **{p.name: p.words for d in DISTRIBUTIONS.values() for p in d.parameters},
    # ... and as they are sampled (a positive one on the log scale).
    **{p.sampled: f"{p.words}, log scale" for d in DISTRIBUTIONS.values() for p in d.parameters
       if p.sampled != p.name},
}
#: At most this many panels (scalars) in one figure.
MAX_PANELS: Final = 12
#: Columns of :func:`rank_data`.
RANK_COLUMNS: Final[tuple[str, ...]] = ("parameter", "chain", "draw", "value", "rank")


def top_level_var_names(idata: az.InferenceData) -> list[str]:
    """The :data:`TOP_LEVEL_PARAMETERS` present in the posterior, in that order."""
    return [v for v in TOP_LEVEL_PARAMETERS if v in idata.posterior]


def scalar_parameters(idata: az.InferenceData, *, var_names: Sequence[str]) -> xr.Dataset:
    """Posterior of ``var_names`` split into scalars (chain, draw), at most :data:`MAX_PANELS`.

    Constant elements (a correlation's diagonal) and the upper triangle of a square matrix over
    two dims of the same coordinates (``line`` x ``line_b``) are dropped.
    """
    post = idata.posterior
    unknown = [v for v in var_names if v not in post]
    if unknown:
        raise ValueError(f"no posterior variables {unknown}")
    scalars: dict[str, xr.DataArray] = {}
    for name in var_names:
        da = post[name]
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        if not extra:
            scalars[name] = da
            continue
        stacked = da.stack(element=extra).transpose("chain", "draw", "element")
        for k in range(stacked.sizes["element"]):
            labels = [str(v) for v in np.atleast_1d(stacked["element"].to_numpy()[k])]
            if len(labels) == 2 and _is_square(da, extra) and _position(da, extra, labels) <= 0:
                continue
            values = stacked.isel(element=k, drop=True)
            if float(values.std()) == 0:
                continue
            scalars[f"{name}[{', '.join(labels)}]"] = values
    names = list(scalars)[:MAX_PANELS]
    return xr.Dataset({n: scalars[n].drop_vars([c for c in scalars[n].coords
                                                 if c not in ("chain", "draw")])
                       for n in names})


def rank_data(idata: az.InferenceData, *, var_names: Sequence[str]) -> pd.DataFrame:
    """Ranks of the pooled draws of each scalar parameter, by chain (the data of the rank plot).

    Returns
    -------
    pandas.DataFrame
        :data:`RANK_COLUMNS`; ``rank`` is the rank of the draw among all chains' draws (average
        ranks at ties, 1 = smallest), as ArviZ computes it.
    """
    data = scalar_parameters(idata, var_names=var_names)
    frames = []
    for name, da in data.data_vars.items():
        values = da.transpose("chain", "draw").to_numpy()
        ranks = stats.rankdata(values, axis=None).reshape(values.shape)
        chain, draw = np.meshgrid(da["chain"].to_numpy(), da["draw"].to_numpy(), indexing="ij")
        frames.append(pd.DataFrame({"parameter": name, "chain": chain.ravel(),
                                    "draw": draw.ravel(), "value": values.ravel(),
                                    "rank": ranks.ravel()}))
    return pd.concat(frames, ignore_index=True)[list(RANK_COLUMNS)]


def plot_ranks(idata: az.InferenceData, *, var_names: Sequence[str]) -> Figure:
    """Rank plots (bars per chain) of the scalars of ``var_names``, up to four per row.

    Parameters
    ----------
    idata
        Any fit with a posterior of two or more chains.
    var_names
        Posterior variables, e.g. :func:`top_level_var_names`; vectors give one panel per
        element, at most :data:`MAX_PANELS` panels in all.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = scalar_parameters(idata, var_names=var_names)
    n = len(data.data_vars)
    if n == 0:
        raise ValueError("nothing to plot: every selected parameter is constant")
    # At most three panels a row: their titles (in words) need the width at print size.
    cols = n if n <= 3 else 2 if n == 4 else 3
    rows = int(np.ceil(n / cols))
    with figure_style():
        fig = new_figure(DOUBLE_WIDTH, 1.8 * rows + 0.3)
        axes = fig.subplots(rows, cols, squeeze=False)
        az.plot_rank(data, ax=axes.ravel()[:n], kind="bars")
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        for ax, name in zip(axes.ravel()[:n], data.data_vars):
            ax.set_title(parameter_words(str(name)).replace(", ", "\n", 1), fontsize=TEXT_PT)
            # Chains numbered from 1, as a reader counts them (ArviZ labels them from 0).
            ticks = ax.get_yticks()
            ax.set_yticks(ticks, [str(k + 1) for k in range(len(ticks))])
            ax.set_xlabel("Rank of the draw (all chains)")
            ax.tick_params(labelsize=SMALL_PT)
            ax.xaxis.label.set_fontsize(SMALL_PT)
            ax.yaxis.label.set_fontsize(SMALL_PT)
    return fig


def parameter_words(name: str) -> str:
    """A panel's parameter in words: ``"tau[ICI-1]"`` -> ``"Between-site SD, ICI-1"``;
    ``"site_corr[ICI-2, ICI-1]"`` -> ``"Correlation of site effects, ICI-2 and ICI-1"``.
    """
    base, _, rest = name.partition("[")
    words = PARAMETER_WORDS.get(base, base.replace("_", " ").capitalize())
    labels = [part.strip() for part in rest.rstrip("]").split(",") if part.strip()]
    return f"{words}, {' and '.join(labels)}" if labels else words


def _is_square(da: xr.DataArray, dims: list[str]) -> bool:
    if len(dims) != 2:
        return False
    a, b = (list(map(str, da[d].to_numpy())) for d in dims)
    return a == b


def _position(da: xr.DataArray, dims: list[str], labels: list[str]) -> int:
    """Column minus row index of an element of a square matrix (<= 0: diagonal or lower)."""
    order = list(map(str, da[dims[0]].to_numpy()))
    return order.index(labels[1]) - order.index(labels[0])

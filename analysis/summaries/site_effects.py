"""Site effects after the fit: new-site predictive draws and averages over the site population.

Both model families put site effects ``u[site, line] ~ MvNormal(0, diag(tau) R diag(tau))`` on a
linear predictor (log-odds for binary endpoints, log scale for TTP). Three readings follow:

typical site
    ``u = 0``: the centre of the site distribution.
population average
    the quantity averaged over the distribution of sites, ``E_u[g(eta + u)]``, computed per
    posterior draw by Gauss-Hermite quadrature (no Monte Carlo noise).
new site (predictive)
    one draw ``u_new`` per posterior draw: what the next institution may see.
"""

from __future__ import annotations

from collections.abc import Callable

import arviz as az
import numpy as np
import xarray as xr

from rechallenge.models.dims import LINE

#: Gauss-Hermite nodes: 40 integrate a logistic-normal to ~1e-10 for SDs up to ~5.
N_QUADRATURE_NODES = 40


def standard_normal_quadrature(n: int = N_QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``x`` and weights ``w`` with ``sum(w * f(x)) ~= E[f(Z)]`` for ``Z ~ N(0, 1)``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / weights.sum()


def population_average(
    inverse_link: Callable[[np.ndarray], np.ndarray],
    location: np.ndarray,
    scale: np.ndarray,
    n_nodes: int = N_QUADRATURE_NODES,
) -> np.ndarray:
    """``E[inverse_link(location + scale * Z)]`` for ``Z ~ N(0, 1)``, elementwise.

    Parameters
    ----------
    inverse_link
        Vectorised function, e.g. the inverse logit.
    location, scale
        Arrays of the same shape (e.g. (chain, draw) for one line).
    """
    nodes, weights = standard_normal_quadrature(n_nodes)
    loc = np.asarray(location, dtype=float)[..., None]
    sd = np.asarray(scale, dtype=float)[..., None]
    return np.sum(weights * inverse_link(loc + sd * nodes), axis=-1)


def site_effect_cholesky(posterior: xr.Dataset) -> np.ndarray:
    """Cholesky factor of the site-effect covariance per draw, shape (chain, draw, line, line).

    Uses ``tau`` and, with two or more lines, ``site_corr``; with one line it is ``tau`` itself.
    """
    tau = posterior["tau"].transpose("chain", "draw", LINE).to_numpy()
    n_lines = tau.shape[-1]
    if "site_corr" not in posterior or n_lines == 1:
        return tau[..., :, None] * np.eye(n_lines)
    corr = posterior["site_corr"].transpose("chain", "draw", LINE, ...).to_numpy()
    cov = corr * tau[..., :, None] * tau[..., None, :]
    # A tiny ridge keeps the factorisation stable when tau is near 0 for a line.
    return np.linalg.cholesky(cov + 1e-12 * np.eye(n_lines))


def new_site_effects(idata: az.InferenceData, *, seed: int) -> xr.DataArray:
    """Draw one new-site effect vector per posterior draw.

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, line): ``u_new = L z`` with ``z ~ N(0, I)`` and ``L`` the per-draw
        Cholesky factor of the site-effect covariance. Zero when the model has no site effects
        (complete pooling).
    """
    post = idata.posterior
    lines = post.coords[LINE].to_numpy()
    shape = (post.sizes["chain"], post.sizes["draw"], len(lines))
    coords = {"chain": post.coords["chain"], "draw": post.coords["draw"], "line": lines}
    if "tau" not in post:
        return xr.DataArray(np.zeros(shape), dims=("chain", "draw", LINE), coords=coords)
    chol = site_effect_cholesky(post)
    z = np.random.default_rng(seed).standard_normal(shape)
    u_new = np.einsum("cdij,cdj->cdi", chol, z)
    return xr.DataArray(u_new, dims=("chain", "draw", LINE), coords=coords)

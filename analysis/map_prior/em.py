"""Fitting a :class:`~rechallenge.analysis.map_prior.mixtures.BetaMixture` or
:class:`~rechallenge.analysis.map_prior.mixtures.NormalMixture` to predictive draws by EM
(weighted maximum likelihood from several starts, the number of components chosen by AIC), as
RBesT's ``mixfit``/``automixfit`` do.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from rechallenge.analysis.map_prior.mixtures import BetaMixture, NormalMixture

#: EM stops when the log-likelihood gains less than this per draw, or after MAX_ITER steps.
TOL = 1e-7
MAX_ITER = 1000
SHORT_RUN = 50  # EM steps from each start before the best start is run on


def _beta_ml(c1: np.ndarray, c2: np.ndarray, a: np.ndarray, b: np.ndarray,
             lower: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ML of Beta(a, b) per component from ``c1 = E[log x]``, ``c2 = E[log(1-x)]``.

    Projected Newton with backtracking on the convex negative log-likelihood (the Beta is an
    exponential family in (a - 1, b - 1)), all components at once, keeping ``a, b >= lower``; a
    parameter at its bound whose gradient points outward is held there.
    """
    # a and b are the rows of one (2, k) array p: with a few components the cost is per NumPy
    # call, not per value, and EM calls this at every step.
    c = np.stack((c1, c2))
    p = np.maximum(np.stack((a, b)), lower)

    def nll(p: np.ndarray) -> np.ndarray:
        return special.betaln(p[0], p[1]) - (p[0] - 1) * c1 - (p[1] - 1) * c2

    f0 = nll(p)
    for _ in range(100):
        at = np.concatenate((p, p[:1] + p[1:]))  # rows a, b, a + b
        psi, tri = special.digamma(at), special.zeta(2, at)  # zeta(2, .) is the trigamma
        tri_s = tri[2]
        g, h = psi[:2] - psi[2] - c, tri[:2] - tri_s  # gradient; diagonal of the Hessian
        free = ~((p <= lower) & (g > 0))
        # Newton step for (a, b) jointly; for a parameter alone when the other is held.
        joint = (h[::-1] * g + tri_s * g[::-1]) / (h[0] * h[1] - tri_s**2)
        d = np.where(free[0] & free[1], joint, np.where(free, g / h, 0.0))
        t = np.ones(p.shape[1])
        for _ in range(40):
            new = np.maximum(p - t * d, lower)
            f_new = nll(new)
            worse = f_new > f0 + 1e-14 * np.abs(f0)
            if not worse.any():
                break
            t = np.where(worse, t / 2, t)
        change = (np.abs(new - p) / (1 + p)).max()
        p, f0 = new, f_new
        if change < 1e-12:
            break
    return p[0], p[1]


def _sum_over_draws(values: np.ndarray) -> np.ndarray:
    """Row sums of a (component, draw) array, added one draw after another.

    Summed in this order (rather than pairwise, as ``np.sum`` along a row does), the fitted
    mixtures are the same to the last bit as when the rows were columns of a (draw, component)
    array, which NumPy sums down one row at a time.
    """
    return np.add.accumulate(values, axis=1)[:, -1]


def _em(x: np.ndarray, k: int, family: str, rng: np.random.Generator, n_starts: int,
        lower: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Best of ``n_starts`` EM runs with ``k`` components: (weights, p1, p2, log-likelihood)."""
    # Densities and responsibilities are (component, draw) arrays: the sum over components,
    # taken for every draw at every step, then runs along contiguous rows.
    beta = family == "beta"
    t = special.logit(x) if beta else x  # start clusters where components look normal
    lx, l1x = (np.log(x), np.log1p(-x)) if beta else (x, x)
    var_floor = 1e-10 * np.var(x)
    by_draw = np.empty((x.size, k))  # normalised responsibilities, (draw, component)

    def m_step(resp: np.ndarray, p1: np.ndarray | None,
               p2: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nk = _sum_over_draws(resp)
        # The weighted sums over draws are BLAS products with r laid out (draw, component).
        r, w = np.divide(resp.T, np.maximum(nk, 1e-300), out=by_draw), np.maximum(nk, 1e-12)
        if beta and p1 is not None and p2 is not None:  # Newton from the current values
            return (w / w.sum(), *_beta_ml(r.T @ lx, r.T @ l1x, p1, p2, lower))
        mean = r.T @ x
        var = np.maximum((r * (x[:, None] - mean) ** 2).sum(axis=0), var_floor)
        if not beta:
            return w / w.sum(), mean, np.sqrt(var)
        # Moment-matched starting values for Newton.
        n0 = np.maximum(mean * (1 - mean) / var - 1, 2 * lower + 1e-3)
        return (w / w.sum(), *_beta_ml(r.T @ lx, r.T @ l1x, mean * n0, (1 - mean) * n0, lower))

    def log_dens(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
        if beta:
            return ((p1 - 1)[:, None] * lx + (p2 - 1)[:, None] * l1x
                    - special.betaln(p1, p2)[:, None])
        return (-0.5 * ((x - p1[:, None]) / p2[:, None]) ** 2 - np.log(p2)[:, None]
                - 0.5 * math.log(2 * math.pi))

    def run(w: np.ndarray, p1: np.ndarray, p2: np.ndarray,
            max_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        ll_old = -np.inf
        for _ in range(max_iter):
            logp = np.log(w)[:, None] + log_dens(p1, p2)
            top = logp.max(axis=0)
            norm = top + np.log(np.exp(logp - top).sum(axis=0))
            ll = float(norm.sum())
            if ll - ll_old < TOL * len(x):
                break
            ll_old = ll
            w, p1, p2 = m_step(np.exp(logp - norm), p1, p2)
        return w, p1, p2, ll

    starts = []
    for start in range(n_starts if k > 1 else 1):
        if start == 0:  # deterministic: centres of equal-count slices of the sorted draws
            centres = np.quantile(t, (np.arange(k) + 0.5) / k)
        else:
            centres = rng.choice(t, size=k, replace=False)
        for _ in range(20):  # a few k-means steps give hard starting responsibilities
            label = np.argmin(np.abs(t - centres[:, None]), axis=0)
            centres = np.array([t[label == j].mean() if np.any(label == j) else centres[j]
                                for j in range(k)])
        # A little mass everywhere keeps an empty cluster from starting a degenerate component;
        # short runs from every start, then only the best one is run to convergence.
        resp = 0.95 * np.eye(k)[:, label] + 0.05 / k
        starts.append(run(*m_step(resp, None, None), SHORT_RUN))
    return run(*max(starts, key=lambda fit: fit[3])[:3], MAX_ITER)


def _fit(draws: np.ndarray, family: str, n_components: int | None, max_components: int,
         seed: int, n_starts: int, lower: float = 0.0) -> tuple[np.ndarray, ...]:
    x = np.asarray(draws, dtype=float).ravel()
    if not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        raise ValueError("draws must be finite and not all equal")
    if family == "beta":
        if np.any((x < 0) | (x > 1)):
            raise ValueError("draws of a probability must lie in [0, 1]")
        x = np.clip(x, np.finfo(float).eps, 1 - np.finfo(float).eps)  # as RBesT does
    ks = [n_components] if n_components is not None else list(range(1, max_components + 1))
    if min(ks) < 1 or x.size < 10 * max(ks):
        raise ValueError(f"need >= 1 component and >= 10 draws per component, got {x.size}")
    rng = np.random.default_rng(seed)
    fits, bic = {}, {}
    for k in ks:
        fits[k] = _em(x, k, family, rng, n_starts, lower)
        # BIC with 3k - 1 parameters and n = number of draws (autocorrelation ignored, which
        # errs toward more components: harmless for an approximation).
        bic[k] = -2 * fits[k][3] + (3 * k - 1) * math.log(x.size)
        if k - 1 in bic and bic[k] > bic[k - 1]:
            break  # as automixfit(thresh = 0): stop once another component no longer pays
    w, p1, p2, _ = fits[min(bic, key=lambda j: bic[j])]
    order = np.argsort(-w, kind="stable")  # largest weight first
    return w[order] / w.sum(), p1[order], p2[order]


def fit_beta_mixture(draws: np.ndarray, n_components: int | None = None, *,
                     max_components: int = 4, seed: int, n_starts: int = 3,
                     constrain_gt1: bool = True) -> BetaMixture:
    """Fit a Beta mixture to draws of a probability by EM (weighted maximum likelihood).

    Parameters
    ----------
    draws
        Predictive draws in [0, 1], any shape (flattened). Exact 0 or 1 are moved inside by
        machine epsilon, as RBesT does.
    n_components
        Number of components; ``None`` tries 1, 2, ... up to ``max_components`` and keeps the
        lowest BIC, stopping as soon as one more component raises the BIC.
    max_components
        Largest number of components tried when ``n_components`` is None.
    seed
        Seed of the random EM restarts: the fit is a deterministic function of draws and seed.
    n_starts
        EM runs per number of components: one from equal-count slices of the sorted draws, the
        others from random centres; the highest likelihood wins.
    constrain_gt1
        Keep every ``a, b >= 1`` (RBesT's default), so that the ELIR ESS is defined.

    Returns
    -------
    BetaMixture
        Components in order of decreasing weight.
    """
    w, a, b = _fit(draws, "beta", n_components, max_components, seed, n_starts,
                   1.0 if constrain_gt1 else 1e-3)
    return BetaMixture(weights=tuple(w), a=tuple(a), b=tuple(b))


def fit_normal_mixture(draws_log: np.ndarray, n_components: int | None = None, *,
                       max_components: int = 4, seed: int, n_starts: int = 3) -> NormalMixture:
    """Fit a normal mixture to draws (e.g. of a log median TTP) by EM.

    Parameters as :func:`fit_beta_mixture`, less the Beta-only constraint.
    """
    w, loc, scale = _fit(draws_log, "normal", n_components, max_components, seed, n_starts)
    return NormalMixture(weights=tuple(w), loc=tuple(loc), scale=tuple(scale))



"""Random-effect blocks shared by the binary and time-to-progression models.

Site effects of the treatment lines are jointly normal, ``u[site, :] ~ MvNormal(0, diag(tau) R
diag(tau))``, with an LKJ prior on the correlation ``R``. They are written non-centred
(``u = z @ chol.T`` with ``z ~ Normal(0, 1)``): with few small sites the data barely identify
``tau``, and the centred form would give the funnel-shaped posterior NUTS cannot explore.

``tau`` and ``R`` are sampled as separate variables (``tau ~ HalfNormal``, ``R ~ LKJCorr``), not
through ``pm.LKJCholeskyCov``: its packed factor stores the off-diagonal entries on the scale of
``tau`` (``L[1, 0] = tau[1] * r``), a funnel again when a ``tau`` is near 0. On the shipped data
that form left one chain stuck at ``tau ~ 0.02`` in 2 of 7 seeded fits; the prior is the same.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import Interval

from .dims import LINE, LINE_B, LINE_PAIR, PATIENT, SITE
from .nesting import PoolingWeights

#: Second name of the line dimension, for line-by-line matrices (the site-effect correlation).
#: Dimension of the sampled correlations, one per pair of lines (upper triangle, row-major:
#: "ICI-1,ICI-2"; with three lines "1,2", "1,3", "2,3"), so they have dims like every variable.


def correlated_site_effects(
    *,
    n_lines: int,
    tau_sd: pt.TensorLike,
    lkj_eta: pt.TensorLike,
    pooling: PoolingWeights | None = None,
) -> pt.TensorVariable:
    """Add non-centred site effects ``u_site[site, line]`` to the current model.

    Variables created: ``tau`` (dims ``line``), ``z_site`` (``site, line``), ``u_site``
    (``site, line``) and, with two or more lines, ``site_corr_pairs`` (the sampled correlations,
    dims ``line_pair``; the coordinate is added to the model if absent) and ``site_corr``
    (``line, line_b``).

    Parameters
    ----------
    n_lines
        Number of treatment lines (the length of the ``line`` coordinate).
    tau_sd
        Scale of the half-normal prior on each line's between-site SD ``tau``.
    lkj_eta
        LKJ concentration of the between-line correlation of site effects.
    pooling
        Pooling weights of a nested model (see :class:`PoolingWeights`): ``u_site = hierarchical
        * (the effects above) + independent_sd * z_site``. ``None``: partial pooling as such.

    Returns
    -------
    pytensor.tensor.TensorVariable
        ``u_site`` with shape (site, line).
    """
    z = pm.Normal("z_site", 0.0, 1.0, dims=(SITE, LINE))
    if n_lines == 1:
        tau = pm.HalfNormal("tau", sigma=tau_sd, dims=LINE)
        return pm.Deterministic("u_site", _weighted(z * tau, z, pooling), dims=(SITE, LINE))
    model = pm.modelcontext(None)
    if LINE_PAIR not in model.coords:
        lines = list(model.coords.get(LINE) or range(n_lines))
        pairs = [f"{lines[i]},{lines[j]}" for i in range(n_lines) for j in range(i + 1, n_lines)]
        model.add_coord(LINE_PAIR, pairs)
    tau = pm.HalfNormal("tau", sigma=tau_sd, dims=LINE)
    if n_lines == 2:
        # The same LKJ(eta) prior, written so nutpie's numba backend compiles all of it: LKJCorr's
        # positive-definiteness check runs in numba object mode (holding the GIL), which made
        # 4-chain fits on the shipped data 3x slower. For 2 x 2, r = 2 Beta(eta, eta) - 1.
        pairs = pm.CustomDist("site_corr_pairs", lkj_eta, dist=_two_line_lkj,
                              transform=Interval(-1.0, 1.0), dims=LINE_PAIR)
        corr = pm.LKJCorr.vec_to_corr_mat(pairs, 2)
    else:
        corr = pm.LKJCorr("site_corr_pairs", n=n_lines, eta=lkj_eta, return_matrix=True,
                          dims=LINE_PAIR)
    pm.Deterministic("site_corr", corr, dims=(LINE, LINE_B))
    # u[s, :] = diag(tau) chol(R) z[s, :]: the correlation factor never sees the scale of tau.
    chol = small_cholesky(corr, n_lines)
    return pm.Deterministic("u_site", _weighted(pt.dot(z, chol.T) * tau, z, pooling),
                            dims=(SITE, LINE))


def _weighted(
    hierarchical: pt.TensorVariable, z: pt.TensorVariable, pooling: PoolingWeights | None
) -> pt.TensorVariable:
    if pooling is None:
        return hierarchical
    return pooling.hierarchical * hierarchical + pooling.independent_sd * z


def _two_line_lkj(eta: pt.TensorVariable, size: pt.TensorVariable) -> pt.TensorVariable:
    """LKJ(eta) correlation of two lines: density proportional to (1 - r^2)^(eta - 1)."""
    return 2.0 * pm.Beta.dist(eta, eta, size=size) - 1.0


def small_cholesky(matrix: pt.TensorVariable, n: int) -> pt.TensorVariable:
    """Lower Cholesky factor of a small positive-definite ``n x n`` matrix, in scalar operations.

    The Cholesky-Banachiewicz recursion unrolled into the graph. ``pt.linalg.cholesky`` gives the
    same values, but its gradient costs about 0.2 ms per evaluation in PyTensor's numba backend
    (which nutpie uses), a hundred times the rest of a binary model on the shipped data; with the
    few lines of a study the unrolled form is a handful of elementwise operations.
    """
    zero = pt.as_tensor_variable(np.float64(0.0))
    L: list[list[pt.TensorVariable]] = [[zero] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            partial = zero
            for k in range(j):
                partial = partial + L[i][k] * L[j][k]
            if i == j:
                L[i][i] = pt.sqrt(matrix[i, i] - partial)
            else:
                L[i][j] = (matrix[i, j] - partial) / L[j][j]
    return pt.stack([pt.stack(row) for row in L])


def independent_site_effects(*, effect_sd: pt.TensorLike) -> pt.TensorVariable:
    """No-pooling comparator: a fixed effect per site and line with a wide, fixed prior.

    ``u_site[site, line] ~ Normal(0, effect_sd)`` independently; nothing is learnt across sites.
    """
    return pm.Normal("u_site", 0.0, effect_sd, dims=(SITE, LINE))


def patient_effects(*, sd_scale: pt.TensorLike) -> pt.TensorVariable:
    """Add a patient effect shared across a patient's lines (non-centred).

    Variables created: ``sigma_patient`` (scalar), ``z_patient`` and ``u_patient`` (dims
    ``patient``). Returns ``u_patient``.
    """
    sigma = pm.HalfNormal("sigma_patient", sigma=sd_scale)
    z = pm.Normal("z_patient", 0.0, 1.0, dims=PATIENT)
    return pm.Deterministic("u_patient", z * sigma, dims=PATIENT)

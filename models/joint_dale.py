"""Dale's bivariate logistic model: two binary outcomes with given margins and odds ratio.

Given the marginal probabilities ``p1 = P(Y1 = 1)``, ``p2 = P(Y2 = 1)`` and the odds ratio
``psi = p11 p00 / (p10 p01)`` of the 2 x 2 table (Plackett 1965; Dale 1986), the cell ``p11`` is
the root in ``[max(0, p1 + p2 - 1), min(p1, p2)]`` of a quadratic:

    psi = 1:  p11 = p1 p2
    else:     p11 = (a - sqrt(D)) / (2 (psi - 1)),  a = 1 + (p1 + p2)(psi - 1),
              D = a^2 - 4 psi (psi - 1) p1 p2.

The textbook form divides 0 by 0 at ``psi = 1`` and loses every digit near it (the sampler
crosses ``psi = 1`` all the time: the prior of ``log psi`` is centred there). Multiplying by the
conjugate gives a form with no division by ``psi - 1``:

    p11 = 2 psi p1 p2 / (a + sqrt(D)),

exact and smooth through ``psi = 1``; ``a + sqrt(D) > 0`` always. It cancels only when ``a < 0``
(possible only for ``psi < 1/2``), where the textbook form has no cancellation and is used
instead. ``D`` is written as a sum of non-negative terms on each side of ``psi = 1`` (see
:func:`dale_p11`), and ``psi - 1`` as ``expm1(log psi)``.

The other cells follow from the margins: ``p10 = p1 - p11``, ``p01 = p2 - p11``,
``p00 = 1 - p1 - p01``. Cells are ordered by ``cell = 2 * y1 + y2``: ``(p00, p01, p10, p11)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

#: A cell computed as a difference can round to 0 or just below at extreme parameter values (odds
#: ratios of 1e6 and more); its log is taken at this floor instead of giving NaN.
CELL_FLOOR = 1e-300


def dale_p11(p1: Any, p2: Any, log_or: Any) -> pt.TensorVariable:
    """``P(Y1 = 1, Y2 = 1)`` of Dale's model, as a PyTensor graph (stable through ``psi = 1``).

    Parameters
    ----------
    p1, p2
        Marginal probabilities (tensors or arrays, broadcast together).
    log_or
        Log odds ratio ``log psi`` of the 2 x 2 table.

    Returns
    -------
    pytensor.tensor.TensorVariable
        ``p11``; ``p1 * p2`` exactly when ``log_or == 0``.
    """
    p1, p2, log_or = (pt.as_tensor_variable(x) for x in (p1, p2, log_or))
    psi = pt.exp(log_or)
    delta = pt.expm1(log_or)  # psi - 1, accurate near psi = 1
    a = 1.0 + (p1 + p2) * delta
    # psi >= 1: D = 1 + 2 delta (p1 q2 + p2 q1) + delta^2 (p1 - p2)^2, every term >= 0;
    # psi < 1: D = a^2 + 4 psi |delta| p1 p2, both terms >= 0. The same number either way.
    spread = p1 * (1.0 - p2) + p2 * (1.0 - p1)
    disc = pt.switch(pt.ge(delta, 0.0),
                     1.0 + 2.0 * delta * spread + delta**2 * (p1 - p2) ** 2,
                     a**2 - 4.0 * psi * delta * p1 * p2)
    root = pt.sqrt(disc)
    textbook = pt.le(a, 0.0)
    # The branch not taken is still differentiated: keep its denominator away from 0 (a <= 0
    # implies delta <= -1/2), or its NaN gradient would leak through the switch.
    safe_delta = pt.switch(textbook, delta, -1.0)
    return pt.switch(textbook, (root - a) / (-2.0 * safe_delta),
                     2.0 * psi * p1 * p2 / (a + root))


def dale_log_cells(logit_p1: Any, logit_p2: Any, log_or: Any) -> list[pt.TensorVariable]:
    """Log probabilities of the four cells ``(00, 01, 10, 11)`` from logit margins.

    The complements come from ``invlogit(-logit)`` rather than ``1 - p``, so a margin near 1
    keeps its precision in the cells that need it.
    """
    p1, p2 = pm.math.invlogit(logit_p1), pm.math.invlogit(logit_p2)
    q1 = pm.math.invlogit(-logit_p1)
    p11 = dale_p11(p1, p2, log_or)
    p10 = p1 - p11
    p01 = p2 - p11
    p00 = q1 - p01
    return [pt.log(pt.maximum(cell, CELL_FLOOR)) for cell in (p00, p01, p10, p11)]


def dale_logp(
    value: pt.TensorVariable, logit_p1: Any, logit_p2: Any, log_or: Any
) -> pt.TensorVariable:
    """Log probability of the observed cell ``value`` (``2 * y1 + y2``), elementwise.

    Values outside 0-3 get ``-inf``. The signature of a ``pm.CustomDist`` log density.
    """
    log_cells = dale_log_cells(logit_p1, logit_p2, log_or)
    logp = pt.switch(pt.eq(value, 0), log_cells[0],
                     pt.switch(pt.eq(value, 1), log_cells[1],
                               pt.switch(pt.eq(value, 2), log_cells[2], log_cells[3])))
    inside = pt.and_(pt.ge(value, 0), pt.le(value, 3))
    return pt.switch(inside, logp, -np.inf)


def dale_p11_numpy(p1: Any, p2: Any, log_or: Any) -> np.ndarray:
    """NumPy twin of :func:`dale_p11` (for simulation and predictive draws)."""
    p1, p2, log_or = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (p1, p2, log_or)))
    psi, delta = np.exp(log_or), np.expm1(log_or)
    a = 1.0 + (p1 + p2) * delta
    spread = p1 * (1.0 - p2) + p2 * (1.0 - p1)
    disc = np.where(delta >= 0.0, 1.0 + 2.0 * delta * spread + delta**2 * (p1 - p2) ** 2,
                    a**2 - 4.0 * psi * delta * p1 * p2)
    root = np.sqrt(disc)
    textbook = a <= 0.0
    safe_delta = np.where(textbook, delta, -1.0)
    return np.where(textbook, (root - a) / (-2.0 * safe_delta), 2.0 * psi * p1 * p2 / (a + root))


def dale_cells_numpy(p1: Any, p2: Any, log_or: Any) -> np.ndarray:
    """The four cell probabilities ``(00, 01, 10, 11)`` on the last axis, clipped at 0."""
    p1, p2 = np.asarray(p1, dtype=float), np.asarray(p2, dtype=float)
    p11 = dale_p11_numpy(p1, p2, log_or)
    cells = np.stack(np.broadcast_arrays(1.0 - p1 - p2 + p11, p2 - p11, p1 - p11, p11), axis=-1)
    return np.clip(cells, 0.0, 1.0)


def draw_cells(cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw (0-3) per row of ``cells`` (probabilities on the last axis)."""
    cumulative = np.cumsum(cells, axis=-1)
    u = rng.uniform(size=cells.shape[:-1]) * cumulative[..., -1]
    return np.minimum((u[..., None] >= cumulative).sum(axis=-1), 3).astype("int64")


def _random(
    logit_p1: np.ndarray,
    logit_p2: np.ndarray,
    log_or: np.ndarray,
    rng: np.random.Generator | None = None,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    rng = np.random.default_rng() if rng is None else rng
    p1 = 1.0 / (1.0 + np.exp(-np.asarray(logit_p1, dtype=float)))
    p2 = 1.0 / (1.0 + np.exp(-np.asarray(logit_p2, dtype=float)))
    cells = dale_cells_numpy(p1, p2, log_or)
    if size is not None:
        cells = np.broadcast_to(cells, (*tuple(size), 4))
    return draw_cells(cells, rng)


def dale_categorical(
    name: str,
    *,
    logit_p1: pt.TensorVariable,
    logit_p2: pt.TensorVariable,
    log_or: pt.TensorVariable,
    observed: pt.TensorVariable,
    dims: str,
) -> pt.TensorVariable:
    """Add the observed 2 x 2 cell of each row, ``cell = 2 * y1 + y2``, to the current model.

    A ``pm.CustomDist`` with the log density :func:`dale_logp` and categorical draws, so the
    fit's pointwise log-likelihood and predictive draws work as for any observed variable.
    """
    return pm.CustomDist(name, logit_p1, logit_p2, log_or, logp=dale_logp, random=_random,
                         observed=observed, dims=dims, dtype="int64")

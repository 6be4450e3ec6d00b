"""The generalised gamma distribution (AFT), in Prentice's (1974) parameterisation.

Parameterisation
----------------
flexsurv's ``dgengamma(mu = loc, sigma, Q)``: with ``w = (log t - loc) / sigma``,

* ``Q != 0``: ``u = Q^-2 exp(Q w) ~ Gamma(Q^-2, 1)``, so ``S(t) = 1 - P(Q^-2, u)`` for ``Q > 0``
  and ``S(t) = P(Q^-2, u)`` for ``Q < 0`` (``P`` the regularised lower incomplete gamma);
* ``Q = 0``: the log-normal, ``log T ~ Normal(loc, sigma)``.

``Q = 1`` is the Weibull with ``k = 1 / sigma``, ``lambda = exp(loc)``; ``Q = sigma`` the gamma;
``Q = -1`` the inverse Weibull. ``loc`` is a log time scale: a change ``d`` multiplies every
quantile by ``exp(d)``. SciPy: ``gengamma(a = Q^-2, c = Q / sigma, scale = exp(loc) (Q^2)^(sigma
/ Q))`` (``Q^2``, not ``Q``, so that ``Q < 0``, ``c < 0``, works too); ``lognorm(s = sigma, scale =
exp(loc))`` at ``Q = 0``. flexsurv ``dgengamma.orig(shape = Q / sigma, scale = exp(loc) (Q^2)^(sigma
/ Q), k = Q^-2)`` for ``Q > 0``.

How it is computed
------------------
With ``x = Q w``, ``k = Q^-2`` and ``z = w sqrt(2 g(x))``, ``g(x) = (e^x - 1 - x) / x^2`` (so
``z^2 / 2 = k (e^x - 1 - x)`` and ``z -> w`` as ``Q -> 0``), exactly for every ``Q``::

    log f(t) = log phi(z) - log sigma - log t - r(k),  r(k) = lgamma(k) - (k - 1/2) log k + k
                                                              - log(2 pi) / 2 = Q^2 / 12 + ...

(no cancellation; ``Q = 0`` is the log-normal). ``log S`` has four regimes, chosen per row:

* the gamma variable's upper tail (``x > 0``): ``log Q(k, u) = log phi(z) - r + log|Q| - x +
  log sum_{n<=36} prod_{i<=n} (1 - i Q^2) e^-x``, the asymptotic series (ratios ``(k - i) / u``),
  where its 36th term, which bounds the error, is below 1e-14 without its smallest factor;
* its lower tail (``x < 0``): ``log P(k, u) = log phi(z) - r + log|Q| + log sum_{n<=36} prod_{i<=n}
  e^x / (1 + i Q^2)``, the convergent series (ratios ``u / (k + i)``), on the same condition;
* else, for ``|Q| >=`` :data:`SMALL_Q`, ``gammainc`` (``u < 45``): PyTensor's gradient of
  ``gammaincc`` in ``k`` is wrong (0.153 for 0.169 at ``k = 25``, NaN from 200), ``gammainc``'s
  right but for an absolute error (fatal to ``d log S`` in the tails the series take) and
  overflow above ``u = 700``; ``zero_grad`` puts ``gammaincc``'s value in;
* else (``|Q| <`` :data:`SMALL_Q`, ``|x| < 0.9``) Temme's uniform expansion::

    S = Phi_c(z) + e^{-r} phi(z) sum_{m=1}^{20} h_m Q^m p_m(z),

  from ``S = e^{-r} int_z^inf phi(v) h(Qv) dv`` with ``h(eta) = dx/deta``, ``eta^2 / 2 = e^x - 1
  - x`` (series reversion; the ``h_m`` are Temme's ``c_0(eta)`` coefficients, DLMF section 8.12),
  ``int_z^inf v^m phi = p_m(z) phi(z) (+ (m - 1)!! Phi_c(z), m even)``, ``p_m = z^(m-1) + (m - 1)
  p_(m-2)``; the ``Phi_c`` terms sum to ``e^r`` (the density integrates to one).

``log S`` is right to 1e-10 (SciPy) on both sides of ``|Q| = 0.15``, where the branches agree to
1e-10 in value and 1e-6 in gradient; the gradient's error is below 1e-7 but 4e-6 (``gammainc``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.gradient import zero_grad
from scipy import special

from rechallenge.models.priors import PriorDefault
from rechallenge.models.survival.base import ShapeParameter, SurvivalDistribution

#: Below this ``|Q|`` (``k > 44``) the middle is Temme's series: accurate to 3e-11 at 0.15, where
#: ``gammainc``'s gradient, which the graph would use above, is still accurate in the middle.
SMALL_Q: Final = 0.15

#: ``h_1 .. h_20`` of ``h(eta) = dx/deta``, ``eta^2 / 2 = e^x - 1 - x`` (the rationals -1/3, 1/12,
#: -2/135, 1/864, 1/2835, ...; recomputed exactly in the tests).
_H: Final = (
    -0.3333333333333333, 0.08333333333333333, -0.014814814814814815, 0.0011574074074074073,
    0.0003527336860670194, -0.0001787551440329218, 3.919263178522438e-05, -2.185448510679992e-06,
    -1.85406221071516e-06, 8.296711340953087e-07, -1.7665952736826078e-07, 6.707853543401498e-09,
    1.0261809784240309e-08, -4.382036018453353e-09, 9.14769958223679e-10, -2.5514193994946248e-11,
    -5.830772132550426e-11, 2.4361948020667415e-11, -5.0276692801141755e-12, 1.1004392031956135e-13,
)
#: ``g(x) = sum_j x^j / (j + 2)!`` for ``|x| < 0.1`` (error < 1e-19): ``expm1(x) - x`` loses digits.
_G_SERIES: Final = tuple(1.0 / math.factorial(j + 2) for j in range(10))
_G_SMALL: Final = 0.1
#: Stirling's series of ``r(k)`` in ``q2 = 1 / k`` (for ``k > 44``: omitted terms below 1e-20).
_R_SERIES: Final = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188)
_HALF_LOG_2PI: Final = 0.5 * math.log(2 * math.pi)
#: The tail series of the module docstring: terms, and the log of their error bound.
_TAIL_I: Final = np.arange(1.0, 37.0)
_LOG_TAIL_ERROR: Final = math.log(1e-14)
_FAR_Z: Final = 30.0  # beyond it the graph's log Phi_c(z) is Mills' ratio's series
_NEWTON: Final = 12  # Newton steps of the small-|Q| quantile (quadratic convergence)


def _horner(coefs: Sequence[float], x: Any) -> Any:
    """``sum_j coefs[j] x^j`` (NumPy arrays and PyTensor tensors alike)."""
    acc = coefs[-1] + 0.0 * x
    for c in reversed(coefs[:-1]):
        acc = acc * x + c
    return acc


def _tail_matrix() -> np.ndarray:
    """``C[m - 1, j] = h_m [z^j] p_m(z)``: Temme's sum is ``sum_{m, j} C[m - 1, j] Q^m z^j``."""
    n = len(_H)
    p = np.eye(n + 1, n, -1)  # p_0 = 0, p_1 = 1, p_m = z^(m-1) + (m - 1) p_(m-2)
    for m in range(2, n + 1):
        p[m] += (m - 1) * p[m - 2]
    return np.asarray(_H)[:, None] * p[1:]


_TAIL: Final = _tail_matrix()
_Q_POWERS: Final = np.arange(1.0, len(_H) + 1)  # Q^1 .. Q^20
_Z_POWERS: Final = np.arange(1.0, len(_H))  # z^1 .. z^19; not z^0, whose gradient is NaN at 0


def _regimes(x: Any, q: Any, lib: Any) -> tuple[Any, Any, Any]:
    """Masks of the upper tail, lower tail and middle (module docstring); ``lib``: np or pt."""
    q2, n = (q * q)[..., None], len(_TAIL_I)
    # Without the smallest factor: at Q^2 = 1 / i (Q = 1, 0.5) the series ends, but its gradient
    # in Q is the next series, which does not.
    factors = lib.log(lib.maximum(abs(1.0 - _TAIL_I * q2), 1e-300))
    last_upper = factors.sum(axis=-1) - factors.min(axis=-1) - n * x
    last_lower = n * x - lib.log1p(_TAIL_I * q2).sum(axis=-1)
    upper, lower = (x > 0.0) & (last_upper < _LOG_TAIL_ERROR), (x < 0.0) & (last_lower < _LOG_TAIL_ERROR)
    return upper, lower, ~(upper | lower)


def _tail_series_terms(x: Any, q: Any, upper: bool, lib: Any) -> Any:
    """The ratios ``(1 - i Q^2) e^-x`` (upper tail) or ``e^x / (1 + i Q^2)``, ``i = 1..36``."""
    x, q2 = x[..., None], (q * q)[..., None]
    ratios = (1.0 - _TAIL_I * q2) * lib.exp(-x) if upper else lib.exp(x) / (1.0 + _TAIL_I * q2)
    # At Q^2 = 1 / i (Q = 1, 0.5, ...) a ratio is 0: the gradient of cumprod divides by it.
    zero = pt.eq(ratios, 0.0) if lib is pt else ratios == 0.0  # == is identity on a tensor
    return lib.log1p(lib.cumprod(ratios + zero * 1e-200, axis=-1).sum(axis=-1))


def _g(x: Any, lib: Any) -> Any:
    """``g(x) = (e^x - 1 - x) / x^2``; the series near 0 (the direct form there gets a harmless
    argument: a switch passes zero gradient to its other branch, but zero times NaN is NaN).
    """
    small = abs(x) < _G_SMALL
    safe = lib.where(small, 1.0, x)
    with np.errstate(over="ignore"):
        return lib.where(small, _horner(_G_SERIES, x), (lib.expm1(safe) - safe) / safe**2)


def _r(q: Any, lib: Any) -> Any:
    """``r(Q^-2)``: Stirling's series below :data:`SMALL_Q`, directly above."""
    small = abs(q) < SMALL_Q
    q_s, q_g = lib.where(small, q, 0.0), lib.where(small, 1.0, q)
    k = 1.0 / (q_g * q_g)
    gammaln = special.gammaln if lib is np else pt.gammaln
    return lib.where(small, q_s * q_s * _horner(_R_SERIES, q_s**4),
                     gammaln(k) - (k - 0.5) * lib.log(k) + k - _HALF_LOG_2PI)


# --------------------------------------------------------------------------- NumPy
def _log_pdf_w(w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Log density of ``w = (log T - loc) / sigma``."""
    with np.errstate(over="ignore"):
        return -w * w * _g(q * w, np) - _HALF_LOG_2PI - _r(q, np)


def _log_sf_w(w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Log survival function of ``w`` (each regime on its rows only)."""
    w, q = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(q, dtype=float))
    out = np.empty(w.shape)
    x = q * w
    upper, lower, middle = _regimes(x, q, np)
    small = np.abs(q) < SMALL_Q
    for mask, is_upper in ((upper, True), (lower, False)):
        wm, qm = w[mask], q[mask]
        base = _log_pdf_w(wm, qm) + np.log(np.abs(qm)) - (qm * wm if is_upper else 0.0)
        log_tail = base + _tail_series_terms(qm * wm, qm, is_upper, np)
        with np.errstate(divide="ignore"):  # log(1 - e^a), as pt.log1mexp
            other = np.where(log_tail < -math.log(2.0), np.log1p(-np.exp(log_tail)),
                             np.log(-np.expm1(log_tail)))
        out[mask] = np.where((qm > 0) == is_upper, log_tail, other)
    mask = middle & small
    wm, qm = w[mask], q[mask]
    z = wm * np.sqrt(2.0 * _g(qm * wm, np))
    log_sf_z = special.log_ndtr(-z)
    coef = (qm[:, None] ** _Q_POWERS) @ _TAIL
    tail = coef[:, -1]
    for j in range(coef.shape[-1] - 2, -1, -1):  # Horner in z
        tail = tail * z + coef[:, j]
    mills = np.exp(-0.5 * z * z - _HALF_LOG_2PI - log_sf_z - _r(qm, np))
    out[mask] = log_sf_z + np.log1p(mills * tail)
    mask = middle & ~small
    qm = q[mask]
    k = qm**-2.0
    u = k * np.exp(x[mask])
    lower_p, upper_p = special.gammainc(k, u), special.gammaincc(k, u)
    sf, cdf = np.where(qm > 0, upper_p, lower_p), np.where(qm > 0, lower_p, upper_p)
    with np.errstate(divide="ignore"):
        out[mask] = np.where(cdf < 0.5, np.log1p(-cdf), np.log(sf))
    return out


def _quantile_w(log_s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The ``w`` with ``log S(w) = log_s``."""
    log_s, q = np.broadcast_arrays(np.asarray(log_s, dtype=float), np.asarray(q, dtype=float))
    s = np.exp(log_s)
    small = np.abs(q) < SMALL_Q
    qg = np.where(small, 1.0, q)
    k = qg**-2.0
    u = np.where(qg > 0, special.gammainccinv(k, s), special.gammaincinv(k, s))
    with np.errstate(divide="ignore"):
        closed = np.log(u / k) / qg
    if not small.any():
        return closed
    # Small |Q|: Newton on log S (concave: the density is log-concave) from the log-normal one.
    qs = np.where(small, q, 0.0)
    w = -special.ndtri(s)
    for _ in range(_NEWTON):
        log_sf = _log_sf_w(w, qs)
        w = w + (log_sf - log_s) * np.exp(log_sf - _log_pdf_w(w, qs))
    return np.where(small, w, closed)


# --------------------------------------------------------------------------- PyTensor
def _log_normal_tail_pt(z: pt.TensorVariable) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """``log Phi_c(z)`` and ``log(phi(z) / Phi_c(z))`` for every finite ``z`` by ``erfc``
    (JAX has no ``erfcx`` without ``tfp-nightly``), Mills' ratio's series beyond ``z = 30``.
    """
    upper, far = pt.gt(z, 1.0), pt.gt(z, _FAR_Z)
    z_low = pt.switch(upper, 1.0, z)
    z_mid = pt.switch(upper, pt.switch(far, _FAR_Z, z), 2.0)
    z_far = pt.switch(far, z, _FAR_Z)
    near = pt.switch(upper, pt.log(0.5 * pt.erfc(z_mid / math.sqrt(2.0))),
                     pt.log1p(-0.5 * pt.erfc(-z_low / math.sqrt(2.0))))
    v = 1.0 / (z_far * z_far)
    series = pt.log1p(v * (-1.0 + v * (3.0 + v * (-15.0 + v * 105.0))))
    z_near = pt.switch(far, 0.0, z)
    log_sf = pt.switch(far, -0.5 * z_far * z_far - pt.log(z_far) - _HALF_LOG_2PI + series, near)
    log_mills = pt.switch(far, pt.log(z_far) - series, -0.5 * z_near * z_near - _HALF_LOG_2PI - near)
    return log_sf, log_mills


def _log_sf_pt(w: pt.TensorVariable, q: pt.TensorVariable, z: pt.TensorVariable,
               r: pt.TensorVariable) -> pt.TensorVariable:
    """Log survival function of ``w`` as a graph (the four regimes of the module docstring),
    given ``z`` and ``r``, which the density shares.
    """
    x, log_phi = q * w, -0.5 * z * z - _HALF_LOG_2PI - r
    upper, lower, middle = _regimes(x, q, pt)
    small = pt.lt(pt.abs(q), SMALL_Q)
    positive = pt.gt(q, 0.0)
    # Tails: the ratios get x = 10 or -2 and Q = 0.5 on the rows that do not use them.
    base = log_phi + pt.log(pt.abs(pt.switch(pt.eq(q, 0.0), 1.0, q)))
    log_q_upper = base - x + _tail_series_terms(pt.switch(upper, x, 10.0),
                                                pt.switch(upper, q, 0.5), True, pt)
    log_p_lower = base + _tail_series_terms(pt.switch(lower, x, -2.0),
                                            pt.switch(lower, q, 0.5), False, pt)
    tail = pt.switch(upper, pt.switch(positive, log_q_upper, pt.log1mexp(log_q_upper)),
                     pt.switch(positive, pt.log1mexp(log_p_lower), log_p_lower))
    # Temme's series in the middle for small |Q|.
    q_t = pt.switch(middle & small, q, 0.0)
    log_sf_z, log_mills = _log_normal_tail_pt(z)
    coef = (q_t[..., None] ** _Q_POWERS) @ _TAIL
    # A sum of powers, not Horner's rule: a graph whose gradient compiles in a second, not 20.
    poly = coef[..., 0] + (coef[..., 1:] * pt.clip(z, -1e12, 1e12)[..., None] ** _Z_POWERS
                           ).sum(axis=-1)
    temme = log_sf_z + pt.log1p(pt.exp(log_mills - r) * poly)
    # The incomplete gamma in the middle for larger |Q| (u < 45 there, no overflow).
    in_g = middle & ~small
    q_g = pt.switch(in_g, q, 1.0)
    k = 1.0 / (q_g * q_g)
    u = k * pt.exp(q_g * pt.switch(in_g, w, 0.0))
    p_lower = pt.gammainc(k, u)
    # 1 - P carries the gradient; gammaincc's value replaces it, exact where 1 - P lost digits.
    q_upper = (1.0 - p_lower) + zero_grad(pt.gammaincc(k, u) - (1.0 - p_lower))
    sf = pt.switch(positive, q_upper, p_lower)
    cdf = pt.switch(positive, p_lower, q_upper)
    body = pt.lt(cdf, 0.5)
    gamma = pt.switch(body, pt.log1p(-pt.switch(body, cdf, 0.0)), pt.log(pt.switch(body, 1.0, sf)))
    return pt.switch(middle, pt.switch(small, temme, gamma), tail)


class GeneralisedGamma(SurvivalDistribution):
    """Generalised gamma with log scale ``loc``, ``sigma = exp(log_sigma)`` and shape ``Q``."""

    name = "gengamma"
    label = "generalised gamma"
    aft = True
    proportional_hazards = False
    location_words = "log time scale mu (log months; the median when Q = 0)"
    needs_backend = "jax"  # numba: no compile in 20 min on the shipped data; JAX: 1-4 min
    parameters = (
        # The log-normal's words: the reader's vocabulary is keyed by the parameter's name alone.
        ShapeParameter("sigma", "log_sigma", "sigma_log_sd", words="SD of log time (log-normal \u03c3)"),
        # Its mean is the hyperparameter q_mean (see shape_variables); 0.5 is that default.
        ShapeParameter("Q", "Q", "q_sd", prior_mean=0.5, positive=False,
                       words="generalised gamma shape Q (0 log-normal, 1 Weibull)",
                       prior_mean_name="q_mean"),
    )
    priors = MappingProxyType({
        "mu_mean": PriorDefault(
            math.log(6.0),
            "mu[line] ~ Normal(mu_mean, mu_sd)  (log time scale, months)",
            "Centred on a scale of 6 months: median TTP on ICIs in advanced HCC is typically 3-8 "
            "months, and at the prior means sigma = 1, Q = 0.5 a scale of 6 means a median of "
            "5.1 months (4.2 for the Weibull Q = 1, 6 for the log-normal Q = 0).",
            positive=False,
        ),
        "mu_sd": PriorDefault(
            1.0,
            "mu[line] ~ Normal(mu_mean, mu_sd)",
            "95% of the prior scale lies in 0.8-43 months, so medians from about 1 to 40 months "
            "are all plausible while medians of days or decades are not.",
        ),
        "sigma_log_sd": PriorDefault(
            0.5,
            "log_sigma[line] ~ Normal(0, sigma_log_sd), sigma = exp(log_sigma)",
            "Centred on sigma = 1 (with Q = 1 the exponential) with 95% of the mass in "
            "sigma = 0.38-2.7: at Q = 1 the same prior as the Weibull's on 1 / k, and for the "
            "log-normal an SD of log TTP from a third to almost three, ruling out the "
            "near-deterministic times a few early progressions could suggest.",
        ),
        "q_mean": PriorDefault(
            0.5,
            "Q[line] ~ Normal(q_mean, q_sd)",
            "Halfway between the log-normal (Q = 0) and the Weibull (Q = 1), so that the prior "
            "favours neither of the two families most used for TTP.",
            positive=False,
        ),
        "q_sd": PriorDefault(
            1.0,
            "Q[line] ~ Normal(q_mean, q_sd)",
            "Q = 0 and Q = 1 both lie half an SD from the mean, and 95% of the mass is in "
            "Q = -1.5 to 2.5: the gamma (Q = sigma) and the inverse Weibull (Q = -1) are "
            "inside, and the data decide between them; shapes beyond |Q| = 3, which few rows "
            "could identify, are not.",
        ),
    })

    def shape_variables(self, p: Mapping[str, pt.TensorVariable], n_lines: int, *,
                        shared: bool, line_dim: str) -> tuple[pt.TensorVariable, ...]:
        """``sigma`` (sampled as ``log_sigma``) and ``Q``, whose prior mean is the
        hyperparameter ``q_mean`` (see :meth:`SurvivalDistribution.shape_variables`).
        """
        dims = None if shared else line_dim
        log_sigma = pm.Normal("log_sigma", 0.0, p["sigma_log_sd"], dims=dims)
        sigma = pm.Deterministic("sigma", pt.exp(log_sigma), dims=dims)
        q = pm.Normal("Q", p["q_mean"], p["q_sd"], dims=dims)
        if shared:
            return pt.ones(n_lines) * sigma, pt.ones(n_lines) * q
        return sigma, q

    def censored_logp(self, value: pt.TensorLike, loc: pt.TensorLike, *params: pt.TensorLike,
                      upper: pt.TensorLike) -> pt.TensorVariable:
        """``log f`` (exact for every ``Q``) for events, ``log S`` for censored rows (the
        regimes of the module docstring).
        """
        sigma, q = (pt.as_tensor_variable(p) for p in params)
        value = pt.as_tensor_variable(value)
        log_t = pt.log(value)
        w = (log_t - loc) / sigma
        event = pt.lt(value, upper)
        # z and r once, for the density and the survival function alike.
        z, r = w * pt.sqrt(2.0 * _g(q * w, pt)), _r(q, pt)
        log_f = -0.5 * z * z - _HALF_LOG_2PI - r - pt.log(sigma) - log_t
        return pt.switch(event, log_f, _log_sf_pt(w, q, z, r))

    def log_survival(self, t: np.ndarray, loc: np.ndarray,
                     params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log S``: the regimes of the module docstring, SciPy's incomplete gamma in the
        middle for ``|Q| >=`` :data:`SMALL_Q`.
        """
        sigma, q = params
        with np.errstate(divide="ignore"):
            return _log_sf_w((np.log(t) - loc) / sigma, q)

    def log_density(self, t: np.ndarray, loc: np.ndarray,
                    params: tuple[np.ndarray, ...]) -> np.ndarray:
        """``log phi(z) - log sigma - log t - r(Q^-2)`` (see the module docstring)."""
        sigma, q = params
        log_t = np.log(t)
        return _log_pdf_w((log_t - loc) / sigma, q) - np.log(sigma) - log_t

    def random(self, loc: np.ndarray, params: tuple[np.ndarray, ...],
               rng: np.random.Generator) -> np.ndarray:
        """``w = log(Q^2 u) / Q`` of gamma draws ``u``; inversion below :data:`SMALL_Q`,
        where ``log(Q^2 u) / Q`` loses digits (and ``Q = 0`` has no gamma).
        """
        sigma, q = params
        loc, sigma, q = np.broadcast_arrays(np.asarray(loc, dtype=float), sigma, q)
        small = np.abs(q) < SMALL_Q
        qg = np.where(small, 1.0, q)
        with np.errstate(divide="ignore"):
            w = np.log(qg * qg * rng.gamma(qg**-2.0)) / qg
        if small.any():
            w = np.where(small, _quantile_w(-rng.standard_exponential(q.shape),
                                            np.where(small, q, 0.0)), w)
        with np.errstate(over="ignore"):  # vague prior predictive scales overflow: inf is honest
            return np.exp(loc + sigma * w)

    def quantile(self, survival: float, loc: np.ndarray,
                 params: tuple[np.ndarray, ...]) -> np.ndarray:
        """By ``gammainccinv`` / ``gammaincinv``; Newton's method below :data:`SMALL_Q`."""
        sigma, q = params
        return np.exp(loc + sigma * _quantile_w(np.log(survival), q))

"""Meta-analytic-predictive (MAP) priors: parametric mixtures fitted to new-site predictive draws.

The predictive distribution of a new site's parameter under the fitted hierarchical model is the
MAP prior for a future single-arm study (Schmidli et al. 2014). To travel outside this package it
is approximated by a mixture of conjugate densities fitted by EM to the draws, as RBesT's
``mixfit``/``automixfit`` do (Weber et al. 2021): :class:`BetaMixture` for a probability and
:class:`NormalMixture` for a log median time to progression. Robustification, effective sample
sizes and the JSON record are described in ``docs/map_prior.md``. Nothing here fits a model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import integrate, optimize, special, stats

from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval

#: Identifies the JSON written by :func:`map_prior_json`; bump the version on any change.
MAP_PRIOR_FORMAT = "rechallenge-map-prior"
MAP_PRIOR_VERSION = 1
EssMethod = Literal["elir", "moment"]
#: EM stops when the log-likelihood gains less than this per draw, or after MAX_ITER steps.
TOL = 1e-7
MAX_ITER = 1000
SHORT_RUN = 50  # EM steps from each start before the best start is run on


class _Mixture:
    """Mixture arithmetic shared by the families; ``_dist`` gives the components (scipy)."""

    weights: tuple[float, ...]
    family: ClassVar[str]
    _params: ClassVar[tuple[str, str]]

    def _check(self) -> None:
        # Tuples, not arrays: the object is then really immutable, hashable and comparable.
        values = {name: tuple(float(v) for v in np.ravel(getattr(self, name)))
                  for name in ("weights", *self._params)}
        for name, value in values.items():
            object.__setattr__(self, name, value)
        w = np.array(values["weights"])
        if w.size == 0 or any(len(v) != w.size for v in values.values()):
            raise ValueError(f"weights and {self._params} must be non-empty and of equal length")
        if np.any(w <= 0) or abs(w.sum() - 1) > 1e-8:
            raise ValueError(f"weights must be positive and sum to 1, got {values['weights']}")
        if not all(np.all(np.isfinite(v)) for v in values.values()):
            raise ValueError("mixture parameters must be finite")
        if any(min(getattr(self, name)) <= 0 for name in self._positive):
            raise ValueError(f"{self._positive} must be positive")

    def _dist(self) -> Any:
        return self._scipy(*(np.array(getattr(self, name)) for name in self._params))

    @property
    def n_components(self) -> int:
        """Number of components."""
        return len(self.weights)

    def mean(self) -> float:
        """Mixture mean."""
        return float(np.dot(self.weights, self._dist().mean()))

    def sd(self) -> float:
        """Mixture standard deviation (law of total variance)."""
        d = self._dist()
        second = np.dot(self.weights, d.var() + d.mean() ** 2)
        return float(math.sqrt(max(second - self.mean() ** 2, 0.0)))

    def pdf(self, x: np.ndarray | float) -> np.ndarray:
        """Density at ``x`` (same shape as ``x``)."""
        arr = np.asarray(x, dtype=float)
        logp = self._dist().logpdf(arr.reshape(-1, 1)) + np.log(self.weights)
        return np.exp(special.logsumexp(logp, axis=1)).reshape(arr.shape)

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """Distribution function at ``x`` (same shape as ``x``)."""
        arr = np.asarray(x, dtype=float)
        return (self._dist().cdf(arr.reshape(-1, 1)) @ np.array(self.weights)).reshape(arr.shape)

    def quantile(self, q: np.ndarray | float) -> np.ndarray:
        """Quantiles by root-finding on :meth:`cdf` (a mixture has no closed-form inverse)."""
        qs = np.asarray(q, dtype=float)
        if np.any((qs <= 0) | (qs >= 1)):
            raise ValueError("quantile levels must be in (0, 1)")
        d = self._dist()
        lo, hi = float(np.min(d.ppf(1e-15))), float(np.max(d.isf(1e-15)))
        out = [optimize.brentq(lambda x, p=p: float(self.cdf(x)) - p, lo, hi, xtol=1e-13)
               for p in qs.ravel()]
        return np.array(out).reshape(qs.shape)

    def interval(self, level: float = DEFAULT_INTERVAL.level) -> tuple[float, float]:
        """Equal-tailed interval holding probability ``level``."""
        lo, hi = self.quantile(np.array([(1 - level) / 2, (1 + level) / 2]))
        return float(lo), float(hi)

    def _with_component(self, weight: float, *params: float) -> Any:
        if not 0 < weight < 1:
            raise ValueError(f"robust weight must be in (0, 1), got {weight}")
        new = {name: (*getattr(self, name), p) for name, p in zip(self._params, params)}
        return type(self)(weights=(*(w * (1 - weight) for w in self.weights), weight), **new)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``{"family", "weights", <two parameter lists>}``."""
        return {"family": self.family, "weights": list(self.weights),
                **{name: list(getattr(self, name)) for name in self._params}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`; the ``family`` entry must match the class."""
        if data.get("family") != cls.family:
            raise ValueError(f"expected family {cls.family!r}, got {data.get('family')!r}")
        return cls(weights=data["weights"], **{name: data[name] for name in cls._params})


@dataclass(frozen=True)
class BetaMixture(_Mixture):
    """Mixture of Beta densities for a probability: ``sum_k weights[k] Beta(a[k], b[k])``.

    Parameters
    ----------
    weights
        Positive component weights summing to 1.
    a, b
        Positive Beta shape parameters (alpha, beta). All three are stored as tuples of floats;
        use ``np.asarray`` for arithmetic.
    """

    weights: tuple[float, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]
    family: ClassVar[str] = "beta"
    _params: ClassVar[tuple[str, str]] = ("a", "b")
    _positive: ClassVar[tuple[str, ...]] = ("a", "b")
    _scipy: ClassVar[Any] = stats.beta

    def __post_init__(self) -> None:
        self._check()

    def robustify(self, weight: float, vague: tuple[float, float] = (1.0, 1.0)) -> BetaMixture:
        """Add a vague ``Beta(*vague)`` component with ``weight``; the rest get ``1 - weight``.

        The default Beta(1, 1) is RBesT's default robust component for a binary endpoint: the
        uniform rather than the unit-information Beta(1/2, 1/2), which piles mass at 0 and 1.
        """
        return self._with_component(weight, *vague)

    def ess(self, method: EssMethod = "elir") -> float:
        """Prior effective sample size, in patients.

        ``"moment"``: ``a + b`` of the single Beta with the mixture's mean and variance.
        ``"elir"`` (default, as in RBesT): the expected local-information ratio of Neuenschwander
        et al. (2020), ``E[i(theta) / i_F(theta)]`` under the mixture, with ``i = -(log f)''``
        and ``i_F = 1 / (theta (1 - theta))``; it needs every ``a, b >= 1`` (else the integral
        diverges). Integration by parts turns it into a non-negative, numerically tame form::

            ESS = 2 - f(0+) - f(1-) + E[(log f)'(theta)^2 theta (1 - theta)]

        A single Beta(a, b) with a, b > 1 gives ``a + b``. The boundary densities are non-zero
        only for components with ``a = 1`` or ``b = 1``: Beta(1, b) has ESS 1, Beta(1, 1) 0.
        """
        if method == "moment":
            m, s = self.mean(), self.sd()
            return m * (1 - m) / s**2 - 1
        if method != "elir":
            raise ValueError(f"unknown ESS method {method!r}; use 'elir' or 'moment'")
        a, b, w = np.array(self.a), np.array(self.b), np.array(self.weights)
        if min(a.min(), b.min()) < 1:
            raise ValueError("ELIR ESS is undefined when a Beta parameter is below 1")

        def integrand(z: float) -> float:
            # On the logit scale dtheta = theta (1 - theta) dz, so the integrand is
            # f(theta) [(log f)'(theta) theta (1 - theta)]^2, with a bounded bracket.
            lt, l1t = special.log_expit(z), special.log_expit(-z)
            logp = np.log(w) + (a - 1) * lt + (b - 1) * l1t - special.betaln(a, b)
            lf = special.logsumexp(logp)
            score = np.dot(np.exp(logp - lf), (a - 1) * math.exp(l1t) - (b - 1) * math.exp(lt))
            return math.exp(lf) * score**2

        edges = [-np.inf, *sorted(special.logit(np.clip(a / (a + b), 1e-12, 1 - 1e-12))), np.inf]
        total = sum(integrate.quad(integrand, lo, hi, limit=200, epsabs=1e-10)[0]
                    for lo, hi in zip(edges[:-1], edges[1:]))
        boundary = np.dot(w, np.where(a == 1, b, 0.0)) + np.dot(w, np.where(b == 1, a, 0.0))
        return float(2 - boundary + total)


@dataclass(frozen=True)
class NormalMixture(_Mixture):
    """Mixture of normal densities ``sum_k weights[k] Normal(loc[k], scale[k])``.

    For the log median time to progression. As :class:`BetaMixture`, with ``loc`` (means) and
    ``scale`` (standard deviations, positive).
    """

    weights: tuple[float, ...]
    loc: tuple[float, ...]
    scale: tuple[float, ...]
    family: ClassVar[str] = "normal"
    _params: ClassVar[tuple[str, str]] = ("loc", "scale")
    _positive: ClassVar[tuple[str, ...]] = ("scale",)
    _scipy: ClassVar[Any] = stats.norm

    def __post_init__(self) -> None:
        self._check()

    def robustify(self, weight: float, scale: float = 1.0,
                  loc: float | None = None) -> NormalMixture:
        """Add a wide ``Normal(loc, scale)`` component with ``weight``; the rest get 1 - weight.

        ``loc`` defaults to the mixture mean (as RBesT; set it to the future study's null value
        if it has one). The default ``scale`` of 1 on the log
        scale is unit information: with exponential times, a log median estimated from ``d``
        events has a standard error of about ``1 / sqrt(d)``, so sd 1 is about one event.
        """
        return self._with_component(weight, self.mean() if loc is None else loc, scale)

    def ess(self, method: EssMethod = "elir", sigma: float = 1.0) -> float:
        """Effective sample size relative to a reference (unit-information) sd ``sigma``.

        ``"moment"``: ``sigma^2 / sd^2``. ``"elir"``: ``sigma^2 E[-(log f)'']``, computed as
        ``sigma^2 E[(log f)'^2]`` (integration by parts; no boundary terms on the real line).
        A single Normal(m, s) gives ``sigma^2 / s^2`` by both. With ``sigma = 1`` the ESS is in
        events (see :meth:`robustify`).
        """
        if method == "moment":
            return sigma**2 / self.sd() ** 2
        if method != "elir":
            raise ValueError(f"unknown ESS method {method!r}; use 'elir' or 'moment'")
        loc, scale, w = np.array(self.loc), np.array(self.scale), np.array(self.weights)

        def integrand(x: float) -> float:
            logp = np.log(w) + stats.norm.logpdf(x, loc, scale)
            lf = special.logsumexp(logp)
            return math.exp(lf) * np.dot(np.exp(logp - lf), (loc - x) / scale**2) ** 2

        lo, hi = np.min(loc - 40 * scale), np.max(loc + 40 * scale)
        total = integrate.quad(integrand, lo, hi, points=sorted(loc), limit=400, epsabs=1e-12)[0]
        return float(sigma**2 * total)


# --------------------------------------------------------------------------------- EM fitting


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

    def m_step(resp: np.ndarray, p1: np.ndarray | None, p2: np.ndarray | None) -> tuple:
        nk = _sum_over_draws(resp)
        # The weighted sums over draws are BLAS products with r laid out (draw, component).
        r, w = np.divide(resp.T, np.maximum(nk, 1e-300), out=by_draw), np.maximum(nk, 1e-12)
        if beta and p1 is not None:  # Newton from the current values: no moments needed
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

    def run(w: np.ndarray, p1: np.ndarray, p2: np.ndarray, max_iter: int) -> tuple:
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
    w, p1, p2, _ = fits[min(bic, key=bic.get)]
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
    return BetaMixture(weights=w, a=a, b=b)


def fit_normal_mixture(draws_log: np.ndarray, n_components: int | None = None, *,
                       max_components: int = 4, seed: int, n_starts: int = 3) -> NormalMixture:
    """Fit a normal mixture to draws (e.g. of a log median TTP) by EM.

    Parameters as :func:`fit_beta_mixture`, less the Beta-only constraint.
    """
    w, loc, scale = _fit(draws_log, "normal", n_components, max_components, seed, n_starts)
    return NormalMixture(weights=w, loc=loc, scale=scale)


# -------------------------------------------------------------------------------- JSON record


def map_prior_entry(mixture: BetaMixture | NormalMixture, draws: np.ndarray, *,
                    robust_weight: float, vague: tuple[float, float] = (1.0, 1.0),
                    robust_scale: float = 1.0,
                    interval: Interval = DEFAULT_INTERVAL) -> dict[str, Any]:
    """The JSON-ready record of one endpoint and line.

    Parameters
    ----------
    mixture
        The fitted, non-robust mixture.
    draws
        The predictive draws it was fitted to; their mean and interval are recorded beside the
        mixture's, so that a reader can check the approximation.
    robust_weight
        Weight of the vague component.
    vague, robust_scale
        The vague component: ``Beta(*vague)`` for a Beta mixture; ``Normal(mixture mean,
        robust_scale)`` for a normal mixture, whose ESS is also relative to ``robust_scale``.
    interval
        Only the level is used: the check is equal-tailed, as a mixture's quantiles give.
    """
    beta = isinstance(mixture, BetaMixture)
    robust = (mixture.robustify(robust_weight, vague) if beta
              else mixture.robustify(robust_weight, robust_scale))

    def ess(mix: BetaMixture | NormalMixture) -> dict[str, float]:
        extra = {} if beta else {"sigma": robust_scale}
        return {m: float(mix.ess(m, **extra)) for m in ("elir", "moment")}

    x = np.asarray(draws, dtype=float).ravel()
    et = Interval(interval.level, "equal-tailed")
    lo, hi = et.bounds(x)
    fit_lo, fit_hi = mixture.interval(et.level)
    return {
        "mixture": mixture.to_dict(), "ess": ess(mixture),
        "robust_weight": float(robust_weight),
        "robust_component": ({"a": float(vague[0]), "b": float(vague[1])} if beta
                             else {"loc": robust.loc[-1], "scale": float(robust_scale)}),
        "robust_mixture": robust.to_dict(), "robust_ess": ess(robust),
        "check": {"interval": et.short, "level": et.level,
                  "draws": {"n": int(x.size), "mean": float(x.mean()), "lower": lo, "upper": hi},
                  "mixture": {"mean": mixture.mean(), "lower": fit_lo, "upper": fit_hi}},
    }


def map_prior_json(mixtures: dict[str, dict], *, source_run_hash: str,
                   endpoint_info: dict) -> str:
    """Serialise MAP priors; ``mixtures[endpoint][line]`` is a :func:`map_prior_entry` record.

    ``endpoint_info[endpoint]`` (scale, units, family, ...) is recorded verbatim and must exist
    for every endpoint; ``source_run_hash`` names the run whose predictive draws were used.
    """
    missing = sorted(set(mixtures) - set(endpoint_info))
    if missing:
        raise ValueError(f"endpoint_info lacks {missing}")
    for endpoint, lines in mixtures.items():
        for line, entry in lines.items():
            if not {"mixture", "robust_mixture", "ess", "check"} <= set(entry):
                raise ValueError(f"{endpoint}/{line} is not a map_prior_entry() record")
    record = {"format": MAP_PRIOR_FORMAT, "version": MAP_PRIOR_VERSION,
              "source_run_hash": source_run_hash, "endpoint_info": endpoint_info,
              "endpoints": mixtures}
    return json.dumps(record, indent=2, allow_nan=False)


def load_map_prior(text: str) -> dict[str, Any]:
    """Read :func:`map_prior_json` output; ``mixture`` and ``robust_mixture`` become objects."""
    record = json.loads(text)
    if record.get("format") != MAP_PRIOR_FORMAT or record.get("version") != MAP_PRIOR_VERSION:
        raise ValueError(f"not a {MAP_PRIOR_FORMAT} version {MAP_PRIOR_VERSION} record")
    classes = {cls.family: cls for cls in (BetaMixture, NormalMixture)}
    for lines in record["endpoints"].values():
        for entry in lines.values():
            for key in ("mixture", "robust_mixture"):
                entry[key] = classes[entry[key]["family"]].from_dict(entry[key])
    return record

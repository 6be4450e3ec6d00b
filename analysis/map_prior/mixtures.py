"""Meta-analytic-predictive (MAP) priors: parametric mixtures fitted to new-site predictive draws.

The predictive distribution of a new site's parameter under the fitted hierarchical model is the
MAP prior for a future single-arm study (Schmidli et al. 2014). To travel outside this package it
is approximated by a mixture of conjugate densities fitted by EM to the draws, as RBesT's
``mixfit``/``automixfit`` do (Weber et al. 2021): :class:`BetaMixture` for a probability and
:class:`NormalMixture` for a log median time to progression. Robustification, effective sample
sizes and the JSON record are described in ``docs/map_prior.md``. Nothing here fits a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import integrate, optimize, special, stats

from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL

EssMethod = Literal["elir", "moment"]


class _Mixture:
    """Mixture arithmetic shared by the families; ``_dist`` gives the components (scipy)."""

    weights: tuple[float, ...]
    family: ClassVar[str]
    _params: ClassVar[tuple[str, str]]
    _positive: ClassVar[tuple[str, ...]]
    _scipy: ClassVar[Any]

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
        factory: Any = type(self)  # a concrete family: its dataclass takes these fields
        return factory(weights=(*(w * (1 - weight) for w in self.weights), weight), **new)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``{"family", "weights", <two parameter lists>}``."""
        return {"family": self.family, "weights": list(self.weights),
                **{name: list(getattr(self, name)) for name in self._params}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`; the ``family`` entry must match the class."""
        if data.get("family") != cls.family:
            raise ValueError(f"expected family {cls.family!r}, got {data.get('family')!r}")
        factory: Any = cls  # a concrete family: its dataclass takes these fields
        return factory(weights=data["weights"], **{name: data[name] for name in cls._params})


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

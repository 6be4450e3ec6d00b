"""The one credible-interval setting of the package.

Tables, sentences and figures all read the interval from an :class:`Interval` (default
:data:`DEFAULT_INTERVAL`, 95% equal-tailed), so the level and kind can never disagree between
outputs. A run's config sets it once and the pipeline passes it down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import arviz as az
import numpy as np

IntervalKind = Literal["equal-tailed", "hdi"]


@dataclass(frozen=True)
class Interval:
    """A credible-interval level and kind.

    Parameters
    ----------
    level
        Probability mass inside the interval, in (0, 1).
    kind
        ``"equal-tailed"`` (quantiles (1-level)/2 and (1+level)/2; invariant under monotone
        transformations, so an interval for an odds ratio maps to one for the log odds ratio) or
        ``"hdi"`` (highest density interval).
    """

    level: float = 0.95
    kind: IntervalKind = "equal-tailed"

    def __post_init__(self) -> None:
        if not 0 < self.level < 1:
            raise ValueError(f"interval level must be in (0, 1), got {self.level}")
        if self.kind not in ("equal-tailed", "hdi"):
            raise ValueError(f"interval kind must be 'equal-tailed' or 'hdi', got {self.kind!r}")

    @property
    def percent(self) -> str:
        """Level as text, e.g. ``"95%"`` (one decimal only when needed)."""
        pct = self.level * 100
        return f"{pct:.0f}%" if float(pct).is_integer() else f"{pct:.1f}%"

    @property
    def label(self) -> str:
        """Long label for methods text and captions: ``"95% equal-tailed credible interval"``."""
        kind = "highest-density" if self.kind == "hdi" else "equal-tailed"
        return f"{self.percent} {kind} credible interval"

    @property
    def short(self) -> str:
        """Short label for table headers: ``"95% CrI (ET)"`` or ``"95% CrI (HDI)"``."""
        return f"{self.percent} CrI ({'HDI' if self.kind == 'hdi' else 'ET'})"

    def bounds(self, draws: np.ndarray) -> tuple[float, float]:
        """Lower and upper bound of the interval of a 1-D (or flattened) array of draws."""
        flat = np.asarray(draws, dtype=float).ravel()
        flat = flat[np.isfinite(flat)]
        if flat.size == 0:
            return (float("nan"), float("nan"))
        if self.kind == "hdi":
            lo, hi = az.hdi(flat, hdi_prob=self.level)
            return float(lo), float(hi)
        tail = (1 - self.level) / 2
        lo, hi = np.quantile(flat, [tail, 1 - tail])
        return float(lo), float(hi)


#: The package default: 95% equal-tailed.
DEFAULT_INTERVAL = Interval()

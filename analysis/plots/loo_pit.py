"""The LOO-PIT check drawn as ArviZ draws it: the empirical distribution function of the values
minus the uniform one, inside the simultaneous band a uniform sample of the same size stays in
with the given probability (Säilynoja et al. 2022). A curve leaving the band marks a model whose
predictive distributions are too narrow (a U shape: values pile up at 0 and 1), too wide (an
inverted U) or shifted (values on one side). The values come from
:func:`rechallenge.analysis.summaries.ttp_loo_pit.censored_loo_pit`; nothing here samples.
"""

from __future__ import annotations

import arviz as az
import numpy as np
from matplotlib.axes import Axes
from scipy import stats

from rechallenge.analysis.plots.style import NEUTRAL, figure_style, new_axes
from rechallenge.models.fit_settings import DEFAULT_SEED

#: Points at which the difference is drawn.
EVAL_POINTS = np.linspace(0.0, 1.0, 101)


def plot_loo_pit(values: np.ndarray, *, level: float, title: str = "", seed: int = DEFAULT_SEED,
                 ax: Axes | None = None) -> Axes:
    """ECDF of LOO-PIT ``values`` minus the uniform CDF, with the simultaneous band of level
    ``level`` (ArviZ's ``plot_ecdf(difference=True, confidence_bands=True)``).

    Parameters
    ----------
    values
        LOO-PIT values in [0, 1], one per observation.
    level
        Probability that the ECDF of a uniform sample of this size stays inside the band.
    title
        Panel title (the model's name in words).
    seed
        Seed of the band's simulation.
    ax
        Axes to draw on; a new single-column figure by default.

    Returns
    -------
    matplotlib.axes.Axes
    """
    pit = np.asarray(values, dtype=float)
    if pit.size == 0 or np.any((pit < 0) | (pit > 1)) or not np.all(np.isfinite(pit)):
        raise ValueError("LOO-PIT values must be finite, in [0, 1], and at least one")
    with figure_style():
        if ax is None:
            ax = new_axes(height=2.4)
        uniform = stats.uniform(0.0, 1.0)
        # rvs: the band is simulated from uniform samples (said, so ArviZ need not assume it).
        az.plot_ecdf(pit, eval_points=EVAL_POINTS, cdf=uniform.cdf, rvs=uniform.rvs,
                     difference=True, confidence_bands=True, ci_prob=level, ax=ax,
                     random_state=np.random.default_rng(seed),
                     plot_kwargs={"color": "black", "linewidth": 1.1},
                     fill_kwargs={"color": NEUTRAL, "alpha": 0.25})
        ax.axhline(0.0, color=NEUTRAL, linewidth=0.6)
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("LOO-PIT value")
        ax.set_ylabel("ECDF minus uniform")
        if title:
            ax.set_title(title)
    return ax

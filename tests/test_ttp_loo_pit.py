"""LOO-PIT of censored times on hand-made fits: uniform when the predictive draws come from the
distribution that made the data (with 40% of the times censored), far from uniform when they
come from another; the figure draws it.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import stats

from rechallenge.analysis.plots.loo_pit import plot_loo_pit
from rechallenge.analysis.summaries.ttp_loo_pit import censored_loo_pit

SEED = 20230105
#: The data's seed differs from the PIT's: drawn from one stream, a censored row's uniform would
#: be a function of its own time.
DATA_SEED = 7
N_ROWS, CHAINS, DRAWS = 400, 2, 500
TRUE = stats.weibull_min(1.3, scale=6.0)


def _fit(predictive: stats.rv_continuous, seed: int = DATA_SEED) -> tuple[az.InferenceData, float]:
    """Data from :data:`TRUE` with uniform censoring; predictive draws and log-likelihood from
    ``predictive`` (the same for every draw, as a posterior concentrated on one value).
    Returns the fit and the share of censored rows.
    """
    rng = np.random.default_rng(seed)
    times = TRUE.rvs(size=N_ROWS, random_state=rng)
    bound = rng.uniform(2.0, 12.0, size=N_ROWS)
    observed = np.minimum(times, bound)
    censored = times >= bound
    reps = predictive.rvs(size=(CHAINS, DRAWS, N_ROWS), random_state=rng)
    log_lik = np.where(censored, predictive.logsf(observed), predictive.logpdf(observed))
    idata = az.from_dict(
        posterior={"mu": rng.normal(size=(CHAINS, DRAWS))},
        posterior_predictive={"ttp": reps},
        log_likelihood={"ttp": np.broadcast_to(log_lik, (CHAINS, DRAWS, N_ROWS)).copy()},
        observed_data={"ttp": observed},
        constant_data={"censor_upper": bound, "line_idx": np.zeros(N_ROWS, dtype=int)},
        dims={"ttp": ["obs"], "censor_upper": ["obs"], "line_idx": ["obs"]},
    )
    return idata, float(censored.mean())


def test_values_are_uniform_under_the_model_that_made_the_censored_data() -> None:
    idata, censored = _fit(TRUE)
    assert 0.25 < censored < 0.55  # enough censoring for the randomisation to matter
    values = censored_loo_pit(idata, seed=SEED)
    assert values.shape == (N_ROWS,) and np.all((values >= 0) & (values <= 1))
    assert stats.kstest(values, "uniform").pvalue > 0.05


def test_values_are_not_uniform_under_a_wrong_model() -> None:
    idata, _ = _fit(stats.weibull_min(1.3, scale=12.0))  # predicts times twice as long
    values = censored_loo_pit(idata, seed=SEED)
    assert stats.kstest(values, "uniform").pvalue < 1e-6
    assert np.median(values) < 0.4  # observed times sit low in the predictive distributions


def test_values_depend_only_on_the_fit_and_the_seed() -> None:
    idata, _ = _fit(TRUE)
    first = censored_loo_pit(idata, seed=1)
    np.testing.assert_array_equal(first, censored_loo_pit(idata, seed=1))
    assert not np.array_equal(first, censored_loo_pit(idata, seed=2))  # censored rows redrawn


def test_a_fit_without_predictive_draws_is_refused() -> None:
    idata, _ = _fit(TRUE)
    del idata.posterior_predictive
    with pytest.raises(ValueError, match="no posterior_predictive of 'ttp'"):
        censored_loo_pit(idata)


def test_the_figure_shows_the_difference_inside_its_band() -> None:
    idata, _ = _fit(TRUE)
    ax = plot_loo_pit(censored_loo_pit(idata, seed=SEED), level=0.95, title="Weibull")
    assert ax.get_title() == "Weibull" and ax.get_xlabel() == "LOO-PIT value"
    assert ax.collections, "no band was drawn"
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        plot_loo_pit(np.array([0.2, 1.5]), level=0.95)

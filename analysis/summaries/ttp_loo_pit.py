"""LOO-PIT of a time-to-progression fit: where each patient's time falls in its leave-one-out
predictive distribution, with right censoring.

For a progression at ``t_i`` the value is ``F_i(t_i)``, the leave-one-out predictive
distribution function at the observed time (Gelfand et al. 1992; Gabry et al. 2019). A time
censored at ``c_i`` only says ``T_i > c_i``, so its value is drawn uniformly between ``F_i(c_i)``
and 1: the randomised PIT of censored data (as for discrete data, Czado et al. 2009). Under the
model that generated the data, every value is then uniform on (0, 1), whatever the censoring;
a distribution whose tails are wrong piles them up at one end or in the middle.

``F_i`` is the posterior predictive draws of row ``i`` weighted by its Pareto-smoothed
importance weights (``arviz.psislw`` of minus the row's log-likelihood), as ``arviz.loo_pit``
does for uncensored data. The draws are the fit's ``posterior_predictive`` group: nothing here
samples.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import xarray as xr

from rechallenge.analysis.summaries.ttp import patient_arrays
from rechallenge.models.fit_settings import DEFAULT_SEED

#: The observed variable of the TTP model's patient rows.
OBSERVED = "ttp"


def censored_loo_pit(idata: az.InferenceData, *, seed: int = DEFAULT_SEED) -> np.ndarray:
    """LOO-PIT values of the patient rows of a TTP fit, randomised for censored rows.

    Parameters
    ----------
    idata
        A TTP fit with ``posterior_predictive``, ``log_likelihood`` and ``observed_data``
        groups holding ``ttp`` for the patient rows, and ``censor_upper`` in ``constant_data``
        (a row is censored where its time equals its bound).
    seed
        Seed of the uniform draws of the censored rows: the values are a function of the fit
        and the seed.

    Returns
    -------
    numpy.ndarray
        One value in [0, 1] per patient row, in row order.

    Raises
    ------
    ValueError
        The fit lacks one of those groups (it has no patient rows, or was not drawn with its
        posterior predictive and log-likelihood).
    """
    for group in ("posterior_predictive", "log_likelihood"):
        if group not in idata.groups() or OBSERVED not in idata[group]:
            raise ValueError(f"the fit has no {group} of {OBSERVED!r} (no patient rows, or a fit "
                             "drawn without it)")
    times, upper, _ = patient_arrays(idata)
    reps = _draws_by_row(idata.posterior_predictive[OBSERVED])
    log_lik = _draws_by_row(idata.log_likelihood[OBSERVED])
    # Relative efficiency of the draws for PSIS, as arviz.loo computes it for the same fit.
    n_chains = idata.posterior.sizes["chain"]
    reff = (float(az.ess(idata.posterior, method="mean").to_array().mean()) / log_lik.shape[0]
            if n_chains > 1 else 1.0)
    log_w, _ = az.psislw(-log_lik.T, reff=reff)  # (row, draw), normalised over draws
    weights = np.exp(np.asarray(log_w))
    censored = times >= upper
    # F_i(t): the weighted share of draws below t (strictly below the censoring time, so a draw
    # the model put exactly at the bound counts as beyond it).
    below = np.where(censored[:, None], reps.T < times[:, None], reps.T <= times[:, None])
    at_time = np.clip(np.sum(weights * below, axis=1), 0.0, 1.0)
    uniform = np.random.default_rng(seed).uniform(size=times.size)
    return np.where(censored, at_time + uniform * (1.0 - at_time), at_time)


def _draws_by_row(values: xr.DataArray) -> np.ndarray:
    """(chain, draw, obs) values as (draws, obs)."""
    array = values.transpose("chain", "draw", ...).to_numpy()
    return array.reshape(-1, array.shape[-1])

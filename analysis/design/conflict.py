"""Prior-data conflict: what borrowing costs when the history is wrong.

An informative MAP prior raises power when the new trial resembles the historical sites and
distorts the decision when it does not. These tables put the three priors side by side over
true rates from 0 to 1, far from the MAP prior included, with the exact probability that the
robust (vague) component dominates the posterior (its posterior weight above one half) and its
expected posterior weight: where that probability is high, the robust prior has discounted the
history. The robust component is the last component of the robust mixture (as
:meth:`~rechallenge.analysis.map_prior.mixtures.BetaMixture.robustify` appends it).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from rechallenge.analysis.design.beta_mixture import posterior_weights, vague_prior
from rechallenge.analysis.design.one_sample import OneSampleDesign, binomial_pmf
from rechallenge.analysis.design.two_sample import TwoSampleDesign
from rechallenge.analysis.map_prior.mixtures import BetaMixture

#: Posterior weight above which the robust component is said to dominate.
DOMINANCE = 0.5


def robust_weight_by_outcome(robust: BetaMixture, n: int) -> np.ndarray:
    """Posterior weight of the robust (last) component for ``y = 0..n`` responders."""
    return posterior_weights(robust, n, np.arange(n + 1))[:, -1]


def _dominance(robust: BetaMixture, n: int, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``P(robust weight > 1/2)`` and ``E[robust weight]`` at each true rate."""
    weight = robust_weight_by_outcome(robust, n)
    pmf = binomial_pmf(np.arange(n + 1)[None, :], n, rates[:, None])
    return pmf @ (weight > DOMINANCE).astype(float), pmf @ weight


def conflict_one_sample(robust: BetaMixture, informative: BetaMixture, *, n: int,
                        threshold: float, confidence: float,
                        true_rates: np.ndarray) -> pd.DataFrame:
    """One-sample OC under each prior, and how often the robust component takes over.

    Parameters
    ----------
    robust, informative
        The robust MAP prior and the MAP prior without its vague component.
    n, threshold, confidence
        The design (see :class:`~.one_sample.OneSampleDesign`).
    true_rates
        True response rates.

    Returns
    -------
    pandas.DataFrame
        Columns ``true_rate``, ``prob_success_robust``, ``prob_success_map``,
        ``prob_success_vague``, ``prob_robust_dominates``, ``expected_robust_weight``.
    """
    rates = np.asarray(true_rates, dtype=float)
    out = {"true_rate": rates}
    for name, prior in (("robust", robust), ("map", informative), ("vague", vague_prior())):
        out[f"prob_success_{name}"] = OneSampleDesign(prior, n, threshold, confidence).oc(rates)
    out["prob_robust_dominates"], out["expected_robust_weight"] = _dominance(robust, n, rates)
    return pd.DataFrame(out)


def conflict_two_sample(robust: BetaMixture, informative: BetaMixture,
                        prior_treatment: BetaMixture, *, n_control: int, n_treatment: int,
                        margin: float, confidence: float, control_rates: np.ndarray,
                        designs: Mapping[str, TwoSampleDesign] | None = None) -> pd.DataFrame:
    """Type I error of the two-sample design across true control rates, under each prior.

    The treatment rate is set to ``control + margin`` (the edge of the null hypothesis; clipped
    to [0, 1]), so ``prob_success_*`` is the type I error. Where the true control rate is far
    from the MAP prior, the non-robust design's type I error is what borrowing costs.

    ``designs`` (by prior name) are these three designs when the caller has them already: their
    boundaries, one posterior integral per outcome, are then not computed again.

    Returns
    -------
    pandas.DataFrame
        Columns ``control_rate``, ``treatment_rate``, ``prob_success_robust``,
        ``prob_success_map``, ``prob_success_vague``, ``prob_robust_dominates``,
        ``expected_robust_weight`` (the last two for the control arm).
    """
    pc = np.asarray(control_rates, dtype=float)
    pt = np.clip(pc + margin, 0.0, 1.0)
    out = {"control_rate": pc, "treatment_rate": pt}
    given = dict(designs or {})
    for name, prior in (("robust", robust), ("map", informative), ("vague", vague_prior())):
        design = TwoSampleDesign(prior, prior_treatment, n_control, n_treatment, margin,
                                 confidence)
        if given.get(name) == design:  # the same design: its boundary is computed already
            design = given[name]
        out[f"prob_success_{name}"] = design.oc(pc, pt)
    out["prob_robust_dominates"], out["expected_robust_weight"] = _dominance(robust, n_control,
                                                                             pc)
    return pd.DataFrame(out)

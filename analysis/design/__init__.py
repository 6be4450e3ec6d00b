"""Trial design from a MAP prior: decision rules, operating characteristics and sample size.

A run exports the predictive distribution for a new site as a meta-analytic-predictive (MAP)
prior, a Beta mixture per binary endpoint and line (``map_prior.json``; see
``docs/map_prior.md``). This subpackage plans the next trial with it, as RBesT's
``decision1S``/``oc1S`` and ``decision2S``/``oc2S`` do in R: the conjugate update of a Beta
mixture (:mod:`.beta_mixture`), the one-sample decision rule, its boundary and exact operating
characteristics (:mod:`.one_sample`), the smallest sample size meeting a type I error and power
(:mod:`.sample_size`), the two-sample design with the MAP prior on the control arm
(:mod:`.two_sample`), behaviour under prior-data conflict (:mod:`.conflict`), reading the prior
from a run (:mod:`.reader`) and writing the results (:mod:`.outputs`). Every operating
characteristic is a finite sum over binomial outcomes; nothing is simulated. The subpackage reads
a run's ``map_prior.json`` only and imports nothing that fits models. See ``docs/design.md``.
"""

from __future__ import annotations

from rechallenge.analysis.design.beta_mixture import posterior, posterior_weights, prob_above, vague_prior
from rechallenge.analysis.design.conflict import conflict_one_sample, conflict_two_sample
from rechallenge.analysis.design.one_sample import OneSampleDesign, decision_boundary, oc_one_sample
from rechallenge.analysis.design.reader import DesignInputError, MapPrior, read_map_prior, select_prior
from rechallenge.analysis.design.sample_size import SampleSizeResult, find_n
from rechallenge.analysis.design.two_sample import TwoSampleDesign, oc_two_sample, prob_difference_above

__all__ = [
    "DesignInputError",
    "MapPrior",
    "OneSampleDesign",
    "SampleSizeResult",
    "TwoSampleDesign",
    "conflict_one_sample",
    "conflict_two_sample",
    "decision_boundary",
    "find_n",
    "oc_one_sample",
    "oc_two_sample",
    "posterior",
    "posterior_weights",
    "prob_above",
    "prob_difference_above",
    "read_map_prior",
    "select_prior",
    "vague_prior",
]

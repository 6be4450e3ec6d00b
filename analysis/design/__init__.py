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

The names below are imported on first use (PEP 562, through ``lazy_loader``, as in
:mod:`rechallenge.analysis`), so the command line reads the limits (:mod:`.limits`) for its
``--help`` without importing scipy, pandas and matplotlib.
"""

from __future__ import annotations

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "beta_mixture": ["posterior", "posterior_weights", "prob_above", "vague_prior"],
    "conflict": ["conflict_one_sample", "conflict_two_sample"],
    "one_sample": ["OneSampleDesign", "decision_boundary", "oc_one_sample"],
    "reader": ["DesignInputError", "MapPrior", "read_map_prior", "select_prior"],
    "rules": ["ImpossibleRuleError"],
    "sample_size": ["SampleSizeResult", "find_n"],
    "two_sample": ["TwoSampleDesign", "oc_two_sample", "prob_difference_above"],
})

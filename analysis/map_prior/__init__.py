"""The meta-analytic-predictive (MAP) prior: beta and normal mixtures fitted by EM to the
predictive draws for a new site, their effective sample size, and the ``map_prior.json`` record a
run exports. Imports summaries and settings only.
"""

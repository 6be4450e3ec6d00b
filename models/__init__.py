"""Model builders (pure: data and priors in, ``pm.Model`` out) and the sampler front-end."""

"""What an analysis is: the run config (TOML, validated as a whole), the credible-interval
setting shared by every table, sentence and figure, and the names of the fits of a run.

The bottom layer of ``rechallenge.analysis``: it imports no other analysis subpackage, so every
other layer may read the config without pulling in sampling, plotting or reporting.
"""

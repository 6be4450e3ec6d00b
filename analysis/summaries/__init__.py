"""Results computed from fits, as DataFrames with fixed columns: binary and TTP summaries, site
effects, diagnostics, model checks (PPC, LOO), prior-data conflict, the frequentist reference
and the descriptive tables.

Summaries compute; they never draw, format or write files, and never sample. They import only
:mod:`rechallenge.analysis.settings` (and the data and model layers).
"""

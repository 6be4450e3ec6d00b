"""Diagnostics, comparisons, reports, plots, updating and the command line."""

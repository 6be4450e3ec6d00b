"""Figures drawn from summaries: the shared style, forest plots, contrasts, survival curves,
posterior predictive panels, rank plots and the reconstructed Kaplan-Meier curve.

A plot takes results (DataFrames or fits) and an optional axes and returns the axes; it never
samples and never reads files. Plots may import summaries and settings only. Label text is drawn
literally (no mathtext), see :data:`rechallenge.analysis.plots.style.LITERAL_TEXT`.
"""

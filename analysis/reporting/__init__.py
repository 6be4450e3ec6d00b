"""Formatting for readers: tables (CSV, Markdown, LaTeX, HTML), escaping of labels for each
format, prose (methods paragraph, results sentences), the run's tables and figures, and the
report document (report.md and report.html).

Reporting consumes summaries and plots; it never samples and never fits a model.
"""

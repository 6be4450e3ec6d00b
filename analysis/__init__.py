"""Analyses of fitted models: summaries, plots, reports, runs, updating, trial design and the
command line, in layers (``docs/architecture.md``)::

    settings -> summaries -> plots / reporting / map_prior -> design, run -> cli

Typical use::

    from rechallenge.analysis import analyze, summarise_binary

    analyze(out="runs/mine")                 # the whole job, as `rechallenge analyze` runs it
    print(summarise_binary(idata))           # pooled, typical-site, new-site, contrasts

The names below are imported on first use (PEP 562), so ``import rechallenge.analysis`` is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # the jobs
    "analyze": "rechallenge.analysis.run.pipeline",
    "rebuild_report": "rechallenge.analysis.run.pipeline",
    "load_run": "rechallenge.analysis.run.pipeline",
    "update_run": "rechallenge.analysis.run.update",
    "RunResult": "rechallenge.analysis.run.pipeline",
    "UnconvergedError": "rechallenge.analysis.run.pipeline",
    # what an analysis is
    "RunConfig": "rechallenge.analysis.settings.config",
    "load_config": "rechallenge.analysis.settings.config",
    "Interval": "rechallenge.analysis.settings.intervals",
    # summaries of fits
    "summarise_binary": "rechallenge.analysis.summaries.binary",
    "site_estimates": "rechallenge.analysis.summaries.binary",
    "summarise_ttp": "rechallenge.analysis.summaries.ttp",
    "survival_curves": "rechallenge.analysis.summaries.ttp",
    "parameter_diagnostics": "rechallenge.analysis.summaries.diagnostics",
    "descriptive_table": "rechallenge.analysis.summaries.descriptive",
    # saved fits
    "save_fit": "rechallenge.analysis.run.fitio",
    "load_fit": "rechallenge.analysis.run.fitio",
    # the MAP prior and trial design
    "BetaMixture": "rechallenge.analysis.map_prior.mixtures",
    "NormalMixture": "rechallenge.analysis.map_prior.mixtures",
    "load_map_prior": "rechallenge.analysis.map_prior.record",
    "design_one_sample": "rechallenge.analysis.design.plan",
    "design_sample_size": "rechallenge.analysis.design.plan",
    "design_two_sample": "rechallenge.analysis.design.plan",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

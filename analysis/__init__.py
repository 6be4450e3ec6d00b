"""Analyses of fitted models: summaries, plots, reports, runs, updating, trial design and the
command line, in layers (``docs/architecture.md``)::

    settings -> summaries -> plots / reporting / map_prior -> design, run -> cli

Typical use::

    from rechallenge.analysis import analyze, load_run, summarise_binary

    run = analyze(out="runs/mine")           # the whole job, as `rechallenge analyze` runs it
    run["ttp"].summary                       # the numbers of its tables; load_run("runs/mine")
    print(summarise_binary(idata))           # pooled, typical-site, new-site, contrasts

The names below are imported on first use (PEP 562, through ``lazy_loader``), so
``import rechallenge.analysis`` is cheap.
"""

from __future__ import annotations

import lazy_loader

# Public names by the submodule that defines them; imported on first use.
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    # the jobs
    "run.pipeline": ["analyze", "rebuild_report", "UnconvergedError"],
    "run.update": ["update_run"],
    # a run in memory, one endpoint's model from a script
    "run.run_object": ["Run", "EndpointRun", "load_run"],
    "run.run_reader": ["read_run"],
    "run.endpoint_model": ["EndpointModel"],
    # what an analysis is
    "settings.config": ["RunConfig", "load_config"],
    "settings.intervals": ["Interval"],
    # summaries of fits
    "summaries.binary": ["summarise_binary", "site_estimates"],
    "summaries.ttp": ["summarise_ttp"],
    "summaries.ttp_curves": ["survival_curves"],
    "summaries.diagnostics": ["parameter_diagnostics"],
    "summaries.descriptive": ["descriptive_table"],
    # saved fits
    "run.fitio": ["save_fit", "load_fit"],
    # the MAP prior and trial design
    "map_prior.mixtures": ["BetaMixture", "NormalMixture"],
    "map_prior.record": ["load_map_prior"],
    "design.plan": ["design_one_sample", "design_sample_size", "design_two_sample"],
})

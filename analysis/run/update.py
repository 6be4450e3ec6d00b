"""Updating a run with new sites: conflict check, refit on the combined data, what moved.

The earlier run is never modified: its saved fits give the predictive distribution for a new site
(for the conflict check) and the "before" numbers; the same model and config are then refitted on
the old rows plus the new ones (rebuild and refit, never mutation of a fitted object) into a new
run directory, whose report gains an "Update with new sites" section.

Files the update adds to the new run, under ``update/``: ``source.json`` (earlier run, its hash,
new files and their hashes, new sites), ``before_summary.csv`` (the earlier headline numbers) and
``conflict.csv`` (the check made before the refit). ``rechallenge report`` rebuilds the section
from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from rechallenge.analysis.families import family_of
from rechallenge.analysis.map_prior.export import new_site_draws, run_hash
from rechallenge.analysis.run.engine import Engine
from rechallenge.analysis.run.manifest import file_sha256
from rechallenge.analysis.run.pipeline import Progress, analyze, stderr_progress
from rechallenge.analysis.run.run_object import Run
from rechallenge.analysis.run.run_reader import AGGREGATES_COPY, PATIENTS_COPY, read_run
from rechallenge.analysis.run.rundir import check_target
from rechallenge.analysis.run.update_files import UPDATE_DIR, before_after  # noqa: F401 - before_after is public here too
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.fit_names import fit_key
from rechallenge.analysis.summaries.conflict import conflict_table, not_checked
from rechallenge.analysis.summaries.endpoint_results import summarise
from rechallenge.data import Study, load_study, schema
from rechallenge.data.endpoints import rows_with_endpoint
from rechallenge.data.errors import DataValidationError, ValidationIssue
from rechallenge.data.files import check_table_files
from rechallenge.data.load import file_kind


def is_aggregate_file(path: str | Path) -> bool:
    """True when a file's header makes it an aggregate table (``endpoint`` and ``n``, no
    ``patient_id``), whatever its extension: :func:`rechallenge.data.load.file_kind`.
    """
    return file_kind(path) == "aggregates"


def reconstructed_sites(study: Study) -> dict[str, str]:
    """Site -> provenance label, for sites whose patient rows were reconstructed from a curve."""
    p = study.patients
    if not len(p) or schema.SOURCE not in p.columns:
        return {}
    marked = p[p[schema.SOURCE].fillna("").astype(str).str.lower()
               .str.startswith(schema.RECONSTRUCTED_PREFIX)]
    return {str(site): "; ".join(sorted(set(rows[schema.SOURCE].astype(str))))
            for site, rows in marked.groupby(schema.SITE, sort=True)}


def check_site_labels(old: Study, new: Study, same_site: Sequence[str], files: Sequence[str]) -> None:
    """New site labels must not collide with the run's, unless declared the same institution."""
    clash = sorted(set(new.sites) & set(old.sites) - set(same_site))
    if clash:
        raise DataValidationError(tuple(
            ValidationIssue(", ".join(map(str, files)), None, schema.SITE, label,
                            "a site label not already in the run (relabel the new site), or "
                            f"--same-site {label} if these rows come from that same institution")
            for label in clash
        ))
    unknown = sorted(set(same_site) - set(old.sites))
    if unknown:
        raise ValueError(f"--same-site {unknown}: no such site in the earlier run")


def _observations(new: Study, endpoints: Sequence[str]) -> list[dict[str, Any]]:
    """What each new site reports, per endpoint and line, in the form its family's conflict
    check reads (:meth:`site_observations` of the family).
    """
    obs: list[dict[str, Any]] = []
    p, a = new.patients, new.aggregates
    for endpoint in endpoints:
        family = family_of(endpoint)
        for site in new.sites:
            for line in new.lines:
                rows = p[(p[schema.SITE] == site) & (p[schema.LINE] == line)] if len(p) else p
                rows = rows_with_endpoint(rows, endpoint)  # reconstructed rows: TTP only
                agg = a[(a[schema.SITE] == site) & (a[schema.LINE] == line)
                        & (a[schema.ENDPOINT] == endpoint)] if len(a) else a
                labels = {"site": site, "endpoint": endpoint, "line": line}
                obs += [{**labels, **o} for o in family.site_observations(rows, agg)]
    return obs


def conflict_check(
    old_fits: dict, new: Study, config: RunConfig, *, same_site: Sequence[str] = ()
) -> pd.DataFrame:
    """Prior-data conflict of each new site, endpoint and line against the earlier run's
    predictive distribution for a new site (see :mod:`rechallenge.analysis.summaries.conflict`).
    """
    rows = []
    endpoints = [e for e in config.analysis.endpoints if fit_key(e) in old_fits]
    draws = {e: new_site_draws(old_fits, e, config.sampler.seed) for e in endpoints}
    for o in _observations(new, endpoints):
        if o["site"] in same_site or o["line"] not in draws[o["endpoint"]]:
            continue  # an existing institution is not a new site of the predictive
        d = draws[o["endpoint"]][o["line"]]
        labels = {"site": o["site"], "endpoint": o["endpoint"], "line": o["line"]}
        if "unchecked" in o:
            rows.append(not_checked(o["unchecked"], **labels))
        else:
            rows.append(family_of(o["endpoint"]).conflict(d, o, config.interval, labels))
    return conflict_table(rows)


def _split(files: Sequence[str | Path]) -> tuple[list[str], list[str]]:
    patients: list[str] = []
    aggregates: list[str] = []
    for f in files:
        (aggregates if is_aggregate_file(f) else patients).append(str(Path(f).resolve()))
    return patients, aggregates


def update_run(
    run_dir: str | Path,
    new_files: Sequence[str | Path],
    *,
    out: str | Path,
    same_site: Sequence[str] = (),
    overwrite: bool = False,
    allow_unconverged: bool = False,
    progress: Progress = stderr_progress,
    engine: Engine = None,
) -> Run:
    """Refit a run's models with new sites added; write the result to a new run directory.

    Parameters
    ----------
    run_dir
        The earlier run (left untouched).
    new_files
        New sites' data: patient tables and/or aggregate tables (told apart by their header,
        whatever the extension: an aggregate table has ``endpoint`` and ``n`` columns and no
        ``patient_id``). A site may report one line only.
    out
        The new run directory.
    same_site
        Labels of new rows that come from an institution already in the run. Any other label
        already in the run is an error (two institutions must not share a site effect).
    overwrite, allow_unconverged, progress
        As for :func:`rechallenge.analysis.run.pipeline.analyze`.
    engine
        Where the refits run (:data:`~rechallenge.analysis.run.engine.Engine`); ``None``: the
        earlier run's configured engine.

    Returns
    -------
    Run
        The updated run (:class:`~rechallenge.analysis.run.run_object.Run`).
    """
    run_dir = Path(run_dir).resolve()
    if Path(out).resolve() == run_dir:
        raise ValueError("the updated run must go to a new directory; the earlier run is kept")
    if not new_files:
        raise ValueError("no new data files given")
    check_table_files(new_files)  # a FIFO, a device or a huge file: refused before any work
    protected = [run_dir, *new_files]
    check_target(out, overwrite=overwrite, protected=protected)  # before any work
    progress(f"loading earlier run {run_dir}")
    old_config, old_study, old_fits, old_manifest = read_run(run_dir, progress=progress)
    # Hashed before they are read, so source.json names the bytes the update was made from.
    new_hashes = [{"path": str(f), "sha256": file_sha256(f)} for f in new_files]
    patients, aggregates = _split(new_files)
    endpoints = old_config.analysis.endpoints
    new = load_study(patients, aggregates, lines=old_config.data.lines, endpoints=endpoints)
    check_site_labels(old_study, new, same_site, [str(f) for f in new_files])

    old_patients = [str(run_dir / PATIENTS_COPY)] if len(old_study.patients) else []
    old_aggregates = [str(run_dir / AGGREGATES_COPY)] if len(old_study.aggregates) else []
    config = replace(old_config, data=replace(
        old_config.data, patients=tuple(old_patients + patients),
        aggregates=tuple(old_aggregates + aggregates), synthetic=old_study.synthetic))
    # Validates the combined rows too: a patient-line or site-line-endpoint given twice fails here.
    combined = load_study(config.data.patients, config.data.aggregates,
                          lines=config.data.lines, endpoints=endpoints)
    combined = replace(combined, synthetic=old_study.synthetic,
                       sources=old_study.sources + tuple(Path(f).name for f in new_files))

    progress("prior-data conflict check of the new sites")
    conflicts = conflict_check(old_fits, new, old_config, same_site=same_site)
    before = pd.concat([summarise(old_fits[fit_key(e)], e, old_config)
                        for e in old_config.run_endpoints if fit_key(e) in old_fits],
                       ignore_index=True)
    source = {
        "source_run": str(run_dir),
        "source_run_hash": run_hash(old_study, old_config),
        "source_data_hash": old_study.data_hash(),
        "new_files": new_hashes,
        "new_sites": sorted(set(new.sites) - set(same_site)),
        "same_site": sorted(same_site),
        "reconstructed_sites": reconstructed_sites(new),
    }

    # Handed to the outputs in memory (the conflict table keeps its attributes, e.g. its alpha),
    # and written to update/ for a rebuilt report.
    return analyze(config, out, overwrite=overwrite, allow_unconverged=allow_unconverged,
                   progress=progress, study=combined, update=(source, before, conflicts),
                   protected=protected, engine=engine)

"""A run in memory (``load_run``, ``analyze``) holds the numbers of the run's own tables, its fits
and its figures; one endpoint's model from a script fits, summarises, plots, saves and loads.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from rechallenge.analysis import EndpointModel, EndpointRun, Run, load_run, read_run
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.run.fitio import DataHashMismatch
from rechallenge.analysis.run.manifest import RunDirectoryError
from rechallenge.analysis.run.run_object import contrast_rows
from rechallenge.analysis.summaries.endpoint_results import site_table, summarise
from rechallenge.data import schema

pytestmark = pytest.mark.integration

ENDPOINTS = ("response", "ttp")


@pytest.fixture(scope="module")
def run(small_run: Path) -> Run:
    return load_run(small_run)


def _written(frame: pd.DataFrame, tmp_path: Path) -> str:
    """``frame`` written by the run's table writer, read back as text."""
    return Table("x", "", frame).write(tmp_path)[0].read_text()


def test_load_run_is_a_run_of_the_directory(run: Run, small_run: Path) -> None:
    assert isinstance(run, Run) and run.out == small_run
    assert run.endpoints == ENDPOINTS and list(run) == list(ENDPOINTS) and len(run) == 2
    assert "ttp" in run and "toxicity" not in run
    assert isinstance(run["ttp"], EndpointRun) and run["ttp"] is run["ttp"]
    config, study, fits, manifest = read_run(small_run)
    assert run.config == config and run.manifest == manifest and set(run.fits) == set(fits)
    assert run.study.data_hash() == study.data_hash()
    recorded = manifest["gate"]
    assert run.gate.passed == recorded["passed"] and list(run.gate.failures) == recorded["failures"]
    text = repr(run)
    assert str(small_run) in text and "'response', 'ttp'" in text
    assert ("gate='passed'" if run.gate.passed else "gate='failed (") in text


def test_an_unknown_endpoint_is_named_with_the_runs_endpoints(run: Run) -> None:
    with pytest.raises(KeyError, match="toxicity.*response, ttp"):
        run["toxicity"]


def test_the_numbers_are_those_of_the_runs_tables(run: Run, small_run: Path, tmp_path: Path) -> None:
    tables = small_run / "tables"
    for endpoint in ENDPOINTS:
        view = run[endpoint]
        assert _written(view.sites, tmp_path) == (tables / f"sites_{endpoint}.csv").read_text()
        # The comparison table holds the headline rows of the summary.
        shown = pd.read_csv(tables / f"comparison_{endpoint}.csv")
        merged = shown.merge(view.summary, on=["quantity", "line"], how="left", validate="1:1")
        point = merged["quantity"] != "prob_greater_population"
        np.testing.assert_allclose(merged.loc[point, "posterior_median"],
                                   merged.loc[point, "median"], rtol=1e-9)
        np.testing.assert_allclose(merged.loc[point, ["lower_x", "upper_x"]].to_numpy(float),
                                   merged.loc[point, ["lower_y", "upper_y"]].to_numpy(float),
                                   rtol=1e-9)
        np.testing.assert_allclose(merged.loc[~point, "probability"], merged.loc[~point, "mean"],
                                   rtol=1e-9)
    # The per-endpoint frames, stacked in endpoint order, are the run's tables to the byte.
    for name, attribute in (("loo", "loo"), ("leave_one_site_out", "leave_one_site_out"),
                            ("sensitivity_priors", "sensitivity"),
                            ("sensitivity_power_scaling", "power_scaling")):
        frames = [getattr(run[e], attribute) for e in ENDPOINTS]
        assert all(isinstance(f, pd.DataFrame) and len(f) for f in frames), name
        stacked = pd.concat(frames, ignore_index=True)
        assert _written(stacked, tmp_path) == (tables / f"{name}.csv").read_text(), name


def test_diagnostics_are_the_endpoints_rows_of_the_diagnostics_table(
    run: Run, small_run: Path, tmp_path: Path
) -> None:
    table = pd.read_csv(small_run / "tables" / "diagnostics.csv")
    for endpoint in ENDPOINTS:
        mine = pd.read_csv(io.StringIO(_written(run[endpoint].diagnostics, tmp_path)))
        models = {*run[endpoint].fits_by_key, endpoint}
        theirs = table[table["model"].isin(models)].reset_index(drop=True)
        assert len(mine) > 0
        pd.testing.assert_frame_equal(mine, theirs)


def test_contrasts_compare_the_later_line_with_the_first(run: Run) -> None:
    summary, contrasts = run["ttp"].summary, run["ttp"].contrasts
    assert set(contrasts["line"]) == {"ICI-2 vs ICI-1"}
    assert {"median_ratio_population", "median_ratio_typical_site",
            "prob_greater_population"} <= set(contrasts["quantity"])
    assert "site_corr" not in set(contrasts["quantity"])
    # Each row is the summary's own row.
    pd.testing.assert_frame_equal(
        contrasts, contrast_rows(summary, run.study.lines))
    again = contrasts.merge(summary, on=["quantity", "line"], suffixes=("", "_s"))
    np.testing.assert_array_equal(again["median"], again["median_s"])
    assert {"difference_population", "odds_ratio_typical_site"} <= set(run["response"].contrasts["quantity"])


def test_fits_are_keyed_by_variant(run: Run) -> None:
    for endpoint in ENDPOINTS:
        view = run[endpoint]
        keys = sorted(k for k in run.manifest["fits"] if k.split("__")[0] == endpoint)
        variants = {("main" if k == endpoint else k.split("__")[1]) for k in keys}
        assert set(view.fits) == variants and {"main", "complete", "none"} <= variants
        assert all(isinstance(f, az.InferenceData) for f in view.fits.values())
        assert view.fit is view.fits["main"] is run.fits[endpoint]
        assert repr(view).startswith(f"EndpointRun({endpoint!r}")


def _texts(fig: Figure) -> str:
    return " | ".join(t.get_text() for t in fig.findobj(Text))


def test_figures_are_drawn_as_the_run_draws_them(run: Run) -> None:
    for endpoint in ENDPOINTS:
        label = schema.ENDPOINT_LABELS[endpoint]
        forest = run[endpoint].plot_forest()
        assert isinstance(forest, Figure) and forest.axes
        assert label in _texts(forest)
        contrast = run[endpoint].plot_contrast()
        assert isinstance(contrast, Figure) and contrast.axes
    assert "Ratio of population median TTP, ICI-2 / ICI-1" in _texts(run["ttp"].plot_contrast())
    # A long axis label wraps inside its single-column figure: compared with spaces for breaks.
    assert (f"{schema.ENDPOINT_LABELS['response']}: ICI-2 minus ICI-1, percentage points"
            in " ".join(_texts(run["response"].plot_contrast()).split()))
    survival = run["ttp"].plot_survival()
    assert isinstance(survival, Figure) and survival.axes
    # A figure the run does not draw is refused, naming those it does.
    with pytest.raises(ValueError, match="no survival figure of response.*forest"):
        run["response"].plot_survival()


def test_the_forest_plot_is_the_runs_file(run: Run, small_run: Path, tmp_path: Path) -> None:
    from rechallenge.analysis.plots.style import save_figure

    save_figure(run["ttp"].plot_forest(), tmp_path, "forest_ttp")
    assert (tmp_path / "forest_ttp.png").read_bytes() == (
        small_run / "figures" / "forest_ttp.png").read_bytes()


def test_analyze_returns_the_run_with_the_same_numbers(small_analysis: Run, run: Run,
                                                        small_run: Path) -> None:
    assert isinstance(small_analysis, Run) and small_analysis.out == small_run
    assert small_analysis.gate.passed == run.gate.passed
    assert small_analysis.manifest["timings_seconds"]  # RunResult's attributes are kept
    assert small_analysis.endpoints == run.endpoints
    for endpoint in ENDPOINTS:
        pd.testing.assert_frame_equal(small_analysis[endpoint].summary, run[endpoint].summary)
        pd.testing.assert_frame_equal(small_analysis[endpoint].sites, run[endpoint].sites)


def test_load_run_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a run")
    with pytest.raises(RunDirectoryError, match=r"not a run directory \(no manifest.json\)"):
        load_run(tmp_path)


# --------------------------------------------------------------------------- the model object


@pytest.fixture(scope="module")
def response_model(run: Run) -> EndpointModel:
    """The response model of the small run's study and config (2 chains x 150 draws)."""
    model = EndpointModel(run.study, "response", run.config)
    model.fit()
    return model


def test_the_model_fit_is_the_runs_main_fit(response_model: EndpointModel, run: Run) -> None:
    theirs = run["response"].fit
    assert set(response_model.idata.groups()) == set(theirs.groups())
    for name in ("mu", "tau"):
        np.testing.assert_array_equal(response_model.idata.posterior[name].to_numpy(),
                                      theirs.posterior[name].to_numpy())
    pd.testing.assert_frame_equal(response_model.summary(), run["response"].summary)


def test_the_model_summarises_its_fit(response_model: EndpointModel) -> None:
    idata, config = response_model.idata, response_model.config
    pd.testing.assert_frame_equal(response_model.summary(), summarise(idata, "response", config))
    pd.testing.assert_frame_equal(response_model.sites(), site_table(idata, "response", config))
    forest = response_model.plot_forest()
    assert isinstance(forest, Figure) and schema.ENDPOINT_LABELS["response"] in _texts(forest)
    assert isinstance(response_model.plot_contrast(), Figure)
    assert "'response'" in repr(response_model) and "fitted" in repr(response_model)


def test_the_model_saves_and_loads(response_model: EndpointModel, run: Run, tmp_path: Path) -> None:
    path = response_model.save(tmp_path / "response.nc")
    assert "rechallenge_config" not in response_model.idata.attrs  # the caller's fit unchanged
    loaded = EndpointModel.load(path, run.study)
    assert loaded.endpoint == "response" and loaded.config == response_model.config
    pd.testing.assert_frame_equal(loaded.summary(), response_model.summary())
    pd.testing.assert_frame_equal(loaded.sites(), response_model.sites())
    # Other data than the fit's are refused.
    patients = run.study.patients
    other = replace(run.study, patients=patients[patients[schema.SITE] != "S01"])
    with pytest.raises(DataHashMismatch):
        EndpointModel.load(path, other)
    # A run's main fit file loads with the run's config; a comparator's does not.
    main = EndpointModel.load(run.out / "fits" / "ttp.nc", run.study, run.config)
    pd.testing.assert_frame_equal(main.summary(), run["ttp"].summary)
    with pytest.raises(ValueError, match="ttp__none.*not the main fit"):
        EndpointModel.load(run.out / "fits" / "ttp__none.nc", run.study, run.config)


def test_the_model_says_what_it_cannot_do(run: Run) -> None:
    with pytest.raises(ValueError, match="unknown endpoint 'grade'"):
        EndpointModel(run.study, "grade")
    unfitted = EndpointModel(run.study, "ttp", run.config)
    assert "not fitted" in repr(unfitted)
    with pytest.raises(ValueError, match="not fitted yet"):
        unfitted.summary()

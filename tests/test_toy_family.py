"""A new endpoint family touches no module of the package: registered here, in the test alone.

The toy family is a third binary endpoint, grade 2-4 treatment-related adverse events, read
from a column this test adds to the shipped data. ``analyze`` (on the session's two-worker
engine, so the family must travel to the workers) fits it and writes its tables, figures and
report section like any built-in endpoint's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SEED

from rechallenge.analysis.families import BinaryFamily, register_family, unregister_family
from rechallenge.analysis.settings.config import AnalysisConfig, DataConfig, RunConfig
from rechallenge.data.endpoints import EndpointDefinition, Flag, registered_endpoints

pytestmark = pytest.mark.integration

ENDPOINT = "grade_2_4"
LABEL = "Grade 2-4 treatment-related adverse event"
COLUMN = "trae_grade_2_4"


@pytest.fixture
def toy_family():
    """The toy family, registered for the test only."""
    definition = EndpointDefinition(ENDPOINT, LABEL, (COLUMN,), "binary", Flag(COLUMN))
    family = register_family(BinaryFamily(definition))
    assert ENDPOINT in registered_endpoints()
    yield family
    unregister_family(ENDPOINT)
    assert ENDPOINT not in registered_endpoints()


def patients_with_grade_2_4(path: Path) -> Path:
    """The shipped data with a grade 2-4 column: every grade 3-4 event, plus some grade 2."""
    from importlib.resources import files

    shipped = files("rechallenge.data") / "synthetic_scheiner2023.csv"
    frame = pd.read_csv(str(shipped))
    rng = np.random.default_rng(SEED)
    grade_2 = rng.random(len(frame)) < 0.25
    frame[COLUMN] = ((frame["trae_grade_3_4"] == 1) | grade_2).astype(int)
    frame.to_csv(path, index=False)
    return path


def test_a_family_registered_in_the_test_is_analysed_like_a_built_in(
        toy_family, tmp_path: Path, engine) -> None:
    from rechallenge.analysis.run.pipeline import analyze

    data = patients_with_grade_2_4(tmp_path / "patients.csv")
    config = RunConfig(
        data=DataConfig(patients=(str(data),)),
        analysis=replace(AnalysisConfig(), endpoints=(ENDPOINT,), sensitivity=False),
    ).with_sampler(draws=150, tune=150, chains=2, seed=SEED)
    run = analyze(config, tmp_path / "run", allow_unconverged=True, progress=lambda _m: None,
                  engine=engine)

    out = tmp_path / "run"
    # Its tables: the comparison with the frequentist reference, the sites, Table 2.
    comparison = pd.read_csv(out / "tables" / f"comparison_{ENDPOINT}.csv")
    assert set(comparison["quantity"]) >= {"probability_population", "difference_population"}
    crude = pd.read_csv(data).groupby("line")[COLUMN].mean()
    population = comparison[comparison["quantity"] == "probability_population"]
    for _, row in population.iterrows():
        assert row["frequentist"] == pytest.approx(crude[row["line"]])
        assert row["lower"] < crude[row["line"]] + 0.15 and row["upper"] > crude[row["line"]] - 0.15
    sites = pd.read_csv(out / "tables" / f"sites_{ENDPOINT}.csv")
    assert len(sites) == 2 * 14
    headline = (out / "tables" / "reader" / "table2_headline.csv").read_text(encoding="utf-8")
    assert LABEL in headline
    # Its figures, drawn on the workers (which learnt the family from the tasks).
    for kind in ("contrast", "forest", "ppc", "rank"):
        assert (out / "figures" / f"{kind}_{ENDPOINT}.png").stat().st_size > 0
    # Its report section: the results sentence names it with its probabilities.
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"{LABEL}: the population-averaged probability was" in report
    # And the run in memory holds the numbers of its tables.
    summary = run[ENDPOINT].summary
    in_memory = summary[summary["quantity"] == "probability_population"]["median"].to_numpy()
    assert np.allclose(in_memory, population["posterior_median"].to_numpy())
    assert set(run[ENDPOINT].sites["site"]) == set(sites["site"])

"""``[ttp] horizons``: checked in the config, recorded with the TTP model, and the horizons the
summaries report the restricted mean at (no sampling: a shipped run's fit relabelled).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from rechallenge.analysis.settings.config import RunConfig, parse_config
from rechallenge.analysis.settings.config_checks import config_problems
from rechallenge.analysis.summaries.ttp import summarise_ttp
from rechallenge.data.load import example_study
from rechallenge.models.info import model_info
from rechallenge.models.ttp import build_ttp_model

EXAMPLE_FIT = Path(__file__).resolve().parents[1] / "runs" / "example" / "fits" / "ttp.nc"


@pytest.mark.parametrize("value", [[], [24, 12], [0], [12, 200], ["12"], [1, 2, 3, 4, 5], 12])
def test_bad_horizons_are_named(value: object) -> None:
    problems = config_problems({"ttp": {"horizons": value}})
    assert len(problems) == 1 and "horizons" in problems[0] and "increasing" in problems[0]


def test_horizons_reach_the_config_and_its_toml() -> None:
    config = parse_config({"ttp": {"horizons": [6, 18.5]}})
    assert config.ttp.horizons == (6.0, 18.5)
    assert RunConfig().ttp.horizons == (12.0, 24.0)
    assert parse_config(tomllib.loads(config.to_toml())).ttp.horizons == (6.0, 18.5)


def test_the_model_records_its_horizons_outside_its_structure() -> None:
    study = example_study()
    six = model_info(build_ttp_model(study, horizons=(6.0,)))
    default = model_info(build_ttp_model(study))
    assert six.options["horizons"] == [6.0] and default.options["horizons"] == [12.0, 24.0]
    assert six.structure == default.structure  # one compiled model serves both


@pytest.mark.skipif(not EXAMPLE_FIT.exists(), reason="the shipped run is made by `make analysis`")
def test_the_summary_reports_the_restricted_mean_at_the_recorded_horizons() -> None:
    idata = az.from_netcdf(EXAMPLE_FIT)
    attrs = idata.posterior.attrs
    options = json.loads(attrs["rechallenge_options"])
    attrs["rechallenge_options"] = json.dumps({**options, "horizons": [6.0]})
    summary = summarise_ttp(idata, seed=1)
    rows = summary[summary["quantity"] == "rmst_population"]
    assert sorted(rows["line"]) == ["ICI-1, 6 months", "ICI-2, 6 months"]
    # The area under a survival curve up to 6 months lies between 0 and 6.
    assert np.all((rows["median"] > 0) & (rows["median"] < 6.0))

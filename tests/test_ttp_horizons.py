"""``[ttp] horizons``: checked in the config and recorded with the TTP model, outside its
structure (the summaries' use of them: tests/test_ttp_summary.py).
"""

from __future__ import annotations

import pytest
import tomllib

from rechallenge.analysis.settings.config import RunConfig, parse_config
from rechallenge.analysis.settings.config_checks import config_problems
from rechallenge.data.load import example_study
from rechallenge.models.info import model_info
from rechallenge.models.ttp import build_ttp_model


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

"""The config is checked whole, as ``analyze`` would use it: every bad key named, all at once."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from rechallenge.analysis.cli import main
from rechallenge.analysis.settings.config import (
    AnalysisConfig,
    ConfigError,
    DataConfig,
    ReportConfig,
    RunConfig,
    load_config,
    parse_config,
)
from rechallenge.analysis.settings.config_checks import (
    PRIOR_FAMILIES,
    RENAMED_PRIORS,
    SECTIONS,
    config_problems,
)
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.models.sampling import SamplerSettings

HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")
ROWS = [
    "S01,P01,ICI-1,PR,5.2,1,0,ici_alone,1,M,64",
    "S01,P01,ICI-2,PD,3.1,1,1,dual_ici,2,M,64",
    "S02,P02,ICI-1,NE,1.0,0,0,ici_alone,1,F,70",
    "S02,P02,ICI-2,SD,8.0,0,0,ici_targeted,3,F,70",
]
BAD = """\
[data]
patients = "p.csv"
[analysis]
endpoints = ["response", "survival"]
patient_effect = "false"
covariates = "regimen_class"
colour = "red"
[sampler]
seed = "abc"
chains = 2.5
draws = true
[priors.binary]
tau_sd = -1
tau = 1
[priors.ttp]
shape_log_sd = "0.5"
[interval]
level = 95
"""
EXPECTED = [
    '[data] patients: expected a list of strings, e.g. ["patients.csv"], got "p.csv"',
    "[analysis] endpoints: expected only known endpoints (response, disease_control, toxicity, "
    'ttp); unknown endpoint(s) ["survival"], got ["response", "survival"]',
    '[analysis] patient_effect: expected true or false (without quotes), got "false"',
    '[analysis] covariates: expected a list of distinct strings, e.g. ["regimen_class"], '
    'got "regimen_class"',
    "[analysis] colour: unknown key; allowed: endpoints, pooling,",
    '[sampler] seed: expected a whole number >= 0, got "abc"',
    "[sampler] chains: expected a whole number >= 1, got 2.5",
    "[sampler] draws: expected a whole number >= 1, got true",
    "[interval] level: expected a number between 0 and 1 (e.g. 0.95), got 95",
    "[priors.binary] tau_sd: expected a finite number > 0, got -1",
    "[priors.binary] tau: unknown prior name; valid names: beta_sd,",
    '[priors.ttp] shape_log_sd: expected a finite number > 0, got "0.5"',
]


def test_report_estimate_is_checked_against_the_choices_of_the_config():
    from rechallenge.analysis.settings.config import ESTIMATES
    assert config_problems({"report": {"estimate": "mean_sd"}}) == []
    assert [p for p in config_problems({"report": {"estimate": "mode"}})] == [
        '[report] estimate: expected one of "median", "mean_sd", got "mode"']
    for choice in ESTIMATES:
        assert config_problems({"report": {"estimate": choice}}) == []


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_section_lists_exactly_the_fields_of_its_dataclass():
    for section, cls in (("data", DataConfig), ("analysis", AnalysisConfig),
                         ("sampler", SamplerSettings), ("interval", Interval),
                         ("report", ReportConfig)):
        assert set(SECTIONS[section]) == {f.name for f in fields(cls)}, section


def test_defaults_and_the_written_config_have_no_problems(tmp_path):
    assert config_problems({}) == []
    config = RunConfig()
    assert load_config(_write(tmp_path, "c.toml", config.to_toml())) == config


def test_every_problem_is_named_by_section_and_key_at_once(tmp_path):
    path = _write(tmp_path, "config.toml", BAD)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert len(problems) == len(EXPECTED)
    for got, expected in zip(problems, EXPECTED):
        assert got.startswith(expected), (got, expected)
    assert str(caught.value).splitlines()[0] == f"{path}: {EXPECTED[0]}"


def test_a_problem_of_the_sampler_is_found_before_any_fit():
    # These used to pass the config and fail (or silently count as true) later.
    for raw, key in (({"sampler": {"seed": -1}}, "seed"),
                     ({"analysis": {"comparators": "no"}}, "comparators"),
                     ({"priors": {"binary": {"tau_sd": "wide"}}}, "tau_sd"),
                     ({"priors": {"binary": {"nonsense": 1.0}}}, "nonsense")):
        with pytest.raises(ConfigError, match=key):
            parse_config(raw, source="c.toml")


def test_an_old_prior_name_is_refused_with_its_new_name():
    """The builders share one vocabulary; an old name is no alias, and the message says the new."""
    raw = {"priors": {"ttp": {"frailty_sd": 0.5, "beta_mu": 1.0, "covariate_sd": 1.0},
                      "binary": {"no_pooling_sd": 1.5}}}
    assert config_problems(raw) == [
        "[priors.ttp] frailty_sd: unknown prior name; renamed sigma_patient_sd",
        "[priors.ttp] beta_mu: unknown prior name; renamed mu_mean",
        "[priors.ttp] covariate_sd: unknown prior name; renamed beta_sd",
        "[priors.binary] no_pooling_sd: unknown prior name; renamed site_effect_sd",
    ]
    for family, renamed in RENAMED_PRIORS.items():
        assert not set(renamed) & set(PRIOR_FAMILIES[family]), family  # old names are not names
        assert set(renamed.values()) <= set(PRIOR_FAMILIES[family]), family
    new = {"ttp": {"sigma_patient_sd": 0.5, "mu_mean": 1.0, "mu_sd": 1.0, "beta_sd": 1.0},
           "binary": {"site_effect_sd": 1.5, "mu_sd": 1.5, "beta_sd": 1.0}}
    assert config_problems({"priors": new}) == []


def test_validate_config_prints_every_problem_with_the_file_and_key(tmp_path, capsys):
    path = _write(tmp_path, "config.toml", BAD)
    assert main(["validate", "--config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: {path}: {EXPECTED[0]}"
    assert f'error: {path}: [sampler] seed: expected a whole number >= 0, got "abc"' in err
    assert len(err) == len(EXPECTED)


def test_validate_config_checks_covariates_against_the_data(tmp_path, capsys):
    _write(tmp_path, "p.csv", "\n".join([HEADER, *ROWS]) + "\n")
    good = _write(tmp_path, "good.toml",
                  '[data]\npatients = ["p.csv"]\n[analysis]\ncovariates = ["regimen_class"]\n')
    assert main(["validate", "--config", str(good)]) == 0
    capsys.readouterr()
    bad = _write(tmp_path, "bad.toml", '[data]\npatients = ["p.csv"]\n'
                 '[analysis]\ncovariates = ["regimen", "sex", "regimen_class"]\n')
    assert main(["validate", "--config", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {bad}: [analysis] covariates: covariate 'regimen' is not a column "
                   "of the patient table"]

"""``[benefit_risk]``: off by default (the written config unchanged), checked whole, and what an
enabled config makes the run fit and with which priors.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from rechallenge.analysis.families import family_of
from rechallenge.analysis.run.fitting import fit_groups
from rechallenge.analysis.settings.config import (
    BenefitRiskConfig,
    ConfigError,
    RunConfig,
    load_config,
    parse_config,
)
from rechallenge.analysis.settings.config_checks import SECTIONS, config_problems
from rechallenge.analysis.settings.families import simulators
from rechallenge.analysis.settings.family_hooks import fits_comparators, model_rows
from rechallenge.data import example_study

ENABLED = """\
[analysis]
endpoints = ["response", "toxicity", "ttp"]

[benefit_risk]
enabled = true
weights = {safety = 2.0}

[priors.binary]
tau_sd = 0.5
beta_sd = 2.0

[priors.benefit_risk]
log_or_sd = 1.0
"""


def test_the_section_lists_the_fields_of_its_dataclass() -> None:
    assert set(SECTIONS["benefit_risk"]) == {f.name for f in fields(BenefitRiskConfig)}


def test_off_by_default_and_the_written_config_is_unchanged() -> None:
    config = RunConfig()
    assert not config.benefit_risk.enabled
    assert config.run_endpoints == config.analysis.endpoints
    assert "benefit_risk" not in config.to_dict()
    assert "benefit_risk" not in config.to_toml()
    # Disabled with other keys changed: written (it is not the default), still not fitted.
    off = parse_config({"benefit_risk": {"efficacy": "disease_control"}})
    assert off.run_endpoints == off.analysis.endpoints
    assert off.to_dict()["benefit_risk"]["efficacy"] == "disease_control"


def test_an_enabled_section_is_read_written_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(ENABLED, encoding="utf-8")
    config = load_config(path)
    assert config.run_endpoints == ("response", "toxicity", "ttp", "benefit_risk")
    assert config.benefit_risk.weights == {"efficacy": 1.0, "safety": 2.0}
    again = tmp_path / "again.toml"
    again.write_text(config.to_toml(), encoding="utf-8")
    assert load_config(again) == config


def test_every_problem_of_the_section_is_named_at_once() -> None:
    raw = {"analysis": {"endpoints": ["response", "ttp"], "pooling": "complete"},
           "benefit_risk": {"enabled": True, "efficacy": "toxicity", "colour": "red",
                            "weights": {"efficacy": 0, "safety": 0.0}}}
    assert config_problems(raw) == [
        "[benefit_risk] colour: unknown key; allowed: enabled, efficacy, safety, weights",
        "[benefit_risk] weights: expected a table of weights >= 0, not both 0, e.g. "
        "{efficacy = 1.0, safety = 1.0} (a weight left out is 1), got "
        "{efficacy = 0, safety = 0.0}",
        '[benefit_risk] safety: expected an endpoint other than the efficacy endpoint, got '
        '"toxicity" for both',
        '[benefit_risk] efficacy: "toxicity" must also be in [analysis] endpoints (the joint '
        'model is reported beside each outcome\'s own model), got endpoints ["response", "ttp"]',
        '[benefit_risk] safety: "toxicity" must also be in [analysis] endpoints (the joint '
        'model is reported beside each outcome\'s own model), got endpoints ["response", "ttp"]',
        '[benefit_risk] enabled: the joint model pools sites partially only; expected '
        '[analysis] pooling = "partial", got "complete"',
    ]
    wrong = {"benefit_risk": {"enabled": "true", "efficacy": "ttp",
                              "weights": {"eff": 1.0, "safety": -1}}}
    assert config_problems(wrong) == [
        '[benefit_risk] enabled: expected true or false (without quotes), got "true"',
        '[benefit_risk] efficacy: expected one of the binary endpoints "response", '
        '"disease_control", "toxicity", got "ttp"',
        "[benefit_risk] weights: expected a table of weights >= 0, not both 0, e.g. "
        "{efficacy = 1.0, safety = 1.0} (a weight left out is 1), got {eff = 1.0, safety = -1}",
    ]
    with pytest.raises(ConfigError, match="must also be in"):
        parse_config(raw, source="c.toml")


def test_the_joint_endpoint_is_enabled_by_its_section_not_listed() -> None:
    assert config_problems({"analysis": {"endpoints": ["response", "benefit_risk"]}}) == [
        "[analysis] endpoints: expected endpoints with rows of their own (response, "
        'disease_control, toxicity, ttp); ["benefit_risk"] is fitted when [benefit_risk] '
        'enabled = true, got ["response", "benefit_risk"]']
    # Disabled, nothing is asked of the rest of the config.
    assert config_problems({"analysis": {"endpoints": ["ttp"], "pooling": "none"},
                            "benefit_risk": {"enabled": False}}) == []


def test_the_joint_priors_take_the_binary_overrides_then_their_own() -> None:
    assert config_problems({"priors": {"benefit_risk": {"log_or_sd": -1, "mu": 1}}}) == [
        "[priors.benefit_risk] log_or_sd: expected a finite number > 0, got -1",
        "[priors.benefit_risk] mu: unknown prior name; valid names: lkj_eta, log_or_sd, mu_sd, "
        "sigma_patient_sd, tau_sd",
    ]
    config = parse_config({"priors": {"binary": {"tau_sd": 0.5, "beta_sd": 2.0},
                                      "benefit_risk": {"log_or_sd": 1.0, "tau_sd": 0.7}}})
    family = family_of("benefit_risk")
    # beta_sd is no prior of the joint model; its own tau_sd wins over the binary one.
    assert family.priors(config) == {"tau_sd": 0.7, "log_or_sd": 1.0}
    model = family.build_model(example_study(), replace(config, benefit_risk=BenefitRiskConfig(
        enabled=True, weights={"efficacy": 1.0, "safety": 2.0})), "partial", nested=True)
    from rechallenge.models.info import model_info

    info = model_info(model)
    assert info.priors["tau_sd"] == 0.7 and info.priors["log_or_sd"] == 1.0
    assert info.options["weights"] == {"efficacy": 1.0, "safety": 2.0}


def test_an_enabled_run_fits_the_joint_model_alone_without_comparators() -> None:
    study = example_study()
    config = parse_config({"analysis": {"endpoints": ["response", "toxicity"]},
                           "benefit_risk": {"enabled": True}})
    groups = fit_groups(study, config)
    joint = [g for g in groups if "benefit_risk" in g.endpoints]
    assert [(g.kind, g.endpoints) for g in joint] == [("main", ("benefit_risk",))]
    assert not fits_comparators(family_of("benefit_risk"))
    assert fits_comparators(family_of("response"))
    assert any(g.kind == "nested" and "response" in g.endpoints for g in groups)
    assert all("benefit_risk" not in g.endpoints for g in fit_groups(study, RunConfig()))
    # Its model reads the whole study (two endpoints' rows); the others their own.
    assert model_rows("benefit_risk", study) is study
    assert model_rows("response", study).data_hash() == study.for_endpoint("response").data_hash()
    # Simulation studies offer it as "joint" (SBC; tests/test_joint_simulation.py).
    assert family_of("benefit_risk").simulator.key == "joint"
    assert simulators()["joint"] is family_of("benefit_risk").simulator
    assert {"binary", "ttp"} <= set(simulators())
    with pytest.raises(ValueError, match="partial pooling only"):
        family_of("benefit_risk").build_model(study, config, "complete", nested=False)

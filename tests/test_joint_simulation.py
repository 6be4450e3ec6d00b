"""The joint efficacy-toxicity model's simulator (SBC) without sampling: its prior draws against
PyMC's draws of the built model, its simulated studies at fixed parameters against the model's
own predictive draws (patients and aggregate rows), its recorded quantities against the family's
summary, and how simulation studies choose it.
"""

from __future__ import annotations

from dataclasses import replace

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from conftest import SEED
from scipy import stats

from rechallenge.analysis.cli import main
from rechallenge.analysis.families import family_of
from rechallenge.analysis.families.benefit_risk_simulation import JointSimulator, _vine_cholesky
from rechallenge.analysis.settings.config import parse_config
from rechallenge.analysis.simulation.design import SimulationDesign
from rechallenge.analysis.simulation.generators import ModelOptions, draw_hyperparameters, draw_study
from rechallenge.analysis.simulation.quantities import posterior_arrays, quantities, truth_arrays
from rechallenge.analysis.simulation.study import (
    _families,
    _priors,
    default_effects,
    resolved_effects,
)
from rechallenge.analysis.simulation.tasks import build_family_model
from rechallenge.analysis.summaries import benefit_risk as br
from rechallenge.data import example_study, schema
from rechallenge.models.joint_priors import JOINT_PRIORS
from rechallenge.models.joint_simulate import simulate_joint_study
from rechallenge.models.priors import Priors

LINES = ("ICI-1", "ICI-2")
PRIORS = Priors(JOINT_PRIORS, model="joint").to_dict()
#: Fixed parameters, every one away from 0 and the outcomes' margins unequal, so a swapped
#: outcome, line or sign shows in the data.
PARTIAL = np.array([0.5, -0.3, 0.2, 0.4, 0.1, -0.2])
FIXED = {"mu_eff": [-0.4, 0.3], "mu_tox": [-1.5, -0.8], "tau": [[0.9, 0.5], [0.4, 1.1]],
         "sigma_patient": [1.2, 0.5], "log_or": [1.6, -1.0]}
ENABLED = {"analysis": {"endpoints": ["response", "toxicity", "ttp"]},
           "benefit_risk": {"enabled": True}}


@pytest.fixture(scope="module")
def study():
    return example_study()


@pytest.fixture(scope="module")
def design(study) -> SimulationDesign:
    return SimulationDesign.from_study(study, "benefit_risk")


def _fixed(simulator: JointSimulator, study, **changes: list) -> tuple[pm.Model, dict]:
    """The built model with every parameter set to :data:`FIXED` and ``changes`` (``pm.do``),
    and the same parameters as the simulator takes them.
    """
    model = build_family_model(study, simulator, "benefit_risk", ModelOptions(), PRIORS)
    chol = _vine_cholesky(PARTIAL, 4)
    hyper = {**FIXED, **changes, "corr": (chol @ chol.T).tolist()}
    values = {name: np.asarray(hyper[name], dtype=float) for name in FIXED}
    return pm.do(model, {**values, "site_partial_corr": PARTIAL}), hyper


def test_the_simulator_draws_the_builders_prior(study) -> None:
    """Every parameter drawn in NumPy matches PyMC's prior draws of the built joint model."""
    simulator = family_of("benefit_risk").simulator_for(parse_config(ENABLED), study)
    model = build_family_model(study, simulator, "benefit_risk", ModelOptions(), PRIORS)
    n = 2000
    names = ["mu_eff", "mu_tox", "tau", "site_corr", "sigma_patient", "log_or"]
    theirs = dict(zip(names, pm.draw([model[v] for v in names], draws=n, random_seed=SEED)))
    rng = np.random.default_rng(SEED)
    ours = [draw_hyperparameters("joint", PRIORS, ModelOptions(), 2, rng) for _ in range(n)]
    for name in names:
        mine = np.array([h["corr" if name == "site_corr" else name] for h in ours]).reshape(n, -1)
        other = theirs[name].reshape(n, -1)
        for j in range(mine.shape[1]):
            if name == "site_corr" and np.allclose(mine[:, j], 1.0):
                continue  # the unit diagonal
            p = stats.ks_2samp(mine[:, j], other[:, j]).pvalue
            assert p > 1e-3, (name, j, p)
    # The correlations' joint law too, not only each margin.
    det = np.linalg.det(np.array([h["corr"] for h in ours]))
    assert stats.ks_2samp(det, np.linalg.det(theirs["site_corr"])).pvalue > 1e-3


def _statistics(cells: np.ndarray, site: np.ndarray, line: np.ndarray,
                patient: np.ndarray) -> list[np.ndarray]:
    """Per dataset (rows of ``cells``): per line the share of each 2 x 2 cell and the spread of
    the sites' efficacy shares; per outcome the share of patients with it at both lines.
    """
    out = []
    y = {"efficacy": cells // 2, "safety": cells % 2}
    for j in (0, 1):
        at = line == j
        out += [(cells[:, at] == c).mean(axis=1) for c in range(4)]
        shares = np.stack([y["efficacy"][:, at & (site == s)].mean(axis=1)
                           for s in np.unique(site)], axis=1)
        out.append(shares.std(axis=1))
    order = np.lexsort((line, patient))  # each patient's two lines, side by side
    for values in y.values():
        paired = values[:, order].reshape(len(values), -1, 2)
        out.append((paired[:, :, 0] * paired[:, :, 1]).mean(axis=1))
    return out


def test_simulated_studies_follow_the_models_predictive_at_fixed_parameters(study, design) -> None:
    """At fixed parameters, the simulator's studies and the built model's own draws of ``y``
    (site and patient effects drawn by PyMC) agree: cell shares per line (the margins and the
    odds ratio), the spread of site shares (tau) and patients with an outcome at both lines (the
    patient effect).
    """
    simulator = JointSimulator()
    fixed, hyper = _fixed(simulator, study)
    # The model's correlation from the same partial correlations is the simulator's.
    assert np.allclose(pm.draw(fixed["site_corr"], random_seed=SEED), hyper["corr"])
    n = 800
    theirs = pm.draw(fixed["y"], draws=n, random_seed=SEED)
    const = {k: fixed[k].get_value() for k in ("site_idx", "line_idx", "patient_idx")}
    rng = np.random.default_rng(SEED)
    ours = []
    for _ in range(n):
        patients = draw_study(simulator, hyper, design, rng).patients
        ours.append(2 * (patients[schema.BEST_RESPONSE] == "PR").to_numpy(int)
                    + patients[schema.TRAE_GRADE_3_4].to_numpy(int))
    site, line, patient = design.codes()
    mine = _statistics(np.array(ours), site, line, patient)
    other = _statistics(theirs, const["site_idx"], const["line_idx"], const["patient_idx"])
    for i, (a, b) in enumerate(zip(mine, other)):
        p = stats.ks_2samp(a, b).pvalue
        assert p > 1e-3, (i, p, a.mean(), b.mean())


def test_aggregate_sites_are_redrawn_as_the_model_reads_them() -> None:
    """Aggregate rows keep their site, line, endpoint and n; their counts at fixed parameters
    follow the model's Binomial(n, average over the patient effect): large sites, small site
    effects and large patient effects, so a count drawn without the patient effect shows."""
    study = simulate_joint_study(mu_eff=[-0.5, 0.0], mu_tox=[-1.0, -1.0], tau=np.full((2, 2), 0.5),
                                 site_corr=np.eye(4), log_or=[0.0, 0.0], n_sites=5,
                                 patients_per_site=[4, 4, 4, 40, 30], aggregate_sites=2, seed=SEED)
    simulator = family_of("benefit_risk").simulator_for(parse_config(ENABLED), study)
    assert len(simulator.aggregates) == len(study.aggregates) == 8
    design = SimulationDesign.from_study(study, "benefit_risk")
    fixed, hyper = _fixed(simulator, study, mu_eff=[-2.0, 1.5], tau=[[0.7, 0.7], [0.7, 0.7]],
                          sigma_patient=[2.0, 1.5])
    rng = np.random.default_rng(SEED)
    n = 800
    drawn = [draw_study(simulator, hyper, design, rng) for _ in range(n)]
    keys = [schema.SITE, schema.LINE, schema.ENDPOINT, schema.N]
    pd.testing.assert_frame_equal(drawn[0].aggregates[keys], study.aggregates[keys])
    assert len(drawn[0].patients) == len(study.patients)
    ours = np.array([s.aggregates[schema.EVENTS].to_numpy() for s in drawn])
    theirs = pm.draw(fixed["y_margin"], draws=n, random_seed=SEED)
    # The model's margin rows in the order of the study's aggregate rows.
    obs = [str(x) for x in fixed.coords["margin_obs"]]
    roles = {"response": "efficacy", "toxicity": "safety"}
    where = [obs.index(f"{r[schema.SITE]}/{r[schema.LINE]}/{roles[r[schema.ENDPOINT]]}/aggregate")
             for _, r in study.aggregates.iterrows()]
    for k, m in enumerate(where):
        p = stats.ks_2samp(ours[:, k], theirs[:, m]).pvalue
        assert p > 1e-3, (k, p, ours[:, k].mean(), theirs[:, m].mean())


def test_recorded_quantities_are_the_summarys_and_truth_and_draws_alike(study) -> None:
    """The ranked quantities are those the family's summary reports (same names and values),
    and a truth of shape (1,) gives what the same values repeated as draws give."""
    simulator = JointSimulator(weights={"efficacy": 1.0, "safety": 2.0})
    model = build_family_model(study, simulator, "benefit_risk", ModelOptions(), PRIORS)
    prior = pm.sample_prior_predictive(draws=50, model=model, random_seed=SEED).prior
    idata = az.InferenceData(posterior=prior)
    ours = quantities(simulator, posterior_arrays(idata, simulator), LINES)
    summary = {f"{q}[{line}]": v for q, line, v in br.quantity_draws(idata, weights=(1.0, 2.0))}
    shared = [k for k in ours if k in summary]
    assert len(ours) == 21 and set(ours) - set(shared) == {
        f"{name}[{line}]" for name in ("mu_eff", "mu_tox", "log_or") for line in LINES}
    for k in shared:
        assert np.allclose(ours[k], summary[k]), k
    for line in LINES:
        assert np.allclose(ours[f"log_or[{line}]"], np.log(summary[f"odds_ratio_within_patient[{line}]"]))
    rng = np.random.default_rng(SEED)
    hyper = draw_hyperparameters(simulator, PRIORS, ModelOptions(), 2, rng)
    one = quantities(simulator, truth_arrays(hyper), LINES)
    many = quantities(simulator, {k: np.repeat(v[None], 3, axis=0)
                                  for k, v in truth_arrays(hyper).items()}, LINES)
    assert one.keys() == many.keys() == ours.keys()
    assert all(np.allclose(many[k][:, 0], one[k][0]) for k in one)


def test_simulation_studies_offer_the_joint_model_for_sbc_only() -> None:
    config = parse_config({**ENABLED, "priors": {"binary": {"tau_sd": 0.7, "beta_sd": 2.0},
                                                 "benefit_risk": {"log_or_sd": 1.0}}})
    assert _families(config, None, "sbc") == ("binary", "ttp", "joint")
    assert _families(config, None, "coverage") == ("binary", "ttp")
    with pytest.raises(ValueError, match="joint model has simulation-based calibration only"):
        _families(config, ("joint",), "precision")
    with pytest.raises(ValueError, match="benefit_risk"):
        _families(replace(config, benefit_risk=parse_config({}).benefit_risk), ("joint",), "sbc")
    assert set(default_effects()) == {"binary", "ttp"}
    joint = {"joint": family_of("benefit_risk").simulator}
    assert resolved_effects(default_effects(), {}, joint) == default_effects()
    # Simulated and refitted with the run's priors: [priors.binary] for the margins, then its own.
    priors = _priors(config, "joint", family_of("benefit_risk").simulator)
    assert priors == {**PRIORS, "tau_sd": 0.7, "log_or_sd": 1.0}


def test_endpoints_a_simulated_study_cannot_write_are_refused(tmp_path, capsys) -> None:
    with pytest.raises(ValueError, match="write efficacy as response or disease_control"):
        JointSimulator(efficacy="toxicity", safety="response")
    assert main(["simulate", "coverage", "--out", str(tmp_path / "x"), "--families", "joint"]) == 1
    assert "simulation-based calibration only" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

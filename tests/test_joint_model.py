"""Joint efficacy-toxicity model: Dale's cells, the likelihood against NumPy, structure, fits.

Fast tests (no sampling) check Dale's p11 against a root finder and the model's pointwise log
likelihood at a hand-set point against a NumPy computation written here independently (the
correlation from its partial correlations by Joe's recursion, not a Cholesky product; Dale's cell
by the textbook formula; aggregate rows by quadrature). The ``integration`` test fits a small
simulated study through ``fit``. The ``slow`` tests compare the margins of the model without
dependence with two binary fits on the shipped data, and recover known parameters from a
simulated study of 30 sites x 40 patients.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from conftest import SEED
from pymc.model.transform.conditioning import remove_value_transforms
from scipy import integrate, optimize, stats
from scipy.special import expit

from rechallenge.data import example_study
from rechallenge.data.study import Study
from rechallenge.models.binary import build_binary_model
from rechallenge.models.info import model_info
from rechallenge.models.joint import build_joint_model
from rechallenge.models.joint_dale import dale_cells_numpy, dale_p11, dale_p11_numpy
from rechallenge.models.joint_priors import JOINT_PRIORS
from rechallenge.models.joint_simulate import simulate_joint_study
from rechallenge.models.priors import UnknownPriorError
from rechallenge.models.sampling import fit

LINES = ("ICI-1", "ICI-2")


def small_study(partial: bool = True, aggregates: bool = True) -> Study:
    """Three patient sites and (optionally) one aggregate-only site D; patient b2 has no
    toxicity value at ICI-2 and c1 no response at ICI-1 (margin rows), when ``partial``."""
    rows = pd.DataFrame({
        "site": ["A", "A", "A", "A", "B", "B", "B", "B", "C", "C"],
        "patient_id": ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2", "c1", "c1"],
        "line": list(LINES) * 5,
        "best_response": ["PR", "PD", "SD", "CR", "PD", "PD", "NE", "PR", "CR", "SD"],
        "trae_grade_3_4": [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    })
    if partial:
        rows.loc[7, "trae_grade_3_4"] = np.nan
        rows.loc[8, "best_response"] = None
    counts = pd.DataFrame({"site": "D", "line": list(LINES) * 2,
                           "endpoint": ["response"] * 2 + ["toxicity"] * 2,
                           "n": [12, 10, 12, 10], "events": [3, 5, 2, 4]})
    return Study(rows, counts if aggregates else counts.iloc[:0], lines=LINES)


# --------------------------------------------------------------------------- Dale's cell

DALE_CASES = [(0.3, 0.6, 0.0), (0.3, 0.6, 1e-12), (0.3, 0.6, -1e-9), (0.3, 0.6, 1e-5),
              (0.3, 0.6, 2.0), (0.3, 0.6, -2.0), (0.9, 0.95, -6.0), (0.02, 0.97, 5.0),
              (0.5, 0.5, -8.0), (0.999, 0.998, -3.0), (0.05, 0.04, 7.0), (0.7, 0.2, 0.4)]


def _plackett_root(p1: float, p2: float, log_or: float) -> float:
    """The cell p11 whose 2 x 2 table has log odds ratio log_or: brute force by root finding
    over the Frechet bounds (the log odds ratio is increasing in p11 there)."""
    lo, hi = max(0.0, p1 + p2 - 1.0), min(p1, p2)

    def gap(x: float) -> float:
        return np.log(x) + np.log1p(x - p1 - p2) - np.log(p1 - x) - np.log(p2 - x) - log_or

    with np.errstate(divide="ignore"):  # log(0) = -inf at a bracket's edge has the right sign
        return optimize.brentq(gap, lo + 1e-15 * max(lo, 1e-12), hi * (1 - 1e-15),
                               xtol=1e-300, rtol=1e-15)


_p1, _p2, _lo = pt.dscalar("p1"), pt.dscalar("p2"), pt.dscalar("log_or")
_P11 = dale_p11(_p1, _p2, _lo)
DALE_FN = pytensor.function([_p1, _p2, _lo], [_P11, pytensor.grad(_P11, _lo)])


@pytest.mark.parametrize(("p1", "p2", "log_or"), DALE_CASES)
def test_dale_p11_is_the_plackett_root(p1: float, p2: float, log_or: float) -> None:
    root = _plackett_root(p1, p2, log_or)
    for p11 in (float(DALE_FN(p1, p2, log_or)[0]), float(dale_p11_numpy(p1, p2, log_or))):
        assert p11 == pytest.approx(root, rel=1e-12, abs=1e-300), (p11, root)
        p10, p01 = p1 - p11, p2 - p11
        p00 = 1 - p1 - p2 + p11
        assert min(p10, p01, p00, p11) >= 0
        assert p11 + p10 == pytest.approx(p1, abs=1e-15) and p11 + p01 == pytest.approx(p2, abs=1e-15)
        log_odds_ratio = np.log(p11) + np.log(p00) - np.log(p10) - np.log(p01)
        assert log_odds_ratio == pytest.approx(log_or, abs=1e-7 * max(1.0, abs(log_or))), log_odds_ratio
    cells = dale_cells_numpy(p1, p2, log_or)
    assert cells.sum() == pytest.approx(1.0, abs=1e-15)
    # The gradient NUTS follows, on both branches of the switch: against central differences.
    h = 1e-6
    slope = (dale_p11_numpy(p1, p2, log_or + h) - dale_p11_numpy(p1, p2, log_or - h)) / (2 * h)
    gradient = float(DALE_FN(p1, p2, log_or)[1])
    assert np.isfinite(gradient) and gradient == pytest.approx(float(slope), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize(("p1", "p2"), [(0.3, 0.6), (0.05, 0.9), (0.5, 0.5)])
def test_dale_p11_is_smooth_through_independence(p1: float, p2: float) -> None:
    # Near psi = 1: p11 = p1 p2 + p1 q1 p2 q2 log(psi) + O(log(psi)^2) (the odds ratio of a
    # table p1 p2 + e is 1 + e / (p1 q1 p2 q2) to first order).
    slope = p1 * (1 - p1) * p2 * (1 - p2)
    for log_or in (-1e-12, -1e-8, 0.0, 1e-8, 1e-12):
        value, gradient = DALE_FN(p1, p2, log_or)
        assert value == pytest.approx(p1 * p2 + slope * log_or, rel=1e-14)
        assert np.isfinite(gradient) and gradient == pytest.approx(slope, rel=1e-6)


# --------------------------------------------------------------------------- the likelihood

#: A hand-set point (constrained values): partial correlations far from 0, odds ratios of
#: different signs at the two lines.
HAND_POINT = {
    "mu_eff": np.array([-0.4, 0.3]), "mu_tox": np.array([-1.2, -0.6]),
    "tau": np.array([[0.5, 0.8], [0.3, 0.6]]),
    "site_partial_corr": np.array([0.3, -0.2, 0.1, 0.4, -0.3, 0.2]),
    "sigma_patient": np.array([0.7, 1.1]), "log_or": np.array([1.3, -0.7]),
}


def _corr_from_cvine(partial: np.ndarray, d: int) -> np.ndarray:
    """Correlation matrix from C-vine partial correlations by Joe's (2006) recursion."""
    P = np.zeros((d, d))
    P[np.triu_indices(d, 1)] = partial  # row-major pairs (j, i), j < i
    R = np.eye(d)
    for j in range(d):
        for i in range(j + 1, d):
            r = P[j, i]
            for k in range(j - 1, -1, -1):
                r = r * np.sqrt((1 - P[k, j] ** 2) * (1 - P[k, i] ** 2)) + P[k, j] * P[k, i]
            R[i, j] = R[j, i] = r
    return R


def _textbook_p11(p1: float, p2: float, psi: float) -> float:
    if psi == 1.0:
        return p1 * p2
    a = 1 + (p1 + p2) * (psi - 1)
    return (a - np.sqrt(a * a - 4 * psi * (psi - 1) * p1 * p2)) / (2 * (psi - 1))


def _pointwise(model: pm.Model, point: dict) -> dict[str, np.ndarray]:
    """Per-row log-likelihood of every observed variable and the Deterministics, at constrained
    values (the model with its transforms removed, as the fit's log-likelihood is computed)."""
    plain = remove_value_transforms(model)
    observed = list(plain.observed_RVs)
    outs = plain.logp(vars=observed, sum=False) + plain.replace_rvs_by_values(
        [plain["site_corr"], plain["u_site"]])
    fn = plain.compile_fn(outs, inputs=plain.value_vars, on_unused_input="ignore", point_fn=False)
    values = fn(*[point[v.name] for v in plain.value_vars])
    names = [rv.name for rv in observed] + ["site_corr", "u_site"]
    return dict(zip(names, values))


def _hand_point(model: pm.Model, dependence: bool = True) -> dict:
    rng = np.random.default_rng(SEED)
    point = {k: v for k, v in HAND_POINT.items() if dependence or k != "log_or"}
    point["z_site"] = rng.normal(size=(len(model.coords["site"]), 2, 2))
    point["z_patient"] = rng.normal(size=(len(model.coords["patient"]), 2))
    return point


def test_log_likelihood_matches_numpy_at_a_hand_set_point() -> None:
    study = small_study()
    model = build_joint_model(study)
    point = _hand_point(model)
    got = _pointwise(model, point)

    # Independently: R from the partial correlations, its Cholesky factor by NumPy.
    R = _corr_from_cvine(point["site_partial_corr"], 4)
    np.testing.assert_allclose(got["site_corr"], R, atol=1e-13)
    sites, patients = list(model.coords["site"]), list(model.coords["patient"])
    tau = point["tau"].reshape(-1)
    u_site = (point["z_site"].reshape(len(sites), 4) @ np.linalg.cholesky(R).T * tau).reshape(-1, 2, 2)
    np.testing.assert_allclose(got["u_site"], u_site, atol=1e-13)
    mu = np.array([point["mu_eff"], point["mu_tox"]])
    u_patient = point["z_patient"] * point["sigma_patient"]

    expected, labels = [], []
    margin_expected, margin_labels = [], []
    patients_table = study.patients
    for _, row in patients_table.iterrows():
        s, line = sites.index(row["site"]), LINES.index(row["line"])
        j = patients.index(f"{row['site']}/{row['patient_id']}")
        p = expit(mu[:, line] + u_site[s, :, line] + u_patient[j])
        y_eff = None if row["best_response"] is None else int(row["best_response"] in ("CR", "PR"))
        y_tox = None if np.isnan(row["trae_grade_3_4"]) else int(row["trae_grade_3_4"])
        if y_eff is not None and y_tox is not None:
            p11 = _textbook_p11(p[0], p[1], np.exp(point["log_or"][line]))
            table = {(1, 1): p11, (1, 0): p[0] - p11, (0, 1): p[1] - p11,
                     (0, 0): 1 - p[0] - p[1] + p11}
            expected.append(np.log(table[(y_eff, y_tox)]))
            labels.append(f"{row['site']}/{row['patient_id']}/{row['line']}")
        else:
            outcome = 0 if y_eff is not None else 1
            y = y_eff if y_eff is not None else y_tox
            margin_expected.append(stats.bernoulli.logpmf(y, p[outcome]))
            margin_labels.append(f"{row['site']}/{row['patient_id']}/{row['line']}/"
                                 + ("efficacy" if outcome == 0 else "safety"))
    for _, row in study.aggregates.iterrows():
        s, line = sites.index(row["site"]), LINES.index(row["line"])
        outcome = 0 if row["endpoint"] == "response" else 1
        eta, sd = mu[outcome, line] + u_site[s, outcome, line], point["sigma_patient"][outcome]
        p_bar = integrate.quad(lambda v: expit(eta + sd * v) * stats.norm.pdf(v), -12, 12,
                               epsabs=1e-13)[0]
        margin_expected.append(stats.binom.logpmf(row["events"], row["n"], p_bar))
        margin_labels.append(f"{row['site']}/{row['line']}/"
                             + ("efficacy" if outcome == 0 else "safety") + "/aggregate")

    order = [list(model.coords["obs"]).index(label) for label in labels]
    np.testing.assert_allclose(got["y"][order], expected, rtol=1e-10)
    assert len(labels) == len(model.coords["obs"]) == 8
    order = [list(model.coords["margin_obs"]).index(label) for label in margin_labels]
    np.testing.assert_allclose(got["y_margin"][order], margin_expected, rtol=1e-7)
    assert len(margin_labels) == len(model.coords["margin_obs"]) == 6


def test_without_dependence_the_likelihood_is_two_bernoullis() -> None:
    study = small_study(partial=False, aggregates=False)
    independent = build_joint_model(study, dependence=False)
    dependent = build_joint_model(study)
    point = _hand_point(independent, dependence=False)
    got = _pointwise(independent, point)["y"]
    at_zero = _pointwise(dependent, {**point, "log_or": np.zeros(2)})["y"]

    sites, patients = list(independent.coords["site"]), list(independent.coords["patient"])
    u_site = _pointwise(independent, point)["u_site"]
    mu = np.array([point["mu_eff"], point["mu_tox"]])
    u_patient = point["z_patient"] * point["sigma_patient"]
    expected = []
    for _, row in study.patients.iterrows():
        s, line = sites.index(row["site"]), LINES.index(row["line"])
        j = patients.index(f"{row['site']}/{row['patient_id']}")
        p = expit(mu[:, line] + u_site[s, :, line] + u_patient[j])
        expected.append(stats.bernoulli.logpmf(int(row["best_response"] in ("CR", "PR")), p[0])
                        + stats.bernoulli.logpmf(int(row["trae_grade_3_4"]), p[1]))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(at_zero, got, rtol=1e-12)
    assert "log_or" not in independent.named_vars


# --------------------------------------------------------------------------- structure


def test_coords_dims_and_model_info() -> None:
    model = build_joint_model(small_study())
    assert model.coords["site"] == ("A", "B", "C", "D")
    assert model.coords["outcome"] == ("efficacy", "safety")
    assert model.coords["outcome_line"][0] == "efficacy:ICI-1"
    assert len(model.coords["outcome_line_pair"]) == 6
    named = list(model.free_RVs) + list(model.deterministics) + list(model.observed_RVs)
    named += [model[d.name] for d in model.data_vars]
    for var in named:
        dims = model.named_vars_to_dims.get(var.name)
        if var.ndim == 0:
            assert dims is None, var.name
            continue
        assert dims is not None and len(dims) == var.ndim, f"{var.name} lacks dims"
        assert tuple(model.dim_lengths[d].eval() for d in dims) == tuple(var.shape.eval()), var.name
    for name in ("p_eff", "p_tox"):
        assert model.named_vars_to_dims[name] == ("site", "line")
    assert model.named_vars_to_dims["u_site"] == ("site", "outcome", "line")
    assert model.named_vars_to_dims["site_corr"] == ("outcome_line", "outcome_line_b")
    info = model_info(model)
    assert (info.name, info.endpoint) == ("joint_partial_pooling", "benefit_risk")
    assert info.options["dependence"] is True and info.options["n_aggregate_rows"] == 4
    assert info.sites == ("A", "B", "C", "D") and info.lines == LINES
    # Endpoint names choose data only (the aggregate rows are response counts: left out here, or
    # the disease-control model would have fewer margin rows); dependence changes the graph.
    plain = small_study(aggregates=False)
    keys = [model_info(build_joint_model(plain, efficacy=e, dependence=d)).structure
            for e, d in (("response", True), ("disease_control", True), ("response", False))]
    assert keys[0] == keys[1] != keys[2]


def test_priors_resolve_by_name_and_unknown_names_raise() -> None:
    model = build_joint_model(small_study(), priors={"log_or_sd": 0.5})
    assert float(model["prior_log_or_sd"].get_value()) == 0.5
    assert model_info(model).priors["tau_sd"] == JOINT_PRIORS["tau_sd"].value
    with pytest.raises(UnknownPriorError, match="log_odds_sd"):
        build_joint_model(small_study(), priors={"log_odds_sd": 1.0})
    assert all(d.reason for d in JOINT_PRIORS.values())


def test_site_correlation_prior_is_lkj() -> None:
    # LKJ(eta) in d dimensions: every correlation has (r + 1) / 2 ~ Beta(eta - 1 + d / 2, same).
    model = build_joint_model(small_study())
    draws = pm.draw(model["site_corr"], draws=4000, random_seed=SEED)
    eta = JOINT_PRIORS["lkj_eta"].value
    marginal = stats.beta(eta + 1, eta + 1)
    for i, j in zip(*np.triu_indices(4, 1)):
        assert stats.kstest((draws[:, i, j] + 1) / 2, marginal.cdf).pvalue > 1e-3, (i, j)
    reference = pm.draw(pm.LKJCorr.dist(n=4, eta=eta, return_matrix=True), draws=4000,
                        random_seed=SEED + 1)
    assert stats.ks_2samp(np.linalg.det(draws), np.linalg.det(reference)).pvalue > 1e-3


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"efficacy": "toxicity"}, "different endpoints"),
    ({"efficacy": "ttp"}, "not a binary endpoint"),
    ({"safety": "grade5"}, "unknown endpoint"),
])
def test_bad_endpoints_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_joint_model(small_study(), **kwargs)


def test_data_problems_raise() -> None:
    study = small_study()
    no_pairs = Study(study.patients.assign(trae_grade_3_4=np.nan), study.aggregates, lines=LINES)
    with pytest.raises(ValueError, match="both outcomes"):
        build_joint_model(no_pairs)
    extra_line = Study(study.patients, study.aggregates, lines=(*LINES, "ICI-3"))
    with pytest.raises(ValueError, match=r"\['ICI-3'\] have no efficacy data"):
        build_joint_model(extra_line)
    twice = pd.concat([study.patients, study.patients.iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="more than once"):
        build_joint_model(Study(twice, lines=LINES))


def test_simulated_study_is_seeded_and_carries_the_dependence() -> None:
    kwargs = dict(mu_eff=[0.0, -0.5], mu_tox=[-0.5, -1.0], tau=np.full((2, 2), 0.3),
                  site_corr=np.eye(4), log_or=[1.5, -1.5], sigma_patient=[0.5, 0.5],
                  n_sites=8, patients_per_site=100, aggregate_sites=2)
    a, b = simulate_joint_study(**kwargs, seed=SEED), simulate_joint_study(**kwargs, seed=SEED)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.aggregates, b.aggregates)
    assert len(a.patients) == 6 * 100 * 2 and len(a.aggregates) == 2 * 2 * 2
    model = build_joint_model(a)
    assert model_info(model).options["n_aggregate_rows"] == 8
    # The pooled 2 x 2 table's log odds ratio has the sign of the truth at each line.
    y_eff = a.patients["best_response"].isin(["CR", "PR"])
    for line, sign in zip(LINES, (1, -1)):
        at = a.patients["line"] == line
        table = pd.crosstab(y_eff[at], a.patients.loc[at, "trae_grade_3_4"]).to_numpy() + 0.5
        assert sign * np.log(table[1, 1] * table[0, 0] / (table[0, 1] * table[1, 0])) > 0.5


def test_prior_predictive_cells_are_categories() -> None:
    model = build_joint_model(small_study())
    draws = pm.draw(model["y"], draws=200, random_seed=SEED)
    assert draws.shape == (200, 8) and set(np.unique(draws)) <= {0, 1, 2, 3}
    assert len(np.unique(draws)) == 4


# --------------------------------------------------------------------------- fits


@pytest.mark.slow
def test_without_dependence_the_margins_are_the_binary_models() -> None:
    """With log_or = 0 the joint likelihood is the two binary likelihoods (with patient effects);
    the models then differ only in the prior of the site-effect correlations: one 4 x 4 LKJ(2)
    (marginals Beta(3, 3), and cross-outcome correlations) against two 2 x 2 LKJ(2) (Beta(2, 2)).
    A correlation prior moves the intercepts by a small fraction of their posterior SD (0.05 SD
    at most when last measured); the allowance is 0.1 posterior SD on top of 4 combined Monte
    Carlo standard errors. Outcomes or lines mixed up would move them by about 1 SD
    (mu_eff - mu_tox ~ 0.4 on the shipped data, posterior SD ~ 0.4).

    2 chains x 1000 draws each; about 1 CPU-minute, most of it compiling the two structures.
    """
    study = example_study()
    settings = dict(draws=1000, tune=1000, chains=2, seed=SEED)
    joint = fit(build_joint_model(study, dependence=False), **settings,
                groups=("posterior_predictive", "log_likelihood"))
    for name, endpoint in (("mu_eff", "response"), ("mu_tox", "toxicity")):
        binary = fit(build_binary_model(study, endpoint, patient_effect=True), **settings,
                     groups=())
        a, b = joint.posterior[name], binary.posterior["mu"]
        gap = np.abs(a.mean(("chain", "draw")).to_numpy() - b.mean(("chain", "draw")).to_numpy())
        mcse = np.hypot(az.mcse(joint.posterior[[name]])[name].to_numpy(),
                        az.mcse(binary.posterior[["mu"]])["mu"].to_numpy())
        allowed = 4 * mcse + 0.1 * b.std(("chain", "draw")).to_numpy()
        print(f"\n{name}: |joint - binary| {gap.round(4)}, allowed {allowed.round(4)}")
        assert np.all(gap < allowed), (name, gap, allowed)
        assert int(binary.sample_stats["diverging"].sum()) == 0
    assert int(joint.sample_stats["diverging"].sum()) == 0
    assert float(az.rhat(joint.posterior[["mu_eff", "mu_tox", "tau"]]).to_array().max()) < 1.01
    # The fit's groups work for the joint likelihood: one log-likelihood per patient-line row.
    assert joint.log_likelihood["y"].dims == ("chain", "draw", "obs")
    assert np.isfinite(joint.log_likelihood["y"]).all()
    assert set(np.unique(joint.posterior_predictive["y"])) <= {0, 1, 2, 3}

"""MAP prior mixtures: fit accuracy, mixture arithmetic, robustification, ESS and the JSON record.

All on hand-made draws; no model is fitted.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import SEED
from scipy import integrate, optimize, special, stats

from rechallenge.analysis.map_prior import (
    BetaMixture,
    NormalMixture,
    fit_beta_mixture,
    fit_normal_mixture,
    load_map_prior,
    map_prior_entry,
    map_prior_json,
)
from rechallenge.analysis.settings.intervals import Interval

N_DRAWS = 4000  # a typical 4 chains x 1000 draws
TOL = 0.01  # required agreement of mean and 95% bounds on the probability scale
Z975 = stats.norm.ppf(0.975)


def _logit_normal_draws(rng: np.random.Generator) -> np.ndarray:
    return special.expit(rng.normal(-1.2, 0.6, N_DRAWS))


def _bimodal_draws(rng: np.random.Generator) -> np.ndarray:
    first = rng.random(N_DRAWS) < 0.7
    return special.expit(np.where(first, rng.normal(-1.6, 0.35, N_DRAWS),
                                  rng.normal(0.2, 0.5, N_DRAWS)))


def _bimodal_true_cdf(p: float) -> float:
    z = special.logit(p)
    return 0.7 * stats.norm.cdf(z, -1.6, 0.35) + 0.3 * stats.norm.cdf(z, 0.2, 0.5)


TRUE_BOUNDS = {
    "logit-normal": tuple(special.expit(-1.2 + np.array([-1, 1]) * Z975 * 0.6)),
    "bimodal": tuple(optimize.brentq(lambda p, q=q: _bimodal_true_cdf(p) - q, 1e-9, 1 - 1e-9)
                     for q in (0.025, 0.975)),
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[np.ndarray, BetaMixture]]:
    rng = np.random.default_rng(SEED)
    out = {}
    for name, make in (("logit-normal", _logit_normal_draws), ("bimodal", _bimodal_draws)):
        draws = make(rng)
        out[name] = (draws, fit_beta_mixture(draws, seed=SEED))
    return out


# ------------------------------------------------------------------------------ fit accuracy


@pytest.mark.parametrize("name", ["logit-normal", "bimodal"])
def test_fit_reproduces_mean_and_95_interval_of_draws(fitted, name):
    draws, mix = fitted[name]
    lo, hi = Interval(0.95).bounds(draws)
    fit_lo, fit_hi = mix.interval(0.95)
    assert abs(mix.mean() - draws.mean()) < TOL
    assert abs(fit_lo - lo) < TOL
    assert abs(fit_hi - hi) < TOL
    # ... and the distribution the draws came from (the draws' own quantiles carry MC error).
    assert np.allclose((fit_lo, fit_hi), TRUE_BOUNDS[name], atol=TOL)


def test_bimodal_needs_more_than_one_component(fitted):
    draws, mix = fitted["bimodal"]
    assert mix.n_components >= 2
    single = fit_beta_mixture(draws, 1, seed=SEED)
    lo, _ = Interval(0.95).bounds(draws)
    assert abs(single.interval(0.95)[0] - lo) > TOL


def test_fit_is_deterministic_given_seed(fitted):
    draws, mix = fitted["bimodal"]
    assert fit_beta_mixture(draws, seed=SEED) == mix
    assert list(mix.weights) == sorted(mix.weights, reverse=True)


def test_fit_recovers_a_beta():
    draws = np.random.default_rng(SEED).beta(6.0, 18.0, N_DRAWS)
    mix = fit_beta_mixture(draws, 1, seed=SEED)
    # ML standard errors of a and b are about 2-3% here; 10% is several of them.
    assert mix.a[0] == pytest.approx(6.0, rel=0.1)
    assert mix.b[0] == pytest.approx(18.0, rel=0.1)


def test_fit_keeps_parameters_at_least_one_and_rejects_bad_draws():
    draws = np.random.default_rng(SEED).beta(0.6, 3.0, 1000)  # a < 1 in truth
    mix = fit_beta_mixture(draws, 1, seed=SEED)
    assert min(mix.a) >= 1 and min(mix.b) >= 1
    assert fit_beta_mixture(draws, 1, seed=SEED, constrain_gt1=False).a[0] < 1
    with pytest.raises(ValueError, match="lie in"):
        fit_beta_mixture(np.array([0.2, 1.2] * 20), 1, seed=SEED)
    with pytest.raises(ValueError, match="finite"):
        fit_beta_mixture(np.array([0.2, np.nan] * 20), 1, seed=SEED)
    with pytest.raises(ValueError, match="not all equal"):
        fit_normal_mixture(np.full(100, 1.5), seed=SEED)


def test_normal_fit_recovers_a_normal_and_a_skewed_distribution():
    rng = np.random.default_rng(SEED)
    normal = rng.normal(math.log(8.0), 0.3, N_DRAWS)
    mix = fit_normal_mixture(normal, seed=SEED)
    assert mix.n_components == 1
    assert mix.loc[0] == pytest.approx(normal.mean(), abs=1e-9)
    assert mix.scale[0] == pytest.approx(normal.std(), rel=1e-6)  # ML sd (ddof 0)
    # log of Weibull times: left-skewed. Tolerance in sd units, since the draws' 2.5% quantile
    # itself has a Monte Carlo sd of about 0.03 sd here.
    skewed = math.log(8.0) + np.log(rng.exponential(size=N_DRAWS)) / 1.5
    mix = fit_normal_mixture(skewed, seed=SEED)
    assert mix.n_components >= 2
    lo, hi = Interval(0.95).bounds(skewed)
    sd = skewed.std()
    assert abs(mix.mean() - skewed.mean()) < 0.01 * sd
    assert np.allclose(mix.interval(0.95), (lo, hi), atol=0.05 * sd)


# ------------------------------------------------------------------------ mixture arithmetic


def test_single_components_match_scipy():
    beta = BetaMixture(weights=[1.0], a=[3.0], b=[7.0])
    x = np.array([0.05, 0.3, 0.8])
    assert np.allclose(beta.pdf(x), stats.beta.pdf(x, 3, 7))
    assert np.allclose(beta.cdf(x), stats.beta.cdf(x, 3, 7))
    assert np.allclose(beta.quantile([0.1, 0.5, 0.9]), stats.beta.ppf([0.1, 0.5, 0.9], 3, 7))
    assert beta.mean() == pytest.approx(0.3)
    assert beta.sd() == pytest.approx(stats.beta.std(3, 7))
    normal = NormalMixture(weights=[1.0], loc=[1.0], scale=[0.5])
    assert normal.interval(0.95) == pytest.approx((1 - Z975 * 0.5, 1 + Z975 * 0.5))


def test_two_component_moments_and_quantiles_are_consistent():
    mix = BetaMixture(weights=[0.7, 0.3], a=[4.0, 9.0], b=[16.0, 6.0])
    mass = integrate.quad(mix.pdf, 0, 1)[0]
    mean = integrate.quad(lambda t: t * mix.pdf(t), 0, 1)[0]
    var = integrate.quad(lambda t: (t - mean) ** 2 * mix.pdf(t), 0, 1)[0]
    assert mass == pytest.approx(1.0, abs=1e-8)
    assert mix.mean() == pytest.approx(mean, abs=1e-8)
    assert mix.sd() == pytest.approx(math.sqrt(var), abs=1e-8)
    q = np.array([0.025, 0.5, 0.975])
    assert np.allclose(mix.cdf(mix.quantile(q)), q, atol=1e-10)


def test_invalid_mixtures_are_rejected():
    with pytest.raises(ValueError, match="sum to 1"):
        BetaMixture(weights=[0.5, 0.4], a=[2, 3], b=[2, 3])
    with pytest.raises(ValueError, match="equal length"):
        BetaMixture(weights=[1.0], a=[2, 3], b=[2])
    with pytest.raises(ValueError, match="positive"):
        NormalMixture(weights=[1.0], loc=[0.0], scale=[0.0])


# --------------------------------------------------------------------------- robustification


def test_robustify(fitted):
    _, mix = fitted["logit-normal"]
    robust = mix.robustify(0.2)
    assert robust.n_components == mix.n_components + 1
    assert sum(robust.weights) == pytest.approx(1.0)
    assert (robust.weights[-1], robust.a[-1], robust.b[-1]) == (0.2, 1.0, 1.0)
    assert robust.mean() == pytest.approx(0.8 * mix.mean() + 0.2 * 0.5)
    assert abs(robust.mean() - 0.5) < abs(mix.mean() - 0.5)
    for method in ("elir", "moment"):
        assert robust.ess(method) < mix.ess(method)
    with pytest.raises(ValueError, match="robust weight"):
        mix.robustify(1.0)


def test_robustify_normal_centres_a_unit_information_component():
    mix = NormalMixture(weights=[0.6, 0.4], loc=[1.8, 2.2], scale=[0.2, 0.3])
    robust = mix.robustify(0.1)
    assert (robust.weights[-1], robust.loc[-1], robust.scale[-1]) == (0.1, mix.mean(), 1.0)
    assert robust.mean() == pytest.approx(mix.mean())
    assert robust.ess() < mix.ess()


# ------------------------------------------------------------------------------------ ESS


@pytest.mark.parametrize(("a", "b"), [(5.0, 15.0), (1.5, 3.0), (40.0, 2.5)])
def test_ess_of_a_beta_is_a_plus_b(a, b):
    # Moment ESS by construction; ELIR ESS of a Beta(a, b), a, b > 1, is a + b (Neuenschwander
    # et al. 2020; RBesT's test "conjugate beta case matches canonical formula").
    beta = BetaMixture(weights=[1.0], a=[a], b=[b])
    assert beta.ess("moment") == pytest.approx(a + b, rel=1e-10)
    assert beta.ess("elir") == pytest.approx(a + b, rel=1e-6)


def test_elir_at_the_boundary_follows_the_definition():
    # i(theta) of Beta(1, b) is (b - 1) / (1 - theta)^2, so E[i / i_F] = (b - 1) E[theta/(1-theta)]
    # = 1; the flat Beta(1, 1) has no curvature at all, hence ESS 0 (RBesT agrees).
    assert BetaMixture(weights=[1.0], a=[1.0], b=[4.0]).ess() == pytest.approx(1.0, abs=1e-8)
    assert BetaMixture(weights=[1.0], a=[1.0], b=[1.0]).ess() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="below 1"):
        BetaMixture(weights=[1.0], a=[0.8], b=[4.0]).ess()


def _literal_elir(mix: BetaMixture, n: int = 400_001) -> float:
    """E[-(log f)'' theta (1 - theta)] on a fine grid, by finite differences: the definition."""
    theta = np.linspace(0, 1, n)[1:-1]
    logf = np.log(mix.pdf(theta))
    h = theta[1] - theta[0]
    second = np.gradient(np.gradient(logf, h), h)
    integrand = mix.pdf(theta) * -second * theta * (1 - theta)
    return float(integrate.trapezoid(integrand[2:-2], theta[2:-2]))


def test_elir_of_a_mixture_matches_the_definition():
    mix = BetaMixture(weights=[0.6, 0.4], a=[12.0, 4.0], b=[30.0, 3.0])
    assert mix.ess("elir") == pytest.approx(_literal_elir(mix), rel=1e-3)
    normal = NormalMixture(weights=[0.5, 0.5], loc=[0.0, 3.0], scale=[2.0, 4.0])
    x = np.linspace(-40, 40, 400_001)
    h = x[1] - x[0]
    info = -np.gradient(np.gradient(np.log(normal.pdf(x)), h), h)
    literal = 10.0**2 * integrate.trapezoid(normal.pdf(x) * info, x)
    assert normal.ess("elir", sigma=10.0) == pytest.approx(literal, rel=1e-4)


def _posterior(mix: BetaMixture, r: int, m: int) -> tuple[float, BetaMixture]:
    """Prior predictive probability of r events in m, and the posterior mixture."""
    a, b, w = np.array(mix.a), np.array(mix.b), np.array(mix.weights)
    log_marg = special.betaln(a + r, b + m - r) - special.betaln(a, b)
    joint = w * np.exp(log_marg) * math.comb(m, r)
    post = BetaMixture(weights=joint / joint.sum(), a=a + r, b=b + m - r)
    return float(joint.sum()), post


@pytest.mark.parametrize("robust_weight", [None, 0.2])
def test_elir_is_predictively_consistent(robust_weight):
    # The defining property (Neuenschwander et al. 2020): averaged over the prior predictive of
    # m more patients, the posterior ESS is the prior ESS plus m. With a Beta prior the average
    # is an exact finite sum. The robust case is RBesT's example mixbeta((.2,1,1), (.8,10,2)).
    mix = BetaMixture(weights=[1.0], a=[10.0], b=[2.0])
    if robust_weight is not None:
        mix = mix.robustify(robust_weight)
    m = 10
    expected = sum(prob * post.ess("elir") for prob, post in
                   (_posterior(mix, r, m) for r in range(m + 1)))
    assert expected - m == pytest.approx(mix.ess("elir"), abs=1e-5)


def test_normal_ess_closed_forms():
    mix = NormalMixture(weights=[1.0], loc=[-1.0], scale=[2.0])
    # RBesT's "conjugate normal case matches canonical formula": sigma^2 / s^2 by both methods.
    assert mix.ess("moment", sigma=4.0) == pytest.approx(4.0)
    assert mix.ess("elir", sigma=4.0) == pytest.approx(4.0, rel=1e-8)
    assert mix.ess("elir") == pytest.approx(0.25, rel=1e-8)


def test_worked_example_ess(fitted):
    # The logit-normal example: ELIR above the conservative moment ESS, both well above 0.
    _, mix = fitted["logit-normal"]
    elir, moment = mix.ess("elir"), mix.ess("moment")
    assert 10 < moment < elir < 30


# ------------------------------------------------------------------------------- JSON record


def test_to_dict_round_trip():
    beta = BetaMixture(weights=[0.7, 0.3], a=[4.0, 9.0], b=[16.0, 6.0])
    normal = NormalMixture(weights=[1.0], loc=[2.0], scale=[0.3])
    assert BetaMixture.from_dict(json.loads(json.dumps(beta.to_dict()))) == beta
    assert NormalMixture.from_dict(normal.to_dict()) == normal
    with pytest.raises(ValueError, match="family"):
        NormalMixture.from_dict(beta.to_dict())


def test_map_prior_json_round_trip(fitted):
    draws, mix = fitted["logit-normal"]
    log_draws = np.random.default_rng(SEED).normal(math.log(6.0), 0.3, N_DRAWS)
    normal = fit_normal_mixture(log_draws, seed=SEED)
    entries = {
        "orr": {"ICI-1": map_prior_entry(mix, draws, robust_weight=0.2)},
        "ttp": {"ICI-1": map_prior_entry(normal, log_draws, robust_weight=0.1)},
    }
    info = {"orr": {"family": "beta", "scale": "probability"},
            "ttp": {"family": "normal", "scale": "log median TTP (months)"}}
    text = map_prior_json(entries, source_run_hash="abc123", endpoint_info=info)
    record = load_map_prior(text)
    assert record["source_run_hash"] == "abc123"
    assert record["endpoint_info"] == info
    orr = record["endpoints"]["orr"]["ICI-1"]
    assert orr["mixture"] == mix
    assert orr["robust_mixture"] == mix.robustify(0.2)
    assert orr["robust_component"] == {"a": 1.0, "b": 1.0}
    assert orr["ess"]["elir"] == pytest.approx(mix.ess("elir"))
    assert orr["robust_ess"]["moment"] == pytest.approx(mix.robustify(0.2).ess("moment"))
    check = orr["check"]
    assert check["draws"]["n"] == N_DRAWS
    assert check["draws"]["mean"] == pytest.approx(draws.mean())
    assert check["interval"] == "95% CrI (ET)"
    assert abs(check["mixture"]["upper"] - check["draws"]["upper"]) < TOL
    ttp = record["endpoints"]["ttp"]["ICI-1"]
    assert ttp["robust_component"] == {"loc": normal.mean(), "scale": 1.0}
    assert ttp["robust_mixture"] == normal.robustify(0.1)
    assert "NaN" not in text and "Infinity" not in text


def test_map_prior_json_rejects_incomplete_input(fitted):
    draws, mix = fitted["logit-normal"]
    entries = {"orr": {"ICI-1": map_prior_entry(mix, draws, robust_weight=0.2)}}
    with pytest.raises(ValueError, match="endpoint_info lacks"):
        map_prior_json(entries, source_run_hash="x", endpoint_info={})
    with pytest.raises(ValueError, match="not a map_prior_entry"):
        map_prior_json({"orr": {"ICI-1": {"mixture": mix.to_dict()}}}, source_run_hash="x",
                       endpoint_info={"orr": {}})
    with pytest.raises(ValueError, match="not a rechallenge-map-prior"):
        load_map_prior(json.dumps({"format": "other"}))

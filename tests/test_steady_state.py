"""The smooth steady-state background (detector.background.SmoothSteadyState) and its spec keys."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from cenns_bayes.detector.background import SmoothSteadyState, pooled_control_counts
from cenns_bayes.specs import SpecError, load_study
from cenns_bayes.stats.binned import build_response_model
from cenns_bayes.stats.model import NuisanceSpec, constraint_neg2logpdf
from cenns_bayes.stats.profile import ProfileFitter

from .conftest import MODELS

CSI = MODELS / "coherent_csi_2017.toml"
T_LO = np.arange(24) * 0.5


def _toy_control(seed: int = 1, tau: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amplitude = rng.uniform(20, 80, size=6)
    weights = np.exp(-0.05 * T_LO) * np.where(T_LO < 1.0, 1.4, 1.0)
    return rng.poisson(tau * amplitude[:, None] * weights / weights.sum()).astype(float)


def test_pooling_adds_counts_and_live_times():
    histograms = {
        "ac-beam-on": np.array([3, 1]),
        "c-beam-off": np.array([1, 2]),
        "ac-beam-off": np.array([0, 5]),
    }
    live = {"ac-beam-on": 308.1, "c-beam-off": 153.5, "ac-beam-off": 153.5}
    counts, tau = pooled_control_counts(histograms, list(histograms), live, 308.1)
    np.testing.assert_array_equal(counts, [4, 8])
    assert tau == pytest.approx(1 + 2 * 153.5 / 308.1, rel=1e-15)
    with pytest.raises(ValueError):
        pooled_control_counts(histograms, [], live, 308.1)


@pytest.mark.parametrize("pe_shape", ["free", "control"])
@pytest.mark.parametrize("early", [0.0, 1.0])
def test_control_fit_satisfies_the_likelihood_equations(pe_shape, early):
    """Poisson exponential family: the MLE reproduces the control counts' statistics.

    These are the PE marginal (free amplitudes), the total, the mean arrival-time edge and
    the early-time fraction of the control counts.
    """
    tau = 2.0
    m = _toy_control(tau=tau)
    model = SmoothSteadyState(m, tau, T_LO, early_time_us=early, pe_shape=pe_shape)
    theta, sigma = model.fit_control()
    mu = tau * model.counts(theta).reshape(m.shape)
    assert mu.sum() == pytest.approx(m.sum(), rel=1e-10)
    if pe_shape == "free":
        np.testing.assert_allclose(mu.sum(axis=1), m.sum(axis=1), rtol=1e-10)
    t_obs = (m.sum(axis=0) * T_LO).sum() / m.sum()
    assert (mu.sum(axis=0) * T_LO).sum() / mu.sum() == pytest.approx(t_obs, rel=1e-6)
    if early:
        assert mu[:, :2].sum() / mu.sum() == pytest.approx(m[:, :2].sum() / m.sum(), rel=1e-6)
    # standard errors: the inverse of half the numerical Hessian of the control deviance
    h = 1e-4
    k = theta.size
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):

            def f(di, dj, i=i, j=j):
                x = theta.copy()
                x[i] += di
                x[j] += dj
                return model.control_neg2ll(x)

            hess[i, j] = (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4 * h * h)
    np.testing.assert_allclose(sigma, np.sqrt(np.diag(np.linalg.inv(0.5 * hess))), rtol=2e-3)


def test_control_fit_is_the_global_minimum():
    m = _toy_control(seed=4)
    model = SmoothSteadyState(m, 2.0, T_LO)
    theta, _ = model.fit_control()
    res = optimize.minimize(lambda x: model.control_neg2ll(x), theta + 0.2, method="BFGS")
    assert model.control_neg2ll(theta) <= res.fun + 1e-7


def test_time_shape_sums_to_one_and_decays():
    model = SmoothSteadyState(_toy_control(), 2.0, T_LO)
    theta = np.r_[np.log(np.arange(1, 7.0)), 0.1, np.log(1.5)]
    q = model.time_shape(theta)
    assert q.sum() == pytest.approx(1.0, rel=1e-14)
    assert q[0] / q[1] == pytest.approx(np.exp(0.05), rel=1e-12)  # e^{-lambda * 0.5 us}
    assert q[1] / q[2] == pytest.approx(
        1.5 * np.exp(0.05), rel=1e-12
    )  # the early factor ends at 1 us
    counts = model.counts(theta).reshape(6, 24)
    np.testing.assert_allclose(counts.sum(axis=1), np.arange(1, 7.0), rtol=1e-12)


def test_auxiliary_constraint_is_zero_at_the_control_fit_and_positive_elsewhere():
    model = SmoothSteadyState(_toy_control(), 2.0, T_LO)
    theta, sigma = model.fit_control()
    spec = NuisanceSpec("bkg", "auxiliary", sigma, theta, size=theta.size, auxiliary=model)
    assert constraint_neg2logpdf(spec, theta) == 0.0

    # sigma are standard errors: with the others profiled, the deviance at a 0.5 sigma shift is 0.25
    def profiled(rest):
        return constraint_neg2logpdf(spec, np.r_[rest, theta[-1] + 0.5 * sigma[-1]])

    res = optimize.minimize(profiled, theta[:-1], method="BFGS")
    assert res.fun == pytest.approx(0.25, rel=0.02)
    assert constraint_neg2logpdf(spec, np.r_[theta[:-1], theta[-1] + 0.5 * sigma[-1]]) > res.fun


def test_control_deviance_is_the_same_in_numpy_and_pytensor():
    """The control constraint is the Poisson deviance, in both array modules.

    Independent reference: -2 sum [ln Pois(M; tau b) - ln Pois(M; M)] from scipy's pmf.
    """
    import pytensor
    import pytensor.tensor as pt
    from scipy import stats

    control = _toy_control()
    control[0, :3] = 0.0  # empty bins: the deviance term is 2 tau b there
    model = SmoothSteadyState(control, 2.0, T_LO)
    theta = model.fit_control()[0] + 0.03
    lam = 2.0 * model.counts(theta)
    m = control.reshape(-1)
    reference = -2.0 * np.sum(stats.poisson.logpmf(m, lam) - stats.poisson.logpmf(m, m))
    symbolic = pt.dvector("theta")
    graph = pytensor.function([symbolic], model.control_neg2ll(symbolic, xp=pt))
    assert float(model.control_neg2ll(theta)) == pytest.approx(reference, rel=1e-10)
    assert float(graph(theta)) == pytest.approx(reference, rel=1e-10)


def test_smooth_model_fit_recovers_asimov_signal_strength():
    study = load_study(CSI, {"data.kind": "asimov", "signal_strength": 0.7})
    model = build_response_model(study)
    best = ProfileFitter(model, ["signal_strength"]).best_fit()
    assert best.parameters["signal_strength"] == pytest.approx(0.7, abs=3e-3)


def test_smooth_without_timing_has_amplitudes_only():
    model = build_response_model(load_study(CSI, {"analysis.use_timing": False}))
    spec = next(n for n in model.nuisances if n.name == "steady_state_smooth")
    assert spec.size == 12 and model.steady_state_smooth.parameter_names[-1] == "ln_rate_pe11"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"backgrounds.steady_state.treatment": "exact"},
            "either 'model' or the older 'treatment'",
        ),
        ({"backgrounds.steady_state.control_samples": ["ac-beam-on", "ac-beam-on"]}, "twice"),
        ({"backgrounds.steady_state.control_samples": ["c-beam-of"]}, "control_samples"),
        ({"backgrounds.steady_state.model": "smoth"}, "model"),
    ],
)
def test_bad_steady_state_keys_name_the_key(overrides, message):
    with pytest.raises(SpecError, match=message):
        load_study(CSI, overrides)


def test_tau_follows_the_control_samples():
    study = load_study(CSI, {"backgrounds.steady_state.control_samples": ["c-beam-off"]})
    assert study.spec.backgrounds.steady_state.exposure_ratio() == pytest.approx(153.5 / 308.1)
    study = load_study(CSI, {"backgrounds.steady_state.tau": 2.5})
    assert study.spec.backgrounds.steady_state.exposure_ratio() == 2.5


def test_older_treatment_keeps_its_meaning():
    """A spec with the older `treatment` key and no control_samples: AC beam-on alone, tau = 1."""
    study = load_study(CSI, {"backgrounds.steady_state": {"treatment": "measured"}})
    ss = study.spec.backgrounds.steady_state
    assert ss.samples() == ["ac-beam-on"] and ss.exposure_ratio() == 1.0
    model = build_response_model(study)
    assert model.steady_state.sum() == 703  # REFERENCE.md 2.1, AC beam-on in 6-30 PE
    pooled = load_study(
        CSI, {"backgrounds.steady_state": {"model": "per-bin"}}
    ).spec.backgrounds.steady_state
    assert pooled.samples() == ["ac-beam-on", "c-beam-off", "ac-beam-off"]


def test_pe_bin_without_control_counts_is_a_spec_error():
    """0-2 PE has no AC beam-off count (REFERENCE.md 2.1): its free amplitude is unmeasured."""
    study = load_study(
        CSI,
        {
            "analysis.pe_range": [0.0, 50.0],
            "backgrounds.steady_state.control_samples": ["ac-beam-off"],
        },
    )
    with pytest.raises(SpecError, match="backgrounds.steady_state: a PE bin has no control counts"):
        build_response_model(study)


@pytest.mark.parametrize("pe_shape", ["free", "control"])
@pytest.mark.parametrize("early", [0.0, 1.0])
def test_exact_derivatives_match_central_differences(pe_shape, early):
    """counts_jacobian and control_neg2ll_gradient against step-size-extrapolated differences.

    Central differences at h and h/2 combined (Richardson) are accurate to ~1e-10 here; a
    wrong sign or a missing term (e.g. the q-average in the time derivative) is O(1).
    """
    model = SmoothSteadyState(_toy_control(), 2.0, T_LO, early_time_us=early, pe_shape=pe_shape)
    theta0, _ = model.fit_control()
    theta = theta0 + np.random.default_rng(3).normal(0.0, 0.3, theta0.size)

    def central(func, k, h):
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        return (np.asarray(func(up)) - np.asarray(func(down))) / (2 * h)

    jac = model.counts_jacobian(theta)
    grad = model.control_neg2ll_gradient(theta)
    assert jac.shape == (theta.size, model.counts(theta).size) and grad.shape == theta.shape
    for k in range(theta.size):
        for func, exact in ((model.counts, jac[k]), (model.control_neg2ll, grad[k])):
            fd = (4 * central(func, k, 5e-4) - central(func, k, 1e-3)) / 3
            scale = max(float(np.max(np.abs(fd))), 1.0)
            np.testing.assert_allclose(exact, fd, rtol=0, atol=1e-7 * scale)

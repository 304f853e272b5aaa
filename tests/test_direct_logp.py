"""The hand-written log-density of counting studies (bayes/direct.py) against PyMC's.

* value and gradient equal PyTensor's ``model.logp()`` and its autodiff gradient at random
  points, for every pooling and every prior parameterisation the module accepts;
* the trace variables (expanded values) equal the PyMC model's deterministics;
* studies it does not cover go to the PyTensor path;
* sampled through nutpie, the posterior equals the PyTensor path's within Monte Carlo
  error (means and 90 % quantiles, judged by their Monte Carlo standard errors).
"""

from __future__ import annotations

import numpy as np
import pytest

pm = pytest.importorskip("pymc")
pytest.importorskip("nutpie")

from cenns_bayes.bayes import direct  # noqa: E402
from cenns_bayes.bayes.model import build_model  # noqa: E402
from cenns_bayes.specs import load_study  # noqa: E402
from cenns_bayes.stats.binned import model_for_study  # noqa: E402

from .conftest import MODELS  # noqa: E402

#: [priors] blocks covering every parameterisation of bayes/priors.py the module accepts.
PRIOR_BLOCKS = {
    "flat in mu, reflected": """
sin2_theta_w = {dist = "uniform", lower = 0.15, upper = 0.32}
mu_nu_mu = {dist = "uniform", lower = 0.0, upper = 30.0}
mu_nu_e = {dist = "uniform", lower = 0.0, upper = 30.0}
""",
    "flat in mu^2, reflected and not; half-normal moment": """
mu_nu_mu = {dist = "uniform", lower = 0.0, upper = 30.0, on = "square"}
mu_nu_e = {dist = "uniform", lower = 1.0, upper = 30.0, on = "square"}
r2_nu_mu = {dist = "half-normal", sigma = 20.0}
""",
    "log-uniform, normal, half-normal, uniform moment above 0": """
sin2_theta_w = {dist = "normal", mu = 0.23, sigma = 0.02}
mu_nu_mu = {dist = "log-uniform", lower = 0.1, upper = 30.0}
mu_nu_e = {dist = "half-normal", sigma = 10.0}
signal_strength = {dist = "uniform", lower = 0.2, upper = 3.0}
""",
    "log-uniform strength, uniform r2 and moment above 0, normal r2": """
signal_strength = {dist = "log-uniform", lower = 0.1, upper = 4.0}
r2_nu_mu = {dist = "uniform", lower = -14.4, upper = 60.0}
mu_nu_e = {dist = "uniform", lower = 0.5, upper = 30.0}
r2_nu_e = {dist = "normal", mu = 0.0, sigma = 30.0}
""",
}


def _study(tmp_path, priors: str, **overrides):
    text = (MODELS / "paper_realistic.toml").read_text()
    head, rest = text.split("[priors]", 1)
    tail = rest[rest.index("\n[", 1) :]
    path = tmp_path / "study.toml"
    path.write_text(head + "[priors]\n" + priors + tail)
    return load_study(path, overrides or None)


def _pymc_point(model, d: direct.DirectModel, x: np.ndarray) -> dict:
    """The PyMC value-variable point equal to the direct model's unconstrained ``x``."""
    names = {v.name: v for v in model.value_vars}
    point, at = {}, 0
    for name, size in d.free:
        (match,) = [c for c in (name, f"{name}_interval__", f"{name}_log__") if c in names]
        value = x[at : at + size]
        point[match] = value[0] if names[match].ndim == 0 else value
        at += size
    return point


def _pymc_gradient(model, point: dict, d: direct.DirectModel) -> np.ndarray:
    """PyTensor's gradient, in the direct model's coordinate order."""
    grads = model.compile_dlogp()(point)
    by_name, at = {}, 0
    for v in model.value_vars:
        size = int(np.size(point[v.name]))
        by_name[v.name] = grads[at : at + size]
        at += size
    order = []
    for name, _ in d.free:
        (match,) = [c for c in (name, f"{name}_interval__", f"{name}_log__") if c in by_name]
        order.append(by_name[match])
    return np.concatenate(order)


CASES = [(label, "partial") for label in PRIOR_BLOCKS] + [
    (next(iter(PRIOR_BLOCKS)), pooling) for pooling in ("complete", "none")
]


@pytest.mark.parametrize(("label", "pooling"), CASES)
def test_logp_gradient_and_trace_equal_pymc(tmp_path, label, pooling):
    study = _study(tmp_path, PRIOR_BLOCKS[label])
    counting = model_for_study(study)
    assert direct.supported(study, counting)
    d = direct.DirectModel(study, counting, pooling)
    model, _ = build_model(study, pooling, counting)
    logp = model.compile_logp()
    trace_vars = {v.name: v for v in model.unobserved_value_vars}
    deterministics = model.compile_fn(
        [trace_vars[name] for name, _, _ in d.outputs],
        inputs=model.value_vars,
        point_fn=False,
        on_unused_input="ignore",
    )
    rng = np.random.default_rng(7)
    origin = np.zeros(d.n_dim)
    value0, _ = d.logp_and_gradient(origin)
    reference0 = float(logp(_pymc_point(model, d, origin)))
    # PyMC writes the half-normal's normalisation with a constant 3.4e-8 off ln(sqrt(2/pi));
    # constants do not move a posterior, so values are compared to 1e-7 and differences
    # between points to rounding
    assert value0 == pytest.approx(reference0, abs=1e-7)
    for _ in range(4):
        x = rng.normal(0.0, 0.8, size=d.n_dim)
        point = _pymc_point(model, d, x)
        value, grad = d.logp_and_gradient(x)
        reference = float(logp(point))
        assert value - value0 == pytest.approx(reference - reference0, rel=1e-10, abs=1e-9)
        np.testing.assert_allclose(grad, _pymc_gradient(model, point, d), rtol=1e-9, atol=1e-9)
        expanded = d.expand(x)
        reference = deterministics(*(point[v.name] for v in model.value_vars))
        for (name, _, _), ref in zip(d.outputs, reference, strict=True):
            np.testing.assert_allclose(expanded[name], ref, rtol=1e-12, atol=1e-14, err_msg=name)


def test_a_bad_point_is_rejected_not_returned():
    study = load_study(MODELS / "paper_realistic.toml")
    d = direct.DirectModel(study, model_for_study(study))
    x = np.zeros(d.n_dim)
    x[0] = np.nan
    value, _ = d.logp_and_gradient(x)
    assert value == -np.inf


def test_studies_outside_its_scope_use_pytensor(tmp_path):
    realistic = load_study(MODELS / "paper_realistic.toml")
    assert direct.supported(realistic, model_for_study(realistic))
    truncated = _study(
        tmp_path,
        'sin2_theta_w = {dist = "truncated-normal", mu = 0.23, sigma = 0.02, '
        "lower = 0.15, upper = 0.32}\n",
    )
    assert not direct.supported(truncated, model_for_study(truncated))
    radius = load_study(MODELS / "single_ar40.toml", {"nuisances.neutron_radius_sigma_fm": 0.1})
    assert not direct.supported(radius, model_for_study(radius))
    csi = load_study(MODELS / "coherent_csi_2017.toml")
    assert not direct.supported(csi, model_for_study(csi))


def _posterior(log_density: str, seed: int):
    from cenns_bayes.bayes.sampling import sample_study

    setting = "auto" if log_density == "analytic" else log_density
    study = load_study(MODELS / "paper_realistic.toml", {"sampling.log_density": setting})
    result = sample_study(
        study, draws=1000, tune=1000, chains=4, seed=seed, progressbar=False, prior_draws=0
    )
    assert result.idata.attrs["log_density"] == log_density
    return result.idata


def test_hand_written_and_pytensor_paths_sample_the_same_posterior():
    """Means and 90 % quantiles agree within 4 combined Monte Carlo standard errors."""
    import arviz as az

    a = _posterior("analytic", 20151)
    b = _posterior("pytensor", 20151)
    assert set(a.posterior.data_vars) == set(b.posterior.data_vars)
    for name in ("sin2_theta_w", "mu_nu_mu", "mu_nu_e", "flux_norm", "detector_norm_scale"):
        for stat, kind in ((lambda v: v.mean(("chain", "draw")), "mean"), (None, "quantile")):
            if kind == "mean":
                x, y = float(stat(a.posterior[name])), float(stat(b.posterior[name]))
                se = [float(az.mcse(t, var_names=[name], method="mean")[name]) for t in (a, b)]
            else:
                x, y = (float(t.posterior[name].quantile(0.9)) for t in (a, b))
                se = [
                    float(az.mcse(t, var_names=[name], method="quantile", prob=0.9)[name])
                    for t in (a, b)
                ]
            assert abs(x - y) < 4.0 * np.hypot(*se), (name, kind, x, y, se)
        assert int(a.sample_stats["diverging"].sum()) == 0


def test_swapping_counts_gives_the_buffer_of_a_fresh_build():
    """The buffer with a toy's counts is, number for number, the one built from its counts."""
    study = load_study(MODELS / "paper_realistic.toml")
    counting = model_for_study(study)
    built = direct.DirectModel(study, counting)
    rng = np.random.default_rng(5)
    for _ in range(3):
        counts = rng.poisson(np.maximum(counting.observed, 1.0)).astype(float)
        fresh = direct.DirectModel(study, counting.with_data(counts))
        np.testing.assert_array_equal(built.buffer_with_counts(counts), fresh.buffer)
    assert not np.array_equal(built.buffer_with_counts(counts + 1.0), fresh.buffer)
    with pytest.raises(ValueError, match="counts"):
        built.buffer_with_counts(counts[:-1])


def test_refits_with_swapped_counts_equal_refits_of_a_fresh_build():
    """A refitter reused across toys gives, seed for seed, the draws of the study compiled
    anew with each toy's counts (``compile_direct``), whatever it fitted before."""
    import nutpie

    from cenns_bayes.calibration.common import PosteriorRefitter, SamplerSettings, raw_draws

    study = load_study(MODELS / "calibration_ge76_mu.toml")
    settings = SamplerSettings(draws=60, tune=60, chains=2)
    reused = PosteriorRefitter(study, settings)
    assert reused.direct
    toys = [np.array(c, dtype=float) for c in ([590, 1402, 951], [640, 1350, 930], [3, 0, 7])]
    fits = [reused.fit(counts, seed=40 + k).draws["mu_nu_mu"] for k, counts in enumerate(toys)]
    for k, counts in enumerate(toys):
        compiled = direct.compile_direct(study, reused.counting.with_data(counts))
        trace = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=1,
            seed=40 + k,
            target_accept=settings.target_accept,
            progress_bar=False,
            save_warmup=False,
            return_raw_trace=True,
        )
        np.testing.assert_array_equal(fits[k], raw_draws(trace, ["mu_nu_mu"])[0]["mu_nu_mu"])
    # the counts reach the posterior: different toys, different draws
    assert not np.array_equal(fits[0], fits[1])

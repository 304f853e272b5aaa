"""Bayesian layer: likelihood, priors, model structure, summaries, short sampling runs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, special, stats

import cenns_bayes

pm = pytest.importorskip("pymc")

from cenns_bayes.bayes.model import build_model, poisson_logp  # noqa: E402
from cenns_bayes.bayes.summary import hdi  # noqa: E402
from cenns_bayes.specs import load_study, parse_study  # noqa: E402

from .conftest import MODELS, ROOT  # noqa: E402

SINGLE_CHANNEL = """
[study]
name = "single-channel-mu"
exposure_s = 2.4e7
[[detectors]]
name = "Ge76"
nucleus = "Ge76"
mass_kg = 100.0
distance_m = 20.0
efficiency = 0.67
recoil_window_kev = [10.0, 78.0]
[analysis]
flavors = ["numu"]
[priors]
mu_nu_mu = {dist = "uniform", lower = 0.0, upper = 40.0%s}
[sampling]
draws = 2000
tune = 1000
chains = 4
"""


def test_continuous_poisson_logp_matches_direct_and_scipy():
    n = np.array([0.0, 3.0, 17.0, 250.0])
    lam = np.array([0.7, 2.5, 20.0, 240.0])
    got = poisson_logp(n, lam).eval()
    assert got == pytest.approx(stats.poisson.logpmf(n, lam), rel=1e-12)
    n_frac = np.array([0.5, 3.25, 1500.4])
    lam2 = np.array([1.0, 3.0, 1500.0])
    direct = n_frac * np.log(lam2) - lam2 - special.gammaln(n_frac + 1)
    assert poisson_logp(n_frac, lam2).eval() == pytest.approx(direct, rel=1e-12)


def test_model_logp_equals_independent_computation():
    study = parse_study(SINGLE_CHANNEL % "")
    model, counting = build_model(study)
    ch = study.channel("Ge76", "numu")
    n_obs = ch.counts()[0]  # Asimov data: the expectation at [parameters]
    logp = model.compile_logp()
    for x in (-7.0, 0.0, 3.0, 12.0):
        mu = abs(x)
        lam = ch.counts(0.2312, mu)[0]
        expected = n_obs * np.log(lam) - lam - special.gammaln(n_obs + 1) - np.log(80.0)
        # the value of the reflected variable on its interval-transformed scale
        point = model.initial_point()
        name = next(k for k in point if k.startswith("mu_nu_mu_reflected"))
        u = (x + 40.0) / 80.0
        point[name] = np.log(u / (1 - u))
        jac = np.log(80.0) + np.log(u) + np.log(1 - u)  # d x / d(logit)
        assert logp(point) == pytest.approx(expected + jac, rel=1e-10)


@pytest.mark.parametrize("on", ["value", "square"])
def test_prior_on_mu_is_what_the_spec_says(on):
    study = parse_study(SINGLE_CHANNEL % f', on = "{on}"')
    model, _ = build_model(study)
    with model:
        prior = pm.sample_prior_predictive(draws=4000, random_seed=3, var_names=["mu_nu_mu"])
    mu = np.asarray(prior["prior"]["mu_nu_mu"]).reshape(-1)
    assert mu.min() >= 0 and mu.max() <= 40.0
    sample = mu if on == "value" else mu**2
    upper = 40.0 if on == "value" else 1600.0
    assert stats.kstest(sample, stats.uniform(0, upper).cdf).pvalue > 0.001


def test_hdi_of_known_distributions():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 0.5, 200_000)
    lo, hi = hdi(x, 0.9)
    assert lo == pytest.approx(2.0 - 1.6449 * 0.5, abs=0.01)
    assert hi == pytest.approx(2.0 + 1.6449 * 0.5, abs=0.01)
    e = rng.exponential(1.0, 200_000)  # HDI of a decreasing density starts at 0
    lo, hi = hdi(e, 0.9)
    assert lo == pytest.approx(0.0, abs=1e-3) and hi == pytest.approx(-np.log(0.1), rel=0.02)


def test_pooling_variants_build():
    study = load_study(MODELS / "ne_ge_hierarchical.toml")
    names = {}
    for pooling in ("partial", "complete", "none"):
        model, _ = build_model(study, pooling=pooling)
        names[pooling] = {rv.name for rv in model.free_RVs}
    assert "detector_norm_scale" in names["partial"]
    assert "detector_norm_scale" not in names["complete"] | names["none"]
    # complete pooling is the tau -> 0 limit: no detector term beside the flux normalisation
    assert {"detector_norm_z", "detector_norm_scale"} & names["complete"] == set()
    assert "flux_norm_z" in names["complete"]
    with pytest.raises(ValueError, match="pooling"):
        build_model(study, pooling="some")


@pytest.mark.slow  # 4 x 2000 NUTS draws; the plumbing is covered fast, with mocked sampling, in
# tests/test_api.py::test_sample_study_plumbing_without_nuts
def test_single_channel_upper_limit_matches_numerical_integration(tmp_path):
    """Acceptance: flat prior, Asimov data, mu only: the 90 % quantile of the NUTS draws equals
    the 90 % quantile of the same posterior integrated numerically in one dimension."""
    from cenns_bayes.bayes import diagnostics, sample_study, summarise_posterior
    from cenns_bayes.bayes.sampling import write_netcdf

    study = parse_study(SINGLE_CHANNEL % "")
    result = sample_study(study, progressbar=False, prior_draws=50)
    diag = diagnostics(result.idata, ["mu_nu_mu"])
    assert diag["divergences"] == 0 and diag["max_r_hat"] <= 1.01
    ch = study.channel("Ge76", "numu")
    n = ch.counts()[0]

    def post(mu):
        lam = ch.counts(0.2312, mu)[0]
        return np.exp(n * np.log(lam / n) - lam + n)

    grid = np.linspace(0, 40, 4001)
    dens = np.array([post(m) for m in grid])
    cdf = integrate.cumulative_trapezoid(dens, grid, initial=0)
    cdf /= cdf[-1]
    q90 = float(np.interp(0.9, cdf, grid))
    draws = np.asarray(result.idata["posterior"]["mu_nu_mu"]).reshape(-1)
    # Monte Carlo error of a quantile: sqrt(p(1-p)/ESS)/f(q)
    f_q = float(np.interp(q90, grid, dens / integrate.trapezoid(dens, grid)))
    ess = summarise_posterior(result.idata, ["mu_nu_mu"])["mu_nu_mu"]["ess_tail"]
    mc_error = np.sqrt(0.9 * 0.1 / ess) / f_q
    assert abs(np.quantile(draws, 0.9) - q90) < 4 * mc_error
    # traceability and atomic NetCDF writing
    assert result.idata.attrs["spec_sha256"] == study.sha256
    path = write_netcdf(result.idata, tmp_path / "post.nc")
    assert [p.name for p in tmp_path.iterdir()] == ["post.nc"]
    import arviz as az

    back = az.from_netcdf(path)
    assert {"posterior", "sample_stats", "prior", "observed_data"} <= set(back.children)


def test_sample_cli_json(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "cenns_bayes.cli.main",
            "sample",
            str(MODELS / "fig5_sin2_mu_ar40.toml"),
            "--draws",
            "100",
            "--tune",
            "100",
            "--chains",
            "2",
            "--json",
            "--out",
            str(tmp_path / "x.nc"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out["parameters"]) == {"sin2_theta_w", "mu_nu_mu"}
    for key in (
        "mean",
        "median",
        "sd",
        "hdi_68",
        "hdi_90",
        "eti_68",
        "eti_90",
        "upper_90",
        "r_hat",
        "ess_bulk",
    ):
        assert key in out["parameters"]["mu_nu_mu"]
    for row in out[
        "parameters"
    ].values():  # the median is the 50 % quantile: inside the 16-84 % ETI
        assert row["eti_68"][0] < row["median"] < row["eti_68"][1]
    assert isinstance(out["divergences"], int)
    assert (tmp_path / "x.nc").stat().st_size > 0
    study = load_study(MODELS / "fig5_sin2_mu_ar40.toml")
    assert (out["spec_sha256"], out["cenns_bayes_version"]) == (
        study.sha256,
        cenns_bayes.__version__,
    )


def test_sample_cli_rejects_study_without_priors():
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "cenns_bayes.cli.main",
            "sample",
            str(ROOT / "cenns_bayes" / "paper" / "presets" / "realistic.toml"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert res.returncode == 2 and "no free parameter" in res.stderr


@pytest.mark.parametrize("on,shape", [("value", 0.25), ("square", 0.5)])
def test_credible_limit_closed_form_for_quartic_chi2(on, shape):
    """With chi2 = c mu^4 (counts linear in mu^2, Gaussian statistic), a flat prior in mu makes
    u = chi2/2 Gamma(1/4)-distributed and a flat prior in mu^2 makes it Gamma(1/2): the 90 %
    credible limit sits at Delta chi2 = 2 Gamma^-1(0.9; shape), i.e. 1.50 and exactly 2.71."""
    study = parse_study(SINGLE_CHANNEL % "")
    ch = study.channel("Ge76", "numu")
    n0, b = ch.counts()[0], ch.polynomial[3, 0]
    c = b**2 / n0
    grid = np.linspace(0, 40, 200_001)
    log_like = -0.5 * c * grid**4
    prior = np.ones_like(grid) if on == "value" else 2 * grid  # flat in mu^2 = density 2 mu in mu
    dens = np.exp(log_like) * prior
    cdf = integrate.cumulative_trapezoid(dens, grid, initial=0)
    q90 = float(np.interp(0.9, cdf / cdf[-1], grid))
    delta = 2 * stats.gamma.ppf(0.9, shape)
    assert q90 == pytest.approx((delta / c) ** 0.25, rel=1e-5)
    if on == "square":
        assert delta == pytest.approx(stats.chi2.ppf(0.9, 1), rel=1e-12)


@pytest.mark.parametrize(
    ("overrides", "prior_power"),
    [
        ({"backgrounds.steady_state.model": "per-bin"}, 0.5),
        ({}, 0.5),
        ({"backgrounds.steady_state.rate_prior": "uniform"}, 1.0),
    ],
)
def test_response_model_logp_uses_declared_constraints(overrides, prior_power):
    """The generic PyMC model of a response study: its log density at a point equals the
    sum, computed independently with NumPy/SciPy, of the declared constraint densities
    and the continuous Poisson likelihood of the NumPy expectation. Per-bin rates: Gamma
    marginals (m + 1/2 Jeffreys, m + 1 flat); smooth background: z ~ N(0, 10), the Poisson
    likelihood of the pooled control counts and P^(power) in the amplitudes' logs."""
    from cenns_bayes.stats.binned import model_for_study

    study = load_study(MODELS / "coherent_csi_2017.toml", overrides)
    stat_model = model_for_study(study)
    model, _ = build_model(study, counting=stat_model)
    rng = np.random.default_rng(5)
    values = {"signal_strength": 0.8}
    nuis = {}
    for spec in stat_model.nuisances:
        if spec.kind == "poisson":
            m = np.asarray(spec.centre, float)
            nuis[spec.name] = (m + 0.5) / spec.sigma * rng.uniform(0.8, 1.2, m.size)
        else:
            nuis[f"{spec.name}_z"] = (
                rng.normal(0, 0.5, spec.size) if spec.size > 1 else rng.normal(0, 0.5)
            )
    logp = model.compile_logp(jacobian=False)
    point = {"signal_strength_interval__": np.log(0.8 / (3.0 - 0.8))}
    for k, v in nuis.items():
        point[k if k.endswith("_z") else f"{k}_log__"] = v if k.endswith("_z") else np.log(v)
    expected_nuis = {}
    total = stats.uniform(0, 3).logpdf(0.8)
    for spec in stat_model.nuisances:
        if spec.kind == "poisson":
            b = nuis[spec.name]
            expected_nuis[spec.name] = b
            total += (
                stats.gamma(np.asarray(spec.centre) + prior_power, scale=1 / spec.sigma)
                .logpdf(b)
                .sum()
            )
        elif spec.kind == "auxiliary":
            z = nuis[f"{spec.name}_z"]
            theta = spec.centre + spec.sigma * z
            expected_nuis[spec.name] = theta
            total += stats.norm(0, 10).logpdf(z).sum()
            smooth = spec.auxiliary
            m = smooth.control_counts.ravel()
            lam_control = smooth.tau * smooth.counts(theta)
            total += stats.poisson.logpmf(m, lam_control).sum() - stats.poisson.logpmf(m, m).sum()
            total += prior_power * theta[: smooth.n_amplitudes].sum()
        else:
            z = nuis[f"{spec.name}_z"]
            expected_nuis[spec.name] = spec.from_z(z)
            total += stats.norm.logpdf(z).sum()
    lam = stat_model.expected(values, expected_nuis)
    n = stat_model.observed
    total += np.sum(n * np.log(lam) - lam - special.gammaln(n + 1))
    assert logp(point) == pytest.approx(total, rel=1e-9)


def test_posterior_predictive_pvalue_detects_misfit():
    """Calibrated case: data drawn from the model give a moderate p; data far off give p ~ 0."""
    import xarray as xr

    from cenns_bayes.bayes.summary import posterior_predictive_pvalue

    rng = np.random.default_rng(11)
    lam = np.full((2, 500, 40), 50.0) * rng.normal(1.0, 0.01, (2, 500, 1))
    idata = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"expected_counts": (("chain", "draw", "bin"), lam)})}
    )
    good = posterior_predictive_pvalue(idata, rng.poisson(50.0, 40))
    assert 0.02 < good["pvalue"] < 0.98
    bad = posterior_predictive_pvalue(idata, rng.poisson(50.0, 40) + np.tile([25, -25], 20))
    assert bad["pvalue"] < 0.01
    asimov = posterior_predictive_pvalue(idata, np.full(40, 50.0))
    assert asimov["pvalue"] > 0.99

"""The boundary-aware highest-density interval against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal, special, stats

from cenns_bayes.bayes.summary import boundary_evidence, credible_hdi, physical_lower_bound
from cenns_bayes.calibration.common import posterior_intervals


def _truncated_normal(mean: float, sd: float, size: int, seed: int) -> np.ndarray:
    a = (0.0 - mean) / sd
    return stats.truncnorm.rvs(a, np.inf, loc=mean, scale=sd, size=size, random_state=seed)


def test_half_normal_hdi_is_zero_to_the_quantile():
    x = np.abs(np.random.default_rng(0).normal(0.0, 2.0, size=20_000))
    lo, hi = credible_hdi(x, 0.9, 0.0)
    assert lo == 0.0  # exact, though no draw is 0
    assert hi == pytest.approx(2.0 * stats.norm.ppf(0.95), rel=0.02)
    assert credible_hdi(x, 0.9)[0] > 0.0  # without the boundary: the smallest draw


def test_truncated_normal_switches_rule_where_the_density_at_zero_equals_that_at_q():
    # N(1, 1) truncated at 0: f(0) = f(2), so [0, q] holds iff the level's quantile q >= 2.
    x = _truncated_normal(1.0, 1.0, 40_000, seed=1)
    mass = 1.0 - stats.norm.cdf(-1.0)
    # 90 %: q = 1 + Phi^-1(Phi(-1) + 0.9 mass) = 2.378 > 2 -> [0, q]
    q90 = 1.0 + stats.norm.ppf(stats.norm.cdf(-1.0) + 0.9 * mass)
    lo, hi = credible_hdi(x, 0.9, 0.0)
    assert lo == 0.0 and hi == pytest.approx(q90, abs=0.03)
    # 68 %: q = 1.616 < 2 -> the symmetric region 1 -/+ a with 2 Phi(a) - 1 = 0.68 mass
    a = stats.norm.ppf(0.5 + 0.5 * 0.68 * mass)
    lo, hi = credible_hdi(x, 0.68, 0.0)
    assert lo == pytest.approx(1.0 - a, abs=0.03) and hi == pytest.approx(1.0 + a, abs=0.03)


def test_density_vanishing_at_the_boundary_keeps_the_plain_hdi():
    # f(x) = 2x on [0, 1]: the 90 % HDI is [sqrt(0.1), 1]
    x = np.sqrt(np.random.default_rng(2).uniform(size=20_000))
    lo, hi = credible_hdi(x, 0.9, 0.0)
    assert lo == pytest.approx(np.sqrt(0.1), abs=0.01) and hi == pytest.approx(1.0, abs=0.01)


#: Seeds and draws of the repeated-sample checks (4000 draws: the main job's 4 x 1000).
SEEDS, DRAWS = 200, 4000


def _half_normal(rng, n):
    return np.abs(rng.normal(0.0, 2.0, size=n))


def _half_normal_q(p):
    return 2.0 * stats.norm.ppf(0.5 + 0.5 * p)


def _gauss_times_flat(rng, n):
    # posterior exp(-mu^2 / 18) x flat prior on [0, 6]: a normal likelihood of sd 3 at mu = 0
    return stats.truncnorm.rvs(0.0, 2.0, loc=0.0, scale=3.0, size=n, random_state=rng)


def _gauss_times_flat_q(p):
    return 3.0 * stats.norm.ppf(0.5 + p * (stats.norm.cdf(2.0) - 0.5))


def _quartic(rng, n):
    # exp(-mu^4): the Asimov likelihood at mu = 0 of counts a + b mu^2 (flat at its mode);
    # t = mu^4 is Gamma(1/4, 1)
    return rng.gamma(0.25, size=n) ** 0.25


def _quartic_q(p):
    return special.gammaincinv(0.25, p) ** 0.25


def _octic(rng, n):
    # exp(-mu^8): flat-topped like a marginal moment posterior; at 68 % f(q) = 0.97 f(0), a
    # near-tie that a comparison of the two point estimates got wrong in 18 % of the seeds
    return rng.gamma(0.125, size=n) ** 0.125


def _octic_q(p):
    return special.gammaincinv(0.125, p) ** 0.125


@pytest.mark.parametrize(
    ("draw", "quantile", "pdf"),
    [
        (_half_normal, _half_normal_q, lambda x: 2.0 * stats.norm.pdf(x, 0.0, 2.0)),
        (
            _gauss_times_flat,
            _gauss_times_flat_q,
            lambda x: stats.truncnorm.pdf(x, 0.0, 2.0, loc=0.0, scale=3.0),
        ),
        (_quartic, _quartic_q, lambda x: np.exp(-(x**4)) / special.gamma(1.25)),
        (_octic, _octic_q, lambda x: np.exp(-(x**8)) / special.gamma(1.125)),
    ],
    ids=["half-normal", "gauss-times-flat", "quartic", "octic"],
)
@pytest.mark.parametrize("level", [0.68, 0.9])
def test_boundary_mode_gives_zero_to_the_exact_quantile_in_nearly_every_seed(
    draw, quantile, pdf, level
):
    """Independent samples of densities whose mode is the boundary: [0, q] with an exact 0
    in at least 99 % of the seeds, q within 3.5 Monte Carlo standard errors of the closed
    form (sqrt(p (1 - p) / n) / f(q)) in at least 99 %."""
    q_exact = float(quantile(level))
    q_stderr = np.sqrt(level * (1.0 - level) / DRAWS) / float(pdf(q_exact))
    at_zero = within = 0
    for seed in range(SEEDS):
        lo, hi = credible_hdi(draw(np.random.default_rng(seed), DRAWS), level, 0.0)
        at_zero += lo == 0.0
        within += lo == 0.0 and abs(hi - q_exact) <= 3.5 * q_stderr
    assert at_zero >= 0.99 * SEEDS
    assert within >= 0.99 * SEEDS


@pytest.mark.parametrize("level", [0.68, 0.9])
def test_interior_mode_keeps_the_ordinary_hdi_in_every_seed(level):
    """N(3, 1) (mode 3 sigma from the boundary): never [0, q]; the HDI is 3 -/+ z."""
    z = stats.norm.ppf(0.5 + 0.5 * level)
    for seed in range(SEEDS):
        x = np.random.default_rng(seed).normal(3.0, 1.0, size=DRAWS)
        lo, hi = credible_hdi(x[x > 0.0], level, 0.0)
        # the ends of ArviZ's shortest window scatter by about 0.065 at 4000 draws
        assert lo == pytest.approx(3.0 - z, abs=0.3) and hi == pytest.approx(3.0 + z, abs=0.3)


def test_boundary_test_error_uses_the_chains_effective_sample_size():
    """AR(1) chains (rho = 0.8) of |x|: the standard error the rule quotes for
    f(0) - f(q) matches the scatter of the estimate over 300 independent runs (within
    25 %), and exceeds the error it would quote for as many independent draws."""
    rho, diffs, errs, iid_errs = 0.8, [], [], []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        e = rng.normal(size=(4, 1000)) * np.sqrt(1.0 - rho**2)
        e[:, 0] = rng.normal(size=4)
        x = np.abs(signal.lfilter([1.0], [1.0, -rho], e, axis=1))
        ev = boundary_evidence(x, 0.68)
        diffs.append(ev["density_at_bound"] - ev["density_at_quantile"])
        errs.append(ev["difference_stderr"])
        iid_errs.append(boundary_evidence(x.reshape(-1), 0.68)["difference_stderr"])
    assert np.mean(errs) == pytest.approx(np.std(diffs), rel=0.25)
    assert np.mean(errs) > np.mean(iid_errs)


def test_bias_reduced_density_difference_matches_the_closed_form():
    """Half-normal (sd 2) at 68 %: the mean of f(0) - f(q) over 300 seeds agrees with
    the closed form 2 phi(0) / 2 - 2 phi(0.994) / 2 = 0.1556 within 4 standard errors of
    that mean (a plain Gaussian kernel at Silverman's bandwidth is 0.004 low, 4 of them)."""
    exact = 2.0 * stats.norm.pdf(0.0, 0.0, 2.0) - 2.0 * stats.norm.pdf(
        _half_normal_q(0.68), 0.0, 2.0
    )
    diffs = []
    for seed in range(300):
        ev = boundary_evidence(_half_normal(np.random.default_rng(seed), DRAWS), 0.68)
        diffs.append(ev["density_at_bound"] - ev["density_at_quantile"])
    assert np.mean(diffs) == pytest.approx(exact, abs=4.0 * np.std(diffs) / np.sqrt(len(diffs)))


def test_calibration_uses_the_same_rule_and_bounds_are_named():
    x = _truncated_normal(1.0, 1.0, 20_000, seed=3)
    ivs = posterior_intervals("mu_nu_mu", x)
    assert ivs["posterior-hdi"]["0.9"] == list(credible_hdi(x, 0.9, 0.0))
    assert ivs["posterior-hdi"]["0.68"] == list(credible_hdi(x, 0.68, 0.0))
    assert physical_lower_bound("mu_nu_e") == 0.0 and physical_lower_bound("signal_strength") == 0.0
    assert physical_lower_bound("sin2_theta_w") is None


@pytest.mark.slow
def test_study_report_gives_boundary_hdis_and_no_asimov_predictive_pvalue(tmp_path):
    """paper_realistic (Asimov data, true moments 0): the report's 68 % and 90 % moment
    HDIs are [0, q] with an exact 0, as the boundary rule decides on the saved draws, and
    the predictive check says n/a."""
    import json

    import arviz as az

    import cenns_bayes as cb
    from cenns_bayes.reports.study import run_study

    from .conftest import MODELS

    study = cb.load_study(MODELS / "paper_realistic.toml")
    moments = [p for p in study.free_parameters if p.startswith("mu_nu")]
    assert moments
    run_study(study, tmp_path, draws=400, tune=400, chains=2, pooling_comparison=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    idata = az.from_netcdf(tmp_path / summary["netcdf"])
    for p in moments:
        x = np.asarray(idata["posterior"][p])
        for key, level in (("hdi_68", 0.68), ("hdi_90", 0.9)):
            lo, hi = summary["posterior"][p][key]
            assert boundary_evidence(x, level)["at_bound"], (p, key)
            assert lo == 0.0 and hi == pytest.approx(np.quantile(x, level)), (p, key, lo, hi)
    assert summary["posterior_predictive"]["pvalue"] is None
    assert "n/a (Asimov data)" in (tmp_path / "report.md").read_text()

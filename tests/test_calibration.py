"""Calibration machinery against problems with known answers; the check command end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from cenns_bayes.calibration.common import (
    StudyRef,
    binomial_stderr,
    clopper_pearson,
    counting_for,
    posterior_intervals,
)
from cenns_bayes.calibration.coverage import CoverageSettings, run_coverage
from cenns_bayes.calibration.feldman_cousins import (
    NeymanBelt,
    critical_value,
    fc_poisson_interval,
    poisson_lr_statistic,
)
from cenns_bayes.calibration.sbc import ecdf_band_test, rank_statistic, thin_draws, uniformity_test
from cenns_bayes.stats.profile import delta_chi2_for

from .conftest import MODELS, ROOT

#: One channel (prompt nu_mu on a 0.5 kg Ge76 detector): about 3 expected counts, so the
#: discreteness of the Poisson distribution makes the exact coverage differ from nominal
#: (0.616 at 68 %, 0.917 at 90 %).
ONE_BIN = """
[study]
name = "one-bin"
exposure_s = 2.4e7
[source]
kind = "sns"
[[detectors]]
name = "Ge76"
nucleus = "Ge76"
mass_kg = 0.5
distance_m = 20.0
efficiency = 0.67
recoil_window_kev = [10.0, 78.0]
[analysis]
flavors = ["numu"]
[parameters]
sin2_theta_w = 0.2312
[priors]
sin2_theta_w = {dist = "uniform", lower = 0.1, upper = 0.4}
"""


def exact_wilks_coverage(ref: StudyRef, level: float) -> float:
    """P(t(s_true) <= chi2_1^{-1}(level)) by summing Poisson probabilities over n.

    t(s) = 2 [N(s) - n + n ln(n / N(s))] minus its minimum over the physical range of s,
    where N(s) is monotonic (so the profile minimum is at N = n, or at an end of the range).
    """
    counting = counting_for(ref)
    n_true = float(counting.expected({"sin2_theta_w": 0.2312})[0])
    ends = [float(counting.expected({"sin2_theta_w": s})[0]) for s in (1e-6, 1 - 1e-6)]
    n_lo, n_hi = min(ends), max(ends)

    def dev(n, lam):
        return 2.0 * (lam - n + (n * np.log(n / lam) if n > 0 else 0.0))

    delta = delta_chi2_for(level)
    total = 0.0
    for n in range(0, int(stats.poisson.isf(1e-12, n_true)) + 1):
        best = np.clip(n, n_lo, n_hi)
        if dev(n, n_true) - dev(n, best) <= delta:
            total += stats.poisson.pmf(n, n_true)
    return total


def test_toy_coverage_of_the_wilks_interval_matches_the_exact_poisson_sum():
    ref = StudyRef(ONE_BIN)
    toys = 800
    res = run_coverage(
        ref, CoverageSettings(toys=toys, sampler=None, feldman_cousins=False), seed=11
    )
    got = {(r["method"], r["level"]): r["coverage"] for r in res.summary}
    # discreteness matters here: the exact answer is not the nominal level
    assert abs(exact_wilks_coverage(ref, 0.68) - 0.68) > 0.05
    for level in (0.68, 0.9):
        exact = exact_wilks_coverage(ref, level)
        err = binomial_stderr(exact, toys)
        assert abs(got[("profile", level)] - exact) < 3.5 * err, (level, got, exact)


#: Signal grid of the exact constructions (step 0.005, as fine as Table IV's rounding).
GRID = np.arange(0.0, 6.5, 0.005)


def test_fc_poisson_construction_reproduces_feldman_cousins_table_iv():
    # (n, b) -> 90 % interval of Feldman & Cousins (1998), Table IV.
    table = {
        (0, 0.0): (0.0, 2.44),
        (0, 0.5): (0.0, 1.94),
        (0, 1.0): (0.0, 1.61),
        (0, 2.5): (0.0, 1.18),
        (1, 0.0): (0.11, 4.36),
        (3, 3.0): (0.0, 4.42),
        (2, 0.0): (0.53, 5.91),
    }
    for (n, b), (lo, hi) in table.items():
        got = fc_poisson_interval(n, b, 0.9, grid=GRID)
        assert got[0] == pytest.approx(lo, abs=0.011) and got[1] == pytest.approx(hi, abs=0.011), (
            n,
            b,
            got,
        )
    # At b = 3 the construction's n = 0 limit (0.95) is not monotonic in b (b = 2.5 gives
    # 1.18); Table IV lists 1.08 there, a value that differs from the plain construction.
    assert fc_poisson_interval(0, 3.0, 0.9, grid=GRID)[1] == pytest.approx(0.95, abs=0.011)


def test_toy_neyman_belt_agrees_with_the_exact_belt():
    """The toy-based critical values (used for the studies) against the exact sums, b = 3."""
    rng = np.random.default_rng(5)
    grid = np.arange(0.0, 6.0001, 0.25)
    b = 3.0
    samples = [poisson_lr_statistic(rng.poisson(s + b, size=4000), s, b) for s in grid]
    belt = NeymanBelt.from_samples("s", grid, samples, (0.9,))
    for n_obs in (0, 4, 7):
        t_grid = np.array([poisson_lr_statistic(np.array([n_obs]), s, b)[0] for s in grid])
        lo, hi, _ = belt.interval(t_grid, 0.9)
        exact = fc_poisson_interval(n_obs, b, 0.9, grid=grid)
        assert (lo, hi) == pytest.approx(exact, abs=0.26), (n_obs, (lo, hi), exact)


def test_critical_value_is_the_smallest_value_reaching_the_level():
    t = np.array([0.0, 0.0, 1.0, 2.0, 3.0])
    assert critical_value(t, 0.4) == 0.0
    assert critical_value(t, 0.41) == 1.0
    assert critical_value(t, 0.8, weights=np.array([0.5, 0.0, 0.2, 0.2, 0.1])) == 2.0


def test_clopper_pearson_matches_the_beta_quantiles():
    # the textbook form: lower = Beta(k, n - k + 1).ppf(0.025),
    # upper = Beta(k + 1, n - k).ppf(0.975)
    for k, n in (
        (0, 1000),
        (1, 1000),
        (911, 1000),
        (999, 1000),
        (1000, 1000),
        (7, 20),
        (500, 1000),
    ):
        lo, hi = clopper_pearson(k, n)
        lo_x = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
        hi_x = 1.0 if k == n else stats.beta.ppf(0.975, k + 1, n - k)
        assert abs(lo - lo_x) < 2e-6 and abs(hi - hi_x) < 2e-6, (k, n, lo, hi, lo_x, hi_x)
    lo, hi = clopper_pearson(1000, 1000)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 1000), abs=1e-9)  # p^n = 0.025


def test_fc_interval_ends_solve_t_equal_to_the_interpolated_critical_value():
    # t(mu) = (mu - 3)^2 with c = 2.706 everywhere: the interval is 3 -/+ sqrt(2.706) exactly,
    # though the grid (step 1) holds neither end
    grid = np.arange(0.0, 10.0001, 1.0)
    belt = NeymanBelt("mu", grid, {"0.9": np.full(grid.size, 2.706)})

    def t_of(mu):
        return (mu - 3.0) ** 2

    lo, hi, is_open = belt.interval(t_of(grid), 0.9, t_of)
    assert lo == pytest.approx(3.0 - np.sqrt(2.706), abs=1e-4) and hi == pytest.approx(
        3.0 + np.sqrt(2.706), abs=1e-4
    )
    assert not is_open
    # critical values varying linearly: c(mu) = 1 + 0.2 mu, t = (mu - 3)^2 -> roots of a quadratic
    belt = NeymanBelt("mu", grid, {"0.9": 1.0 + 0.2 * grid})
    roots = np.sort(np.roots([1.0, -6.2, 8.0]))
    lo, hi, _ = belt.interval(t_of(grid), 0.9, t_of)
    assert (lo, hi) == pytest.approx(tuple(roots), abs=1e-4)
    # grid-only reading rounds inwards (the old behaviour), which under-covers
    lo_g, hi_g, _ = belt.interval(t_of(grid), 0.9)
    assert lo_g == 2.0 and hi_g == 4.0


def test_vectorised_fc_statistic_equals_the_profile_fit():
    from cenns_bayes.calibration.feldman_cousins import (
        linear_in_square,
        poisson_t_vectorised,
        profile_likelihood,
    )

    ref = StudyRef.from_file(MODELS / "calibration_ge76_mu.toml")
    study, counting = ref.load(), counting_for(ref)
    a, b = linear_in_square(counting, study, "mu_nu_mu")
    rng = np.random.default_rng(1)
    for value in (0.0, 3.3, 8.0):
        counts = rng.poisson(a + b * value**2, size=(6, a.size)).astype(float)
        fast = poisson_t_vectorised(counts, a, b, value)
        for row, t_fast in zip(counts, fast, strict=True):
            like = profile_likelihood(counting.with_data(row), study, row, "poisson")
            t_fit = max(0.0, float(like.profile("mu_nu_mu", np.array([value]))[0]))
            assert t_fast == pytest.approx(t_fit, abs=2e-5), (value, row, t_fast, t_fit)


def _t_with_every_pass(counts, a, b, value, iterations=60):
    """FC statistic of poisson_t_vectorised with every Newton/bisection pass run on every toy."""
    from cenns_bayes.stats.cost import poisson_deviance

    n = np.asarray(counts, dtype=float)

    def slope(s, n):
        return 2.0 * np.sum(b * (1.0 - n / (a + b * s[:, None])), axis=1)

    s_hat = np.zeros(n.shape[0])
    free = slope(s_hat, n) < 0.0
    nf = n[free]
    lo = np.zeros(nf.shape[0])
    hi = np.full(nf.shape[0], 2.0 * nf.sum(axis=1).max() / b[b > 0].min() + 1.0)
    s = np.maximum(0.0, (nf.sum(axis=1) - a.sum()) / b.sum())
    for _ in range(iterations):
        g = slope(s, nf)
        lo, hi = np.where(g < 0.0, s, lo), np.where(g >= 0.0, s, hi)
        lam = a + b * s[:, None]
        step = s - g / (2.0 * np.sum(b * b * nf / (lam * lam), axis=1))
        s = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
    s_hat[free] = s
    d_hat = poisson_deviance(n, a + b * s_hat[:, None])
    d_val = poisson_deviance(n, np.broadcast_to(a + b * value**2, n.shape))
    return np.maximum(0.0, d_val - d_hat)


def test_fc_statistic_stopping_converged_toys_changes_no_bit():
    """Toys leave the iteration once their iterate repeats: t equals, bit for bit, the one
    with all passes on all toys (so belts and coverages stay the same for the same seed)."""
    from cenns_bayes.calibration.feldman_cousins import linear_in_square, poisson_t_vectorised

    ref = StudyRef.from_file(MODELS / "calibration_ge76_mu.toml")
    a, b = linear_in_square(counting_for(ref), ref.load(), "mu_nu_mu")
    rng = np.random.default_rng(11)
    for value in (0.0, 2.5, 6.0, 11.0):
        counts = rng.poisson(a + b * value**2, size=(3000, a.size)).astype(float)
        fast = poisson_t_vectorised(counts, a, b, value)
        slow = _t_with_every_pass(counts, a, b, value)
        assert np.any(fast > 0.0)
        np.testing.assert_array_equal(fast.view(np.int64), slow.view(np.int64))


def _gamma_poisson_ranks(replications: int, width_factor: float, seed: int) -> np.ndarray:
    """SBC ranks of a Gamma-Poisson model, posterior drawn in closed form (no MCMC).

    lambda ~ Gamma(3, rate 0.5); 5 counts ~ Poisson(lambda); posterior Gamma(3 + sum n,
    rate 0.5 + 5). ``width_factor`` != 1 scales the posterior's spread about its mean.
    """
    rng = np.random.default_rng(seed)
    a, rate, m = 3.0, 0.5, 5
    ranks = []
    for _ in range(replications):
        lam = rng.gamma(a, 1.0 / rate)
        n = rng.poisson(lam, size=m)
        post = rng.gamma(a + n.sum(), 1.0 / (rate + m), size=(2, 500))
        post = post.mean() + width_factor * (post - post.mean())
        ranks.append(rank_statistic(lam, thin_draws(post)))
    return np.asarray(ranks)


def test_sbc_ranks_are_uniform_for_the_exact_posterior():
    p, hist = uniformity_test(_gamma_poisson_ranks(1000, 1.0, seed=3))
    assert p > 0.01, (p, hist)
    assert hist.sum() == 1000


def test_sbc_detects_a_too_narrow_posterior():
    p, hist = uniformity_test(_gamma_poisson_ranks(300, 0.6, seed=3))
    assert p < 1e-6, (p, hist)
    assert (
        hist[0] + hist[-1] > 3 * hist[len(hist) // 2]
    )  # the U shape of an overconfident posterior


def test_sbc_flags_a_posterior_20_percent_too_narrow_with_1000_replications():
    ranks = _gamma_poisson_ranks(1000, 0.8, seed=7)
    p, hist = uniformity_test(ranks)
    assert p < 0.01, (p, hist)
    assert not ecdf_band_test(ranks)["passes"]
    exact = _gamma_poisson_ranks(1000, 1.0, seed=7)
    assert uniformity_test(exact)[0] > 0.01 and ecdf_band_test(exact)["passes"]


def test_boundary_hdi_starts_at_zero_for_a_density_falling_from_the_boundary():
    x = np.abs(np.random.default_rng(0).normal(0.0, 2.0, size=(2, 500)))
    ivs = posterior_intervals("mu_nu_mu", x)
    assert ivs["posterior-hdi"]["0.9"][0] == 0.0
    assert ivs["posterior-hdi"]["0.9"][1] == pytest.approx(np.quantile(x, 0.9))
    assert ivs["posterior-eti"]["0.9"][0] > 0.0  # an equal-tailed interval never reaches mu = 0


def _check(args, out, env):
    cmd = [
        sys.executable,
        "-m",
        "cenns_bayes.cli.main",
        "check",
        *args,
        "--out",
        str(out),
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_check_command_json_schema_and_resume(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    study = str(MODELS / "calibration_ge76_mu.toml")
    small = [
        "--workers",
        "1",
        "--draws",
        "100",
        "--tune",
        "150",
        "--fc-points",
        "5",
        "--fc-toys",
        "40",
        "--seed",
        "3",
    ]
    out = tmp_path / "cov"
    doc = _check([study, "--kind", "coverage", "--toys", "3", *small], out, env)
    first = (out / "coverage_toys.jsonl").read_text().splitlines()
    doc = _check([study, "--kind", "coverage", "--toys", "5", *small], out, env)
    second = (out / "coverage_toys.jsonl").read_text().splitlines()
    # resumed: the three finished toys were not redone (their rows, timings included, unchanged)
    assert second[: len(first)] == first and len(second) == len(first) + 2
    assert set(doc) == {"kind", "toys", "intervals", "cenns_bayes_version", "spec_sha256"}
    assert doc["kind"] == "coverage" and doc["toys"] == 5
    rows = {(r["parameter"], r["method"], r["level"]) for r in doc["intervals"]}
    for method in (
        "chi2",
        "profile",
        "posterior-hdi",
        "posterior-eti",
        "posterior-upper",
        "feldman-cousins",
    ):
        for level in (0.68, 0.9):
            assert ("mu_nu_mu", method, level) in rows
    for r in doc["intervals"]:
        assert set(r) == {"parameter", "method", "level", "coverage", "stderr", "ci95"}
        assert 0.0 <= r["coverage"] <= 1.0 and r["stderr"] >= 0.0
        assert r["ci95"][0] <= r["coverage"] <= r["ci95"][1]
    assert (out / "coverage.md").exists() and (out / "coverage.png").exists()
    # same seed, fresh directory: the same toys (counts and frequentist intervals) again
    again = tmp_path / "again"
    _check([study, "--kind", "coverage", "--toys", "2", "--frequentist-only", *small], again, env)
    rows_a = [json.loads(x) for x in first[1:3]]
    rows_b = [json.loads(x) for x in (again / "coverage_toys.jsonl").read_text().splitlines()[1:3]]
    assert [r["counts"] for r in rows_a] == [r["counts"] for r in rows_b]
    for a, b in zip(rows_a, rows_b, strict=True):
        for method in ("chi2", "profile", "feldman-cousins"):
            assert a["intervals"]["mu_nu_mu"][method] == b["intervals"]["mu_nu_mu"][method]

    sbc = _check(
        [
            str(MODELS / "calibration_ge76_sin2_mu.toml"),
            "--kind",
            "sbc",
            "--toys",
            "4",
            "--workers",
            "1",
            "--draws",
            "60",
            "--tune",
            "100",
            "--seed",
            "3",
        ],
        tmp_path / "sbc",
        env,
    )
    assert set(sbc) == {"kind", "replications", "parameters", "cenns_bayes_version", "spec_sha256"}
    assert sbc["kind"] == "sbc"
    assert sbc["replications"] == 4
    assert set(sbc["parameters"]) == {"sin2_theta_w", "mu_nu_mu"}
    for v in sbc["parameters"].values():
        assert set(v) == {"uniformity_pvalue", "ecdf_band_passes", "ecdf_band_alpha"}
        assert 0.0 <= v["uniformity_pvalue"] <= 1.0 and isinstance(v["ecdf_band_passes"], bool)


def test_fit_feldman_cousins_of_the_study_data(capsys):
    import cenns_bayes as cb
    from cenns_bayes.cli.main import main
    from cenns_bayes.stats.binned import model_for_study
    from cenns_bayes.stats.profile import ProfileFitter

    spec = MODELS / "calibration_ge76_mu.toml"
    status = main(
        [
            "fit",
            str(spec),
            "--method",
            "feldman-cousins",
            "--fc-points",
            "8",
            "--fc-toys",
            "4000",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    fc = json.loads(out)["feldman_cousins"]["mu_nu_mu"]
    fitter = ProfileFitter(model_for_study(cb.load_study(spec)), ["mu_nu_mu"])
    one_sided = fitter.crossing("mu_nu_mu", delta_chi2_for(0.9, one_sided=True), +1)
    two_sided = fitter.crossing("mu_nu_mu", delta_chi2_for(0.9), +1)
    lo, hi = fc["interval_90"]
    # Asimov data at mu = 0: t_data = Delta(mu); c(mu) rises from the one-sided 1.64 at the
    # boundary towards 2.71 away from it, so the FC upper end lies between the two crossings
    assert lo == 0.0 and one_sided < hi <= two_sided * 1.005, (one_sided, hi, two_sided)
    assert fc["toys_per_point"] == 4000 and fc["acceptance_stderr"]["0.9"] == pytest.approx(
        0.3 / 4000**0.5
    )


def test_fit_feldman_cousins_needs_a_moment(capsys):
    from cenns_bayes.cli.main import main

    status = main(
        ["fit", str(MODELS / "calibration_ar40_sin2.toml"), "--method", "feldman-cousins"]
    )
    err = capsys.readouterr().err
    assert status != 0 and "needs a free magnetic moment" in err and "Traceback" not in err

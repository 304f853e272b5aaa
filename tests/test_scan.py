"""Sensitivity scans: VALUES parsing, physics trends, paper agreement, Brazil bands, CLI."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from cenns_bayes.paper.reproduce import compute_entry, paper_entries, preset_path
from cenns_bayes.scans import (
    ScanAxis,
    ScanSetupError,
    ScanValueError,
    StudyScanner,
    crossing_value,
    expected_limit,
    fit_limit,
    parse_values,
    parse_vary,
    run_scan,
    target_spec,
)
from cenns_bayes.specs import SpecPhysicsError

from .conftest import MODELS
from .test_cli import run_cli

ARGON = MODELS / "argon_1t_20m.toml"
THRESHOLD = "detectors.Ar.recoil_window_kev.0"


@pytest.fixture(scope="module")
def argon():
    return StudyScanner.from_file(ARGON)


def limits(scanner, path, values, target="mu_nu_mu", **kw):
    res = run_scan(scanner, [ScanAxis(path, tuple(float(v) for v in values))], target, **kw)
    return np.array([p.chi2_limit for p in res.points])


# -- VALUES ------------------------------------------------------------------------------
def test_parse_values_lists_and_ranges():
    assert parse_values("5, 10,20") == ((5.0, 10.0, 20.0), False)
    assert parse_values("1,100") == ((1.0, 100.0), True)  # spans >= 20: log axis
    assert parse_values("helm,klein-nystrand") == (("helm", "klein-nystrand"), False)
    vals, log = parse_values("2:10:5")
    assert vals == (2.0, 4.0, 6.0, 8.0, 10.0) and not log
    vals, log = parse_values("1:1000:4:log")
    assert np.allclose(vals, [1, 10, 100, 1000], rtol=1e-12) and log
    axis = parse_vary(f"{THRESHOLD}=5:40:3")
    assert axis.path == THRESHOLD and axis.values == (5.0, 22.5, 40.0) and axis.numeric


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("5,,10", "empty item"),
        ("1:2", "start:stop:count"),
        ("1:2:3:4:5", "start:stop:count"),
        ("1:10:x", "count"),
        ("1:10:1", "count"),
        ("1:10:2.5", "count"),
        ("a:10:3", "start"),
        ("0:10:5:log", "log range"),
        ("1:10:5:lin", "fourth field"),
        ("3:3:4", "equal"),
        ("5,5", "repeated"),
        ("5,helm", "mixes"),
        ("nan,1", "not finite"),
    ],
)
def test_parse_values_rejects_bad_input(text, message):
    with pytest.raises(ScanValueError, match=message):
        parse_values(text)


def test_parse_vary_needs_path_and_values():
    with pytest.raises(ScanValueError, match="PATH=VALUES"):
        parse_vary("detectors.Ar.mass_kg")
    with pytest.raises(ScanValueError, match="dotted spec path"):
        parse_vary("detectors..mass_kg=1,2")


# -- limits and physics trends --------------------------------------------------------------
@pytest.mark.parametrize("target", ["mu_nu_mu", "mu_nu_e", "sin2_theta_w", "r2_nu_mu", "r2_nu_e"])
def test_fast_asimov_limit_equals_profile_likelihood(argon, target):
    study = argon.study({THRESHOLD: 7.0})
    model = argon.rate_model(study)
    truth = study.true_parameters()
    spec = target_spec(target)
    fast = expected_limit(model, truth, spec)
    full = fit_limit(model, model.counts(truth), truth, spec, statistic="chi2")
    assert fast.figure == pytest.approx(full.figure, rel=1e-8)
    assert (fast.lower, fast.upper) == pytest.approx((full.lower, full.upper), rel=1e-8, abs=1e-12)


def test_limits_improve_with_mass_and_exposure(argon):
    for path, values in (
        ("detectors.Ar.mass_kg", [100, 300, 1000, 3000]),
        ("study.exposure_s", [1e7, 3e7, 1e8, 3e8]),
    ):
        for target in ("mu_nu_mu", "sin2_theta_w", "r2_nu_mu"):
            lim = limits(argon, path, values, target)
            assert np.all(np.diff(lim) < 0), (path, target, lim)


def test_limits_weaken_with_threshold_and_distance(argon):
    for path, values in (
        (THRESHOLD, [1, 5, 10, 20, 40]),
        ("detectors.Ar.distance_m", [15, 20, 30, 40]),
    ):
        for target in ("mu_nu_mu", "sin2_theta_w", "r2_nu_mu"):
            lim = limits(argon, path, values, target)
            assert np.all(np.diff(lim) > 0), (path, target, lim)
    # statistics only: counts scale as 1/r^2, the mu limit as (1/r^2)^(-1/4) = sqrt(r)
    lim = limits(argon, "detectors.Ar.distance_m", [20, 80])
    assert lim[1] / lim[0] == pytest.approx(2.0, rel=1e-9)


@pytest.mark.parametrize("statistic, tol", [("chi2", 1e-9), ("poisson", 2e-3)])
def test_mu_limit_scales_as_exposure_to_minus_one_quarter(statistic, tol):
    scanner = StudyScanner.from_file(ARGON, {"analysis.statistic": statistic})
    exposure = np.geomspace(1e9, 1e11, 5)
    lim = limits(scanner, "study.exposure_s", exposure)
    slope = np.polyfit(np.log(exposure), np.log(lim), 1)[0]
    assert slope == pytest.approx(-0.25, abs=tol)
    # local slopes too, not just the fit
    assert np.allclose(np.diff(np.log(lim)) / np.diff(np.log(exposure)), -0.25, atol=tol)


def _ar40_only(flavors):
    raw = tomllib.loads(preset_path("realistic").read_text())
    raw["detectors"] = [d for d in raw["detectors"] if d["name"] == "Ar40"]
    raw["analysis"]["flavors"] = flavors
    return StudyScanner(raw, str(preset_path("realistic")))


@pytest.mark.parametrize(
    "quantity, table, flavors, target",
    [
        ("mu_nu", "V", ["numu", "numubar"], "mu_nu_mu"),
        ("sin2_theta_w", "IV", ["numu", "numubar", "nue"], "sin2_theta_w"),
    ],
)
def test_scan_point_at_a_paper_setup_matches_reproduce(realistic, quantity, table, flavors, target):
    row = next(
        r
        for r in paper_entries()
        if r["quantity"] == quantity
        and r["table"] == table
        and r["setup"] == "realistic"
        and r["nuclei"] == "Ar40"
        and r["channel"] == "comb"
    )
    expected = compute_entry(realistic, row)
    axis = ScanAxis("detectors.Ar40.mass_kg", (200.0, 456.0, 1000.0))
    res = run_scan(_ar40_only(flavors), [axis], target)
    assert res.points[1].chi2_limit == pytest.approx(expected, rel=1e-9)
    assert res.points[1].chi2_limit == pytest.approx(float(row["paper"]), rel=0.05)  # and the paper


def test_coefficients_are_reused_across_points(argon):
    scanner = StudyScanner.from_file(ARGON)
    masses = tuple(np.linspace(100, 2000, 20))
    run_scan(scanner, [ScanAxis("detectors.Ar.mass_kg", masses)], "mu_nu_mu")
    assert scanner.integrations == 3  # one per flavour: mass only rescales
    run_scan(scanner, [ScanAxis("study.exposure_s", (1e7, 2e7, 5e7))], "mu_nu_mu")
    assert scanner.integrations == 3
    run_scan(scanner, [ScanAxis(THRESHOLD, (2.0, 3.0, 20.0))], "mu_nu_mu")
    assert scanner.integrations == 3 + 2 * 3  # 20 keV was cached already


def test_two_axis_scan_grid(argon):
    res = run_scan(
        argon,
        [ScanAxis(THRESHOLD, (2.0, 10.0, 30.0)), ScanAxis("detectors.Ar.mass_kg", (500.0, 2000.0))],
        "mu_nu_mu",
    )
    grid = res.grid()
    assert grid.shape == (3, 2)
    assert np.all(np.diff(grid, axis=0) > 0) and np.all(np.diff(grid, axis=1) < 0)
    assert res.points[1].values == {THRESHOLD: 2.0, "detectors.Ar.mass_kg": 2000.0}


def test_crossing_value_interpolates(argon):
    axis = ScanAxis(THRESHOLD, tuple(np.geomspace(1, 40, 15)), log=True)
    res = run_scan(argon, [axis], "mu_nu_mu")
    goal = 4.0
    t = crossing_value(res, goal)
    check = run_scan(argon, [ScanAxis(THRESHOLD, (t,))], "mu_nu_mu").points[0].chi2_limit
    assert check == pytest.approx(goal, rel=5e-3)
    assert crossing_value(res, 0.5) is None


def test_bad_scan_point_names_the_point(argon):
    match = r"at scan point detectors\.Ar\.recoil_window_kev\.0 = 500"
    with pytest.raises(SpecPhysicsError, match=match):
        run_scan(argon, [ScanAxis(THRESHOLD, (5.0, 500.0))], "mu_nu_mu")


def test_posterior_scan_needs_a_prior_on_the_target(argon):
    with pytest.raises(ScanSetupError, match=r"prior on sin2_theta_w"):
        run_scan(argon, [ScanAxis(THRESHOLD, (5.0,))], "sin2_theta_w", method="posterior")


# -- Brazil bands ------------------------------------------------------------------------
def test_toy_median_agrees_with_asimov_limit_at_large_counts(tmp_path):
    scanner = StudyScanner.from_file(ARGON, {"study.exposure_s": 1e8})
    res = run_scan(
        scanner, [ScanAxis(THRESHOLD, (10.0,))], "mu_nu_mu", toys=400, seed=5, out_dir=tmp_path
    )
    p = res.points[0]
    assert p.expected_counts > 5e4
    band = p.band
    assert band["toys"] == 400 and band["failed"] == 0
    assert band["minus2"] < band["minus1"] < band["median"] < band["plus1"] < band["plus2"]
    assert abs(band["median"] - p.chi2_limit) < 3 * band["median_stderr"]
    assert band["median_stderr"] < 0.05 * p.chi2_limit  # the check has teeth
    # a one-sided limit under mu = 0: about half the toys sit at the boundary (best fit 0)
    rows = [json.loads(line) for line in (tmp_path / "toys.jsonl").read_text().splitlines()[1:]]
    at_zero = np.mean([r["best_fit"] < 1e-6 for r in rows])
    assert 0.4 < at_zero < 0.6


def test_toys_reproduce_and_resume(tmp_path, argon):
    axis = [ScanAxis(THRESHOLD, (5.0, 20.0))]
    a = run_scan(argon, axis, "mu_nu_mu", toys=30, seed=9, out_dir=tmp_path)
    b = run_scan(argon, axis, "mu_nu_mu", toys=30, seed=9)
    assert [p.band for p in a.points] == [p.band for p in b.points]
    c = run_scan(argon, axis, "mu_nu_mu", toys=30, seed=10)
    assert a.points[0].band != c.points[0].band
    # more toys later: the first 30 are reused from the table and unchanged
    d = run_scan(argon, axis, "mu_nu_mu", toys=40, seed=9, out_dir=tmp_path)
    lines = (tmp_path / "toys.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 2 * 40
    assert d.points[0].band["toys"] == 40


# -- command line --------------------------------------------------------------------------
def test_cli_scan_json_and_outputs(tmp_path):
    res = run_cli(
        "scan",
        ARGON,
        "--vary",
        f"{THRESHOLD}=5,20",
        "--target",
        "mu_nu_mu",
        "--toys",
        "20",
        "--workers",
        "1",
        "--json",
        "--out",
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["target"] == "mu_nu_mu"
    assert [p["values"] for p in out["points"]] == [{THRESHOLD: 5.0}, {THRESHOLD: 20.0}]
    for p in out["points"]:
        assert p["chi2_limit"] > 0 and "posterior_limit" not in p
        assert set(p["band"]) >= {"median", "minus1", "plus1", "minus2", "plus2"}
    assert out["points"][0]["chi2_limit"] < out["points"][1]["chi2_limit"]
    assert json.loads((tmp_path / "scan.json").read_text()) == out
    assert (tmp_path / "toys.jsonl").exists() and (tmp_path / "scan.png").stat().st_size > 10_000


def test_cli_two_axis_map(tmp_path):
    res = run_cli(
        "scan",
        ARGON,
        "--vary",
        f"{THRESHOLD}=1:40:6:log",
        "--vary",
        "study.exposure_s=1e7:1e8:5:log",
        "--target",
        "sin2_theta_w",
        "--json",
        "--out",
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert len(out["points"]) == 30 and "band" not in out["points"][0]
    assert all(len(p["chi2_interval"]) == 2 for p in out["points"])
    assert (tmp_path / "scan_map_chi2.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "args, message",
    [
        (["--vary", f"{THRESHOLD}=5:1:x"], "count"),
        (["--vary", "detectors.Ar.mass_kg"], "PATH=VALUES"),
        (["--vary", "detectors.Xe.mass_kg=1,2"], "no detector named 'Xe'"),
        (["--vary", f"{THRESHOLD}=5,500"], "at scan point"),
        (["--vary", "a.b=1", "--vary", "c.d=1", "--vary", "e.f=1"], "one or two"),
        (["--vary", f"{THRESHOLD}=5", "--toys", "-1"], "--toys"),
    ],
)
def test_cli_bad_input_is_one_line(args, message):
    res = run_cli("scan", ARGON, "--target", "mu_nu_mu", *args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert message in lines[0]
    assert res.stdout == ""


# -- posterior method ------------------------------------------------------------------------
class _FakeSampling:
    """Stands in for cenns_bayes.bayes.sample_study: a 'posterior' of uniform draws."""

    def __init__(self, study, seed, **kwargs):
        rng = np.random.default_rng(seed)
        scale = 1e4 / study.spec.detectors[0].mass_kg
        posterior = {"mu_nu_mu": rng.uniform(0, scale, (2, 5000))}
        self.idata = type("IData", (), {"posterior": posterior})()


def test_posterior_is_a_pluggable_task_through_the_engine(monkeypatch, argon, tmp_path):
    import cenns_bayes.scans.run as scan_run

    monkeypatch.setattr(scan_run, "posterior_backend", lambda: _FakeSampling)
    res = run_scan(
        argon,
        [ScanAxis("detectors.Ar.mass_kg", (1000.0, 2000.0))],
        "mu_nu_mu",
        method="both",
        seed=3,
        out_dir=tmp_path,
    )
    # the 90 % quantile of U(0, 1e4 / mass): 9 and 4.5
    assert [p.posterior_limit for p in res.points] == pytest.approx([9.0, 4.5], rel=0.02)
    assert all(p.chi2_limit is not None for p in res.points)
    assert (tmp_path / "posterior.jsonl").exists()
    doc = res.to_json()
    first = doc["points"][0]
    assert set(first) >= {"chi2_limit", "posterior_limit"} and "band" not in first


@pytest.mark.slow
def test_posterior_scan_samples_on_two_workers(tmp_path):
    res = run_cli(
        "scan",
        ARGON,
        "--vary",
        f"{THRESHOLD}=5,20",
        "--target",
        "mu_nu_mu",
        "--method",
        "both",
        "--workers",
        "2",
        "--set",
        "sampling.draws=400",
        "--set",
        "sampling.tune=400",
        "--json",
        "--out",
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    points = json.loads(res.stdout)["points"]
    post = [p["posterior_limit"] for p in points]
    assert post[0] < post[1]  # improves with a lower threshold
    for p in points:  # same ballpark as the chi2 limit (flat prior in mu: somewhat tighter)
        assert 0.6 * p["chi2_limit"] < p["posterior_limit"] < 1.2 * p["chi2_limit"]


def test_target_without_sensitivity_is_refused():
    scanner = StudyScanner.from_file(ARGON, {"analysis.flavors": ["numu", "numubar"]})
    with pytest.raises(ScanSetupError, match="no analysed flavour depends on mu_nu_e"):
        run_scan(scanner, [ScanAxis(THRESHOLD, (5.0,))], "mu_nu_e")

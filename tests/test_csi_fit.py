"""The COHERENT CsI 2017 study.

Response templates, backgrounds, PyTensor parity, fits and `fit --json`.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from cenns_bayes.datasets.coherent import load_coherent_csi_2017
from cenns_bayes.detector.background import on_off_profile_deviance
from cenns_bayes.detector.response import (
    ARRIVAL_TIME_COMPONENT,
    DetectorResponse,
    ReleaseEfficiency,
)
from cenns_bayes.physics.sns import FLAVORS
from cenns_bayes.rates.coefficients import differential_coefficients
from cenns_bayes.specs import SpecError, load_study
from cenns_bayes.stats.binned import build_response_model, model_for_study
from cenns_bayes.stats.model import NuisanceSpec
from cenns_bayes.stats.profile import DELTA_68, ProfileFitter

from .conftest import MODELS, ROOT

CSI = MODELS / "coherent_csi_2017.toml"
SM = {
    "sin2_theta_w": 0.23120,
    "mu_nu_mu": 0.0,
    "mu_nu_e": 0.0,
    "r2_nu_mu": 0.0,
    "r2_nu_e": 0.0,
    "signal_strength": 1.0,
}


#: The older default: one Poisson-constrained rate per bin, measured by the AC beam-on counts alone.
PER_BIN_AC = {
    "backgrounds.steady_state.model": "per-bin",
    "backgrounds.steady_state.control_samples": ["ac-beam-on"],
}


@pytest.fixture(scope="module")
def csi():
    study = load_study(CSI)
    return study, build_response_model(study)


@pytest.fixture(scope="module")
def csi_per_bin():
    study = load_study(CSI, PER_BIN_AC)
    return study, build_response_model(study)


def _sm_weights(flavor: str) -> np.ndarray:
    from cenns_bayes.physics.cross_sections import neutron_vector_coupling, proton_vector_coupling

    gp = float(proton_vector_coupling(SM["sin2_theta_w"]))
    gn = float(neutron_vector_coupling(SM["sin2_theta_w"]))
    return np.array([gp * gp, 2 * gn * gp, gn**2, 0.0])


def _recoil_spectra(study, model):
    setup = study.setup("CsI")
    lo, hi = model.notes["recoil_grid_kev"]
    grid = np.geomspace(lo, hi, model.notes["recoil_grid_points"])
    spectra = {f: _sm_weights(f) @ differential_coefficients(setup, f, grid) for f in study.flavors}
    return grid, spectra


def test_flavour_keys_are_the_projects():
    assert set(ARRIVAL_TIME_COMPONENT) == set(FLAVORS)


def test_smearing_conserves_counts_through_the_model():
    """No efficiency, whole PE and time range: binned counts + outside = the recoil integral."""
    study = load_study(
        CSI,
        {
            "detectors.CsI.response.efficiency.model": "none",
            "analysis.pe_range": [0.0, 50.0],
            "nuisances.quenching": False,
            "data.kind": "asimov",
        },
    )
    model = build_response_model(study)
    grid, spectra = _recoil_spectra(study, model)
    response = DetectorResponse(0.0878, 13.348, None, "n_minus_half", 50, 2).response_matrix(grid)
    weights = response.smearing.quadrature_weights_kev
    total = sum(float(spectra[f] @ weights) for f in study.flavors)
    outside = sum(float(response.outside(spectra[f])) for f in study.flavors)
    binned = float(np.sum(model.signal(SM, model.nominal_nuisances())))
    assert binned + outside == pytest.approx(total, rel=1e-10)
    assert outside / total > 0.03  # recoils giving 0 PE are outside: a real check, not 0 = 0


def test_sm_prediction_equals_direct_response_chain_and_published_value(csi):
    """Signal in 6-30 PE equals dN/dT through the release chain (efficiency at N - 1/2)."""
    study, model = csi
    release = load_coherent_csi_2017()
    grid, spectra = _recoil_spectra(study, model)
    eff = ReleaseEfficiency(*release.efficiency_parameters)
    matrix = DetectorResponse(0.0878, 13.348, eff, "n_minus_half", 50, 2).response_matrix(grid)
    direct = 0.0
    for f in study.flavors:
        pdf = (
            release.time_pdf_prompt_neutrinos
            if ARRIVAL_TIME_COMPONENT[f] == "prompt"
            else release.time_pdf_delayed_neutrinos
        )
        direct += float(np.sum(matrix.apply(spectra[f])[3:15, None] * pdf[None, :]))
    sm = float(np.sum(model.signal(SM, model.nominal_nuisances())))
    assert sm == pytest.approx(direct, rel=1e-10)
    assert abs(sm / 173.0 - 1.0) < 0.15
    assert model.notes["sm_cevns_in_region"] == pytest.approx(sm)
    neutrons = float(np.sum(model.neutron_counts(model.nominal_nuisances())))
    assert neutrons == pytest.approx(5.4, abs=0.05)  # REFERENCE.md §3.3


def test_counts_are_exact_polynomials(csi):
    _, model = csi
    nominal = model.nominal_nuisances()

    def total(**p):
        return float(np.sum(model.signal({**SM, **p}, nominal)))

    s = np.array([0.20, 0.23, 0.26, 0.29])
    y = np.array([total(sin2_theta_w=x) for x in s])
    assert abs(np.diff(y, 3)[0]) < 1e-9 * y.max()  # quadratic in sin^2: third difference 0
    mu = np.array([0.0, 10.0, 20.0])
    y = np.array([total(mu_nu_mu=x) for x in mu])
    assert y[2] - y[0] == pytest.approx(4 * (y[1] - y[0]), rel=1e-10)  # linear in mu^2
    assert total(r2_nu_e=1.0) != total()


def test_timing_off_sums_time_bins():
    with_t = build_response_model(load_study(CSI))
    without = build_response_model(load_study(CSI, {"analysis.use_timing": False}))
    nominal_t, nominal = with_t.nominal_nuisances(), without.nominal_nuisances()
    params = {**SM, "mu_nu_e": 20.0}
    np.testing.assert_allclose(
        without.signal(params, nominal),
        with_t.signal(params, nominal_t).reshape(12, 24).sum(axis=1),
        rtol=1e-12,
    )
    np.testing.assert_array_equal(without.observed, with_t.observed.reshape(12, 24).sum(axis=1))
    # REFERENCE.md 2.1: 855 C beam-on; 703 AC beam-on + 358 C and 355 AC beam-off control counts
    assert with_t.observed.sum() == 855
    assert with_t.notes["steady_state_control"]["counts_in_region"] == 703 + 358 + 355
    tau = 1 + 2 * 153.5 / 308.1
    # the smooth model's control-only fit reproduces the pooled total (its amplitudes' closed form)
    assert with_t.steady_state.sum() == pytest.approx((703 + 358 + 355) / tau, rel=1e-10)
    assert without.steady_state.sum() == pytest.approx((703 + 358 + 355) / tau, rel=1e-10)
    per_bin = build_response_model(load_study(CSI, PER_BIN_AC))
    assert per_bin.steady_state.sum() == 703


def test_template_interpolation_exact_at_nodes(csi):
    """At z = +-1, +-2 the interpolated QF template equals a response rebuilt at that QF."""
    _, model = csi
    nominal = model.nominal_nuisances()
    for z in (-2.0, 1.0, 2.0):
        qf = 0.0878 + z * 0.0166
        rebuilt = build_response_model(
            load_study(
                CSI, {"nuisances.quenching": False, "detectors.CsI.response.quenching.value": qf}
            )
        )
        got = model.signal(SM, {**nominal, "qf_shift": z})
        np.testing.assert_allclose(
            got, rebuilt.signal(SM, rebuilt.nominal_nuisances()), rtol=1e-8, atol=1e-10
        )
    # between nodes: smooth and monotone in the total
    totals = [
        float(np.sum(model.signal(SM, {**nominal, "qf_shift": z}))) for z in np.linspace(-3, 3, 13)
    ]
    assert np.all(np.diff(totals) > 0)


@pytest.mark.parametrize("which", ["csi", "csi_per_bin"])
def test_numpy_and_pytensor_expected_agree(which, request):
    pytensor = pytest.importorskip("pytensor")
    pt = pytest.importorskip("pytensor.tensor")
    _, model = request.getfixturevalue(which)
    sym = {n: pt.dscalar(n) for n in SM}
    nz = {
        n.name: (pt.dscalar(n.name) if n.size == 1 else pt.dvector(n.name)) for n in model.nuisances
    }
    fn = pytensor.function(
        [*sym.values(), *nz.values()], model.expected(sym, nz, xp=pt), mode="FAST_COMPILE"
    )
    params = {
        "sin2_theta_w": 0.24,
        "mu_nu_mu": 30.0,
        "mu_nu_e": 20.0,
        "r2_nu_mu": 0.5,
        "r2_nu_e": -1.0,
        "signal_strength": 0.8,
    }
    for qf in (-2.7, 0.4, 1.6):  # beyond the outer node, and between nodes
        nuis = {
            "flux_norm": 1.05,
            "qf_shift": qf,
            "efficiency_a": 0.5,
            "efficiency_k_per_pe": -1.2,
            "efficiency_x0_pe": 2.5,
            "neutron_norm": 0.9,
            "steady_state": np.asarray(model.steady_state) + 0.3,
        }
        for n in model.nuisances:
            if n.kind == "auxiliary":
                nuis[n.name] = n.centre + 0.7 * qf * n.sigma
        got = fn(*params.values(), *(nuis[n] for n in nz))
        np.testing.assert_allclose(got, model.expected(params, nuis), rtol=1e-12)


@pytest.mark.parametrize("samples", [["ac-beam-on"], ["ac-beam-on", "c-beam-off", "ac-beam-off"]])
def test_background_likelihood_in_the_csi_fit(samples):
    """Per-bin model: -2 ln L with only the steady state floating.

    It is the summed on/off profile deviance.
    """
    model = build_response_model(
        load_study(CSI, {**PER_BIN_AC, "backgrounds.steady_state.control_samples": samples})
    )
    tau = 1.0 if len(samples) == 1 else 1 + 2 * 153.5 / 308.1
    fitter = ProfileFitter(model, ["signal_strength"])
    nominal = {k: v for k, v in model.nominal_nuisances().items() if k != "steady_state"}
    value, _ = fitter.neg2ll({"signal_strength": 0.9}, nominal)
    s = model.signal({**SM, "signal_strength": 0.9}, nominal) + model.neutron_counts(nominal)
    direct = float(np.sum(on_off_profile_deviance(model.observed, model.steady_state, s, tau)))
    assert value == pytest.approx(direct, rel=1e-12)


def test_asimov_fit_recovers_signal_strength():
    study = load_study(CSI, {"data.kind": "asimov", "signal_strength": 0.7})
    model = model_for_study(study)
    fitter = ProfileFitter(model, ["signal_strength"])
    best = fitter.best_fit()
    assert best.parameters["signal_strength"] == pytest.approx(0.7, abs=2e-3)
    assert best.neg2ll == pytest.approx(0.0, abs=1e-5)


def test_poisson_toys_recover_signal_strength(csi_per_bin):
    """Toys (C and AC histograms) from the model at signal_strength 0.8: pulls of order one."""
    _, base = csi_per_bin
    rng = np.random.default_rng(2017)
    truth = 0.8
    nominal = base.nominal_nuisances()
    b_true = np.asarray(base.steady_state, float)
    mean_on = base.expected({**SM, "signal_strength": truth}, {**nominal, "steady_state": b_true})
    pulls = []
    for _ in range(4):
        toy = copy.copy(base)
        m = rng.poisson(b_true).astype(float)
        toy.nuisances = [
            n
            if n.name != "steady_state"
            else NuisanceSpec("steady_state", "poisson", 1.0, m, size=m.size)
            for n in base.nuisances
        ]
        fitter = ProfileFitter(
            toy, ["signal_strength"], observed=rng.poisson(mean_on).astype(float)
        )
        best = fitter.best_fit().parameters["signal_strength"]
        lo, hi = fitter.interval("signal_strength", DELTA_68)
        assert lo < best < hi
        pulls.append((best - truth) / ((hi - best) if best < truth else (best - lo)))
    assert np.all(np.abs(pulls) < 3.5)
    assert abs(np.mean(pulls)) < 1.75  # 4 toys: the mean of unit-width pulls has sigma 0.5


def test_fit_json_on_the_release():
    res = subprocess.run(
        [sys.executable, "-m", "cenns_bayes.cli.main", "fit", str(CSI), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["study"] == "coherent-csi-2017"
    row = out["parameters"]["signal_strength"]
    assert set(row) == {"best", "interval_68", "interval_90"}
    assert (
        row["interval_90"][0]
        < row["interval_68"][0]
        < row["best"]
        < row["interval_68"][1]
        < row["interval_90"][1]
    )
    ev = out["derived"]["cevns_events"]
    assert set(ev) == {"best", "interval_68", "sm_expected"}
    # Akimov et al. 2017 (REFERENCE.md 4.1): SM 173 +- 48, fitted 134 +- 22, no-CEvNS
    # rejected at 6.7 sigma; the bands are the acceptance bands of the default (smooth)
    # background model
    assert abs(ev["sm_expected"] / 173.0 - 1) < 0.10
    assert 125 <= ev["best"] <= 150
    assert ev["interval_68"][0] < ev["best"] < ev["interval_68"][1]
    assert ev["interval_68"][0] < 134 + 22 and ev["interval_68"][1] > 134 - 22
    assert 6.1 <= out["significance_sigma"] <= 7.2
    xs = out["derived"]["flux_averaged_cross_section_cm2"]
    assert xs["best"] == pytest.approx(row["best"] * xs["sm_expected"], rel=1e-12)
    assert xs["interval_68"][0] < xs["best"] < xs["interval_68"][1]
    assert "pymc" not in res.stderr


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"analysis.pe_range": [7.0, 30.0]}, "analysis.pe_range"),
        ({"analysis.time_range_us": [0.0, 6.2]}, "analysis.time_range_us"),
        (
            {"priors.signal_strength": {"dist": "uniform", "lower": -1.0, "upper": 3.0}},
            "priors.signal_strength.lower",
        ),
        ({"source.neutrinos_per_proton": -0.08}, "source.neutrinos_per_proton"),
        ({"detectors.CsI.response.pe_bin_width": 3}, "detectors[0].response"),
    ],
)
def test_bad_response_specs_name_file_and_key(overrides, key):
    with pytest.raises(SpecError) as err:
        load_study(CSI, overrides)
    assert str(CSI) in str(err.value) and key in str(err.value)
    assert "\n" not in str(err.value)


def _cli(*args, timeout=1800):
    return subprocess.run(
        [sys.executable, "-m", "cenns_bayes.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


@pytest.mark.slow
def test_coverage_check_runs_on_the_release_study(tmp_path):
    """`check --kind coverage` on the CsI study (timing summed over for speed, frequentist only)."""
    res = _cli(
        "check",
        str(CSI),
        "--kind",
        "coverage",
        "--toys",
        "2",
        "--workers",
        "1",
        "--frequentist-only",
        "--json",
        "--set",
        "analysis.use_timing=false",
        "--out",
        str(tmp_path / "cov"),
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["toys"] == 2
    rows = {
        (r["method"], r["level"]): r["coverage"]
        for r in out["intervals"]
        if r["parameter"] == "signal_strength"
    }
    assert set(rows) == {("profile", 0.68), ("profile", 0.9)}
    assert all(v in (0.0, 0.5, 1.0) for v in rows.values())
    assert rows[("profile", 0.9)] >= rows[("profile", 0.68)]  # nested intervals


@pytest.mark.slow
def test_release_study_samples_reports_and_checks(tmp_path):
    """The default CsI study through `sample`, `study`, `check --kind coverage` with refits."""
    fit = json.loads(_cli("fit", str(CSI), "--json").stdout)
    best = fit["parameters"]["signal_strength"]["best"]
    res = _cli("sample", str(CSI), "--draws", "500", "--tune", "500", "--chains", "2", "--json")
    assert res.returncode == 0, res.stderr
    post = json.loads(res.stdout)
    assert post["divergences"] == 0
    assert abs(post["parameters"]["signal_strength"]["median"] - best) < 0.06
    res = _cli(
        "study", str(CSI), "--out", str(tmp_path / "study"), "--draws", "200", "--tune", "200"
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "study" / "report.md").stat().st_size > 0
    res = _cli(
        "check",
        str(CSI),
        "--kind",
        "coverage",
        "--toys",
        "2",
        "--workers",
        "1",
        "--draws",
        "100",
        "--tune",
        "100",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    methods = {r["method"] for r in json.loads(res.stdout)["intervals"]}
    assert {"profile", "posterior-hdi", "posterior-eti"} <= methods

"""COHERENT LAr 2020: the shipped release, the energy x F90 x time model and its fits."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy import integrate, stats

from cenns_bayes.datasets.coherent_lar import (
    LAR_DATA_FILES,
    ReleaseFileError,
    lar_release_directory,
    load_coherent_lar_2020,
)
from cenns_bayes.detector.energy_response import energy_bin_probabilities, trapezoid_weights
from cenns_bayes.specs import SpecPhysicsError, load_study
from cenns_bayes.stats.binned import model_for_study
from cenns_bayes.stats.lar import LArModel

from .conftest import MODELS

LAR = MODELS / "coherent_lar_2020.toml"


@pytest.fixture(scope="module")
def lar() -> LArModel:
    return model_for_study(load_study(LAR))


# ----------------------------------------------------------------------------- release


def test_release_totals_match_reference_note():
    r = load_coherent_lar_2020()
    h = r.histograms
    # REFERENCE.md §2: 3752 events observed; templates normalised to 128, 497, 33, 3152
    assert h["data"].sum() == 3752
    assert h["cevns"].sum() == pytest.approx(128.0, abs=1e-3)
    assert h["prompt_neutrons"].sum() == pytest.approx(497.0, abs=1e-3)
    assert h["delayed_neutrons"].sum() == pytest.approx(33.0, abs=1e-3)
    assert h["steady_state"].sum() == pytest.approx(3152.0, abs=1e-2)
    assert r.energy_edges_kevee[[0, -1]].tolist() == [0.0, 120.0]
    assert r.time_edges_us.size == 11 and r.f90_edges.size == 9
    assert r.parameter("larQF", "a") == 0.246 and r.parameter("larQF", "b", "uncertainty") == 9e-05
    assert r.value("fiducialMass", "uncertainty") == 0.61


def test_release_1d_projections_subtract_the_best_fit_steady_state():
    """energydata1d etc. are the 3-D data minus bkgpdf scaled to the *fitted* steady state.

    That is 3131 steady-state events, not 3152.
    """
    r = load_coherent_lar_2020()
    h = r.histograms
    for axes, name in (((1, 2), "energy"), ((0, 2), "f90"), ((0, 1), "time")):
        pub = r.projections[name][:, 1]
        ss_total = h["data"].sum() - pub.sum()
        assert ss_total == pytest.approx(3131.0, abs=1.0)  # the YAML's best fit, 3131 +- 23
        mine = (h["data"] - h["steady_state"] * ss_total / h["steady_state"].sum()).sum(axis=axes)
        assert np.allclose(mine, pub, atol=1e-3)


def _copy(tmp_path):
    folder = tmp_path / "lar"
    shutil.copytree(str(lar_release_directory()), folder)
    for p in folder.iterdir():
        p.chmod(0o644)
    return folder


def test_altered_file_gives_one_line_error(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "cevnspdf.txt"
    path.write_text(path.read_text().replace("1.0338", "1.0339", 1))
    with pytest.raises(ReleaseFileError, match="SHA-256 mismatch for 'cevnspdf.txt'") as err:
        load_coherent_lar_2020(folder)
    assert "\n" not in str(err.value)


def test_missing_file_gives_one_line_error(tmp_path):
    folder = _copy(tmp_path)
    (folder / "bkgpdf.txt").unlink()
    with pytest.raises(ReleaseFileError, match="'bkgpdf.txt' is missing") as err:
        load_coherent_lar_2020(folder)
    assert "\n" not in str(err.value)
    assert len(LAR_DATA_FILES) == 21


def test_cli_reports_a_damaged_release_in_one_line(monkeypatch, capsys):
    import cenns_bayes.datasets.coherent_lar as lar_module
    from cenns_bayes.cli.main import main

    def damaged(directory=None):
        raise ReleaseFileError("COHERENT LAr 2020 release: file 'bkgpdf.txt' is missing from X")

    monkeypatch.setattr(lar_module, "load_coherent_lar_2020", damaged)
    assert main(["fit", str(LAR)]) == 2
    err = capsys.readouterr().err
    # progress lines may precede it; the error itself is one line, and the last
    errors = [line for line in err.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "bkgpdf.txt" in errors[0] and err.splitlines()[-1] == errors[0]
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- response


def test_energy_bin_probabilities_against_quadrature():
    """Bin probabilities equal the Gaussian integrated by quadrature (independent path)."""
    t = np.array([5.0, 20.0, 80.0])
    edges = np.array([0.0, 2.0, 5.0, 10.0, 30.0])
    p = energy_bin_probabilities(t, edges, 0.246, 0.00078, 0.58)
    for j, tk in enumerate(t):
        e = (0.246 + 0.00078 * tk) * tk
        sigma = 0.58 * np.sqrt(e)
        for i in range(edges.size - 1):
            ref, _ = integrate.quad(stats.norm(e, sigma).pdf, edges[i], edges[i + 1])
            assert p[i, j] == pytest.approx(ref, rel=1e-7, abs=1e-12)


def test_trapezoid_weights_integrate_a_quadratic_within_its_error():
    x = np.geomspace(0.5, 150.0, 3001)
    assert np.sum(trapezoid_weights(x) * x**2) == pytest.approx((150.0**3 - 0.5**3) / 3, rel=1e-5)


def test_sm_prediction_within_15_percent_of_published(lar):
    """128 +- 17 published (REFERENCE.md §3); docs/coherent_lar_2020.md explains the gap."""
    sm = float(np.sum(lar.signal(lar.fixed, lar.nominal_nuisances())))
    assert abs(sm / 128.0 - 1) < 0.15, sm


def test_energy_spectrum_equals_direct_recoil_integral(lar):
    """The summed 960-bin CEvNS equals an independent integral.

    The integral is of dN/dT x P(E in window | T) x acceptance.
    """
    from cenns_bayes.rates.coefficients import differential_coefficients

    study = load_study(LAR)
    setup = study.setup("LAr")
    release = load_coherent_lar_2020()
    from cenns_bayes.physics.cross_sections import neutron_vector_coupling, proton_vector_coupling

    gp = float(proton_vector_coupling(0.2312))
    gn = float(neutron_vector_coupling(0.2312))
    sub = np.arange(0.0, 120.01, 0.5)
    centres = 0.5 * (sub[1:] + sub[:-1])
    acc = np.interp(
        centres,
        release.acceptance_kevee,
        release.acceptance,
        left=0.0,
        right=float(release.acceptance[-1]),
    )

    def integrand(t):
        rows = sum(
            differential_coefficients(setup, f, np.array([t]))[:, 0]
            for f in ("numu", "numubar", "nue")
        )
        dn = gp * gp * rows[0] + 2 * gp * gn * rows[1] + gn * gn * rows[2]
        e = (0.246 + 0.00078 * t) * t
        prob = np.diff(stats.norm.cdf(sub, e, 0.58 * np.sqrt(e)))
        return dn * float(np.sum(prob * acc))

    t_max = lar.notes["recoil_grid_kevnr"][1]
    ref, _ = integrate.quad(integrand, 0.5, t_max, limit=200, points=[5, 20, 60])
    sm = float(np.sum(lar.signal(lar.fixed, lar.nominal_nuisances())))
    assert sm == pytest.approx(ref, rel=1e-6)


def test_cevns_shape_of_each_energy_bin_is_the_release_template(lar):
    cube = lar.signal(lar.fixed, lar.nominal_nuisances()).reshape(12, 8, 10)
    template = load_coherent_lar_2020().histograms["cevns"]
    for e in range(4):  # energy bins holding 99.9 % of the template
        mine = cube[e] / cube[e].sum()
        ref = template[e] / template[e].sum()
        assert np.allclose(mine, ref, atol=1e-12)


def test_counts_are_exact_polynomials(lar):
    """Quadratic in sin^2 and in mu (at mu^2): second differences constant, third vanish."""
    nom = lar.nominal_nuisances()
    s = np.array([0.20, 0.22, 0.24, 0.26])
    n = np.array([lar.signal({**lar.fixed, "sin2_theta_w": x}, nom).sum() for x in s])
    assert abs(np.diff(n, 3)[0]) < 1e-9 * n.max()
    m = np.array([0.0, 10.0, 20.0])
    nm = np.array([lar.signal({**lar.fixed, "mu_nu_mu": x}, nom).sum() for x in m])
    assert nm[2] - nm[0] == pytest.approx(4 * (nm[1] - nm[0]), rel=1e-12)


def test_backgrounds_are_release_templates_scaled(lar):
    nom = lar.nominal_nuisances()
    r = load_coherent_lar_2020().histograms
    assert lar.background("steady_state", nom).sum() == pytest.approx(3154.0)
    assert np.allclose(
        lar.background("prompt_neutrons", nom),
        r["prompt_neutrons"].ravel() * 497 / r["prompt_neutrons"].sum(),
    )
    # normalisation nuisance: 1 + (160 / 497) z
    spec = next(n for n in lar.nuisances if n.name == "prompt_neutron_norm")
    assert spec.sigma == pytest.approx(160 / 497)


def test_shape_systematics_reproduce_release_variants_at_plus_one_sigma(lar):
    r = load_coherent_lar_2020().histograms
    nom = lar.nominal_nuisances()
    for name, key in (("brn_energy", "brn_energy_plus"), ("brn_timing_width", "brn_timing_width")):
        shifted = lar.background("prompt_neutrons", {**nom, name: 1.0})
        assert np.allclose(shifted, r[key].ravel() * 497 / r["prompt_neutrons"].sum(), atol=1e-9)
    # the one-sided timing-width systematic is mirrored at -1 sigma
    down = lar.background("prompt_neutrons", {**nom, "brn_timing_width": -1.0})
    assert np.allclose(
        down + r["brn_timing_width"].ravel(), 2 * r["prompt_neutrons"].ravel(), atol=1e-9
    )
    names = {n.name for n in lar.nuisances}
    assert {
        "cevns_f90",
        "cevns_timing_mean",
        "brn_energy",
        "brn_timing_mean",
        "brn_timing_width",
    } <= names


def test_qf_nuisance_equals_a_model_built_at_the_shifted_qf(lar):
    """z = +2 on qf_a reproduces a model built with a = 0.246 + 2 x 0.006 (template node).

    Between nodes the interpolation stays within 0.5 % of the rebuilt model, and it is
    continuous at the ends.
    """
    nom = lar.nominal_nuisances()
    for z in (2.0, -1.0, 1.5):
        rebuilt = model_for_study(
            load_study(LAR, {"detectors.LAr.energy_response.quenching.a": 0.246 + 0.006 * z})
        )
        mine = lar.signal(lar.fixed, {**nom, "qf_a": z})
        ref = rebuilt.signal(rebuilt.fixed, rebuilt.nominal_nuisances())
        tol = 1e-9 if z in (2.0, -1.0) else 5e-3
        assert np.allclose(mine, ref, rtol=tol, atol=1e-9 * ref.max()), z
    term = next(t for t in lar.cevns_terms if t.name == "qf_a")
    assert np.allclose(term.evaluate(2.0 + 1e-9), term.evaluate(2.0), atol=1e-6)
    assert np.allclose(term.evaluate(np.float64(-2.0 - 1e-9)), term.evaluate(-2.0), atol=1e-6)


def test_numpy_and_pytensor_expected_agree(lar):
    pt = pytest.importorskip("pytensor.tensor")
    import pytensor

    nom = {**lar.nominal_nuisances(), "qf_a": 0.7, "brn_energy": -1.4, "cevns_f90": 2.5}
    params = {**lar.fixed, "signal_strength": 1.3}
    ref = lar.expected(params, nom)
    z = {k: pt.scalar(k) for k in nom}
    s = pt.scalar("s")
    graph = lar.expected({**params, "signal_strength": s}, z, xp=pt)
    f = pytensor.function([s, *z.values()], graph)
    assert np.allclose(f(1.3, *nom.values()), ref, rtol=1e-10)


def test_flux_averaged_cross_section_against_double_quadrature():
    """<sigma> = sum_f int phi_f(E) sigma(E) dE / 3 by direct quadrature of dsigma/dT.

    This is independent of the coefficient moments the model uses.
    """
    from cenns_bayes.physics.cross_sections import max_recoil_kev, sm_differential_cm2_per_kev
    from cenns_bayes.physics.form_factors import form_factor_pair
    from cenns_bayes.physics.nuclei import get_nucleus
    from cenns_bayes.physics.sns import sns_spectrum
    from cenns_bayes.rates.flux_average import flux_averaged_cross_section_cm2

    study = load_study(LAR)
    setup = study.setup("LAr")
    xs = flux_averaged_cross_section_cm2(setup, ["numu", "numubar", "nue"], 0.2312)
    ar = get_nucleus("Ar40")
    ff = form_factor_pair("helm", ar)

    def sigma(e):
        t_max = float(max_recoil_kev(e, ar.mass_mev))
        return integrate.quad(
            lambda t: float(sm_differential_cm2_per_kev(t, e, ar, ff, 0.2312)),
            1e-3,
            t_max,
            limit=200,
        )[0]

    total = 0.0
    for f in ("numu", "numubar", "nue"):
        spec = sns_spectrum(f, setup.prompt_energy_mev)
        if f == "numu":  # a line
            total += sigma(spec.max_energy_mev)
        else:
            total += integrate.quad(
                lambda e, spec=spec: float(spec.density(np.array([e]))[0]) * sigma(e),
                0.5,
                spec.max_energy_mev,
                limit=100,
            )[0]
    assert xs == pytest.approx(total / 3, rel=1e-6)
    assert 1.0e-39 < xs < 3.0e-39


# ----------------------------------------------------------------------------- fits


def test_asimov_fit_recovers_signal_strength():
    from cenns_bayes.stats.profile import ProfileFitter

    study = load_study(LAR, {"data.kind": "asimov", "parameters.signal_strength": 1.3})
    best = ProfileFitter(model_for_study(study), ["signal_strength"]).best_fit()
    assert best.parameters["signal_strength"] == pytest.approx(1.3, abs=0.01)


@pytest.mark.slow
def test_fit_json_on_the_release_has_the_real_data_format(tmp_path):
    from cenns_bayes.cli.main import main

    out = tmp_path / "fit.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["fit", str(LAR), "--json"]) == 0
    result = json.loads(buf.getvalue())
    out.write_text(buf.getvalue())
    ev = result["derived"]["cevns_events"]
    assert set(ev) == {"best", "interval_68", "sm_expected"}
    # published 159 +- 43 (REFERENCE.md §3): the best fit lies inside that range
    assert 159 - 43 <= ev["best"] <= 159 + 43
    assert result["significance_sigma"] > 3.0
    xs = result["derived"]["flux_averaged_cross_section_cm2"]
    assert xs["interval_68"][0] < xs["best"] < xs["interval_68"][1]


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"detectors.LAr.nucleus": "Xe132"}, "detectors[0].nucleus", "for argon"),
        ({"detectors.LAr.recoil_bins": 4}, "detectors[0].recoil_bins", "binned by the release"),
        ({"data.kind": "coherent-csi-2017"}, "data.kind", r"detectors.response\]"),
    ],
)
def test_bad_lar_specs_name_the_key(overrides, key, message):
    with pytest.raises(SpecPhysicsError, match=message) as err:
        load_study(LAR, overrides)
    assert key in str(err.value)


def test_lar_data_without_energy_response_is_refused():
    with pytest.raises(SpecPhysicsError, match="energy_response") as err:
        load_study(MODELS / "single_ar40.toml", {"data.kind": "coherent-lar-2020"})
    assert "data.kind" in str(err.value)


def _cli(args, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "cenns_bayes.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=3000,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_study_report_and_coverage_run_on_the_release(tmp_path):
    out = tmp_path / "study"
    _cli(
        ["study", str(LAR), "--out", str(out), "--draws", "300", "--tune", "300", "--chains", "2"],
        tmp_path,
    )
    report = (out / "report.md").read_text()
    assert "PRL 126 (2021) 012002" in report and "flux-averaged cross section" in report
    assert (out / "figures" / "data_projections.png").stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["diagnostics"]["divergences"] == 0
    doc = json.loads(
        _cli(
            [
                "check",
                str(LAR),
                "--kind",
                "coverage",
                "--toys",
                "3",
                "--workers",
                "1",
                "--frequentist-only",
                "--seed",
                "5",
                "--out",
                str(tmp_path / "cov"),
                "--json",
            ],
            tmp_path,
        )
    )
    assert doc["toys"] == 3
    rows = [
        r
        for r in doc["intervals"]
        if r["parameter"] == "signal_strength" and r["method"] == "profile"
    ]
    assert {r["level"] for r in rows} == {0.68, 0.9}
    assert all(0.0 <= r["coverage"] <= 1.0 for r in rows)

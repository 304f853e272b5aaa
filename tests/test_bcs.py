"""Tests of the BCS nuclear-structure form factors (cenns_bayes.physics.bcs).

Reference values are derived independently inside the tests: HO radial functions
from scipy's Laguerre polynomials and numerical quadrature, pairing gaps from the
shipped masses with a separate implementation of the three-point formula, radial
Schroedinger energies from a finite-difference solver, and a local Helm form factor.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from scipy import integrate, optimize, special

from cenns_bayes.physics import bcs

REQUIRED = [(10, 20), (18, 40), (32, 76), (54, 132)]
ODD_A = [(53, 127), (55, 133)]
DATA = Path(bcs.__file__).with_name("data") / "nuclear_data_bcs.csv"
U_MEV = 931.49410372  # CODATA 2022 atomic mass unit, MeV


def _read_data() -> tuple[dict, dict]:
    radii, masses = {}, {}
    with DATA.open() as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            key = (int(row["Z"]), int(row["N"]))
            (radii if row["quantity"] == "charge_radius" else masses)[key] = float(row["value"])
    return radii, masses


def _ho_r(n: int, ell: int, r: np.ndarray, b: float) -> np.ndarray:
    """Independent HO radial function: scipy genlaguerre and explicit gamma norm."""
    norm = math.sqrt(2.0 * math.factorial(n) / (b**3 * special.gamma(n + ell + 1.5)))
    x = (r / b) ** 2
    return norm * (r / b) ** ell * np.exp(-x / 2) * special.genlaguerre(n, ell + 0.5)(x)


def _quad_j0(n: int, ell: int, q: float, b: float) -> float:
    def f(r):
        return _ho_r(n, ell, np.array(r), b) ** 2 * special.spherical_jn(0, q * r) * r**2

    val, _ = integrate.quad(
        f, 0.0, 12.0 * b * math.sqrt(n + ell + 2), limit=400, epsabs=1e-13, epsrel=1e-12
    )
    return val


def _helm(q: np.ndarray, A: int) -> np.ndarray:
    """Lewin-Smith Helm form factor."""
    c = 1.23 * A ** (1 / 3) - 0.60
    a, s = 0.52, 0.9
    r = math.sqrt(c**2 + 7 / 3 * math.pi**2 * a**2 - 5 * s**2)
    x = np.asarray(q) * r
    return 3 * special.spherical_jn(1, x) / x * np.exp(-((np.asarray(q) * s) ** 2) / 2)


# --------------------------------------------------------------------------------------
def test_supported_nuclei_include_paper_targets_and_odd_a():
    for nucleus in REQUIRED + ODD_A:
        assert nucleus in bcs.SUPPORTED_NUCLEI
    radii, _ = _read_data()
    assert set(bcs.SUPPORTED_NUCLEI) == {(z, z + n) for z, n in radii}


@pytest.mark.parametrize("call", [bcs.solve_bcs, bcs.bcs_form_factors])
def test_unsupported_nucleus_raises_naming_it_and_listing_supported(call):
    with pytest.raises(ValueError, match=r"40Ca.*supported nuclei:.*132Xe"):
        call(20, 40)


@pytest.mark.parametrize("nucleus", bcs.SUPPORTED_NUCLEI)
def test_form_factors_equal_one_at_zero_exactly(nucleus):
    f_z, f_n = bcs.bcs_form_factors(*nucleus)
    assert f_z(0.0) == 1.0 and f_n(0.0) == 1.0
    q = np.array([0.0, 0.1, 0.3])
    assert f_z(q).shape == (3,) and f_n(q)[0] == 1.0


@pytest.mark.parametrize("nucleus", bcs.SUPPORTED_NUCLEI)
def test_particle_number_sum_rule(nucleus):
    res = bcs.solve_bcs(*nucleus)
    z_sum = sum((2 * lv.j + 1) * lv.v2 for lv in res.proton_levels)
    n_sum = sum((2 * lv.j + 1) * lv.v2 for lv in res.neutron_levels)
    assert abs(z_sum - res.Z) < 1e-9
    assert abs(n_sum - res.N) < 1e-9
    assert all(0.0 <= lv.v2 <= 1.0 for lv in res.proton_levels + res.neutron_levels)


def _pair_degeneracy_and_v2(levels, blocked):
    deg = np.array([2 * lv.j + 1 for lv in levels])
    occ = deg * np.array([lv.v2 for lv in levels])
    if blocked is not None:
        k = levels.index(blocked)
        deg[k] -= 2
        occ[k] -= 1
    return deg, occ / deg


@pytest.mark.parametrize("nucleus", REQUIRED + ODD_A)
def test_gap_equation_and_bcs_occupations(nucleus):
    res = bcs.solve_bcs(*nucleus)
    for levels, gap, lam, g, blocked in (
        (
            res.proton_levels,
            res.proton_gap_mev,
            res.proton_fermi_energy_mev,
            res.proton_pairing_strength_mev,
            res.proton_blocked_level,
        ),
        (
            res.neutron_levels,
            res.neutron_gap_mev,
            res.neutron_fermi_energy_mev,
            res.neutron_pairing_strength_mev,
            res.neutron_blocked_level,
        ),
    ):
        eps = np.array([lv.energy_mev for lv in levels])
        deg, v2 = _pair_degeneracy_and_v2(levels, blocked)
        e_qp = np.sqrt((eps - lam) ** 2 + gap**2)
        # gap equation Delta = G sum_j (2j+1)/2 u_j v_j, i.e. 1 = G/4 sum (2j+1)/E_j
        assert abs(g / 4 * np.sum(deg / e_qp) - 1.0) < 1e-9
        np.testing.assert_allclose(v2, 0.5 * (1 - (eps - lam) / e_qp), atol=1e-12)
        u_v = np.sqrt(v2 * (1 - v2))
        assert abs(g * np.sum(deg / 2 * u_v) - gap) < 1e-8 * gap


def _three_point(m: dict, z: int, n: int, species: str) -> float:
    if species == "n":
        a, b, c = m[(z, n - 1)], m[(z, n)], m[(z, n + 1)]
        x = n
    else:
        a, b, c = m[(z - 1, n)], m[(z, n)], m[(z + 1, n)]
        x = z
    return (-1) ** x * 0.5 * (a + c - 2 * b) * U_MEV


@pytest.mark.parametrize("nucleus", REQUIRED + ODD_A)
def test_gaps_reproduce_odd_even_mass_differences(nucleus):
    z, a = nucleus
    n = a - z
    _, masses = _read_data()
    res = bcs.solve_bcs(z, a)
    for species, x, gap in (("p", z, res.proton_gap_mev), ("n", n, res.neutron_gap_mev)):
        if x % 2:
            expected = _three_point(masses, z, n, species)
        elif species == "n":
            expected = 0.5 * (
                _three_point(masses, z, n - 1, "n") + _three_point(masses, z, n + 1, "n")
            )
        else:
            expected = 0.5 * (
                _three_point(masses, z - 1, n, "p") + _three_point(masses, z + 1, n, "p")
            )
        assert 0.5 < expected < 3.0
        assert gap == pytest.approx(expected, rel=1e-8)


def test_known_gap_values():
    # 132Xe by hand from AME2020 mass excesses (keV): Delta3(131Xe) = 1166.2,
    # Delta3(133Xe) = 1058.7, mean 1112.4 keV.
    res = bcs.solve_bcs(54, 132)
    assert res.neutron_gap_mev == pytest.approx(1.1125, abs=2e-4)
    assert res.proton_gap_mev == pytest.approx(0.9584, abs=2e-4)


@pytest.mark.parametrize(
    "n,ell,q,b",
    [
        (0, 0, 0.3, 1.8),
        (0, 3, 0.7, 2.0),
        (1, 1, 0.5, 2.1),
        (2, 0, 1.2, 2.3),
        (1, 4, 0.9, 2.3),
        (3, 2, 0.4, 2.2),
        (2, 5, 1.5, 2.3),
        (0, 6, 2.0, 2.3),
        (4, 1, 0.25, 2.0),
    ],
)
def test_closed_form_radial_integrals_match_quadrature(n, ell, q, b):
    closed = float(bcs.radial_j0_matrix_element(n, ell, q, b))
    assert closed == pytest.approx(_quad_j0(n, ell, q, b), abs=1e-10)


def test_closed_form_radial_integral_known_cases():
    y = np.linspace(0.0, 3.0, 7)
    q = 2 * np.sqrt(y) / 2.0
    # 0s: exp(-y); 0p: (1 - 2y/3) exp(-y)
    np.testing.assert_allclose(bcs.radial_j0_matrix_element(0, 0, q, 2.0), np.exp(-y), rtol=1e-14)
    np.testing.assert_allclose(
        bcs.radial_j0_matrix_element(0, 1, q, 2.0),
        (1 - 2 * y / 3) * np.exp(-y),
        rtol=1e-13,
        atol=1e-15,
    )


@pytest.mark.parametrize("nucleus", REQUIRED)
def test_form_factor_equals_sum_of_numerical_radial_integrals(nucleus):
    res = bcs.solve_bcs(*nucleus)
    b = res.oscillator_length_fm
    for levels, x, ff in (
        (res.proton_levels, res.Z, res.proton_form_factor),
        (res.neutron_levels, res.N, res.neutron_form_factor),
    ):
        for q in (0.2, 0.6, 1.0):
            direct = sum((2 * lv.j + 1) * lv.v2 * _quad_j0(lv.n, lv.l, q, b) for lv in levels) / x
            assert float(ff(q)) == pytest.approx(direct, abs=1e-9)


@pytest.mark.parametrize("nucleus", bcs.SUPPORTED_NUCLEI)
def test_proton_rms_matches_charge_radius_derived_point_radius(nucleus):
    z, a = nucleus
    radii, _ = _read_data()
    r_ch = radii[(z, a - z)]
    r_pt = math.sqrt(r_ch**2 - 0.8409**2 - (a - z) / z * (-0.1161))
    res = bcs.solve_bcs(z, a)
    assert res.proton_rms_fm == pytest.approx(r_pt, rel=1e-12)
    assert res.charge_radius_fm == r_ch


@pytest.mark.parametrize("nucleus", REQUIRED + ODD_A)
def test_rms_radii_from_density_quadrature(nucleus):
    res = bcs.solve_bcs(*nucleus)
    b = res.oscillator_length_fm
    r = np.linspace(1e-6, 15 * b, 20001)
    for levels, x, rms in (
        (res.proton_levels, res.Z, res.proton_rms_fm),
        (res.neutron_levels, res.N, res.neutron_rms_fm),
    ):
        rho = sum((2 * lv.j + 1) * lv.v2 * _ho_r(lv.n, lv.l, r, b) ** 2 for lv in levels)
        norm = integrate.simpson(rho * r**2, x=r)
        r2 = integrate.simpson(rho * r**4, x=r)
        assert norm == pytest.approx(x, rel=1e-9)
        assert math.sqrt(r2 / norm) == pytest.approx(rms, rel=1e-9)


@pytest.mark.parametrize("nucleus", REQUIRED + ODD_A)
def test_small_q_slope_is_minus_r2_over_six(nucleus):
    res = bcs.solve_bcs(*nucleus)
    q = np.array([0.01, 0.02])
    for ff, rms in (
        (res.proton_form_factor, res.proton_rms_fm),
        (res.neutron_form_factor, res.neutron_rms_fm),
    ):
        f = ff(q)
        # F = 1 - q^2 r^2/6 + c q^4: eliminate the q^4 term with two points.
        slope = ((1 - f[0]) / q[0] ** 2 * 4 - (1 - f[1]) / q[1] ** 2) / 3
        assert slope == pytest.approx(rms**2 / 6, rel=1e-6)
        grid = np.linspace(0.0, 0.6, 61)
        assert np.all(np.diff(ff(grid)) < 0)


def test_neutron_skin_sign_and_size():
    # Neutron-rich targets have a positive skin; N = Z 20Ne none to speak of.
    assert abs(bcs.solve_bcs(10, 20).neutron_skin_fm) < 0.02
    for nucleus in [(18, 40), (32, 76), (54, 132), (53, 127), (55, 133)]:
        assert 0.05 < bcs.solve_bcs(*nucleus).neutron_skin_fm < 0.4


def test_xe132_close_to_helm_where_helm_is_one_half():
    q_half = optimize.brentq(lambda q: _helm(q, 132) - 0.5, 0.1, 1.0)
    f_z, f_n = bcs.bcs_form_factors(54, 132)
    for ff in (f_z, f_n):
        assert abs(float(ff(q_half)) / 0.5 - 1.0) < 0.15


def _fd_levels(z: int, n: int, species: str, ell: int, j: float, count: int) -> np.ndarray:
    """Finite-difference radial Schroedinger eigenvalues (independent solver)."""
    h = 0.005
    r = np.arange(1, int(40 / h) + 1) * h
    mass = bcs.PROTON_MASS_MEV if species == "p" else bcs.NEUTRON_MASS_MEV
    central, so = bcs._ws_potentials(z, n, species, r)
    k = bcs.HBARC_MEV_FM**2 / (2 * mass)
    ls = 0.5 * (j * (j + 1) - ell * (ell + 1) - 0.75)
    diag = 2 * k / h**2 + central + ls * so + k * ell * (ell + 1) / r**2
    off = -k / h**2 * np.ones(len(r) - 1)
    return scipy.linalg.eigh_tridiagonal(diag, off, select="i", select_range=(0, count - 1))[0]


@pytest.mark.parametrize("species", ["p", "n"])
def test_oscillator_basis_energies_match_finite_difference(species):
    z, n = 54, 78
    levels = bcs.woods_saxon_levels(z, n, species, 7)
    checked = 0
    for lv_n, ell, j, e in levels:
        if e > -3.0:
            continue
        fd = _fd_levels(z, n, species, ell, j, lv_n + 1)[lv_n]
        assert e == pytest.approx(fd, abs=2e-3)
        checked += 1
    assert checked >= 12


def test_spin_orbit_ordering_near_fermi_surface():
    # 132Xe neutrons: 0h11/2 below 1f7/2 across the N = 82 gap, spin-orbit partners split.
    levels = {(n, ell, j): e for n, ell, j, e in bcs.woods_saxon_levels(54, 78, "n", 6)}
    assert levels[(0, 5, 5.5)] < levels[(1, 3, 3.5)] - 3.0
    assert levels[(0, 4, 4.5)] < levels[(0, 4, 3.5)] - 3.0


@pytest.mark.parametrize(
    "nucleus,level,spin", [((55, 133), (0, 4, 3.5), 3.5), ((53, 127), (1, 2, 2.5), 2.5)]
)
def test_odd_a_blocking_gives_measured_ground_state_spin(nucleus, level, spin):
    res = bcs.solve_bcs(*nucleus)
    blocked = res.proton_blocked_level
    assert res.neutron_blocked_level is None
    assert (blocked.n, blocked.l, blocked.j) == level and blocked.j == spin


@pytest.mark.parametrize("nucleus", bcs.SUPPORTED_NUCLEI)
def test_woods_saxon_wave_function_radii_diagnostic(nucleus):
    # Uncalibrated Woods-Saxon proton radii land within 2.5 % of the measured point radii.
    z, a = nucleus
    r_p, r_n = bcs.woods_saxon_rms_radii_fm(z, a)
    assert r_p == pytest.approx(bcs.point_proton_radius_fm(z, a), rel=0.025)
    if a == 2 * z:  # N = Z: Coulomb pushes protons out
        assert r_n < r_p
    else:
        assert r_n - r_p > -0.01


def test_result_is_cached():
    # Timing is a benchmark matter (docs/bcs.md), not asserted here.
    assert bcs.solve_bcs(54, 132) is bcs.solve_bcs(54, 132)
    fresh = bcs.solve_bcs.__wrapped__(54, 132)
    assert fresh is not bcs.solve_bcs(54, 132)
    assert fresh.neutron_rms_fm == bcs.solve_bcs(54, 132).neutron_rms_fm


def test_module_imports_no_pymc():
    code = (
        "import sys, cenns_bayes.physics.bcs as m; m.solve_bcs(54, 132); "
        "bad = [k for k in ('pymc', 'pytensor', 'arviz') if k in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    root = Path(bcs.__file__).resolve().parents[2]
    env_path = str(root)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**os.environ, "PYTHONPATH": env_path},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr

"""BCS nuclear-structure form factors of protons and neutrons (seed paper, Eq. 5).

The proton (neutron) form factor of an even-even nucleus is

    F_X(q) = (1/X) sum_j (2j+1) v_j^2 <n l | j0(q r) | n l>,      X = Z or N,

which is Eq. (5) of the seed paper written with the radial integral: its reduced
matrix element <j||j0(qr)||j> carries one factor sqrt(2j+1), so sqrt(2j+1) times
it is (2j+1) times the radial integral.  The pieces are

1. **Single-particle energies.**  A spherical Woods-Saxon potential with a
   spin-orbit term (the Bohr-Mottelson parameterisation, *Nuclear Structure*
   Vol. I (1969), Chapter 2) plus, for protons, the Coulomb potential of a
   uniformly charged sphere, is diagonalised for each (l, j) in a large
   harmonic-oscillator (HO) basis.  The k-th eigenvalue of the (l, j) block is
   the energy of the level with k radial nodes, labelled ``n = k``.
2. **BCS pairing.**  A constant-G monopole force acts in a model space of all
   levels with HO major-shell number 2n + l up to one shell above the highest
   shell occupied in the naive (pairing-free) filling.  G is fixed, separately
   for protons and neutrons, so that the BCS gap equals the empirical odd-even
   staggering of measured masses (three-point formula, see
   :func:`empirical_pairing_gap_mev`); the BCS equations are then solved for
   the gap and the chemical potential so that sum_j (2j+1) v_j^2 = Z or N.
   Odd-A nuclei are treated in the blocking approximation: the odd nucleon
   sits in the level of lowest quasiparticle energy, which is removed (one
   pair of m-states) from the pairing problem.
3. **Wave functions and the form factor.**  Each level is one HO state
   |n l j> with a single oscillator length b for protons and neutrons.  The
   radial integrals <n l|j0(qr)|n l> are evaluated in closed form, a
   polynomial of degree 2n + l in y = (q b)^2 / 4 times exp(-y)
   (:func:`radial_j0_polynomial`).  b is fixed so that the proton point rms
   radius, b^2 <2n + l + 3/2>_p, equals the point-proton radius derived from
   the measured charge radius,

       r_p,pt^2 = r_ch^2 - r_proton^2 - (N/Z) <r_n^2>,

   with r_proton = 0.8409 fm and <r_n^2> = -0.1161 fm^2 (Darwin-Foldy and
   spin-orbit charge corrections are not applied).

The form factors are point-nucleon form factors (no nucleon size folded in),
as in Eq. (5), and carry no centre-of-mass correction.  ``docs/bcs.md`` lists
the measured results and the limitations.

This module depends on numpy and scipy only; the measured inputs are shipped
in ``data/nuclear_data_bcs.csv`` (provenance in ``data/README_bcs.md``).
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.constants as _codata
from scipy import optimize, special

__all__ = [
    "BCSResult",
    "SingleParticleLevel",
    "SUPPORTED_NUCLEI",
    "bcs_form_factors",
    "charge_radius_fm",
    "empirical_pairing_gap_mev",
    "ho_radial_function",
    "nucleus_label",
    "point_proton_radius_fm",
    "radial_j0_matrix_element",
    "radial_j0_polynomial",
    "solve_bcs",
    "woods_saxon_levels",
    "woods_saxon_rms_radii_fm",
]

# --- constants (CODATA via scipy.constants) ------------------------------------------
#: hbar*c in MeV fm.
HBARC_MEV_FM: float = _codata.physical_constants["reduced Planck constant times c in MeV fm"][0]
#: e^2/(4 pi eps0) = alpha hbar c in MeV fm.
E2_MEV_FM: float = _codata.fine_structure * HBARC_MEV_FM
#: Proton and neutron masses in MeV/c^2.
PROTON_MASS_MEV: float = _codata.physical_constants["proton mass energy equivalent in MeV"][0]
NEUTRON_MASS_MEV: float = _codata.physical_constants["neutron mass energy equivalent in MeV"][0]
#: Atomic mass unit in MeV/c^2.
ATOMIC_MASS_UNIT_MEV: float = _codata.physical_constants[
    "atomic mass constant energy equivalent in MeV"
][0]
#: Proton rms charge radius in fm (CODATA 2018 / muonic hydrogen).
PROTON_CHARGE_RADIUS_FM: float = 0.8409
#: Neutron mean-square charge radius in fm^2 (PDG).
NEUTRON_MS_CHARGE_RADIUS_FM2: float = -0.1161

# --- Woods-Saxon parameters: Bohr & Mottelson, Nuclear Structure Vol. I (1969) ---------
#: Isoscalar depth V0 in MeV: V = -51 MeV +/- 33 (N-Z)/A MeV.
WS_DEPTH_MEV: float = 51.0
#: Isovector depth in MeV; + for neutrons (shallower), - for protons.
WS_ISOVECTOR_MEV: float = 33.0
#: Radius parameter r0 in fm, R = r0 A^(1/3); also the Coulomb radius.
WS_RADIUS_FM: float = 1.27
#: Diffuseness a in fm.
WS_DIFFUSENESS_FM: float = 0.67
#: Spin-orbit strength relative to the depth, V_ls = -0.44 V.
WS_SPIN_ORBIT_RATIO: float = 0.44

#: HO major shells of the basis in which the Woods-Saxon Hamiltonian is diagonalised.
BASIS_MAJOR_SHELLS: int = 24
#: Radial grid (fm) used for the potential matrix elements in the diagonalisation.
_GRID_POINTS: int = 1200

_DATA_FILE = Path(__file__).with_name("data") / "nuclear_data_bcs.csv"


class SingleParticleLevel(NamedTuple):
    """One spherical single-particle level of the BCS model space.

    Attributes
    ----------
    n : int
        Number of radial nodes (HO radial quantum number, starting at 0).
    l : int
        Orbital angular momentum.
    j : float
        Total angular momentum (half-integer).
    energy_mev : float
        Woods-Saxon single-particle energy in MeV.
    v2 : float
        BCS occupation probability v_j^2 (for the blocked level of an odd-A
        nucleus: the occupation of the level per m-state, (1 + (2j-1) v^2)/(2j+1)).
    """

    n: int
    l: int  # noqa: E741 -- the spectroscopic (n, l, j) name; callers read lv.l
    j: float
    energy_mev: float
    v2: float


# ======================================================================================
# Measured inputs
# ======================================================================================
@functools.lru_cache(maxsize=1)
def _load_data() -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], float]]:
    """Read the shipped charge radii (fm) and atomic masses (u), keyed by (Z, N)."""
    radii: dict[tuple[int, int], float] = {}
    masses: dict[tuple[int, int], float] = {}
    with _DATA_FILE.open(newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for row in rows:
            key = (int(row["Z"]), int(row["N"]))
            if int(row["A"]) != key[0] + key[1]:
                raise ValueError(f"inconsistent Z, N, A in {_DATA_FILE.name}: {row}")
            if row["quantity"] == "charge_radius":
                radii[key] = float(row["value"])
            elif row["quantity"] == "atomic_mass":
                masses[key] = float(row["value"])
            else:
                raise ValueError(f"unknown quantity {row['quantity']!r} in {_DATA_FILE.name}")
    return radii, masses


_SYMBOLS = {
    8: "O",
    9: "F",
    10: "Ne",
    11: "Na",
    12: "Mg",
    13: "Al",
    16: "S",
    17: "Cl",
    18: "Ar",
    19: "K",
    20: "Ca",
    30: "Zn",
    31: "Ga",
    32: "Ge",
    33: "As",
    34: "Se",
    51: "Sb",
    52: "Te",
    53: "I",
    54: "Xe",
    55: "Cs",
    56: "Ba",
    57: "La",
}


def nucleus_label(Z: int, A: int) -> str:
    """Label such as '132Xe' for (Z, A)."""
    return f"{A}{_SYMBOLS.get(Z, f'(Z={Z})')}"


#: (Z, A) of the nuclei whose measured inputs are shipped.
SUPPORTED_NUCLEI: tuple[tuple[int, int], ...] = tuple(
    sorted((Z, Z + N) for (Z, N) in _load_data()[0])
)


def _check_supported(Z: int, A: int) -> None:
    if (int(Z), int(A)) not in SUPPORTED_NUCLEI:
        names = ", ".join(nucleus_label(z, a) for z, a in SUPPORTED_NUCLEI)
        raise ValueError(
            f"no shipped BCS data for {nucleus_label(Z, A)} (Z={Z}, A={A}); "
            f"supported nuclei: {names}"
        )


def charge_radius_fm(Z: int, A: int) -> float:
    """Measured rms charge radius (Angeli & Marinova 2013) in fm.

    Raises
    ------
    ValueError
        If the nucleus is not in :data:`SUPPORTED_NUCLEI`.
    """
    _check_supported(Z, A)
    return _load_data()[0][(Z, A - Z)]


def point_proton_radius_fm(Z: int, A: int) -> float:
    """Point-proton rms radius in fm derived from the measured charge radius.

    r_pt^2 = r_ch^2 - r_proton^2 - (N/Z) <r_n^2>, with r_proton = 0.8409 fm and
    <r_n^2> = -0.1161 fm^2.
    """
    r_ch = charge_radius_fm(Z, A)
    N = A - Z
    return math.sqrt(r_ch**2 - PROTON_CHARGE_RADIUS_FM**2 - (N / Z) * NEUTRON_MS_CHARGE_RADIUS_FM2)


def _mass_mev(Z: int, N: int) -> float:
    masses = _load_data()[1]
    if (Z, N) not in masses:
        raise ValueError(f"no shipped atomic mass for {nucleus_label(Z, Z + N)} (Z={Z}, N={N})")
    return masses[(Z, N)] * ATOMIC_MASS_UNIT_MEV


def _three_point_mev(Z: int, N: int, species: str) -> float:
    """Three-point odd-even mass difference centred on (Z, N), in MeV.

    Delta3(X) = (-1)^X / 2 [M(X-1) + M(X+1) - 2 M(X)] with M the atomic mass and X
    = N (isotopes, ``species='n'``) or Z (isotones, ``species='p'``).  Terms linear
    in Z and N (nucleon and electron masses) cancel in the second difference.
    """
    if species == "n":
        m = [_mass_mev(Z, N + d) for d in (-1, 0, 1)]
        x = N
    else:
        m = [_mass_mev(Z + d, N) for d in (-1, 0, 1)]
        x = Z
    sign = 1.0 if x % 2 == 0 else -1.0
    return 0.5 * sign * (m[0] + m[2] - 2.0 * m[1])


def empirical_pairing_gap_mev(Z: int, A: int, species: str) -> float:
    """Empirical pairing gap of protons (``'p'``) or neutrons (``'n'``) in MeV.

    The three-point formula is evaluated on odd-X nuclei, where it is free of the
    single-particle (mean-field) contribution to first order (Satula, Dobaczewski
    and Nazarewicz, PRL 81, 3599 (1998)): for an odd number X of the species,
    Delta = Delta3(X); for an even X, the mean Delta = [Delta3(X-1) + Delta3(X+1)]/2
    of the two odd neighbours.  Masses are AME2020 atomic masses (shipped).

    Parameters
    ----------
    Z, A : int
        Proton and mass number.
    species : {'p', 'n'}
        Protons or neutrons.
    """
    if species not in ("p", "n"):
        raise ValueError(f"species must be 'p' or 'n', not {species!r}")
    N = A - Z
    x = Z if species == "p" else N
    if x % 2 == 1:
        return _three_point_mev(Z, N, species)
    if species == "n":
        return 0.5 * (_three_point_mev(Z, N - 1, "n") + _three_point_mev(Z, N + 1, "n"))
    return 0.5 * (_three_point_mev(Z - 1, N, "p") + _three_point_mev(Z + 1, N, "p"))


# ======================================================================================
# Harmonic-oscillator radial functions and closed-form j0 matrix elements
# ======================================================================================
def _ho_norm(n: int, ell: int, b_fm: float) -> float:
    """Normalisation of R_nl(r) = N (r/b)^l exp(-r^2/2b^2) L_n^{l+1/2}(r^2/b^2)."""
    return math.sqrt(2.0 * math.exp(math.lgamma(n + 1) - math.lgamma(n + ell + 1.5)) / b_fm**3)


def ho_radial_function(n: int, ell: int, r_fm: np.ndarray, b_fm: float) -> np.ndarray:
    """HO radial wave function R_nl(r) in fm^-3/2, normalised to int R^2 r^2 dr = 1.

    Parameters
    ----------
    n, ell : int
        Radial quantum number (nodes) and orbital angular momentum.
    r_fm : ndarray
        Radii in fm.
    b_fm : float
        Oscillator length in fm.
    """
    x = (np.asarray(r_fm, dtype=float) / b_fm) ** 2
    return (
        _ho_norm(n, ell, b_fm)
        * x ** (0.5 * ell)
        * np.exp(-0.5 * x)
        * special.eval_genlaguerre(n, ell + 0.5, x)
    )


@functools.cache
def radial_j0_polynomial(n: int, ell: int) -> tuple[float, ...]:
    """Coefficients c_k of <n l|j0(q r)|n l> = exp(-y) sum_k c_k y^k, y = (q b)^2/4.

    Derivation: R_nl^2 r^2 is (r/b)^{2l} exp(-r^2/b^2) [L_n^{l+1/2}(r^2/b^2)]^2 r^2
    times N^2.  With [L(x)]^2 = sum_m a_m x^m, each term needs

        int_0^inf r^{2p} exp(-r^2/b^2) j0(q r) dr
            = b^{2p+1}/2 Gamma(p+1/2) 1F1(p+1/2; 3/2; -y)
            = b^{2p+1}/2 Gamma(p+1/2) exp(-y) 1F1(1-p; 3/2; y)   (Kummer),

    p = l + 1 + m, and 1F1(1-p; 3/2; y) is a polynomial of degree p-1.  The result
    is a polynomial of degree 2n + l with c_0 = 1 (normalisation).

    Parameters
    ----------
    n, ell : int
        Radial quantum number and orbital angular momentum.

    Returns
    -------
    tuple of float
        c_0 ... c_{2n+l}.
    """
    alpha = ell + 0.5
    # L_n^alpha(x) = sum_i (-1)^i binom(n+alpha, n-i) x^i / i!
    lag = np.array(
        [
            (-1) ** i
            * math.exp(
                math.lgamma(n + alpha + 1) - math.lgamma(n - i + 1) - math.lgamma(alpha + i + 1)
            )
            / math.factorial(i)
            for i in range(n + 1)
        ]
    )
    lag2 = np.convolve(lag, lag)  # coefficients a_m of L^2, m = 0..2n
    coeffs = np.zeros(2 * n + ell + 1)
    log_norm = math.lgamma(n + 1) - math.lgamma(n + ell + 1.5)
    for m, a_m in enumerate(lag2):
        p = ell + 1 + m
        pref = a_m * math.exp(log_norm + math.lgamma(p + 0.5))
        # 1F1(1-p; 3/2; y) = sum_k (1-p)_k / ((3/2)_k k!) y^k, k = 0..p-1
        term = 1.0
        for k in range(p):
            coeffs[k] += pref * term
            term *= (1 - p + k) / ((1.5 + k) * (k + 1))
    coeffs /= coeffs[0]  # exact normalisation; coeffs[0] equals 1 up to rounding
    return tuple(float(c) for c in coeffs)


def radial_j0_matrix_element(
    n: int, ell: int, q_inv_fm: np.ndarray | float, b_fm: float
) -> np.ndarray:
    """Closed-form <n l|j0(q r)|n l> for an HO state of oscillator length b.

    Parameters
    ----------
    n, ell : int
        Radial quantum number and orbital angular momentum.
    q_inv_fm : array_like
        Momentum transfer in fm^-1.
    b_fm : float
        Oscillator length in fm.

    Returns
    -------
    ndarray
        The matrix element (dimensionless, 1 at q = 0).
    """
    y = 0.25 * (np.asarray(q_inv_fm, dtype=float) * b_fm) ** 2
    c = radial_j0_polynomial(n, ell)
    return np.exp(-y) * np.polynomial.polynomial.polyval(y, c)


# ======================================================================================
# Woods-Saxon single-particle energies in the HO basis
# ======================================================================================
def _ws_potentials(Z: int, N: int, species: str, r_fm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central (incl. Coulomb) potential and spin-orbit radial factor, MeV, on r_fm.

    V(r) = V0 f(r) + V_C(r) + V_ls r0^2 (l.s) (1/r) df/dr, with f the Fermi function,
    V0 = -51 MeV -/+ 33 (N-Z)/A MeV (protons/neutrons), V_ls = -0.44 V0.
    """
    A = Z + N
    radius = WS_RADIUS_FM * A ** (1.0 / 3.0)
    sign = -1.0 if species == "p" else 1.0
    depth = -WS_DEPTH_MEV + sign * WS_ISOVECTOR_MEV * (N - Z) / A
    f = special.expit(-(r_fm - radius) / WS_DIFFUSENESS_FM)
    dfdr = -f * (1.0 - f) / WS_DIFFUSENESS_FM
    central = depth * f
    if species == "p":
        charge = (Z - 1) * E2_MEV_FM  # the proton feels the other Z-1 protons
        inside = r_fm < radius
        central = central + np.where(
            inside,
            charge / (2.0 * radius) * (3.0 - (r_fm / radius) ** 2),
            charge / np.maximum(r_fm, 1e-12),
        )
    v_ls = -WS_SPIN_ORBIT_RATIO * depth
    spin_orbit = v_ls * WS_RADIUS_FM**2 * dfdr / r_fm
    return central, spin_orbit


def _oscillator_basis_length_fm(A: int, mass_mev: float) -> float:
    """Oscillator length of the diagonalisation basis, hbar*omega = 41 A^(-1/3) MeV."""
    hbar_omega = 41.0 * A ** (-1.0 / 3.0)
    return HBARC_MEV_FM / math.sqrt(mass_mev * hbar_omega)


@functools.lru_cache(maxsize=1024)
def _diagonalise_block(
    Z: int, N: int, species: str, ell: int, j: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagonalise the Woods-Saxon Hamiltonian of one (l, j) block in the HO basis.

    Returns the eigenvalues (MeV, ascending), the eigenvectors (columns, HO
    components n' = 0, 1, ...) and the matrix of r^2 (fm^2) in the basis.
    """
    mass = PROTON_MASS_MEV if species == "p" else NEUTRON_MASS_MEV
    b = _oscillator_basis_length_fm(Z + N, mass)
    hbar_omega = HBARC_MEV_FM**2 / (mass * b**2)
    r, step, central, spin_orbit = _radial_grid(Z, N, species, b)
    n_basis = (BASIS_MAJOR_SHELLS - ell) // 2 + 1
    phi = np.array([ho_radial_function(k, ell, r, b) for k in range(n_basis)]) * r
    weight = phi * step  # phi_k(r) dr, with phi = r R
    r2 = weight @ (phi * (r / b) ** 2).T
    kinetic = np.diag(hbar_omega * (2 * np.arange(n_basis) + ell + 1.5)) - 0.5 * hbar_omega * r2
    ls = 0.5 * (j * (j + 1) - ell * (ell + 1) - 0.75)
    h = kinetic + weight @ (phi * (central + ls * spin_orbit)).T
    energies, vectors = np.linalg.eigh(0.5 * (h + h.T))
    return energies, vectors, r2 * b**2


@functools.lru_cache(maxsize=16)
def _radial_grid(
    Z: int, N: int, species: str, b_fm: float
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Midpoint radial grid (fm) and the potentials on it."""
    r_max = b_fm * math.sqrt(4.0 * BASIS_MAJOR_SHELLS + 30.0)
    step = r_max / _GRID_POINTS
    r = (np.arange(_GRID_POINTS) + 0.5) * step
    central, spin_orbit = _ws_potentials(Z, N, species, r)
    return r, step, central, spin_orbit


@functools.lru_cache(maxsize=64)
def woods_saxon_levels(
    Z: int, N: int, species: str, max_shell: int
) -> tuple[tuple[int, int, float, float], ...]:
    """Woods-Saxon single-particle energies from diagonalisation in an HO basis.

    For each l <= max_shell and j = l +/- 1/2, H = T + V is diagonalised in the HO
    states 2n' + l <= :data:`BASIS_MAJOR_SHELLS` (hbar*omega = 41 A^(-1/3) MeV); the
    kinetic energy is T = H_HO - m omega^2 r^2 / 2 and the potential matrix elements
    are radial quadratures.  The k-th eigenvalue of a block is the level with k
    nodes.  Levels with 2n + l <= max_shell are returned.  Positive energies belong
    to the basis-discretised continuum.

    Parameters
    ----------
    Z, N : int
        Proton and neutron numbers of the nucleus.
    species : {'p', 'n'}
        Protons (with Coulomb) or neutrons.
    max_shell : int
        Largest HO major-shell number 2n + l returned.

    Returns
    -------
    tuple of (n, l, j, energy_mev)
        Sorted by energy.
    """
    if species not in ("p", "n"):
        raise ValueError(f"species must be 'p' or 'n', not {species!r}")
    levels: list[tuple[int, int, float, float]] = []
    for ell in range(max_shell + 1):
        for j in (ell - 0.5, ell + 0.5):
            if j < 0:
                continue
            energies = _diagonalise_block(Z, N, species, ell, j)[0]
            for k in range((max_shell - ell) // 2 + 1):
                levels.append((k, ell, j, float(energies[k])))
    levels.sort(key=lambda t: t[3])
    return tuple(levels)


def woods_saxon_rms_radii_fm(Z: int, A: int) -> tuple[float, float]:
    """Point rms radii (fm) of protons and neutrons with Woods-Saxon wave functions.

    A diagnostic of the HO approximation: the same BCS occupations as
    :func:`solve_bcs`, but each level's radial function is the Woods-Saxon
    eigenfunction (from the HO-basis diagonalisation) instead of a single HO
    function, so no radius is calibrated.

    Returns
    -------
    (r_p_fm, r_n_fm) : tuple of float
    """
    res = solve_bcs(Z, A)
    radii = []
    for species, levels in (("p", res.proton_levels), ("n", res.neutron_levels)):
        total, count = 0.0, 0.0
        for lv in levels:
            _, vectors, r2 = _diagonalise_block(res.Z, res.N, species, lv.l, lv.j)
            vec = vectors[:, lv.n]
            occupation = (2 * lv.j + 1) * lv.v2
            total += occupation * float(vec @ r2 @ vec)
            count += occupation
        radii.append(math.sqrt(total / count))
    return radii[0], radii[1]


# ======================================================================================
# BCS
# ======================================================================================
def _occupations(eps: np.ndarray, lam: float, gap: float) -> np.ndarray:
    e = eps - lam
    return 0.5 * (1.0 - e / np.hypot(e, gap))


def _chemical_potential(
    eps: np.ndarray, pair_deg: np.ndarray, n_paired: float, gap: float
) -> float:
    """Lambda such that sum pair_deg v^2 = n_paired for a given gap (MeV)."""
    lo = float(eps.min()) - 200.0 * gap - 50.0
    hi = float(eps.max()) + 200.0 * gap + 50.0
    return optimize.brentq(
        lambda lam: float(pair_deg @ _occupations(eps, lam, gap)) - n_paired,
        lo,
        hi,
        xtol=1e-14,
        rtol=4.0 * np.finfo(float).eps,
        maxiter=500,
    )


def _gap_sum(eps: np.ndarray, pair_deg: np.ndarray, lam: float, gap: float) -> float:
    """sum_j pair_deg_j / (4 E_j); the gap equation reads G * this = 1."""
    return float(np.sum(pair_deg / (4.0 * np.hypot(eps - lam, gap))))


class _SpeciesSolution(NamedTuple):
    levels: tuple[SingleParticleLevel, ...]
    weights: np.ndarray  # particles per level (sum = X)
    gap_mev: float
    fermi_mev: float
    strength_mev: float
    empirical_gap_mev: float
    blocked: int | None
    particle_number: float


def _solve_species(Z: int, N: int, species: str) -> _SpeciesSolution:
    """BCS solution (with blocking if the particle number is odd) for one species."""
    n_part = Z if species == "p" else N
    A = Z + N
    # Naive filling to find the highest occupied HO shell, then one shell more.
    probe = woods_saxon_levels(Z, N, species, BASIS_MAJOR_SHELLS // 2)
    filled, top_shell = 0, 0
    for n, ell, j, _ in probe:
        if filled >= n_part:
            break
        filled += int(2 * j + 1)
        top_shell = max(top_shell, 2 * n + ell)
    raw = woods_saxon_levels(Z, N, species, top_shell + 1)
    eps = np.array([t[3] for t in raw])
    deg = np.array([2.0 * t[2] + 1.0 for t in raw])
    gap_exp = empirical_pairing_gap_mev(Z, A, species)
    if gap_exp <= 0.0:
        raise ValueError(f"non-positive empirical {species} gap for {nucleus_label(Z, A)}")

    blocked: int | None = None
    pair_deg = deg.copy()
    n_paired = float(n_part)
    if n_part % 2 == 1:
        # Odd nucleon in the level of lowest quasiparticle energy of the unblocked solution.
        lam0 = _chemical_potential(eps, deg, float(n_part), gap_exp)
        blocked = int(np.argmin(np.hypot(eps - lam0, gap_exp)))
        pair_deg[blocked] -= 2.0
        n_paired -= 1.0

    # Pairing strength G reproducing the empirical gap in this model space.
    lam_exp = _chemical_potential(eps, pair_deg, n_paired, gap_exp)
    strength = 1.0 / _gap_sum(eps, pair_deg, lam_exp, gap_exp)

    # Solve the coupled gap and number equations for (gap, lambda) at fixed G.
    def gap_residual(gap: float) -> float:
        lam = _chemical_potential(eps, pair_deg, n_paired, gap)
        return strength * _gap_sum(eps, pair_deg, lam, gap) - 1.0

    gap = optimize.brentq(gap_residual, 0.05 * gap_exp, 5.0 * gap_exp, xtol=1e-13, rtol=1e-14)
    lam = _chemical_potential(eps, pair_deg, n_paired, gap)
    v2 = _occupations(eps, lam, gap)
    weights = pair_deg * v2
    if blocked is not None:
        weights[blocked] += 1.0
    levels = tuple(
        SingleParticleLevel(t[0], t[1], t[2], t[3], float(w / d))
        for t, w, d in zip(raw, weights, deg, strict=True)
    )
    return _SpeciesSolution(
        levels=levels,
        weights=weights,
        gap_mev=float(gap),
        fermi_mev=float(lam),
        strength_mev=float(strength),
        empirical_gap_mev=float(gap_exp),
        blocked=blocked,
        particle_number=float(weights.sum()),
    )


def _form_factor_polynomial(
    levels: tuple[SingleParticleLevel, ...], weights: np.ndarray
) -> np.ndarray:
    """Coefficients a_k of F(q) = exp(-y) sum_k a_k y^k with a_0 = 1 exactly."""
    size = max(2 * lv.n + lv.l for lv in levels) + 1
    total = np.zeros(size)
    for lv, w in zip(levels, weights, strict=True):
        c = radial_j0_polynomial(lv.n, lv.l)
        total[: len(c)] += w * np.asarray(c)
    return total / total[0]


def _mean_shell_energy(levels: tuple[SingleParticleLevel, ...], weights: np.ndarray) -> float:
    """<2n + l + 3/2> over the occupied levels: <r^2> = b^2 times this."""
    quanta = np.array([2 * lv.n + lv.l + 1.5 for lv in levels])
    return float(weights @ quanta / weights.sum())


def _evaluate(coeffs: np.ndarray, q_inv_fm: np.ndarray | float, b_fm: float) -> np.ndarray:
    y = 0.25 * (np.asarray(q_inv_fm, dtype=float) * b_fm) ** 2
    return np.exp(-y) * np.polynomial.polynomial.polyval(y, coeffs)


@dataclass(frozen=True)
class BCSResult:
    """BCS ground state of one nucleus and its point-nucleon form factors.

    Attributes
    ----------
    Z, N : int
        Proton and neutron numbers.
    oscillator_length_fm : float
        HO length b (fm) of the wave functions, calibrated on the charge radius.
    proton_levels, neutron_levels : tuple of SingleParticleLevel
        Model-space levels (n, l, j, energy_mev, v2), sorted by energy.
    proton_gap_mev, neutron_gap_mev : float
        BCS gaps (MeV) solving the gap equation at the fitted strengths.
    proton_rms_fm, neutron_rms_fm : float
        Point-proton and point-neutron rms radii (fm).
    proton_fermi_energy_mev, neutron_fermi_energy_mev : float
        Chemical potentials lambda (MeV).
    proton_pairing_strength_mev, neutron_pairing_strength_mev : float
        Constant pairing strengths G (MeV).
    proton_empirical_gap_mev, neutron_empirical_gap_mev : float
        Gaps from the odd-even mass differences that fix G (MeV).
    proton_particle_number, neutron_particle_number : float
        sum_j (2j+1) v_j^2 (plus the blocked nucleon), i.e. Z and N.
    proton_blocked_level, neutron_blocked_level : SingleParticleLevel or None
        The level holding the odd nucleon of an odd-A nucleus.
    charge_radius_fm : float
        Measured charge radius used for the calibration (fm).
    """

    Z: int
    N: int
    oscillator_length_fm: float
    proton_levels: tuple[SingleParticleLevel, ...]
    neutron_levels: tuple[SingleParticleLevel, ...]
    proton_gap_mev: float
    neutron_gap_mev: float
    proton_rms_fm: float
    neutron_rms_fm: float
    proton_fermi_energy_mev: float = 0.0
    neutron_fermi_energy_mev: float = 0.0
    proton_pairing_strength_mev: float = 0.0
    neutron_pairing_strength_mev: float = 0.0
    proton_empirical_gap_mev: float = 0.0
    neutron_empirical_gap_mev: float = 0.0
    proton_particle_number: float = 0.0
    neutron_particle_number: float = 0.0
    proton_blocked_level: SingleParticleLevel | None = None
    neutron_blocked_level: SingleParticleLevel | None = None
    charge_radius_fm: float = 0.0
    _proton_coeffs: tuple[float, ...] = field(default=(1.0,), repr=False, compare=False)
    _neutron_coeffs: tuple[float, ...] = field(default=(1.0,), repr=False, compare=False)

    @property
    def A(self) -> int:
        """Mass number."""
        return self.Z + self.N

    @property
    def neutron_skin_fm(self) -> float:
        """Point-neutron minus point-proton rms radius (fm)."""
        return self.neutron_rms_fm - self.proton_rms_fm

    def proton_form_factor(self, q_inv_fm: np.ndarray) -> np.ndarray:
        """Point-proton form factor F_Z(q) (Eq. 5), q in fm^-1; F_Z(0) = 1."""
        return _evaluate(np.asarray(self._proton_coeffs), q_inv_fm, self.oscillator_length_fm)

    def neutron_form_factor(self, q_inv_fm: np.ndarray) -> np.ndarray:
        """Point-neutron form factor F_N(q) (Eq. 5), q in fm^-1; F_N(0) = 1."""
        return _evaluate(np.asarray(self._neutron_coeffs), q_inv_fm, self.oscillator_length_fm)


@functools.cache
def solve_bcs(Z: int, A: int) -> BCSResult:
    """Solve the BCS ground state of nucleus (Z, A) and build its form factors.

    Cached per (Z, A): a study pays for the nuclear calculation once.

    Parameters
    ----------
    Z, A : int
        Proton and mass numbers; the nucleus must be in :data:`SUPPORTED_NUCLEI`.

    Returns
    -------
    BCSResult

    Raises
    ------
    ValueError
        For a nucleus without shipped data, naming it and listing the supported ones.
    """
    Z, A = int(Z), int(A)
    _check_supported(Z, A)
    N = A - Z
    prot = _solve_species(Z, N, "p")
    neut = _solve_species(Z, N, "n")
    r_pt = point_proton_radius_fm(Z, A)
    b = r_pt / math.sqrt(_mean_shell_energy(prot.levels, prot.weights))
    r_p = b * math.sqrt(_mean_shell_energy(prot.levels, prot.weights))
    r_n = b * math.sqrt(_mean_shell_energy(neut.levels, neut.weights))
    return BCSResult(
        Z=Z,
        N=N,
        oscillator_length_fm=b,
        proton_levels=prot.levels,
        neutron_levels=neut.levels,
        proton_gap_mev=prot.gap_mev,
        neutron_gap_mev=neut.gap_mev,
        proton_rms_fm=r_p,
        neutron_rms_fm=r_n,
        proton_fermi_energy_mev=prot.fermi_mev,
        neutron_fermi_energy_mev=neut.fermi_mev,
        proton_pairing_strength_mev=prot.strength_mev,
        neutron_pairing_strength_mev=neut.strength_mev,
        proton_empirical_gap_mev=prot.empirical_gap_mev,
        neutron_empirical_gap_mev=neut.empirical_gap_mev,
        proton_particle_number=prot.particle_number,
        neutron_particle_number=neut.particle_number,
        proton_blocked_level=None if prot.blocked is None else prot.levels[prot.blocked],
        neutron_blocked_level=None if neut.blocked is None else neut.levels[neut.blocked],
        charge_radius_fm=charge_radius_fm(Z, A),
        _proton_coeffs=tuple(_form_factor_polynomial(prot.levels, prot.weights)),
        _neutron_coeffs=tuple(_form_factor_polynomial(neut.levels, neut.weights)),
    )


def bcs_form_factors(
    Z: int, A: int
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """Proton and neutron BCS form factors (F_Z, F_N) of nucleus (Z, A).

    Each is a callable F(q_inv_fm) -> ndarray with F(0) = 1, q in fm^-1.

    Raises
    ------
    ValueError
        For a nucleus without shipped data.
    """
    result = solve_bcs(Z, A)
    return result.proton_form_factor, result.neutron_form_factor

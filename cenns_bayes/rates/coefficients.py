"""Exact event-count coefficients (Eq. 9 of the seed paper, decomposed).

For one detector, one flavour and one recoil window or bin,

    N = I_pp g_p^2 + 2 I_pn g_p g_n + I_nn g_n^2 + I_mag mu^2

with g_p = g_V^p(s^2_eff), g_n = g_V^n, s^2_eff = sin^2(theta_W) + k <r^2> (Eq. 17) and
mu in 1e-10 mu_B. Each I is (targets x fluence x efficiency) times a one-dimensional
recoil integral; the neutrino-energy integral inside it is done in closed form from the
moments of the source spectrum:

    I_XY  ∝ int dT F_X F_Y [Phi_0(E_min(T)) - (M T / 2) Phi_-2(E_min(T))]
    I_mag ∝ int dT F_Z^2   [Phi_0(E_min(T)) / T - Phi_-1(E_min(T))]

with Phi_k(E0) = int_{E0} eta(E) E^k dE. The recoil integral uses Gauss-Legendre
nodes in ln T, which handles the 1/T of the magnetic term.

Because g_p is linear in s^2_eff and g_n does not depend on it, the count is also a
quadratic polynomial c0 + c1 s + c2 s^2 + c_mu mu^2 (:func:`polynomial_coefficients`).
:func:`polynomial_counts` is the one evaluation of that polynomial: every model (counting,
detector response, NumPy or PyTensor) calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from ..physics import constants as const
from ..physics.cross_sections import (
    em_prefactor_cm2_per_kev,
    max_recoil_kev,
    min_neutrino_energy_mev,
    momentum_transfer_inv_fm,
    neutron_vector_coupling,
    proton_vector_coupling,
    sm_prefactor_cm2_per_kev,
)
from ..physics.form_factors import form_factor_pair
from ..physics.nuclei import Target
from ..physics.sns import FLAVORS, sns_spectrum

__all__ = [
    "PARAMETER_NAMES",
    "ChannelCoefficients",
    "DetectorSetup",
    "RateModel",
    "channel_coefficients",
    "count_monomials",
    "differential_coefficients",
    "flavour_summed_counts",
    "isotope_differential_coefficients",
    "parameter_for_flavor",
    "polynomial_coefficients",
    "polynomial_counts",
]

#: The physics parameters of a study, with their units.
PARAMETER_NAMES: dict[str, str] = {
    "sin2_theta_w": "sin^2(theta_W), dimensionless",
    "mu_nu_mu": "nu_mu magnetic moment, 1e-10 mu_B (acts on numu and numubar)",
    "mu_nu_e": "nu_e magnetic moment, 1e-10 mu_B (acts on nue)",
    "r2_nu_mu": "nu_mu charge radius <r^2>, 1e-32 cm^2 (acts on numu and numubar)",
    "r2_nu_e": "nu_e charge radius <r^2>, 1e-32 cm^2 (acts on nue)",
    "signal_strength": "CEvNS (weak) count as a ratio to its Standard-Model value",
}

#: Proton coupling g_V^p = P0 + P1 s^2 and the constant neutron coupling (Eq. 2).
_P0 = float(proton_vector_coupling(0.0))
_P1 = float(proton_vector_coupling(1.0)) - _P0
_GN = float(neutron_vector_coupling(0.0))


def polynomial_coefficients(i_pp: Any, i_pn: Any, i_nn: Any, i_mag: Any) -> tuple[Any, ...]:
    """Coefficients (c0, c1, c2, c_mu) of N = c0 + c1 s + c2 s^2 + c_mu mu^2 from the rows.

    The rows are the coupling integrals (pp, pn, nn, mag) of N = I_pp g_p^2 +
    2 I_pn g_p g_n + I_nn g_n^2 + I_mag mu^2. Arithmetic only, so they may be NumPy arrays
    or PyTensor tensors (template rows shifted by nuisances).
    """
    c0 = i_pp * _P0**2 + 2 * i_pn * _P0 * _GN + i_nn * _GN**2
    c1 = 2 * i_pp * _P0 * _P1 + 2 * i_pn * _P1 * _GN
    c2 = i_pp * _P1**2
    return c0, c1, c2, i_mag


def _effective_sin2(sin2_theta_w: Any, r2_nu: Any) -> Any:
    """Effective s = sin^2(theta_W) + k <r^2> (Eq. 17, <r^2> in 1e-32 cm^2); arithmetic only."""
    return sin2_theta_w + const.CHARGE_RADIUS_SHIFT * r2_nu


def polynomial_counts(
    coefficients: Any,
    sin2_theta_w: Any,
    r2_nu: Any = 0.0,
    mu_nu_squared: Any = 0.0,
    signal_strength: Any = 1.0,
) -> Any:
    """Expected counts N = S (c0 + c1 s + c2 s^2) + c_mu mu^2: the one evaluation.

    s = sin^2(theta_W) + k <r^2> (Eq. 17), mu^2 in (1e-10 mu_B)^2 and S the CEvNS signal
    strength (the magnetic term is separate physics and not scaled). Arithmetic only, so
    every argument may be a scalar, a NumPy array or a PyTensor tensor (broadcast together).

    Parameters
    ----------
    coefficients : sequence of four arrays or tensors
        (c0, c1, c2, c_mu), e.g. :attr:`ChannelCoefficients.polynomial` or
        :func:`polynomial_coefficients` of template rows.
    sin2_theta_w, r2_nu, mu_nu_squared, signal_strength
        Parameter values: sin^2(theta_W), <r^2> in 1e-32 cm^2, mu^2, S.
    """
    c0, c1, c2, cm = coefficients
    s = _effective_sin2(sin2_theta_w, r2_nu)
    return signal_strength * (c0 + s * (c1 + s * c2)) + cm * mu_nu_squared


def count_monomials(
    sin2_theta_w: Any, r2_nu: Any, mu_nu_squared: Any, signal_strength: Any = 1.0
) -> tuple[Any, Any, Any, Any]:
    """The terms (S, S s, S s^2, mu^2) of :func:`polynomial_counts`, one per coefficient.

    For evaluating the polynomial at many parameter points as a matrix product
    (:meth:`RateModel.counts`); agrees with :func:`polynomial_counts` to rounding.
    """
    s = _effective_sin2(sin2_theta_w, r2_nu)
    weak_s = signal_strength * s
    return signal_strength, weak_s, weak_s * s, mu_nu_squared


def flavour_summed_counts(rows: Any, flavors: Sequence[str], value: Callable[[str], Any]) -> Any:
    """Counts summed over flavours from coupling rows, shape (n_flavours, 4, n_bins).

    ``value(name)`` gives each parameter's value (NumPy or PyTensor); the signal strength
    is not applied (response models scale the whole CEvNS count by it).
    """
    total: Any = 0.0
    s2 = value("sin2_theta_w")
    for i, flavor in enumerate(flavors):
        mu_name, r2_name = parameter_for_flavor(flavor)
        mu = value(mu_name)
        coefficients = polynomial_coefficients(rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3])
        total = total + polynomial_counts(coefficients, s2, value(r2_name), mu * mu)
    return total


def parameter_for_flavor(flavor: str) -> tuple[str, str]:
    """Names of the magnetic-moment and charge-radius parameters acting on ``flavor``.

    The paper's convention: nu_mu and anti-nu_mu share mu_nu_mu and <r^2_nu_mu>.
    """
    if flavor in ("numu", "numubar"):
        return "mu_nu_mu", "r2_nu_mu"
    if flavor == "nue":
        return "mu_nu_e", "r2_nu_e"
    raise ValueError(f"unknown flavour {flavor!r}: expected one of {', '.join(FLAVORS)}")


@dataclass(frozen=True)
class DetectorSetup:
    """Everything Eq. (9) needs for one detector, in physical units.

    Attributes
    ----------
    name : str
        Detector label.
    target : Target
        Target material (isotope, compound or natural mixture).
    mass_kg : float
        Target mass in kg.
    fluence_per_cm2 : float
        Time-integrated neutrino fluence per flavour at the detector, nu/cm^2
        (flux per flavour times exposure).
    efficiency : float or callable
        Detection efficiency: a constant, or a function of recoil energy in keV.
    recoil_window_kev : (float, float or None)
        Recoil-energy window in keV; ``None`` as the upper edge means the kinematic maximum.
    form_factor : str
        Form-factor model name (see :mod:`cenns_bayes.physics.form_factors`).
    neutron_skin_fm : float
        r_n - r_p of the point rms radii for phenomenological form factors, fm.
    prompt_energy_mev : float
        Energy of the prompt nu_mu line, MeV.
    bin_edges_kev : tuple of float or None
        Recoil-energy bin edges in keV inside the window, or None for a single count.
    """

    name: str
    target: Target
    mass_kg: float
    fluence_per_cm2: float
    efficiency: float | Callable[[np.ndarray], np.ndarray] = 1.0
    recoil_window_kev: tuple[float, float | None] = (1.0, None)
    form_factor: str = "helm"
    neutron_skin_fm: float = 0.0
    prompt_energy_mev: float = const.PAPER_PROMPT_ENERGY_MEV
    bin_edges_kev: tuple[float, ...] | None = None

    def max_recoil_kev(self, flavor: str | None = None) -> float:
        """Largest recoil any component of the target can receive, keV (from one flavour or all)."""
        flavors = FLAVORS if flavor is None else (flavor,)
        e_max = max(sns_spectrum(f, self.prompt_energy_mev).max_energy_mev for f in flavors)
        return float(max_recoil_kev(e_max, self.target.min_nucleus_mass_mev))

    def edges_kev(self) -> np.ndarray:
        """Bin edges in keV: the window itself when unbinned (upper edge resolved)."""
        if self.bin_edges_kev is not None:
            return np.asarray(self.bin_edges_kev, dtype=float)
        lo, hi = self.recoil_window_kev
        return np.array([lo, self.max_recoil_kev() if hi is None else hi])


@dataclass(frozen=True)
class ChannelCoefficients:
    """Exact count coefficients of one detector x flavour channel (per recoil bin).

    ``i_pp``, ``i_pn``, ``i_nn``, ``i_mag`` have shape ``(n_bins,)``; an unbinned channel
    has one bin. Counts: N = i_pp g_p^2 + 2 i_pn g_p g_n + i_nn g_n^2 + i_mag mu^2.
    """

    detector: str
    flavor: str
    bin_edges_kev: np.ndarray
    i_pp: np.ndarray
    i_pn: np.ndarray
    i_nn: np.ndarray
    i_mag: np.ndarray

    @property
    def mu_parameter(self) -> str:
        """Name of the magnetic-moment parameter acting on this channel."""
        return parameter_for_flavor(self.flavor)[0]

    @property
    def r2_parameter(self) -> str:
        """Name of the charge-radius parameter acting on this channel."""
        return parameter_for_flavor(self.flavor)[1]

    @property
    def polynomial(self) -> np.ndarray:
        """Coefficients ``(c0, c1, c2, c_mu)``, shape (4, n_bins).

        N = c0 + c1 s + c2 s^2 + c_mu mu^2.
        """
        return np.stack(polynomial_coefficients(self.i_pp, self.i_pn, self.i_nn, self.i_mag))

    def counts(self, sin2_theta_w=const.SIN2_THETA_W_PAPER, mu_nu=0.0, r2_nu=0.0) -> np.ndarray:
        """Expected counts per bin (broadcast over parameter arrays: shape (..., n_bins))."""
        mu = np.asarray(mu_nu, dtype=float)[..., None]
        return polynomial_counts(
            self.polynomial,
            np.asarray(sin2_theta_w, dtype=float)[..., None],
            np.asarray(r2_nu, dtype=float)[..., None],
            mu * mu,
        )


#: Parameter values that :meth:`RateModel.counts` treats as one point without array set-up.
_SCALAR_TYPES = (float, int, np.floating, np.integer)


@lru_cache(maxsize=16)
def _legendre_nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (cached: computing them dominates a channel)."""
    x, w = np.polynomial.legendre.leggauss(n)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def _log_gauss_nodes(lo: float, hi: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights for int_lo^hi f(T) dT done in u = ln T."""
    x, w = _legendre_nodes(n)
    a, b = np.log(lo), np.log(hi)
    u = 0.5 * (b - a) * x + 0.5 * (b + a)
    t = np.exp(u)
    return t, w * 0.5 * (b - a) * t


def _component_integrands(
    setup: DetectorSetup, flavor: str, comp_index: int, recoil_kev: np.ndarray
) -> np.ndarray:
    """Counts per keV (pp, pn, nn, mag) of one target isotope, unit efficiency, shape (4, n)."""
    comp = setup.target.components[comp_index]
    nuc = comp.nucleus
    spectrum = sns_spectrum(flavor, setup.prompt_energy_mev)
    n_targets = setup.mass_kg * comp.atoms_per_formula_unit / setup.target.formula_mass_kg
    m = nuc.mass_mev
    f_z, f_n = form_factor_pair(setup.form_factor, nuc, setup.neutron_skin_fm)
    q = momentum_transfer_inv_fm(recoil_kev, m)
    z_fz, n_fn = nuc.Z * f_z(q), nuc.N * f_n(q)
    e_min = min_neutrino_energy_mev(recoil_kev, m)
    phi0 = spectrum.moment(0, e_min)
    t_mev = recoil_kev * 1e-3
    # Energy integrals of the kinematic factors of Eqs. (3) and (6), exact from the moments.
    sm_energy = np.clip(phi0 - 0.5 * m * t_mev * spectrum.moment(-2, e_min), 0.0, None)
    em_energy = np.clip(phi0 / t_mev - spectrum.moment(-1, e_min), 0.0, None)
    norm = n_targets * setup.fluence_per_cm2
    sm = norm * sm_prefactor_cm2_per_kev(m) * sm_energy
    em = norm * em_prefactor_cm2_per_kev() * em_energy
    return np.stack([sm * z_fz**2, sm * z_fz * n_fn, sm * n_fn**2, em * z_fz**2])


def _efficiency(setup: DetectorSetup, recoil_kev: np.ndarray) -> np.ndarray:
    if callable(setup.efficiency):
        return np.asarray(setup.efficiency(recoil_kev), dtype=float)
    return np.full_like(recoil_kev, float(setup.efficiency))


def differential_coefficients(
    setup: DetectorSetup, flavor: str, recoil_kev: np.ndarray
) -> np.ndarray:
    """Differential coefficients dI/dT on a recoil grid, counts/keV, shape (4, n).

    Rows are (pp, pn, nn, mag) as in :class:`ChannelCoefficients`, summed over the
    target's isotopes, with the setup's efficiency applied. For detector-response
    calculations that need the recoil spectrum.
    """
    t = np.asarray(recoil_kev, dtype=float)
    total = sum(
        _component_integrands(setup, flavor, i, t) for i in range(len(setup.target.components))
    )
    return total * _efficiency(setup, t)


def isotope_differential_coefficients(
    setup: DetectorSetup, flavor: str, component: int, recoil_kev: np.ndarray
) -> np.ndarray:
    """The part of :func:`differential_coefficients` from one isotope of the target, (4, n).

    ``component`` indexes ``setup.target.components``; summed over all components this gives
    :func:`differential_coefficients`. Per-isotope neutron-radius templates use it.
    """
    t = np.asarray(recoil_kev, dtype=float)
    return _component_integrands(setup, flavor, component, t) * _efficiency(setup, t)


def channel_coefficients(
    setup: DetectorSetup, flavor: str, n_nodes: int = 64
) -> ChannelCoefficients:
    """Integrate the coefficients of one detector x flavour channel over each recoil bin.

    Each isotope is integrated up to its own kinematic end point, so the integrand is
    smooth on every Gauss-Legendre interval.

    Parameters
    ----------
    setup : DetectorSetup
    flavor : {"numu", "numubar", "nue"}
    n_nodes : int
        Gauss-Legendre nodes (in ln T) per bin and isotope; 64 gives ~1e-10 relative accuracy.
    """
    edges = setup.edges_kev()
    e_max = sns_spectrum(flavor, setup.prompt_energy_mev).max_energy_mev
    values = np.zeros((4, edges.size - 1))
    for k, comp in enumerate(setup.target.components):
        t_top = float(max_recoil_kev(e_max, comp.nucleus.mass_mev))
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            hi = min(hi, t_top)
            if hi <= lo:
                continue
            t, w = _log_gauss_nodes(lo, hi, n_nodes)
            values[:, i] += (_component_integrands(setup, flavor, k, t) * _efficiency(setup, t)) @ w
    return ChannelCoefficients(setup.name, flavor, edges, *values)


@dataclass
class RateModel:
    """A set of channels (detector x flavour, possibly binned) evaluated together.

    Counts for any parameter values come from the stacked polynomial coefficients;
    parameters are given as a mapping from :data:`PARAMETER_NAMES` to scalars or arrays
    (broadcast together), and the result has shape ``(..., n_bins_total)``.
    """

    channels: Sequence[ChannelCoefficients]
    _poly: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._poly = np.concatenate([ch.polynomial for ch in self.channels], axis=1)

    @cached_property
    def labels(self) -> list[tuple[str, str, int]]:
        """(detector, flavour, bin index) for each column of :meth:`counts`."""
        return [(ch.detector, ch.flavor, i) for ch in self.channels for i in range(ch.i_pp.size)]

    @cached_property
    def mu_index(self) -> np.ndarray:
        """For each column, 0 when mu_nu_mu acts on it and 1 for mu_nu_e."""
        return np.array([0 if f != "nue" else 1 for _, f, _ in self.labels])

    @property
    def polynomial(self) -> np.ndarray:
        """Stacked coefficients (c0, c1, c2, c_mu), shape (4, n_columns)."""
        return self._poly

    @cached_property
    def _weights(self) -> np.ndarray:
        """Coefficient matrix W, shape (7, n_columns): counts = features @ W.

        Feature rows (per parameter point): S, S s_mu, S s_mu^2, S s_e, S s_e^2, mu_mu^2,
        mu_e^2, with S the signal strength and s_f = sin^2(theta_W) + k <r^2>_f. A column
        of flavour f has its (c0, c1, c2) in the rows of f's s and its c_mu in f's mu^2 row.
        """
        c0, c1, c2, cm = self._poly
        is_e = self.mu_index == 1
        w = np.zeros((7, c0.size))
        w[0] = c0
        w[1], w[2] = np.where(is_e, 0.0, c1), np.where(is_e, 0.0, c2)
        w[3], w[4] = np.where(is_e, c1, 0.0), np.where(is_e, c2, 0.0)
        w[5], w[6] = np.where(is_e, 0.0, cm), np.where(is_e, cm, 0.0)
        return w

    @staticmethod
    def _features(strength, s2, r2_mu, r2_e, mu_mu, mu_e) -> tuple:
        """The rows of :attr:`_weights`' features: :func:`count_monomials` of each flavour."""
        m0, m1_mu, m2_mu, mu2_mu = count_monomials(s2, r2_mu, mu_mu * mu_mu, strength)
        _, m1_e, m2_e, mu2_e = count_monomials(s2, r2_e, mu_e * mu_e, strength)
        return m0, m1_mu, m2_mu, m1_e, m2_e, mu2_mu, mu2_e

    #: Parameter points per block in :meth:`counts`: the block's features (7 x block
    #: doubles, 0.9 MB) and their temporaries stay in cache, and no temporary grows with the
    #: number of points. 2^14 was the fastest of 2^12, 2^14 and 2^16 side by side
    #: (docs/benchmarks.md).
    BLOCK_POINTS = 1 << 14

    def counts(
        self, parameters: Mapping[str, float | np.ndarray], out: np.ndarray | None = None
    ) -> np.ndarray:
        """Expected counts in every column for ``parameters`` (missing ones take their SM value).

        Parameters
        ----------
        parameters : mapping
            Values of :data:`PARAMETER_NAMES` (scalars or arrays, broadcast together).
        out : ndarray, optional
            Float64 C-contiguous array of shape ``(*broadcast shape, n_columns)`` to write
            into (saves allocating the result when called repeatedly).

        Returns
        -------
        ndarray
            Shape ``(*broadcast shape, n_columns)``.

        Notes
        -----
        The counts are a matrix product of per-point features (7 numbers) with the
        coefficient matrix :attr:`_weights`, evaluated in blocks of
        :attr:`BLOCK_POINTS` points: the only temporaries are one block's features, so
        10^6 points x 12 columns cost little more than writing the result.
        """
        p: dict[str, float | np.ndarray] = {
            "sin2_theta_w": const.SIN2_THETA_W_PAPER,
            "mu_nu_mu": 0.0,
            "mu_nu_e": 0.0,
            "r2_nu_mu": 0.0,
            "r2_nu_e": 0.0,
            "signal_strength": 1.0,
        }
        unknown = set(parameters) - set(p)
        if unknown:
            raise KeyError(f"unknown parameter(s) {sorted(unknown)}; expected {list(p)}")
        p.update(parameters)
        names = ("signal_strength", "sin2_theta_w", "r2_nu_mu", "r2_nu_e", "mu_nu_mu", "mu_nu_e")
        raw = [p[name] for name in names]
        if out is None and all(isinstance(v, _SCALAR_TYPES) for v in raw):
            # one point: fits call this in their inner loop, so skip the array machinery
            return np.array(self._features(*(float(v) for v in raw))) @ self._weights
        values = [np.asarray(v, dtype=float) for v in raw]
        shape = np.broadcast_shapes(*(v.shape for v in values))
        n_points = int(np.prod(shape))
        flat = [np.broadcast_to(v, shape).reshape(-1) if v.ndim else v for v in values]
        n_cols = self._poly.shape[1]
        if out is None:
            out = np.empty((*shape, n_cols))
        elif out.shape != (*shape, n_cols) or out.dtype != np.float64 or not out.flags.c_contiguous:
            raise ValueError(
                f"out must be a C-contiguous float64 array of shape "
                f"{(*shape, n_cols)}, got {out.dtype} {out.shape}"
            )
        out2 = out.reshape(n_points, n_cols)
        w = self._weights
        block = min(self.BLOCK_POINTS, max(n_points, 1))
        feats = np.empty((7, block))
        for start in range(0, n_points, block):
            stop = min(start + block, n_points)
            m = stop - start
            f = feats[:, :m]
            # this block's values (arrays, unlike the floats of the one-point branch above)
            strength_blk, s2_blk, r2_mu_blk, r2_e_blk, mu_mu_blk, mu_e_blk = (
                v if v.ndim == 0 else v[start:stop] for v in flat
            )
            for row, feature in zip(
                f,
                self._features(strength_blk, s2_blk, r2_mu_blk, r2_e_blk, mu_mu_blk, mu_e_blk),
                strict=True,
            ):
                row[...] = feature
            np.matmul(f.T, w, out=out2[start:stop])
        return out

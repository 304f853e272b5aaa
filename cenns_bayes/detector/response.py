"""Detector response: quenching, light yield, Poisson photo-electrons, efficiency, binning, timing.

Chain for a scintillator such as CsI[Na] (COHERENT 2017 data release, REFERENCE.md §3):

1. A nuclear recoil of kinetic energy ``T`` (keVnr) gives on average
   ``μ(T) = QF(T) · T · LY`` photo-electrons (PE), with the quenching factor
   ``QF`` (keVee/keVnr, a constant or a callable of ``recoil_kev``) and the light
   yield ``LY`` (PE/keVee).
2. The number of photo-electrons is Poisson distributed with mean ``μ(T)``, so the
   expected count with exactly ``n`` PE is
   ``c_n = ∫ dT (dN/dT) Poisson(n; μ(T))``. On a recoil grid this is a matrix
   ``c = M · (dN/dT)`` with ``M[n, j] = w_j Poisson(n; μ(T_j))`` and trapezoid
   weights ``w_j`` (keV); it is computed once and applied to any number of
   spectra (e.g. the coefficient components of the rates layer, stacked on
   leading axes). Counts are conserved: ``Σ_{n≤n_max} c_n + overflow = Σ_j w_j dN/dT_j``,
   with the overflow (events with more than ``n_max`` PE) returned explicitly.
3. An event with ``n`` PE is put in a 1-PE histogram bin, and the acceptance
   efficiency is evaluated at that bin's centre (the release's prescription).
   The release does not say which bin an event with exactly ``n`` PE belongs
   to; ``pe_bin_convention`` makes the choice explicit:

   * ``"n_minus_half"`` (default, as in REFERENCE.md §4.2): ``n`` PE → the bin
     ``[n−1, n)`` with centre ``n − ½``; the first bin (centre 0.5) holds n = 1,
     and n = 0 falls below the histogram;
   * ``"n_plus_half"``: ``n`` PE → the bin ``[n, n+1)`` with centre ``n + ½``;
     the first bin holds n = 0.

   The choice moves the predicted CsI CEvNS count in 6–30 PE by about 15 %.
4. The 1-PE bins are summed into the analysis bins (2 PE for the release) and
   multiplied by an arrival-time PDF of the component (prompt for ν_μ, delayed
   for ν_e and ν̄_μ), giving an expectation indexed ``[..., pe_bin, time_bin]``.

Units: recoil energies in keV (nuclear recoil), PE counts dimensionless,
differential spectra in events/keV, times in µs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "ARRIVAL_TIME_COMPONENT",
    "DEFAULT_PE_BIN_CONVENTION",
    "DetectorResponse",
    "PeBinConvention",
    "PhotoelectronSmearing",
    "QuenchingModel",
    "ReleaseEfficiency",
    "ResponseMatrix",
    "SmearedCounts",
    "analysis_region_mask",
    "counts_in_one_pe_bins",
    "mean_photoelectrons",
    "pe_bin_centre_of_count",
    "pe_time_expectation",
    "prompt_neutron_template",
    "quenching_factor",
    "rebin",
    "release_step_function",
    "required_n_pe_max",
    "time_pdf_by_flavour",
    "trapezoid_weights_kev",
]

#: Which 1-PE bin an event with exactly n photo-electrons falls in (see module docstring).
PeBinConvention = Literal["n_minus_half", "n_plus_half"]
#: Default convention, the one of REFERENCE.md §4.2.
DEFAULT_PE_BIN_CONVENTION: PeBinConvention = "n_minus_half"

#: A quenching factor: a constant, or a callable ``recoil_kev -> QF`` (keVee/keVnr).
QuenchingModel = float | Callable[[NDArray[np.float64]], NDArray[np.float64]]

#: Arrival-time component of each neutrino flavour at a pion decay-at-rest source.
ARRIVAL_TIME_COMPONENT: Mapping[str, str] = {
    "numu": "prompt",
    "nue": "delayed",
    "numubar": "delayed",
}


def _check_convention(pe_bin_convention: str) -> None:
    if pe_bin_convention not in get_args(PeBinConvention):
        raise ValueError(
            f"pe_bin_convention must be one of {get_args(PeBinConvention)}, "
            f"got {pe_bin_convention!r}"
        )


# --------------------------------------------------------------------------- light


def quenching_factor(recoil_kev: ArrayLike, qf: QuenchingModel) -> NDArray[np.float64]:
    """Quenching factor at each recoil energy.

    Parameters
    ----------
    recoil_kev : array_like
        Nuclear-recoil kinetic energy (keV).
    qf : float or callable
        Constant QF, or a callable mapping ``recoil_kev`` (ndarray) to QF.

    Returns
    -------
    ndarray
        QF (keVee/keVnr), same shape as ``recoil_kev``.

    """
    recoil = np.asarray(recoil_kev, dtype=float)
    values = np.asarray(
        qf(recoil) if callable(qf) else np.full_like(recoil, float(qf)), dtype=float
    )
    if values.shape != recoil.shape:
        values = np.broadcast_to(values, recoil.shape).copy()
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ValueError("quenching factor must be finite and non-negative")
    return values


def mean_photoelectrons(
    recoil_kev: ArrayLike, qf: QuenchingModel, light_yield_pe_per_kevee: float
) -> NDArray[np.float64]:
    """Mean number of photo-electrons ``μ = QF(T) · T · LY``.

    Parameters
    ----------
    recoil_kev : array_like
        Nuclear-recoil kinetic energy (keV).
    qf : float or callable
        Quenching factor, constant or ``recoil_kev -> QF``.
    light_yield_pe_per_kevee : float
        Light yield (PE per keV electron-equivalent).

    Returns
    -------
    ndarray
        Mean PE count, same shape as ``recoil_kev``.

    """
    if light_yield_pe_per_kevee < 0:
        raise ValueError("light_yield_pe_per_kevee must be >= 0")
    recoil = np.asarray(recoil_kev, dtype=float)
    return quenching_factor(recoil, qf) * recoil * light_yield_pe_per_kevee


# --------------------------------------------------------------------------- smearing


def trapezoid_weights_kev(recoil_kev: ArrayLike) -> NDArray[np.float64]:
    """Trapezoid-rule weights (keV) on a strictly increasing recoil grid.

    ``Σ_j w_j f(T_j)`` equals ``numpy.trapezoid(f, recoil_kev)``.
    """
    grid = np.asarray(recoil_kev, dtype=float)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError("recoil_kev must be a 1-D grid with at least two points")
    steps = np.diff(grid)
    if np.any(steps <= 0):
        raise ValueError("recoil_kev must be strictly increasing")
    weights = np.zeros_like(grid)
    weights[:-1] += 0.5 * steps
    weights[1:] += 0.5 * steps
    return weights


class SmearedCounts(NamedTuple):
    """Expected counts per exact photo-electron number.

    Attributes
    ----------
    counts_per_pe : ndarray, shape (..., n_pe_max + 1)
        Expected events with exactly n = 0, 1, …, n_pe_max photo-electrons.
    overflow : ndarray, shape (...)
        Expected events with more than ``n_pe_max`` photo-electrons (truncated).

    """

    counts_per_pe: NDArray[np.float64]
    overflow: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class PhotoelectronSmearing:
    """Poisson photo-electron smearing on a fixed recoil grid, as a linear map.

    Build with :meth:`build`. ``matrix @ dn_dt_per_kev`` gives the expected
    events with exactly n PE for n = 0 … ``n_pe_max``; ``overflow_weights_kev @ dn_dt_per_kev``
    gives the events above ``n_pe_max``. The overflow is computed from the
    Poisson survival function, independently of the matrix, so that
    ``matrix.sum(0) + overflow_weights_kev == quadrature_weights_kev`` is a check,
    not an identity by construction.

    Attributes
    ----------
    recoil_kev : ndarray, shape (n_T,)
        Recoil grid (keV).
    mean_pe : ndarray, shape (n_T,)
        ``μ(T_j)``.
    quadrature_weights_kev : ndarray, shape (n_T,)
        Integration weights (keV).
    n_pe_max : int
        Largest photo-electron number kept.
    matrix : ndarray, shape (n_pe_max + 1, n_T)
        ``w_j · Poisson(n; μ(T_j))`` (keV).
    overflow_weights_kev : ndarray, shape (n_T,)
        ``w_j · P(N > n_pe_max; μ(T_j))`` (keV).

    """

    recoil_kev: NDArray[np.float64]
    mean_pe: NDArray[np.float64]
    quadrature_weights_kev: NDArray[np.float64]
    n_pe_max: int
    matrix: NDArray[np.float64]
    overflow_weights_kev: NDArray[np.float64]

    @classmethod
    def build(
        cls,
        recoil_kev: ArrayLike,
        qf: QuenchingModel,
        light_yield_pe_per_kevee: float,
        n_pe_max: int,
        quadrature_weights_kev: ArrayLike | None = None,
    ) -> PhotoelectronSmearing:
        """Build the smearing map.

        Parameters
        ----------
        recoil_kev : array_like, shape (n_T,)
            Strictly increasing recoil-energy grid (keV).
        qf : float or callable
            Quenching factor, constant or ``recoil_kev -> QF``.
        light_yield_pe_per_kevee : float
            Light yield (PE/keVee).
        n_pe_max : int
            Largest exact photo-electron number to return.
        quadrature_weights_kev : array_like, optional
            Integration weights on the grid (keV); default: trapezoid rule.

        Returns
        -------
        PhotoelectronSmearing

        """
        grid = np.asarray(recoil_kev, dtype=float)
        weights = (
            trapezoid_weights_kev(grid)
            if quadrature_weights_kev is None
            else np.asarray(quadrature_weights_kev, float)
        )
        if weights.shape != grid.shape:
            raise ValueError("quadrature_weights_kev must have the shape of recoil_kev")
        if int(n_pe_max) != n_pe_max or n_pe_max < 0:
            raise ValueError("n_pe_max must be a non-negative integer")
        n_pe_max = int(n_pe_max)
        mean_pe = mean_photoelectrons(grid, qf, light_yield_pe_per_kevee)
        n = np.arange(n_pe_max + 1)[:, None]
        probabilities = stats.poisson.pmf(n, mean_pe[None, :])
        overflow_probability = stats.poisson.sf(n_pe_max, mean_pe)
        arrays = {
            "recoil_kev": grid.copy(),
            "mean_pe": mean_pe,
            "quadrature_weights_kev": weights.copy(),
            "matrix": probabilities * weights[None, :],
            "overflow_weights_kev": overflow_probability * weights,
        }
        for array in arrays.values():
            array.setflags(write=False)
        return cls(n_pe_max=n_pe_max, **arrays)

    def apply(self, dn_dt_per_kev: ArrayLike) -> SmearedCounts:
        """Smear differential spectra.

        Parameters
        ----------
        dn_dt_per_kev : array_like, shape (..., n_T)
            Differential event spectra (events/keV) on ``recoil_kev``; any
            leading axes (components, flavours, isotopes) are carried through.

        Returns
        -------
        SmearedCounts
            ``counts_per_pe`` of shape (..., n_pe_max + 1) and ``overflow`` of shape (...).

        """
        spectra = np.asarray(dn_dt_per_kev, dtype=float)
        if spectra.shape[-1:] != self.recoil_kev.shape:
            raise ValueError(f"last axis of dn_dt_per_kev must have length {self.recoil_kev.size}")
        return SmearedCounts(spectra @ self.matrix.T, spectra @ self.overflow_weights_kev)

    def integral(self, dn_dt_per_kev: ArrayLike) -> NDArray[np.float64]:
        """``∫ dN/dT dT`` with the same quadrature (events), shape (...)."""
        return np.asarray(dn_dt_per_kev, dtype=float) @ self.quadrature_weights_kev


def required_n_pe_max(
    n_one_pe_bins: int, pe_bin_convention: PeBinConvention = DEFAULT_PE_BIN_CONVENTION
) -> int:
    """Largest photo-electron number that lands in ``n_one_pe_bins`` 1-PE bins starting at 0 PE.

    ``n_one_pe_bins`` for ``"n_minus_half"`` (bin i holds n = i + 1), ``n_one_pe_bins − 1``
    for ``"n_plus_half"`` (bin i holds n = i).
    """
    _check_convention(pe_bin_convention)
    return n_one_pe_bins if pe_bin_convention == "n_minus_half" else n_one_pe_bins - 1


def pe_bin_centre_of_count(
    n_pe: ArrayLike, pe_bin_convention: PeBinConvention = DEFAULT_PE_BIN_CONVENTION
) -> NDArray[np.float64]:
    """Centre (PE) of the 1-PE bin that holds events with exactly ``n_pe`` photo-electrons.

    ``n − ½`` for ``"n_minus_half"``, ``n + ½`` for ``"n_plus_half"``.
    """
    _check_convention(pe_bin_convention)
    offset = -0.5 if pe_bin_convention == "n_minus_half" else 0.5
    return np.asarray(n_pe, dtype=float) + offset


def counts_in_one_pe_bins(
    counts_per_pe: ArrayLike,
    n_one_pe_bins: int,
    pe_bin_convention: PeBinConvention = DEFAULT_PE_BIN_CONVENTION,
) -> NDArray[np.float64]:
    """Place counts per exact PE number into the 1-PE histogram bins ``[i, i+1)``.

    The bins are i = 0 … ``n_one_pe_bins`` − 1, starting at 0 PE.

    Parameters
    ----------
    counts_per_pe : array_like, shape (..., n_pe_max + 1)
        Expected events with exactly n = 0 … n_pe_max photo-electrons.
    n_one_pe_bins : int
        Number of 1-PE bins (50 for 0–50 PE).
    pe_bin_convention : {"n_minus_half", "n_plus_half"}
        Which bin holds events with exactly n PE (module docstring).

    Returns
    -------
    ndarray, shape (..., n_one_pe_bins)
        Expected events per 1-PE bin. Under ``"n_minus_half"`` the n = 0 entry
        lies below the histogram and is dropped; entries above the last bin
        are dropped (they are outside the histogram's PE range).

    Raises
    ------
    ValueError
        If ``counts_per_pe`` stops before the last bin's photo-electron number
        (see :func:`required_n_pe_max`).

    """
    counts = np.asarray(counts_per_pe, dtype=float)
    n_needed = required_n_pe_max(n_one_pe_bins, pe_bin_convention) + 1
    if counts.shape[-1] < n_needed:
        raise ValueError(
            f"counts_per_pe covers n = 0 … {counts.shape[-1] - 1}; {n_one_pe_bins} bins with "
            f"{pe_bin_convention!r} need n up to {n_needed - 1}"
        )
    start = 1 if pe_bin_convention == "n_minus_half" else 0
    return counts[..., start : start + n_one_pe_bins].copy()


# --------------------------------------------------------------------------- efficiency


def release_step_function(x_pe: ArrayLike) -> NDArray[np.float64]:
    """Evaluate the modified step H of the COHERENT 2017 efficiency.

    H = 0 for x < 5, ½ for 5 ≤ x < 6, 1 for x ≥ 6 (x in PE).
    """
    x = np.asarray(x_pe, dtype=float)
    return np.where(x < 5.0, 0.0, np.where(x < 6.0, 0.5, 1.0))


@dataclass(frozen=True)
class ReleaseEfficiency:
    """Acceptance efficiency of the COHERENT CsI 2017 release.

    ``f(x) = a / (1 + exp(−k (x − x₀))) · H(x)`` with x in PE and ``H`` from
    :func:`release_step_function`. The release applies it to predicted
    distributions in 1-PE bins, evaluated at the bin centre (REFERENCE.md §3.1).

    Attributes
    ----------
    a : float
        Plateau (dimensionless); release value 0.6655.
    k_per_pe : float
        Slope (PE⁻¹); release value 0.4942.
    x0_pe : float
        Midpoint (PE); release value 10.8507.

    """

    a: float
    k_per_pe: float
    x0_pe: float

    def __call__(self, x_pe: ArrayLike) -> NDArray[np.float64]:
        """Efficiency at ``x_pe`` (PE)."""
        x = np.asarray(x_pe, dtype=float)
        logistic = self.a * 0.5 * (1.0 + np.tanh(0.5 * self.k_per_pe * (x - self.x0_pe)))
        return logistic * release_step_function(x)


def _efficiency_at(
    efficiency: Callable[[NDArray[np.float64]], ArrayLike] | None, x_pe: NDArray[np.float64]
) -> NDArray[np.float64]:
    if efficiency is None:
        return np.ones_like(x_pe)
    values = np.broadcast_to(np.asarray(efficiency(x_pe), dtype=float), x_pe.shape)
    if np.any(values < 0) or np.any(values > 1) or np.any(~np.isfinite(values)):
        raise ValueError("efficiency values must lie in [0, 1]")
    return np.array(values)


# --------------------------------------------------------------------------- binning


def rebin(counts: ArrayLike, factor: int, axis: int = -1) -> NDArray[np.float64]:
    """Sum groups of ``factor`` consecutive bins along ``axis``.

    Parameters
    ----------
    counts : array_like
        Histogram(s).
    factor : int
        Number of fine bins per coarse bin; must divide the axis length.
    axis : int
        Axis to rebin (default: last).

    Returns
    -------
    ndarray
        Rebinned counts; the total is unchanged.

    """
    array = np.moveaxis(np.asarray(counts, dtype=float), axis, -1)
    if factor < 1 or array.shape[-1] % factor:
        raise ValueError(f"factor {factor} does not divide the axis length {array.shape[-1]}")
    coarse = array.reshape(*array.shape[:-1], array.shape[-1] // factor, factor).sum(axis=-1)
    return np.moveaxis(coarse, -1, axis)


def _edge_index(edges: NDArray[np.float64], value: float, name: str) -> int:
    matches = np.flatnonzero(np.isclose(edges, value, rtol=0.0, atol=1e-9 * max(1.0, abs(value))))
    if matches.size != 1:
        raise ValueError(f"{name} boundary {value} is not a bin edge of {edges.tolist()}")
    return int(matches[0])


def analysis_region_mask(
    pe_edges: ArrayLike,
    time_edges_us: ArrayLike,
    pe_range: tuple[float, float] = (6.0, 30.0),
    time_range_us: tuple[float, float] = (0.0, 12.0),
) -> NDArray[np.bool_]:
    """Boolean mask of the bins inside an analysis region.

    Parameters
    ----------
    pe_edges : array_like, shape (n_pe + 1,)
        PE bin edges.
    time_edges_us : array_like, shape (n_time + 1,)
        Arrival-time bin edges (µs).
    pe_range : (float, float)
        Region in PE; both ends must be bin edges (default 6–30 PE).
    time_range_us : (float, float)
        Region in µs; both ends must be bin edges (default 0–12 µs).

    Returns
    -------
    ndarray of bool, shape (n_pe, n_time)
        True for bins inside the region.

    """
    pe = np.asarray(pe_edges, dtype=float)
    time = np.asarray(time_edges_us, dtype=float)
    i0, i1 = (_edge_index(pe, value, "pe_range") for value in pe_range)
    j0, j1 = (_edge_index(time, value, "time_range_us") for value in time_range_us)
    if i1 <= i0 or j1 <= j0:
        raise ValueError("analysis ranges must be increasing and non-empty")
    mask = np.zeros((pe.size - 1, time.size - 1), dtype=bool)
    mask[i0:i1, j0:j1] = True
    return mask


# --------------------------------------------------------------------------- timing


def pe_time_expectation(
    pe_counts: ArrayLike, time_pdf: ArrayLike, *, check_normalisation: bool = True
) -> NDArray[np.float64]:
    """Outer product of a PE spectrum and an arrival-time PDF.

    Parameters
    ----------
    pe_counts : array_like, shape (..., n_pe)
        Expected counts per PE bin.
    time_pdf : array_like, shape (n_time,)
        Fraction of the component in each time bin.
    check_normalisation : bool
        Require ``time_pdf`` to sum to one (to 1e-6), so that the outer product
        keeps the total.

    Returns
    -------
    ndarray, shape (..., n_pe, n_time)
        Expected counts per (PE, time) bin.

    """
    pdf = np.asarray(time_pdf, dtype=float)
    if pdf.ndim != 1 or np.any(pdf < 0):
        raise ValueError("time_pdf must be a 1-D array of non-negative fractions")
    if check_normalisation and abs(pdf.sum() - 1.0) > 1e-6:
        raise ValueError(f"time_pdf sums to {pdf.sum()!r}, not 1")
    return np.asarray(pe_counts, dtype=float)[..., :, None] * pdf


def time_pdf_by_flavour(
    prompt_pdf: ArrayLike, delayed_pdf: ArrayLike
) -> dict[str, NDArray[np.float64]]:
    """Return the arrival-time PDF of each flavour.

    Prompt for ``numu``, delayed for ``nue`` and ``numubar`` (the project's flavour names,
    :data:`ARRIVAL_TIME_COMPONENT`).
    """
    pdfs = {
        "prompt": np.asarray(prompt_pdf, dtype=float),
        "delayed": np.asarray(delayed_pdf, dtype=float),
    }
    return {flavour: pdfs[component] for flavour, component in ARRIVAL_TIME_COMPONENT.items()}


# --------------------------------------------------------------------------- full chain


@dataclass(frozen=True, eq=False)
class ResponseMatrix:
    """Linear map from a differential recoil spectrum to counts in analysis PE bins.

    Attributes
    ----------
    smearing : PhotoelectronSmearing
        The underlying photo-electron smearing.
    pe_edges : ndarray, shape (n_bins + 1,)
        Edges of the analysis PE bins.
    one_pe_efficiency : ndarray, shape (n_one_pe_bins,)
        Efficiency applied to each 1-PE bin (at its centre).
    matrix : ndarray, shape (n_bins, n_T)
        Expected counts per analysis bin per unit dN/dT (keV), efficiency included.
    matrix_before_efficiency : ndarray, shape (n_bins, n_T)
        The same without the efficiency.
    outside_weights_kev : ndarray, shape (n_T,)
        Weight of events outside the PE histogram (below its first bin, or above
        its last bin including the truncation overflow), before efficiency.

    """

    smearing: PhotoelectronSmearing
    pe_edges: NDArray[np.float64]
    one_pe_efficiency: NDArray[np.float64]
    matrix: NDArray[np.float64]
    matrix_before_efficiency: NDArray[np.float64]
    outside_weights_kev: NDArray[np.float64]

    def apply(self, dn_dt_per_kev: ArrayLike) -> NDArray[np.float64]:
        """Return expected counts per analysis PE bin, (..., n_bins), for spectra (..., n_T)."""
        spectra = np.asarray(dn_dt_per_kev, dtype=float)
        if spectra.shape[-1:] != self.smearing.recoil_kev.shape:
            raise ValueError(
                f"last axis of dn_dt_per_kev must have length {self.smearing.recoil_kev.size}"
            )
        return spectra @ self.matrix.T

    def apply_before_efficiency(self, dn_dt_per_kev: ArrayLike) -> NDArray[np.float64]:
        """As :meth:`apply` without the efficiency."""
        return np.asarray(dn_dt_per_kev, dtype=float) @ self.matrix_before_efficiency.T

    def outside(self, dn_dt_per_kev: ArrayLike) -> NDArray[np.float64]:
        """Return expected events outside the PE histogram (before efficiency), shape (...)."""
        return np.asarray(dn_dt_per_kev, dtype=float) @ self.outside_weights_kev


@dataclass(frozen=True, eq=False)
class DetectorResponse:
    """Quenching, light yield, Poisson PE statistics, efficiency and PE binning.

    Attributes
    ----------
    qf : float or callable
        Quenching factor, constant or ``recoil_kev -> QF``.
    light_yield_pe_per_kevee : float
        Light yield (PE/keVee).
    efficiency : callable or None
        Acceptance efficiency as a function of PE (e.g. :class:`ReleaseEfficiency`),
        evaluated at the centres of the 1-PE bins; ``None`` for no efficiency.
    pe_bin_convention : {"n_minus_half", "n_plus_half"}
        Which 1-PE bin holds events with exactly n PE (default ``"n_minus_half"``).
    n_one_pe_bins : int
        Number of 1-PE bins starting at 0 PE (50 for the release's 0–50 PE).
    rebin_factor : int
        1-PE bins per analysis bin (2 for the release).

    """

    qf: QuenchingModel
    light_yield_pe_per_kevee: float
    efficiency: Callable[[NDArray[np.float64]], ArrayLike] | None = None
    pe_bin_convention: PeBinConvention = DEFAULT_PE_BIN_CONVENTION
    n_one_pe_bins: int = 50
    rebin_factor: int = 2

    def __post_init__(self) -> None:
        _check_convention(self.pe_bin_convention)
        if (
            self.n_one_pe_bins < 1
            or self.rebin_factor < 1
            or self.n_one_pe_bins % self.rebin_factor
        ):
            raise ValueError("rebin_factor must divide n_one_pe_bins")

    @property
    def one_pe_edges(self) -> NDArray[np.float64]:
        """Edges of the 1-PE bins, 0 … n_one_pe_bins (PE)."""
        return np.arange(self.n_one_pe_bins + 1, dtype=float)

    @property
    def pe_edges(self) -> NDArray[np.float64]:
        """Edges of the analysis PE bins (PE)."""
        return self.one_pe_edges[:: self.rebin_factor]

    def response_matrix(
        self, recoil_kev: ArrayLike, quadrature_weights_kev: ArrayLike | None = None
    ) -> ResponseMatrix:
        """Build the linear map from dN/dT on ``recoil_kev`` to counts per analysis PE bin.

        Parameters
        ----------
        recoil_kev : array_like, shape (n_T,)
            Strictly increasing recoil grid (keV).
        quadrature_weights_kev : array_like, optional
            Integration weights (keV); default: trapezoid rule.

        Returns
        -------
        ResponseMatrix

        """
        n_pe_max = required_n_pe_max(self.n_one_pe_bins, self.pe_bin_convention)
        smearing = PhotoelectronSmearing.build(
            recoil_kev, self.qf, self.light_yield_pe_per_kevee, n_pe_max, quadrature_weights_kev
        )
        # Rows of the smearing matrix are exact PE numbers; move them to 1-PE bins.
        one_pe = counts_in_one_pe_bins(
            smearing.matrix.T, self.n_one_pe_bins, self.pe_bin_convention
        ).T
        centres = self.one_pe_edges[:-1] + 0.5
        efficiency = _efficiency_at(self.efficiency, centres)
        before = rebin(one_pe, self.rebin_factor, axis=0)
        after = rebin(one_pe * efficiency[:, None], self.rebin_factor, axis=0)
        outside = smearing.quadrature_weights_kev - one_pe.sum(axis=0)
        for array in (before, after, outside, efficiency):
            array.setflags(write=False)
        return ResponseMatrix(smearing, self.pe_edges, efficiency, after, before, outside)

    def pe_spectrum(self, recoil_kev: ArrayLike, dn_dt_per_kev: ArrayLike) -> NDArray[np.float64]:
        """Return expected counts per analysis PE bin (efficiency included), shape (..., n_bins)."""
        return self.response_matrix(recoil_kev).apply(dn_dt_per_kev)


def prompt_neutron_template(
    prompt_neutron_per_gwh: ArrayLike,
    exposure_gwh: float,
    neutron_time_pdf: ArrayLike,
    efficiency: Callable[[NDArray[np.float64]], ArrayLike] | None,
    *,
    rebin_factor: int = 2,
    normalisation: float = 1.0,
) -> NDArray[np.float64]:
    """Beam-related prompt-neutron expectation per (PE, time) bin.

    ``promptPDF × exposure × f(1-PE bin centre)``, rebinned to the analysis PE
    bins, times the neutron arrival-time PDF, times ``normalisation`` (the
    release's nuisance, 1 ± 0.25).

    Parameters
    ----------
    prompt_neutron_per_gwh : array_like, shape (n_one_pe_bins,)
        Expected events per GWh in 1-PE bins starting at 0 PE (before efficiency).
    exposure_gwh : float
        Beam exposure (GW·h).
    neutron_time_pdf : array_like, shape (n_time,)
        Arrival-time PDF of prompt neutrons.
    efficiency : callable or None
        Efficiency as a function of PE, evaluated at the 1-PE bin centres 0.5, 1.5, …
    rebin_factor : int
        1-PE bins per analysis bin (default 2).
    normalisation : float
        Scale factor on the template (default 1).

    Returns
    -------
    ndarray, shape (n_one_pe_bins // rebin_factor, n_time)
        Expected prompt-neutron events.

    """
    spectrum = np.asarray(prompt_neutron_per_gwh, dtype=float)
    centres = np.arange(spectrum.size, dtype=float) + 0.5
    per_bin = spectrum * exposure_gwh * normalisation * _efficiency_at(efficiency, centres)
    return pe_time_expectation(rebin(per_bin, rebin_factor), neutron_time_pdf)

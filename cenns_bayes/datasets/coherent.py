"""Loader for the COHERENT CsI[Na] 2017 data release shipped with the package.

The twelve text files of the release (Zenodo record 1228631, doi:10.5281/zenodo.1228631;
companion document arXiv:1804.09459; result: Akimov et al., Science 357 (2017) 1123)
are stored byte-identical in ``cenns_bayes/datasets/coherent_csi_2017/`` together
with the reference note ``REFERENCE.md`` and ``SHA256SUMS``. They are located
through :mod:`importlib.resources`, so an installed package finds them without
the source repository.

:func:`load_coherent_csi_2017` checks every file against ``SHA256SUMS`` before
parsing (a mismatch raises :class:`ChecksumError`) and returns a frozen
:class:`CoherentCsI2017Release`.

Binning of the release (REFERENCE.md §2):

* event histograms: 25 bins of 2 PE (0–50 PE) × 24 bins of 0.5 µs (0–12 µs),
  returned as integer arrays of shape ``(25, 24)`` indexed ``[pe_bin, time_bin]``;
* arrival-time PDFs: the same 24 time bins, each summing to one;
* prompt-neutron PE spectrum: 50 bins of 1 PE (0–50 PE), events per GWh of
  beam exposure, *before* the acceptance efficiency.

The single-number inputs come from ``coherent_parameters.yaml``, read with PyYAML's
safe loader (:func:`parse_release_yaml`). This module imports numpy and PyYAML only.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

__all__ = [
    "DATA_FILES",
    "RELEASE_DIRECTORY_NAME",
    "AsymmetricValue",
    "ChecksumError",
    "CoherentCsI2017Release",
    "QuenchingFactorData",
    "load_coherent_csi_2017",
    "parse_release_yaml",
    "release_directory",
    "verify_checksums",
]

#: Folder (inside ``cenns_bayes/datasets``) that holds the release files.
RELEASE_DIRECTORY_NAME = "coherent_csi_2017"

#: The twelve files of the Zenodo record that are shipped (the companion PDF is not).
DATA_FILES: tuple[str, ...] = (
    "README",
    "arrivalTimePDF_delayedNeutrinos.txt",
    "arrivalTimePDF_promptNeutrinos.txt",
    "arrivalTimePDF_promptNeutrons.txt",
    "coherent_parameters.yaml",
    "data_anticoincidence_beamOff.txt",
    "data_anticoincidence_beamOn.txt",
    "data_coincidence_beamOff.txt",
    "data_coincidence_beamOn.txt",
    "promptPDF.txt",
    "qfData_chicago.txt",
    "qfData_tunl.txt",
)

_N_PE_BINS = 25
_N_TIME_BINS = 24
_PE_BIN_WIDTH = 2.0
_TIME_BIN_WIDTH_US = 0.5
_N_PROMPT_NEUTRON_PE_BINS = 50


class ChecksumError(ValueError):
    """A release file is missing or its SHA-256 differs from ``SHA256SUMS``."""


@dataclass(frozen=True)
class AsymmetricValue:
    """A central value with asymmetric 1σ errors (both errors are positive numbers).

    Attributes
    ----------
    value : float
        Central value.
    error_hi : float
        Upper 1σ error: the +1σ value is ``value + error_hi``.
    error_lo : float
        Lower 1σ error: the −1σ value is ``value - error_lo``.

    """

    value: float
    error_hi: float
    error_lo: float


@dataclass(frozen=True, eq=False)
class QuenchingFactorData:
    """Quenching-factor measurements of CsI[Na] shipped with the release.

    Energy and QF errors are correlated; the release does not give that
    correlation (REFERENCE.md §2.4). For the Chicago points, whose errors are
    symmetric, ``*_err_hi`` equals ``*_err_lo``.

    Attributes
    ----------
    source : str
        ``"chicago"`` or ``"tunl"``.
    recoil_kevnr : ndarray, shape (n,)
        Mean nuclear-recoil energy (keVnr).
    recoil_err_hi_kevnr, recoil_err_lo_kevnr : ndarray, shape (n,)
        Upper and lower errors on the recoil energy (keVnr).
    qf : ndarray, shape (n,)
        Quenching factor (keVee/keVnr, dimensionless).
    qf_err_hi, qf_err_lo : ndarray, shape (n,)
        Upper and lower errors on the quenching factor.

    """

    source: str
    recoil_kevnr: NDArray[np.float64]
    recoil_err_hi_kevnr: NDArray[np.float64]
    recoil_err_lo_kevnr: NDArray[np.float64]
    qf: NDArray[np.float64]
    qf_err_hi: NDArray[np.float64]
    qf_err_lo: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class CoherentCsI2017Release:
    """The COHERENT CsI[Na] 2017 data release, parsed and checksum-verified.

    All arrays are read-only. Histograms are indexed ``[pe_bin, time_bin]``.

    Attributes
    ----------
    pe_edges : ndarray, shape (26,)
        Edges of the 2-PE analysis bins, 0, 2, …, 50 (PE).
    time_edges_us : ndarray, shape (25,)
        Edges of the arrival-time bins, 0, 0.5, …, 12 (µs).
    coincidence_beam_on, anticoincidence_beam_on : ndarray of int, shape (25, 24)
        Beam-on counts in the coincidence (C) and anticoincidence (AC) windows.
    coincidence_beam_off, anticoincidence_beam_off : ndarray of int, shape (25, 24)
        Beam-off counts in the C and AC windows.
    time_pdf_prompt_neutrinos : ndarray, shape (24,)
        Arrival-time PDF of prompt ν_μ (π⁺ decay); sums to one.
    time_pdf_delayed_neutrinos : ndarray, shape (24,)
        Arrival-time PDF of delayed ν_e and ν̄_μ (μ⁺ decay); sums to one.
    time_pdf_prompt_neutrons : ndarray, shape (24,)
        Arrival-time PDF of beam-related prompt neutrons; sums to one.
    prompt_neutron_pe_edges : ndarray, shape (51,)
        Edges of the 1-PE bins of the prompt-neutron spectrum, 0, 1, …, 50 (PE).
    prompt_neutron_per_gwh : ndarray, shape (50,)
        Expected prompt-neutron events per GWh of beam exposure in each 1-PE
        bin, before the acceptance efficiency.
    exposure_gwh : float
        Effective beam exposure of the released data (GW·h).
    distance_m : float
        Distance from the SNS target to the detector (m).
    qf, qf_sigma : float
        Energy-independent quenching factor used in 2017 and its 1σ uncertainty.
    light_yield_pe_per_kevee, light_yield_sigma_pe_per_kevee : float
        Light yield (PE/keVee) and its 1σ uncertainty.
    neutrinos_per_proton, neutrinos_per_proton_sigma : float
        Neutrinos per flavour per proton on target and its 1σ uncertainty.
    neutron_norm, neutron_norm_sigma : float
        Prompt-neutron normalisation factor (1) and its 1σ uncertainty (0.25).
    efficiency_a : AsymmetricValue
        Plateau ``a`` of the acceptance efficiency (dimensionless).
    efficiency_k_per_pe : AsymmetricValue
        Logistic slope ``k`` (PE⁻¹).
    efficiency_x0_pe : AsymmetricValue
        Logistic midpoint ``x₀`` (PE).
    qf_chicago, qf_tunl : QuenchingFactorData
        The quenching-factor measurements (7 and 12 points).
    parameters_raw : dict
        The parsed ``coherent_parameters.yaml`` (names, units and comments included).
    sha256 : dict[str, str]
        Verified SHA-256 of every shipped file.

    """

    pe_edges: NDArray[np.float64]
    time_edges_us: NDArray[np.float64]
    coincidence_beam_on: NDArray[np.int64]
    anticoincidence_beam_on: NDArray[np.int64]
    coincidence_beam_off: NDArray[np.int64]
    anticoincidence_beam_off: NDArray[np.int64]
    time_pdf_prompt_neutrinos: NDArray[np.float64]
    time_pdf_delayed_neutrinos: NDArray[np.float64]
    time_pdf_prompt_neutrons: NDArray[np.float64]
    prompt_neutron_pe_edges: NDArray[np.float64]
    prompt_neutron_per_gwh: NDArray[np.float64]
    exposure_gwh: float
    distance_m: float
    qf: float
    qf_sigma: float
    light_yield_pe_per_kevee: float
    light_yield_sigma_pe_per_kevee: float
    neutrinos_per_proton: float
    neutrinos_per_proton_sigma: float
    neutron_norm: float
    neutron_norm_sigma: float
    efficiency_a: AsymmetricValue
    efficiency_k_per_pe: AsymmetricValue
    efficiency_x0_pe: AsymmetricValue
    qf_chicago: QuenchingFactorData
    qf_tunl: QuenchingFactorData
    parameters_raw: dict[str, Any]
    sha256: dict[str, str]

    @property
    def pe_centres(self) -> NDArray[np.float64]:
        """Centres of the 2-PE analysis bins, 1, 3, …, 49 (PE)."""
        return 0.5 * (self.pe_edges[:-1] + self.pe_edges[1:])

    @property
    def time_centres_us(self) -> NDArray[np.float64]:
        """Centres of the arrival-time bins, 0.25, …, 11.75 (µs)."""
        return 0.5 * (self.time_edges_us[:-1] + self.time_edges_us[1:])

    @property
    def prompt_neutron_pe_centres(self) -> NDArray[np.float64]:
        """Centres of the 1-PE bins of the prompt-neutron spectrum, 0.5, …, 49.5 (PE)."""
        return 0.5 * (self.prompt_neutron_pe_edges[:-1] + self.prompt_neutron_pe_edges[1:])

    @property
    def efficiency_parameters(self) -> tuple[float, float, float]:
        """Central values ``(a, k_per_pe, x0_pe)`` of the acceptance efficiency."""
        return (
            self.efficiency_a.value,
            self.efficiency_k_per_pe.value,
            self.efficiency_x0_pe.value,
        )


# --------------------------------------------------------------------------- files


def release_directory() -> Traversable:
    """Return the shipped release folder as an :mod:`importlib.resources` traversable.

    Returns
    -------
    Traversable
        ``cenns_bayes/datasets/coherent_csi_2017`` inside the installed package.

    """
    return release_folder(None, RELEASE_DIRECTORY_NAME)


def release_folder(directory: str | Path | Traversable | None, shipped: str) -> Traversable:
    """``directory`` as a folder to read, or the copy ``shipped`` inside the package when None."""
    if directory is None:
        return resources.files("cenns_bayes.datasets").joinpath(shipped)
    return Path(directory) if isinstance(directory, (str, Path)) else directory


def verify_release_checksums(
    folder: Traversable | Path,
    files: tuple[str, ...],
    label: str,
    error: type[ChecksumError] = ChecksumError,
) -> dict[str, str]:
    """Check ``files`` in ``folder`` against its ``SHA256SUMS``; shared by the release loaders.

    Raises
    ------
    ChecksumError (``error``)
        One line starting with ``label`` and naming the file: missing, unlisted or altered.
    """
    try:
        text = folder.joinpath("SHA256SUMS").read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{label}: SHA256SUMS not found in {folder}") from None
    sums = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 64:
            sums[parts[1].lstrip("*")] = parts[0]
    verified = {}
    for name in files:
        if name not in sums:
            raise error(f"{label}: SHA256SUMS does not list {name!r}")
        try:
            digest = hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest()
        except (FileNotFoundError, NotADirectoryError):
            raise error(f"{label}: file {name!r} is missing from {folder}") from None
        if digest != sums[name]:
            raise error(
                f"{label}: SHA-256 mismatch for {name!r} in {folder} "
                f"(expected {sums[name][:12]}..., got {digest[:12]}...): "
                "the file was modified or corrupted"
            )
        verified[name] = digest
    return verified


def verify_checksums(directory: str | Path | Traversable | None = None) -> dict[str, str]:
    """Check every release file against ``SHA256SUMS``.

    Parameters
    ----------
    directory : str, Path, Traversable or None
        Folder holding the release files and ``SHA256SUMS``; default: the
        folder shipped with the package.

    Returns
    -------
    dict[str, str]
        File name → verified SHA-256 (hex), for all files of :data:`DATA_FILES`.

    Raises
    ------
    ChecksumError
        If ``SHA256SUMS`` does not list every file of :data:`DATA_FILES`, a file
        is missing, or a file's SHA-256 differs from the listed value.

    """
    return verify_release_checksums(
        release_folder(directory, RELEASE_DIRECTORY_NAME), DATA_FILES, "COHERENT CsI 2017 release"
    )


# --------------------------------------------------------------------------- YAML


def _unique_key_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Build a mapping, refusing a key given twice (YAML 1.1 would keep the last silently)."""
    keys = [loader.construct_object(key_node) for key_node, _ in node.value]
    for key in keys:
        if keys.count(key) > 1:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", node.start_mark
            )
    return loader.construct_mapping(node)


class _StrictSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with duplicate keys rejected."""


_StrictSafeLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_key_mapping
)


def parse_release_yaml(text: str) -> dict[str, Any]:
    """Parse ``coherent_parameters.yaml`` with PyYAML's safe loader.

    Parameters
    ----------
    text : str
        Content of the YAML file.

    Returns
    -------
    dict
        The parsed document (what ``yaml.safe_load`` returns for it).

    Raises
    ------
    ValueError
        When the text is not valid YAML, repeats a key, or is not a mapping.
    """
    try:
        result = yaml.load(text, Loader=_StrictSafeLoader)  # a SafeLoader subclass: no code runs
    except yaml.YAMLError as err:
        raise ValueError(f"not valid YAML: {err}") from None
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise ValueError("the YAML document is not a mapping")
    return result


# --------------------------------------------------------------------------- parsing


def _load_table(text: str, n_columns: int, name: str) -> NDArray[np.float64]:
    table = np.loadtxt(io.StringIO(text), delimiter=",", comments="#", ndmin=2)
    if table.shape[1] != n_columns:
        raise ValueError(f"{name}: expected {n_columns} columns, found {table.shape[1]}")
    return table


def _readonly(array: NDArray[Any]) -> NDArray[Any]:
    array = np.array(array)  # own copy
    array.setflags(write=False)
    return array


def _histogram(
    text: str, name: str, pe_centres: NDArray[np.float64], time_centres_us: NDArray[np.float64]
) -> NDArray[np.int64]:
    table = _load_table(text, 3, name)
    if table.shape[0] != _N_PE_BINS * _N_TIME_BINS:
        raise ValueError(
            f"{name}: expected {_N_PE_BINS * _N_TIME_BINS} rows, found {table.shape[0]}"
        )
    pe = table[:, 0].reshape(_N_PE_BINS, _N_TIME_BINS)
    time_us = table[:, 1].reshape(_N_PE_BINS, _N_TIME_BINS)
    if not (
        np.allclose(pe, pe_centres[:, None]) and np.allclose(time_us, time_centres_us[None, :])
    ):
        raise ValueError(f"{name}: rows are not the PE-major grid of 2-PE × 0.5 µs bin centres")
    counts = table[:, 2]
    if np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError(f"{name}: counts are not non-negative integers")
    return counts.astype(np.int64).reshape(_N_PE_BINS, _N_TIME_BINS)


def _time_pdf(text: str, name: str, time_centres_us: NDArray[np.float64]) -> NDArray[np.float64]:
    table = _load_table(text, 2, name)
    if table.shape[0] != _N_TIME_BINS or not np.allclose(table[:, 0], time_centres_us):
        raise ValueError(f"{name}: expected the 24 time-bin centres 0.25 … 11.75 µs")
    pdf = table[:, 1]
    if np.any(pdf < 0) or abs(pdf.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name}: not a normalised PDF (sum {pdf.sum()!r})")
    return pdf


def _qf_data(text: str, source: str) -> QuenchingFactorData:
    if source == "chicago":
        table = _load_table(text, 4, "qfData_chicago.txt")
        energy, energy_err, qf, qf_err = table.T
        columns = (energy, energy_err, energy_err, qf, qf_err, qf_err)
    else:
        table = _load_table(text, 6, "qfData_tunl.txt")
        columns = tuple(table.T)
    return QuenchingFactorData(source, *(_readonly(column) for column in columns))


def _number(parameters: dict[str, Any], key: str, field: str = "value") -> float:
    value = parameters[key][field]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"coherent_parameters.yaml: {key}.{field} is not a number: {value!r}")
    return float(value)


def _efficiency(parameters: dict[str, Any]) -> dict[str, AsymmetricValue]:
    entries = {item["name"]: item for item in parameters["acceptanceEfficiency"]["parameters"]}
    out: dict[str, AsymmetricValue] = {}
    for name in ("a", "k", "x_0"):
        item = entries[name]
        out[name] = AsymmetricValue(
            float(item["value"]), float(item["error_hi"]), float(item["error_lo"])
        )
    return out


def _build_release(folder: Traversable, sha256: dict[str, str]) -> CoherentCsI2017Release:
    def text(name: str) -> str:
        return folder.joinpath(name).read_bytes().decode("utf-8")

    pe_edges = np.arange(_N_PE_BINS + 1) * _PE_BIN_WIDTH
    time_edges_us = np.arange(_N_TIME_BINS + 1) * _TIME_BIN_WIDTH_US
    pe_centres = 0.5 * (pe_edges[:-1] + pe_edges[1:])
    time_centres_us = 0.5 * (time_edges_us[:-1] + time_edges_us[1:])

    histograms = {
        field: _histogram(
            text(f"data_{file_stem}.txt"), f"data_{file_stem}.txt", pe_centres, time_centres_us
        )
        for field, file_stem in (
            ("coincidence_beam_on", "coincidence_beamOn"),
            ("anticoincidence_beam_on", "anticoincidence_beamOn"),
            ("coincidence_beam_off", "coincidence_beamOff"),
            ("anticoincidence_beam_off", "anticoincidence_beamOff"),
        )
    }
    pdfs = {
        field: _time_pdf(
            text(f"arrivalTimePDF_{stem}.txt"), f"arrivalTimePDF_{stem}.txt", time_centres_us
        )
        for field, stem in (
            ("time_pdf_prompt_neutrinos", "promptNeutrinos"),
            ("time_pdf_delayed_neutrinos", "delayedNeutrinos"),
            ("time_pdf_prompt_neutrons", "promptNeutrons"),
        )
    }
    prompt_table = _load_table(text("promptPDF.txt"), 2, "promptPDF.txt")
    prompt_edges = np.arange(_N_PROMPT_NEUTRON_PE_BINS + 1, dtype=float)
    if prompt_table.shape[0] != _N_PROMPT_NEUTRON_PE_BINS or not np.allclose(
        prompt_table[:, 0], 0.5 * (prompt_edges[:-1] + prompt_edges[1:])
    ):
        raise ValueError("promptPDF.txt: expected 50 one-PE bins with centres 0.5 … 49.5")

    parameters = parse_release_yaml(text("coherent_parameters.yaml"))
    efficiency = _efficiency(parameters)

    return CoherentCsI2017Release(
        pe_edges=_readonly(pe_edges),
        time_edges_us=_readonly(time_edges_us),
        **{key: _readonly(value) for key, value in histograms.items()},
        **{key: _readonly(value) for key, value in pdfs.items()},
        prompt_neutron_pe_edges=_readonly(prompt_edges),
        prompt_neutron_per_gwh=_readonly(prompt_table[:, 1]),
        exposure_gwh=_number(parameters, "beamExposure"),
        distance_m=_number(parameters, "distanceToTarget"),
        qf=_number(parameters, "csiQF"),
        qf_sigma=_number(parameters, "csiQF", "uncertainty"),
        light_yield_pe_per_kevee=_number(parameters, "csiLightYield"),
        light_yield_sigma_pe_per_kevee=_number(parameters, "csiLightYield", "uncertainty"),
        neutrinos_per_proton=_number(parameters, "neutrinosPerProton"),
        neutrinos_per_proton_sigma=_number(parameters, "neutrinosPerProton", "uncertainty"),
        neutron_norm=_number(parameters, "promptNeutronNormalization"),
        neutron_norm_sigma=_number(parameters, "promptNeutronNormalization", "uncertainty"),
        efficiency_a=efficiency["a"],
        efficiency_k_per_pe=efficiency["k"],
        efficiency_x0_pe=efficiency["x_0"],
        qf_chicago=_qf_data(text("qfData_chicago.txt"), "chicago"),
        qf_tunl=_qf_data(text("qfData_tunl.txt"), "tunl"),
        parameters_raw=parameters,
        sha256=dict(sha256),
    )


#: Releases parsed from the copies shipped in the package, by folder name.
_SHIPPED: dict[str, Any] = {}


def load_release(
    directory: str | Path | Traversable | None,
    shipped: str,
    verify: Callable[[Traversable], dict[str, str]],
    build: Callable[[Traversable, dict[str, str]], Any],
) -> Any:
    """Verify a release folder's checksums, then parse it with ``build``; shared by the loaders.

    ``directory`` None reads the copy ``shipped`` inside the package, parsed once per process.
    """
    if directory is None and shipped in _SHIPPED:
        return _SHIPPED[shipped]
    folder = release_folder(directory, shipped)
    release = build(folder, verify(folder))
    if directory is None:
        _SHIPPED[shipped] = release
    return release


def load_coherent_csi_2017(
    directory: str | Path | Traversable | None = None,
) -> CoherentCsI2017Release:
    """Load the COHERENT CsI[Na] 2017 release, verifying every file's SHA-256 first.

    Parameters
    ----------
    directory : str, Path, Traversable or None
        Folder with the release files and ``SHA256SUMS``. Default: the copy
        shipped inside the package (found through :mod:`importlib.resources`;
        the parsed result is cached).

    Returns
    -------
    CoherentCsI2017Release
        Frozen container of histograms, PDFs, the prompt-neutron spectrum, the
        YAML parameters and the QF data.

    Raises
    ------
    ChecksumError
        If a file is missing or differs from ``SHA256SUMS``.
    ValueError
        If a file does not have the binning described in REFERENCE.md §2.

    """
    return load_release(directory, RELEASE_DIRECTORY_NAME, verify_checksums, _build_release)

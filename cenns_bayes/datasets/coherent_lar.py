"""Loader for the COHERENT CENNS-10 liquid-argon 2020 release (Analysis A) shipped with the package.

The 21 plain-text and YAML files of Zenodo record 3903810 (doi:10.5281/zenodo.3903810;
companion document arXiv:2006.12659; result: Akimov et al., Phys. Rev. Lett. 126 (2021)
012002, arXiv:2003.10630) are stored byte-identical in
``cenns_bayes/datasets/coherent_lar_2020/`` with ``REFERENCE.md`` and ``SHA256SUMS``.

:func:`load_coherent_lar_2020` checks every file against ``SHA256SUMS`` before parsing; a
missing or altered file raises :class:`ReleaseFileError` (a
:class:`~cenns_bayes.datasets.coherent.ChecksumError`) whose message is one line.

Binning (read from the files, REFERENCE.md §2): 12 energy bins of 10 keVee (0–120 keVee),
8 F90 bins of 0.05 (0.5–0.9), 10 time bins of 0.5 µs (−0.1–4.9 µs); 3-D histograms are
returned as arrays of shape ``(12, 8, 10)`` indexed ``[energy, f90, time]``.

This module imports numpy and PyYAML only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .coherent import ChecksumError, load_release, release_folder, verify_release_checksums

__all__ = [
    "LAR_DATA_FILES",
    "LAR_RELEASE_DIRECTORY_NAME",
    "SHAPE_SYSTEMATICS",
    "CoherentLAr2020Release",
    "ReleaseFileError",
    "load_coherent_lar_2020",
    "verify_lar_checksums",
    "verify_release_checksums",
]

#: Folder (inside ``cenns_bayes/datasets``) that holds the release files.
LAR_RELEASE_DIRECTORY_NAME = "coherent_lar_2020"

#: Histogram files (3-D, 960 rows) by the name the loader gives them.
_HISTOGRAMS: dict[str, str] = {
    "data": "datanobkgsub.txt",
    "cevns": "cevnspdf.txt",
    "prompt_neutrons": "brnpdf.txt",
    "delayed_neutrons": "delbrnpdf.txt",
    "steady_state": "bkgpdf.txt",
    "cevns_f90_plus": "cevnspdf+1sigF90.txt",
    "cevns_f90_minus": "cevnspdf-1sigF90.txt",
    "cevns_timing_mean": "cevnspdfCEvNSTimingMeanSyst.txt",
    "brn_energy_plus": "brnpdf+1sigEnergy.txt",
    "brn_energy_minus": "brnpdf-1sigEnergy.txt",
    "brn_timing_mean_plus": "brnpdf+1sigBRNTimingMean.txt",
    "brn_timing_mean_minus": "brnpdf-1sigBRNTimingMean.txt",
    "brn_timing_width": "brnpdfBRNTimingWidthSyst.txt",
}

#: The released shape systematics as nuisances: name -> (component, +1 sigma file key,
#: -1 sigma file key or None for a one-sided variation, mirrored).
SHAPE_SYSTEMATICS: dict[str, tuple[str, str, str | None]] = {
    "cevns_f90": ("cevns", "cevns_f90_plus", "cevns_f90_minus"),
    "cevns_timing_mean": ("cevns", "cevns_timing_mean", None),
    "brn_energy": ("prompt_neutrons", "brn_energy_plus", "brn_energy_minus"),
    "brn_timing_mean": ("prompt_neutrons", "brn_timing_mean_plus", "brn_timing_mean_minus"),
    "brn_timing_width": ("prompt_neutrons", "brn_timing_width", None),
}

_PROJECTIONS = {"energy": "energydata1d.txt", "f90": "f90data1d.txt", "time": "timingdata1d.txt"}
_SYST_BANDS = {
    "energy": "systerrors1denergy.txt",
    "f90": "systerrors1dpsd.txt",
    "time": "systerrors1dtime.txt",
}

#: Every shipped file of the record (the companion PDF and two scripts are not shipped).
LAR_DATA_FILES: tuple[str, ...] = tuple(
    sorted(
        [
            *_HISTOGRAMS.values(),
            *_PROJECTIONS.values(),
            *_SYST_BANDS.values(),
            "CENNS10AnlAEfficiency.txt",
            "LArParametersAnlA.yaml",
        ]
    )
)

_SHAPE = (12, 8, 10)


class ReleaseFileError(ChecksumError):
    """A release file is missing, altered (SHA-256) or not in the documented format."""


@dataclass(frozen=True)
class CoherentLAr2020Release:
    """The parsed LAr 2020 release (read-only arrays).

    Attributes
    ----------
    energy_edges_kevee, f90_edges, time_edges_us : ndarray
        Bin edges (13, 9 and 11 entries).
    histograms : dict[str, ndarray]
        Each 3-D file as ``(12, 8, 10)`` (keys of the module's file table: ``data``,
        ``cevns``, ``prompt_neutrons``, ``delayed_neutrons``, ``steady_state`` and the
        systematic variants).
    acceptance_kevee, acceptance_kevnr, acceptance : ndarray
        The acceptance file: keVee bin centre (0.5-keVee bins), keVnr centre, efficiency.
    projections : dict[str, ndarray]
        ``energydata1d`` etc., columns: bin centre, steady-state-subtracted data, its
        statistical error, CEvNS, BRN, CEvNS + BRN, systematic band low, high.
    systematic_bands : dict[str, ndarray]
        ``systerrors1d*``: bin centre, relative band low, high.
    parameters : dict
        ``LArParametersAnlA.yaml`` as parsed by ``yaml.safe_load``.
    sha256 : dict[str, str]
        Verified checksums.
    """

    energy_edges_kevee: NDArray[np.float64]
    f90_edges: NDArray[np.float64]
    time_edges_us: NDArray[np.float64]
    histograms: dict[str, NDArray[np.float64]]
    acceptance_kevee: NDArray[np.float64]
    acceptance_kevnr: NDArray[np.float64]
    acceptance: NDArray[np.float64]
    projections: dict[str, NDArray[np.float64]]
    systematic_bands: dict[str, NDArray[np.float64]]
    parameters: dict[str, Any]
    sha256: dict[str, str]

    def value(self, key: str, field: str = "value") -> float:
        """A number of the YAML, e.g. ``value("fiducialMass", "uncertainty")``."""
        return float(self.parameters[key][field])

    def parameter(self, key: str, name: str, field: str = "value") -> float:
        """A named sub-parameter of the YAML, e.g. ``parameter("larQF", "a")``."""
        for entry in self.parameters[key]["parameters"]:
            if entry["name"] == name:
                return float(entry[field])
        raise KeyError(f"{key}.{name}")


def lar_release_directory() -> Traversable:
    """The shipped release folder (``cenns_bayes/datasets/coherent_lar_2020``)."""
    return release_folder(None, LAR_RELEASE_DIRECTORY_NAME)


def verify_lar_checksums(directory: str | Path | Traversable | None = None) -> dict[str, str]:
    """Check every file of :data:`LAR_DATA_FILES` against ``SHA256SUMS``.

    Raises
    ------
    ReleaseFileError
        One line naming the file: missing, unlisted or a different SHA-256.
    """
    return verify_release_checksums(
        release_folder(directory, LAR_RELEASE_DIRECTORY_NAME),
        LAR_DATA_FILES,
        "COHERENT LAr 2020 release",
        ReleaseFileError,
    )


def _table(
    folder: Traversable, name: str, n_columns: int, skip_header: bool = False
) -> NDArray[np.float64]:
    text = folder.joinpath(name).read_text(encoding="utf-8")
    rows = np.loadtxt(io.StringIO(text), skiprows=1 if skip_header else 0, ndmin=2)
    if rows.shape[1] != n_columns:
        raise ReleaseFileError(
            f"COHERENT LAr 2020 release: {name} has {rows.shape[1]} columns, expected {n_columns}"
        )
    return rows


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a


def _edges(centres: np.ndarray) -> np.ndarray:
    width = centres[1] - centres[0]
    return np.concatenate([centres - width / 2, [centres[-1] + width / 2]])


def _build(folder: Traversable, sha256: dict[str, str]) -> CoherentLAr2020Release:
    import yaml

    histograms = {}
    axes = None
    for key, name in _HISTOGRAMS.items():
        rows = _table(folder, name, 4)
        if rows.shape[0] != int(np.prod(_SHAPE)):
            raise ReleaseFileError(
                f"COHERENT LAr 2020 release: {name} has {rows.shape[0]} rows, expected 960"
            )
        these = tuple(np.unique(rows[:, k]) for k in range(3))
        if tuple(a.size for a in these) != _SHAPE:
            raise ReleaseFileError(f"COHERENT LAr 2020 release: {name} is not a 12 x 8 x 10 grid")
        # rows run energy-major, then F90, then time (checked against the sorted centres)
        order = np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))
        histograms[key] = _readonly(rows[order, 3].reshape(_SHAPE))
        axes = these if axes is None else axes
    assert axes is not None
    acceptance = _table(folder, "CENNS10AnlAEfficiency.txt", 3)
    projections = {
        k: _readonly(_table(folder, v, 8, skip_header=True)) for k, v in _PROJECTIONS.items()
    }
    bands = {k: _readonly(_table(folder, v, 3)) for k, v in _SYST_BANDS.items()}
    parameters = yaml.safe_load(
        folder.joinpath("LArParametersAnlA.yaml").read_text(encoding="utf-8")
    )
    return CoherentLAr2020Release(
        energy_edges_kevee=_readonly(_edges(axes[0])),
        f90_edges=_readonly(_edges(axes[1])),
        time_edges_us=_readonly(_edges(axes[2])),
        histograms=histograms,
        acceptance_kevee=_readonly(acceptance[:, 0]),
        acceptance_kevnr=_readonly(acceptance[:, 1]),
        acceptance=_readonly(acceptance[:, 2]),
        projections=projections,
        systematic_bands=bands,
        parameters=parameters,
        sha256=dict(sha256),
    )


def load_coherent_lar_2020(
    directory: str | Path | Traversable | None = None,
) -> CoherentLAr2020Release:
    """Load the LAr 2020 release, verifying every file's SHA-256 first.

    Parameters
    ----------
    directory : str, Path, Traversable or None
        Folder with the files and ``SHA256SUMS``; default the copy shipped in the package
        (parsed once and cached).

    Raises
    ------
    ReleaseFileError
        A file is missing, altered, or not in the documented format (one-line message).
    """
    return load_release(directory, LAR_RELEASE_DIRECTORY_NAME, verify_lar_checksums, _build)

"""Loader for the COHERENT CsI[Na] full data set (2021) shipped with the package.

Eight of the ten ancillary files of Akimov et al. (COHERENT), Phys. Rev. Lett. 129 (2022)
081801, arXiv:2110.07730, are stored byte-identical in ``cenns_bayes/datasets/coherent_csi_2021/``
with ``REFERENCE.md`` (provenance, which parameters come from the paper and which from
public fitting codes) and ``SHA256SUMS``. The flux file ``snsFlux2D.root`` is not shipped:
the model uses the analytic decay-at-rest spectra of the physics core.

:func:`load_coherent_csi_2021` checks every file against ``SHA256SUMS`` before parsing; a
missing or altered file raises :class:`ReleaseFileError` (a
:class:`~cenns_bayes.datasets.coherent.ChecksumError`) with a one-line message.

Contents: the unbinned beam-on coincidence (C) and anticoincidence (AC) events (PE, µs);
beam-related-neutron (BRN) and neutrino-induced-neutron (NIN) shapes in PE (1-PE bins,
efficiency already applied: both vanish below the efficiency's zero at 7.1 PE) and in
arrival time (10-ns bins); the efficiency eps(x) = a / (1 + exp(-b (x - c))) + d (x in PE)
with its nominal and two +-1 sigma coefficient sets; the scintillation response
E_ee(T) = a T + b T^2 + c T^3 + d T^4 (T in MeVnr, E_ee in MeVee), nominal and two
eigen-variations with +-1 sigma each.

This module imports numpy only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .coherent import ChecksumError, load_release, release_folder, verify_release_checksums

__all__ = [
    "CSI_2021_DATA_FILES",
    "CoherentCsI2021Release",
    "ReleaseFileError",
    "load_coherent_csi_2021",
    "verify_csi_2021_checksums",
]

CSI_2021_DIRECTORY_NAME = "coherent_csi_2021"
CSI_2021_DATA_FILES: tuple[str, ...] = (
    "brnPE.txt",
    "brnTrec.txt",
    "dataBeamOnAC.txt",
    "dataBeamOnC.txt",
    "effCoefficients.txt",
    "ninPE.txt",
    "ninTrec.txt",
    "scintRespCoefficients.txt",
)
_LABEL = "COHERENT CsI 2021 release"


class ReleaseFileError(ChecksumError):
    """A CsI 2021 release file is missing, altered (SHA-256) or not in the documented format."""


@dataclass(frozen=True)
class CoherentCsI2021Release:
    """The parsed CsI 2021 release (read-only arrays).

    Attributes
    ----------
    events_c, events_ac : ndarray (n, 2)
        Beam-on coincidence and anticoincidence events: reconstructed energy (PE), arrival
        time (µs).
    brn_pe, nin_pe : ndarray (n, 2)
        1-PE bin centre, shape value (BRN, NIN).
    brn_time, nin_time : ndarray (n, 2)
        10-ns bin centre (µs), shape value.
    efficiency : dict[str, ndarray (4,)]
        ``"nominal"``, ``"plus"``, ``"minus"``: (a, b, c, d) of a / (1 + exp(-b (x - c))) + d.
        The file labels both variations "+1 sigma"; the one with the lower midpoint c
        (more efficient at low PE) is called ``"plus"`` here.
    scintillation : dict[str, ndarray (4,)]
        ``"nominal"``, ``"eig0_plus"``, ``"eig0_minus"``, ``"eig1_plus"``, ``"eig1_minus"``:
        (a, b, c, d) of E_ee = a T + b T^2 + c T^3 + d T^4, T in MeVnr, E_ee in MeVee.
    sha256 : dict[str, str]
    """

    events_c: NDArray[np.float64]
    events_ac: NDArray[np.float64]
    brn_pe: NDArray[np.float64]
    brn_time: NDArray[np.float64]
    nin_pe: NDArray[np.float64]
    nin_time: NDArray[np.float64]
    efficiency: dict[str, NDArray[np.float64]]
    scintillation: dict[str, NDArray[np.float64]]
    sha256: dict[str, str]


def csi_2021_directory() -> Traversable:
    """The shipped release folder (``cenns_bayes/datasets/coherent_csi_2021``)."""
    return release_folder(None, CSI_2021_DIRECTORY_NAME)


def verify_csi_2021_checksums(directory: str | Path | Traversable | None = None) -> dict[str, str]:
    """Check every file of :data:`CSI_2021_DATA_FILES` against ``SHA256SUMS`` (one-line error)."""
    return verify_release_checksums(
        release_folder(directory, CSI_2021_DIRECTORY_NAME),
        CSI_2021_DATA_FILES,
        _LABEL,
        ReleaseFileError,
    )


def _rows(folder, name: str, n_columns: int) -> NDArray[np.float64]:
    text = folder.joinpath(name).read_text(encoding="utf-8")
    try:
        rows = np.loadtxt(io.StringIO(text), comments="#", ndmin=2)
    except ValueError as err:
        raise ReleaseFileError(f"{_LABEL}: {name} is not a numeric table ({err})") from None
    if rows.shape[1] != n_columns:
        raise ReleaseFileError(
            f"{_LABEL}: {name} has {rows.shape[1]} columns, expected {n_columns}"
        )
    rows.setflags(write=False)
    return rows


def _build(folder, sha256: dict[str, str]) -> CoherentCsI2021Release:
    eff = _rows(folder, "effCoefficients.txt", 4)
    scint = _rows(folder, "scintRespCoefficients.txt", 4)
    if eff.shape[0] != 3 or scint.shape[0] != 5:
        raise ReleaseFileError(
            f"{_LABEL}: expected 3 efficiency and 5 scintillation coefficient sets"
        )
    # the two variations differ in the midpoint c; the lower c is the more efficient one
    low, high = (1, 2) if eff[1, 2] < eff[2, 2] else (2, 1)
    return CoherentCsI2021Release(
        events_c=_rows(folder, "dataBeamOnC.txt", 2),
        events_ac=_rows(folder, "dataBeamOnAC.txt", 2),
        brn_pe=_rows(folder, "brnPE.txt", 2),
        brn_time=_rows(folder, "brnTrec.txt", 2),
        nin_pe=_rows(folder, "ninPE.txt", 2),
        nin_time=_rows(folder, "ninTrec.txt", 2),
        efficiency={"nominal": eff[0], "plus": eff[low], "minus": eff[high]},
        scintillation={
            "nominal": scint[0],
            "eig0_plus": scint[1],
            "eig0_minus": scint[2],
            "eig1_plus": scint[3],
            "eig1_minus": scint[4],
        },
        sha256=dict(sha256),
    )


def load_coherent_csi_2021(
    directory: str | Path | Traversable | None = None,
) -> CoherentCsI2021Release:
    """Load the CsI 2021 release, verifying every file's SHA-256 first.

    Parameters
    ----------
    directory : str, Path, Traversable or None
        Folder with the files and ``SHA256SUMS``; default the shipped copy (parsed once, cached).

    Raises
    ------
    ReleaseFileError
        A file is missing, altered or not in the documented format (one-line message).
    """
    return load_release(directory, CSI_2021_DIRECTORY_NAME, verify_csi_2021_checksums, _build)

"""Tests of the shipped COHERENT CsI[Na] 2017 release and its loader.

Reference values are taken from the release's note REFERENCE.md (§1 checksums,
§2 contents and totals) and typed in here, not recomputed from the files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from cenns_bayes.datasets.coherent import (
    DATA_FILES,
    ChecksumError,
    CoherentCsI2017Release,
    load_coherent_csi_2017,
    parse_release_yaml,
    release_directory,
    verify_checksums,
)

# REFERENCE.md §1: SHA-256 of the Zenodo originals.
REFERENCE_SHA256 = {
    "README": "978ab4a7e7b01a463dd7e9d4e8938573ad736b78447db79717b5d5b57922f097",
    "data_coincidence_beamOn.txt": (
        "e6cfa6d22345721a0af8abb9db938c0e5d9785c698c98d9305964aeebf31aa50"
    ),
    "data_anticoincidence_beamOn.txt": (
        "3008578093927748e872ef4e01343b9833bd90ee0548260a88114723681f5b3d"
    ),
    "data_coincidence_beamOff.txt": (
        "05f493ab3b085a1fdacce9d4969dd2764a64efd940a14c61de7bd7d471dd1b6b"
    ),
    "data_anticoincidence_beamOff.txt": (
        "5ce17b22eb1c050705c28808e124ef571625a9c6668517c957db5367cb58cead"
    ),
    "arrivalTimePDF_promptNeutrinos.txt": (
        "017c47dcbdedd4ba65f6cb604f350d219dd1a212e15c669c8bd8b2015f8c8ee9"
    ),
    "arrivalTimePDF_delayedNeutrinos.txt": (
        "50f6c7830a718674f5983116e3b7b2d5100e1a1f041ba107dd3b25e3f07d8fe0"
    ),
    "arrivalTimePDF_promptNeutrons.txt": (
        "0119ea56f000eda98b7637282040b2641784e856fc3125e722e9eff9fb289652"
    ),
    "promptPDF.txt": "6e74171096abb2e9a3fac3c1b1c85f3973501627b88b2a83de7e7e5121601efa",
    "qfData_chicago.txt": "31046d48092e619eb84f06acdf09ea8e86c642da6aa368c10fe338480b90a04f",
    "qfData_tunl.txt": "9e3c83e669c52be27ce47d588bbeb5d5400fadbc5625c41aa665d03c99186f94",
    "coherent_parameters.yaml": "daa4f3feaeb5499cb1d876f8ea39f3cfd571f998a6ab92e9cdf552afc78b67e8",
}
REFERENCE_BYTES = {
    "README": 2744,
    "data_coincidence_beamOn.txt": 8469,
    "data_anticoincidence_beamOn.txt": 8465,
    "data_coincidence_beamOff.txt": 8463,
    "data_anticoincidence_beamOff.txt": 8463,
    "arrivalTimePDF_promptNeutrinos.txt": 579,
    "arrivalTimePDF_delayedNeutrinos.txt": 932,
    "arrivalTimePDF_promptNeutrons.txt": 665,
    "promptPDF.txt": 1298,
    "qfData_chicago.txt": 724,
    "qfData_tunl.txt": 2220,
    "coherent_parameters.yaml": 3169,
}


@pytest.fixture(scope="module")
def release() -> CoherentCsI2017Release:
    return load_coherent_csi_2017()


def _copy_release(destination: Path) -> Path:
    source = release_directory()
    for name in (*DATA_FILES, "SHA256SUMS", "REFERENCE.md"):
        (destination / name).write_bytes(source.joinpath(name).read_bytes())
    return destination


# ------------------------------------------------------------------ files and checksums


def test_shipped_files_are_the_zenodo_originals() -> None:
    folder = resources.files("cenns_bayes.datasets").joinpath("coherent_csi_2017")
    assert set(REFERENCE_SHA256) == set(DATA_FILES)
    for name, digest in REFERENCE_SHA256.items():
        content = folder.joinpath(name).read_bytes()
        assert len(content) == REFERENCE_BYTES[name], name
        assert hashlib.sha256(content).hexdigest() == digest, name
    assert (
        folder.joinpath("REFERENCE.md").read_text(encoding="utf-8").startswith("# COHERENT CsI[Na]")
    )
    assert verify_checksums() == REFERENCE_SHA256


def test_checksum_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    folder = _copy_release(tmp_path)
    assert load_coherent_csi_2017(folder).exposure_gwh == 7.47594
    target = folder / "data_coincidence_beamOn.txt"
    content = bytearray(target.read_bytes())
    index = content.rindex(b"0")
    content[index : index + 1] = b"1"  # change one count
    target.write_bytes(bytes(content))
    with pytest.raises(ChecksumError, match="data_coincidence_beamOn.txt"):
        load_coherent_csi_2017(folder)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    folder = _copy_release(tmp_path)
    (folder / "promptPDF.txt").unlink()
    with pytest.raises(ChecksumError, match="promptPDF.txt"):
        verify_checksums(folder)


def test_sha256sums_must_list_every_file(tmp_path: Path) -> None:
    folder = _copy_release(tmp_path)
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    (folder / "SHA256SUMS").write_text(
        "\n".join(line for line in lines if "qfData_tunl" not in line) + "\n"
    )
    with pytest.raises(ChecksumError, match="qfData_tunl.txt"):
        verify_checksums(folder)


def test_loader_does_not_need_the_repository(tmp_path: Path) -> None:
    """Load from a copy of the package outside the source tree, from another directory."""
    package_root = Path(__file__).resolve().parents[1] / "cenns_bayes"
    shutil.copytree(
        package_root, tmp_path / "cenns_bayes", ignore=shutil.ignore_patterns("__pycache__")
    )
    code = (
        "import sys, cenns_bayes.datasets.coherent as c\n"
        "import cenns_bayes.detector.response, cenns_bayes.detector.background\n"
        "import cenns_bayes.detector.beam\n"
        "r = c.load_coherent_csi_2017()\n"
        "assert c.__file__.startswith(sys.argv[1]), c.__file__\n"
        "print(int(r.coincidence_beam_on.sum()))\n"
        "assert not {'pymc', 'arviz', 'pytensor'} & set(sys.modules), sorted(sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1207"


# ------------------------------------------------------------------ histograms


def test_binning(release: CoherentCsI2017Release) -> None:
    np.testing.assert_array_equal(release.pe_edges, np.arange(0, 51, 2))
    np.testing.assert_allclose(release.time_edges_us, np.arange(25) * 0.5)
    np.testing.assert_array_equal(release.pe_centres, np.arange(1, 50, 2))
    np.testing.assert_allclose(release.time_centres_us, 0.25 + 0.5 * np.arange(24))
    for name in (
        "coincidence_beam_on",
        "anticoincidence_beam_on",
        "coincidence_beam_off",
        "anticoincidence_beam_off",
    ):
        histogram = getattr(release, name)
        assert histogram.shape == (25, 24)
        assert histogram.dtype.kind == "i"


@pytest.mark.parametrize(
    ("name", "total", "total_6_30", "total_6_30_0_6us"),
    [
        ("coincidence_beam_on", 1207, 855, 547),
        ("anticoincidence_beam_on", 1032, 703, 405),
        ("coincidence_beam_off", 507, 358, 209),
        ("anticoincidence_beam_off", 507, 355, 207),
    ],
)
def test_histogram_totals(
    release: CoherentCsI2017Release, name: str, total: int, total_6_30: int, total_6_30_0_6us: int
) -> None:
    histogram = getattr(release, name)
    in_pe = (release.pe_centres > 6) & (release.pe_centres < 30)
    assert in_pe.sum() == 12
    early = release.time_centres_us < 6
    assert histogram.sum() == total
    assert histogram[in_pe].sum() == total_6_30
    assert histogram[np.ix_(in_pe, early)].sum() == total_6_30_0_6us


def test_beam_on_excess(release: CoherentCsI2017Release) -> None:
    """REFERENCE.md §4.2: C − AC in 6–30 PE is 152 over 0–12 µs and 142 over 0–6 µs."""
    excess = release.coincidence_beam_on - release.anticoincidence_beam_on
    assert excess[3:15].sum() == 152
    assert excess[3:15, :12].sum() == 142


def test_histogram_first_rows_match_file(release: CoherentCsI2017Release) -> None:
    """Rows 1 and 6 of data_coincidence_beamOn.txt are '1.0, 0.25, 2' and '1.0, 2.75, 1'."""
    assert release.coincidence_beam_on[0, 0] == 2
    assert release.coincidence_beam_on[0, 1:5].sum() == 0
    assert release.coincidence_beam_on[0, 5] == 1


# ------------------------------------------------------------------ PDFs and spectra


def test_time_pdfs(release: CoherentCsI2017Release) -> None:
    for pdf in (
        release.time_pdf_prompt_neutrinos,
        release.time_pdf_delayed_neutrinos,
        release.time_pdf_prompt_neutrons,
    ):
        assert pdf.shape == (24,)
        assert pdf.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(pdf >= 0)
    np.testing.assert_allclose(
        release.time_pdf_prompt_neutrinos[:3], [0.065, 0.909, 0.026], atol=5e-4
    )
    assert release.time_pdf_prompt_neutrinos[3:].sum() == 0
    assert release.time_pdf_delayed_neutrinos[:3].sum() == pytest.approx(0.30, abs=5e-3)
    assert release.time_pdf_delayed_neutrinos[:12].sum() == pytest.approx(0.915, abs=5e-4)
    assert release.time_pdf_prompt_neutrons[:3].sum() == pytest.approx(0.989, abs=5e-4)
    assert release.time_pdf_prompt_neutrons[8:].sum() == 0
    assert release.time_pdf_prompt_neutrons[7] > 0


def test_prompt_neutron_spectrum(release: CoherentCsI2017Release) -> None:
    assert release.prompt_neutron_per_gwh.shape == (50,)
    np.testing.assert_array_equal(release.prompt_neutron_pe_edges, np.arange(51))
    np.testing.assert_allclose(release.prompt_neutron_pe_centres, np.arange(50) + 0.5)
    assert release.prompt_neutron_per_gwh.sum() == pytest.approx(3.995, abs=5e-4)
    assert release.prompt_neutron_per_gwh[0] == 0.5526297688
    assert release.prompt_neutron_per_gwh[-1] == 0.01667658426


# ------------------------------------------------------------------ YAML parameters


def test_parameters_match_reference_table(release: CoherentCsI2017Release) -> None:
    """REFERENCE.md §2.5 and §3.1, value by value."""
    assert release.exposure_gwh == 7.47594
    assert release.distance_m == 19.3
    assert (release.qf, release.qf_sigma) == (0.0878, 0.0166)
    assert (release.light_yield_pe_per_kevee, release.light_yield_sigma_pe_per_kevee) == (
        13.348,
        0.019,
    )
    assert (release.neutrinos_per_proton, release.neutrinos_per_proton_sigma) == (0.08, 0.008)
    assert (release.neutron_norm, release.neutron_norm_sigma) == (1.0, 0.25)
    assert (
        release.efficiency_a.value,
        release.efficiency_a.error_hi,
        release.efficiency_a.error_lo,
    ) == (0.6655, 0.0212, 0.0384)
    assert (
        release.efficiency_k_per_pe.value,
        release.efficiency_k_per_pe.error_hi,
        release.efficiency_k_per_pe.error_lo,
    ) == (
        0.4942,
        0.0335,
        0.0131,
    )
    assert (
        release.efficiency_x0_pe.value,
        release.efficiency_x0_pe.error_hi,
        release.efficiency_x0_pe.error_lo,
    ) == (
        10.8507,
        0.1838,
        0.3995,
    )
    assert release.efficiency_parameters == (0.6655, 0.4942, 10.8507)
    assert release.parameters_raw["beamExposure"]["uncertainty"] == "negligible"
    assert release.parameters_raw["csiLightYield"]["units"] == "PE/keVee"


def test_yaml_parser_small_documents() -> None:
    text = (
        "a:\n  value: 1\n  x: -2.5e-3\n  s: 'q: r'\n  list:\n    - name: k\n      value: .5\n"
        "  c: |\n    line 1\n\n    line 2\n\nb: text here\n"
    )
    assert parse_release_yaml(text) == {
        "a": {
            "value": 1,
            "x": -2.5e-3,
            "s": "q: r",
            "list": [{"name": "k", "value": 0.5}],
            "c": "line 1\n\nline 2\n",
        },
        "b": "text here",
    }
    with pytest.raises(ValueError, match="not a mapping"):
        parse_release_yaml("- 1\n- 2\n")
    with pytest.raises(ValueError, match="duplicate key 'a'"):
        parse_release_yaml("a: 1\na: 2\n")
    with pytest.raises(ValueError, match="duplicate key 'x'"):
        parse_release_yaml("a:\n  x: 1\n  x: 2\n")
    with pytest.raises(ValueError):
        parse_release_yaml("a: 1\n   b: 2\n")


# ------------------------------------------------------------------ QF data


def test_quenching_data(release: CoherentCsI2017Release) -> None:
    chicago, tunl = release.qf_chicago, release.qf_tunl
    assert chicago.recoil_kevnr.shape == (7,)
    assert tunl.recoil_kevnr.shape == (12,)
    assert (chicago.recoil_kevnr.min(), chicago.recoil_kevnr.max()) == (2.87, 16.37)
    assert (chicago.qf.min(), chicago.qf.max()) == (0.0521, 0.0738)
    np.testing.assert_array_equal(chicago.qf_err_hi, chicago.qf_err_lo)
    assert chicago.qf_err_hi[0] == 0.017193
    assert round(tunl.recoil_kevnr.min(), 1) == 3.4 and round(tunl.recoil_kevnr.max(), 1) == 64.9
    assert round(tunl.qf.min(), 3) == 0.085 and round(tunl.qf.max(), 3) == 0.104
    # first TUNL row: 41.605 keVnr, +2.501/−2.934, QF 0.09894 +0.001054/−0.001045
    np.testing.assert_allclose(
        [
            tunl.recoil_kevnr[0],
            tunl.recoil_err_hi_kevnr[0],
            tunl.recoil_err_lo_kevnr[0],
            tunl.qf[0],
            tunl.qf_err_hi[0],
            tunl.qf_err_lo[0],
        ],
        [41.605, 2.501, 2.9338, 0.098939, 0.0010539, 0.0010450],
        rtol=1e-4,
    )


def test_release_is_immutable(release: CoherentCsI2017Release) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        release.qf = 0.1  # type: ignore[misc]
    with pytest.raises(ValueError):
        release.coincidence_beam_on[0, 0] = 5
    assert load_coherent_csi_2017() is release

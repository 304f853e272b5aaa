"""Study specs: every shipped model loads; one bad-spec fixture per failure mode."""

from __future__ import annotations

import tomllib

import pytest

from cenns_bayes.specs import (
    SpecError,
    SpecPhysicsError,
    SpecStructureError,
    load_study,
    parse_study,
)
from cenns_bayes.specs.joint import is_joint_spec

from .conftest import BAD_SPECS, MODELS

# joint specs ([[members]]) have their own loader and tests (tests/test_joint.py)
MODEL_FILES = sorted(p for p in MODELS.glob("*.toml") if not is_joint_spec(p))


def test_there_are_models():
    names = {p.name for p in MODEL_FILES}
    assert {"paper_realistic.toml", "paper_optimistic.toml", "paper_realistic_scaled.toml"} <= names


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.name)
def test_every_model_loads_and_has_counts(path):
    study = load_study(path)
    counts = study.rate_model().counts(study.true_parameters())
    assert (counts > 0).all()


def test_paper_models_match_packaged_presets():
    from cenns_bayes.paper.reproduce import preset_path

    for setup in ("realistic", "optimistic"):
        mine = tomllib.loads((MODELS / f"paper_{setup}.toml").read_text())
        preset = tomllib.loads(preset_path(setup).read_text())
        for key in ("study", "source", "detectors", "parameters"):
            assert mine[key] == preset[key], (setup, key)


def test_scaled_variant_uses_inverse_square_flux():
    scaled = load_study(MODELS / "paper_realistic_scaled.toml")
    assert scaled.flux_per_cm2_s("Ar40") == pytest.approx(2.5e7 * (20 / 46) ** 2)
    assert scaled.flux_per_cm2_s("Xe132") == pytest.approx(2.5e7 / 4)
    paper = load_study(MODELS / "paper_realistic.toml")
    assert paper.flux_per_cm2_s("Ar40") == 6.3e6
    # counts scale exactly with the flux
    ratio = scaled.rate_model(["Ar40"]).counts({}) / paper.rate_model(["Ar40"]).counts({})
    assert ratio == pytest.approx(2.5e7 * (20 / 46) ** 2 / 6.3e6, rel=1e-12)


BAD = {
    "misspelt_key": (
        SpecStructureError,
        "detectors[0].mas_kg: unknown key (did you mean 'mass_kg'?)",
    ),
    "missing_required_key": (SpecStructureError, "detectors[0].mass_kg: required key is missing"),
    "negative_mass": (SpecStructureError, "detectors[0].mass_kg: Input should be greater than 0"),
    "zero_mass": (SpecStructureError, "detectors[0].mass_kg: Input should be greater than 0"),
    "unknown_nucleus": (SpecPhysicsError, "detectors[0].nucleus: unknown nucleus 'Ar41x'"),
    "unknown_form_factor": (SpecPhysicsError, "did you mean 'helm'?"),
    "unknown_flavor": (
        SpecStructureError,
        "analysis.flavors[1]: Input should be 'numu', 'numubar' or 'nue'",
    ),
    "window_above_max_recoil": (
        SpecPhysicsError,
        "recoil_window_kev: lower edge 400.0 keV lies above",
    ),
    "window_reversed": (SpecStructureError, "upper edge 20.0 keV must lie above the lower edge"),
    "not_toml": (SpecStructureError, "not valid TOML"),
    "unknown_prior": (SpecStructureError, "priors.mu_nu_mu: unknown prior distribution 'cauchy'"),
    "negative_prior_width": (
        SpecStructureError,
        "priors.sin2_theta_w.sigma: Input should be greater than 0",
    ),
    "prior_below_physical_range": (
        SpecPhysicsError,
        "priors.mu_nu_mu.lower: mu_nu >= 0 is physical",
    ),
    "unknown_parameter": (
        SpecStructureError,
        "priors.mu_nu_tau: no parameter 'mu_nu_tau' (did you mean",
    ),
    # non-finite, huge, tiny and boolean numbers
    "mass_inf": (SpecStructureError, "detectors[0].mass_kg: must be a finite number (found inf)"),
    "mass_huge": (
        SpecStructureError,
        "detectors[0].mass_kg: Input should be less than or equal to 1000000000",
    ),
    "mass_bool": (
        SpecStructureError,
        "detectors[0].mass_kg: Input should be a valid number (found true)",
    ),
    "distance_tiny": (
        SpecStructureError,
        "detectors[0].distance_m: Input should be greater than or equal to 1",
    ),
    "prompt_energy_inf": (SpecStructureError, "source.prompt_energy_mev: must be a finite number"),
    "mu_nu_inf": (SpecStructureError, "parameters.mu_nu_mu: must be a finite number (found inf)"),
    "r2_nan": (SpecStructureError, "parameters.r2_nu_mu: must be a finite number (found nan)"),
    "prior_upper_nan": (
        SpecStructureError,
        "priors.mu_nu_mu.upper: must be a finite number (found nan)",
    ),
    "prior_upper_inf": (
        SpecStructureError,
        "priors.mu_nu_mu.upper: must be a finite number (found inf)",
    ),
    # key paths in the user's words; no suggestion of the rejected key itself
    "key_in_wrong_table": (
        SpecStructureError,
        "study.mass_kg: key not allowed in [study]; it belongs in [detectors]",
    ),
    "recoil_bins_negative": (
        SpecStructureError,
        "detectors[0].recoil_bins: Input should be greater than or equal to 1",
    ),
    # data files checked like inline data, regular files only
    "data_file_negative_counts": (
        SpecPhysicsError,
        "negative_counts.csv: line 2: counts '-5' is not a whole number >= 0",
    ),
    "data_file_special": (SpecPhysicsError, "data.file: /dev/zero: not a regular file"),
    "data_file_not_utf8": (SpecPhysicsError, "not_utf8.csv: not UTF-8 text"),
}


def test_every_bad_fixture_is_covered():
    assert {p.stem for p in BAD_SPECS.glob("*.toml")} == set(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_spec_fails_with_file_key_and_problem(name):
    error_type, message = BAD[name]
    path = BAD_SPECS / f"{name}.toml"
    with pytest.raises(error_type) as info:
        load_study(path)
    text = str(info.value)
    assert text.startswith(str(path) + ":")
    assert message in text


def test_window_clipping_some_flavours_is_fine():
    # Ne20 realistic: 30-160 keV lies partly above the prompt line's 96 keV end point.
    study = load_study(MODELS / "paper_realistic.toml")
    ch = study.channel("Ne20", "numu", binned=False)
    assert ch.counts()[0] > 0


def test_overrides_by_path():
    path = MODELS / "paper_realistic.toml"
    study = load_study(
        path,
        {
            "detectors.Ar40.mass_kg": 1000.0,
            "mu_nu_mu": 3.0,
            "detectors.Ar40.recoil_window_kev.0": 5.0,
        },
    )
    det = study.spec.detectors[1]
    assert det.mass_kg == 1000.0 and det.recoil_window_kev[0] == 5.0
    assert study.true_parameters()["mu_nu_mu"] == 3.0
    with pytest.raises(SpecError, match="no detector named 'Ar41'"):
        load_study(path, {"detectors.Ar41.mass_kg": 1.0})


def test_observed_data_inline_and_mismatch(tmp_path):
    text = (MODELS / "paper_realistic.toml").read_text().replace('[data]\nkind = "asimov"', "")
    text += (
        '\n[data]\nkind = "observed"\n'
        'channels = [{detector = "Ge76", flavor = "numu", counts = 600}]\n'
    )
    with pytest.raises(SpecPhysicsError, match="no observed counts for detector 'Ne20'"):
        parse_study(text, tmp_path / "x.toml")


def test_observed_data_from_csv(tmp_path):
    base = (MODELS / "paper_realistic.toml").read_text().replace('[data]\nkind = "asimov"', "")
    rows = ["detector,flavor,bin,counts"]
    study = load_study(MODELS / "paper_realistic.toml")
    for det in study.detector_names:
        for f in study.flavors:
            rows.append(f"{det},{f},0,{int(study.channel(det, f).counts()[0])}")
    (tmp_path / "counts.csv").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "obs.toml"
    spec.write_text(base + '\n[data]\nkind = "observed"\nfile = "counts.csv"\n')
    observed = load_study(spec).observed_counts()
    assert observed.dtype == float and observed.size == 12
    assert observed[0] == int(study.channel("Ne20", "numu").counts()[0])


# --- hardening: numbers, booleans, files, nesting, messages ---------------------------------

_BASE = (BAD_SPECS / "zero_mass.toml").read_text().replace("mass_kg = 0.0", "mass_kg = 100.0")


def test_data_file_gives_the_same_counts_as_inline_channels():
    from_file = load_study(
        BAD_SPECS / "data_file_negative_counts.toml", {"data.file": "data/good_counts.csv"}
    )
    inline = parse_study(
        _BASE + '\n[analysis]\nflavors = ["numu"]\n\n[data]\nkind = "observed"\n'
        'channels = [{detector = "Ar40", flavor = "numu", counts = 120}]\n'
    )
    assert from_file.observed_counts().tolist() == inline.observed_counts().tolist() == [120.0]
    with pytest.raises(SpecStructureError, match="greater than or equal to 0"):
        parse_study(
            _BASE + '\n[analysis]\nflavors = ["numu"]\n\n[data]\nkind = "observed"\n'
            'channels = [{detector = "Ar40", flavor = "numu", counts = -5}]\n'
        )


def _observed_file(tmp_path, csv_bytes: bytes):
    (tmp_path / "counts.csv").write_bytes(csv_bytes)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        _BASE + '\n[analysis]\nflavors = ["numu"]\n\n[data]\nkind = "observed"\n'
        'file = "counts.csv"\n'
    )
    return spec


@pytest.mark.parametrize(
    "content, message",
    [
        (b"detector,flavor,bin,counts\nAr40,numu,0," + b"1" * 200_000 + b"\n", "not a CSV table"),
        (
            b"detector,flavor,bin,counts\nAr40,numu,0,5\nAr40,numu,0,6\n",
            "bin 0 of Ar40/numu given twice",
        ),
        (b"detector,flavor,bin,counts\nAr40,numu,0,5\nAr40,numu,3,6\n", "must run 0, 1, 2"),
        (b"detector,flavor,bin,counts\nAr40,numu,0,5.5\n", "is not a whole number"),
        (b"detector,flavor,bin,counts\nAr40,nutau,0,5\n", "flavor 'nutau' is not one of"),
        (b"a,b\n1,2\n", "the first line must name the columns"),
        (b"", "the first line must name the columns"),
    ],
)
def test_bad_data_files_fail_with_one_line(tmp_path, content, message):
    with pytest.raises(SpecPhysicsError, match=message) as info:
        load_study(_observed_file(tmp_path, content))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300 + len(str(tmp_path))


def test_data_file_resolved_relative_to_the_spec(tmp_path, monkeypatch):
    spec = _observed_file(tmp_path, b"detector,flavor,bin,counts\nAr40,numu,0,7\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_study(spec).observed_counts().tolist() == [7.0]


def test_special_and_oversized_spec_files_are_refused(tmp_path):
    import os

    with pytest.raises(SpecStructureError, match="not a regular file"):
        load_study("/dev/zero")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(SpecStructureError, match="not a regular file"):
        load_study(fifo)  # would block forever if opened for reading without O_NONBLOCK
    with pytest.raises(SpecStructureError, match="not a regular file"):
        load_study(tmp_path)
    big = tmp_path / "big.toml"
    big.write_text(_BASE + "#" * 2_000_000)
    with pytest.raises(SpecStructureError, match="exceeds the limit"):
        load_study(big)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(_BASE.replace('"bad"', '"b\xe9"').encode("latin-1"))
    with pytest.raises(SpecStructureError, match="not UTF-8"):
        load_study(latin)


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 100_000 + "]" * 100_000,
        "a = " + "{b = " * 100_000 + "1" + "}" * 100_000,
        _BASE + "\n[parameters]\nmu_nu_mu = " + "[" * 50 + "1" + "]" * 50 + "\n",
    ],
)
def test_deep_nesting_is_one_line(text):
    with pytest.raises(SpecStructureError) as info:
        parse_study(text)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize(
    "key, value",
    [
        ("detectors.Ar40.mass_kg", True),
        ("detectors.Ar40.distance_m", False),
        ("study.exposure_s", True),
        ("detectors.Ar40.recoil_window_kev", [True, 120.0]),
        ("detectors.Ar40.name", True),
        ("sampling.draws", True),
        ("parameters.mu_nu_mu", True),
    ],
)
def test_bool_is_never_a_number(key, value):
    with pytest.raises(SpecStructureError, match="(found true|found false|found a list)"):
        parse_study(_BASE, overrides={key: value})


def test_switches_still_take_booleans():
    study = parse_study(_BASE + "\n[analysis]\nuse_timing = false\n")
    assert study.spec.analysis.use_timing is False


def test_suggestions_never_repeat_the_rejected_key():
    from cenns_bayes.specs.load import _KNOWN_KEYS

    for key in _KNOWN_KEYS:
        for table in ("study", "source", "nuisances", "detectors.Ar40"):
            try:
                parse_study(_BASE, overrides={f"{table}.{key}": 1})
            except SpecError as err:
                assert f"did you mean {key!r}" not in str(err), str(err)
                assert "constrained" not in str(err) and "function-" not in str(err), str(err)


def test_key_paths_name_no_internal_types():
    for override in (
        {"detectors.Ar40.recoil_bins": [1.0, "x"]},
        {"detectors.Ar40.recoil_window_kev": [20.0, "min"]},
        {"detectors.Ar40.recoil_bins": 0.5},
    ):
        with pytest.raises(SpecStructureError) as info:
            parse_study(_BASE, overrides=override)
        text = str(info.value)
        assert "constrained" not in text and "literal[" not in text and "list[" not in text, text


def test_override_into_a_scalar_is_one_line():
    with pytest.raises(SpecStructureError, match="cannot set a value inside a scalar"):
        parse_study(_BASE, overrides={"study.name.x.y": 3})
    with pytest.raises(SpecStructureError, match="cannot set a value inside a scalar"):
        parse_study(_BASE, overrides={"study.exposure_s.x": 3})


def test_long_values_are_clipped_in_messages():
    with pytest.raises(SpecError) as info:
        parse_study(_BASE, overrides={"detectors.Ar40.nucleus": "X" * 200_000})
    assert len(str(info.value)) <= 320

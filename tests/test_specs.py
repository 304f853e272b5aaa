"""Study specs: every shipped model loads; one bad-spec fixture per failure mode."""

from __future__ import annotations

import tomllib

import pytest

from cenns_bayes.specs import SpecError, SpecPhysicsError, SpecStructureError, load_study, parse_study

from .conftest import BAD_SPECS, MODELS

MODEL_FILES = sorted(MODELS.glob("*.toml"))


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
    ratio = (scaled.rate_model(["Ar40"]).counts({}) / paper.rate_model(["Ar40"]).counts({}))
    assert ratio == pytest.approx(2.5e7 * (20 / 46) ** 2 / 6.3e6, rel=1e-12)


BAD = {
    "misspelt_key": (SpecStructureError, "detectors[0].mas_kg: unknown key (did you mean 'mass_kg'?)"),
    "missing_required_key": (SpecStructureError, "detectors[0].mass_kg: required key is missing"),
    "negative_mass": (SpecStructureError, "detectors[0].mass_kg: Input should be greater than 0"),
    "zero_mass": (SpecStructureError, "detectors[0].mass_kg: Input should be greater than 0"),
    "unknown_nucleus": (SpecPhysicsError, "detectors[0].nucleus: unknown nucleus 'Ar41x'"),
    "unknown_form_factor": (SpecPhysicsError, "did you mean 'helm'?"),
    "unknown_flavor": (SpecStructureError, "analysis.flavors[1]: Input should be 'numu', 'numubar' or 'nue'"),
    "window_above_max_recoil": (SpecPhysicsError, "recoil_window_kev: lower edge 400.0 keV lies above"),
    "window_reversed": (SpecStructureError, "upper edge 20.0 keV must lie above the lower edge"),
    "not_toml": (SpecStructureError, "not valid TOML"),
    "unknown_prior": (SpecStructureError, "priors.mu_nu_mu: unknown prior distribution 'cauchy'"),
    "negative_prior_width": (SpecStructureError, "priors.sin2_theta_w.sigma: Input should be greater than 0"),
    "prior_below_physical_range": (SpecPhysicsError, "priors.mu_nu_mu.lower: mu_nu >= 0 is physical"),
    "unknown_parameter": (SpecStructureError, "priors.mu_nu_tau: no parameter 'mu_nu_tau' (did you mean"),
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
    study = load_study(path, {"detectors.Ar40.mass_kg": 1000.0, "mu_nu_mu": 3.0,
                              "detectors.Ar40.recoil_window_kev.0": 5.0})
    det = study.spec.detectors[1]
    assert det.mass_kg == 1000.0 and det.recoil_window_kev[0] == 5.0
    assert study.true_parameters()["mu_nu_mu"] == 3.0
    with pytest.raises(SpecError, match="no detector named 'Ar41'"):
        load_study(path, {"detectors.Ar41.mass_kg": 1.0})


def test_observed_data_inline_and_mismatch(tmp_path):
    text = (MODELS / "paper_realistic.toml").read_text().replace('[data]\nkind = "asimov"', "")
    text += '\n[data]\nkind = "observed"\nchannels = [{detector = "Ge76", flavor = "numu", counts = 600}]\n'
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

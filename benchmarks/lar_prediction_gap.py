"""COHERENT LAr 2020: where our SM prediction and significance differ from the published ones.

Prints (1) the SM CEvNS prediction per energy bin against the release's CEvNS template
(128 events), with one modelling choice switched at a time; (2) the no-CEvNS significance
of the release fit with pieces of the model switched off, and the Asimov (median expected)
significance at the SM. Run::

    .venv/bin/python benchmarks/lar_prediction_gap.py [--no-significance]

Quoted in docs/coherent_lar_2020.md (never run by the tests).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from cenns_bayes.datasets.coherent_lar import load_coherent_lar_2020
from cenns_bayes.specs import load_study
from cenns_bayes.stats.binned import model_for_study
from cenns_bayes.stats.profile import ProfileFitter

SPEC = Path(__file__).resolve().parents[1] / "models" / "coherent_lar_2020.toml"

VARIANTS = {
    "default (Helm, sin2 0.2312, resolution, acceptance)": {},
    "Klein-Nystrand form factor": {"detectors.LAr.form_factor": "klein-nystrand"},
    "symmetrized-Fermi form factor": {"detectors.LAr.form_factor": "symmetrized-fermi"},
    "sin2 = 0.2387 (low-Q^2 running value)": {"parameters.sin2_theta_w": 0.2387},
    "QF a + 1 sigma (0.252)": {"detectors.LAr.energy_response.quenching.a": 0.252},
    "QF a - 1 sigma (0.240)": {"detectors.LAr.energy_response.quenching.a": 0.240},
    "resolution 0.29 (half)": {"detectors.LAr.energy_response.resolution_sqrt_kevee": 0.29},
    "resolution 1.16 (double)": {"detectors.LAr.energy_response.resolution_sqrt_kevee": 1.16},
    "prompt line 29.9 MeV (paper value)": {"source.prompt_energy_mev": 29.9},
}


def prediction(overrides: dict) -> np.ndarray:
    model = model_for_study(load_study(SPEC, overrides))
    return model.signal(model.fixed, model.nominal_nuisances()).reshape(12, 8, 10).sum(axis=(1, 2))


def prediction_acceptance_at_true_energy() -> np.ndarray:
    """The default model but with the acceptance taken at the true visible energy QF(T) T."""
    from cenns_bayes.detector.energy_response import (
        electron_equivalent_kevee,
        energy_bin_probabilities,
        trapezoid_weights,
    )
    from cenns_bayes.physics.cross_sections import neutron_vector_coupling, proton_vector_coupling
    from cenns_bayes.rates.coefficients import differential_coefficients

    study = load_study(SPEC)
    model = model_for_study(study)
    release = load_coherent_lar_2020()
    setup = study.setup("LAr")
    lo, hi = model.notes["recoil_grid_kevnr"]
    grid = np.geomspace(lo, hi, model.notes["recoil_grid_points"])
    acc = np.interp(
        electron_equivalent_kevee(grid, 0.246, 0.00078),
        release.acceptance_kevee,
        release.acceptance,
        left=0.0,
        right=float(release.acceptance[-1]),
    )
    prob = energy_bin_probabilities(grid, release.energy_edges_kevee, 0.246, 0.00078, 0.58)
    gp, gn = float(proton_vector_coupling(0.2312)), float(neutron_vector_coupling(0.2312))
    rows = sum(differential_coefficients(setup, f, grid) for f in study.flavors)
    dn = gp * gp * rows[0] + 2 * gp * gn * rows[1] + gn * gn * rows[2]
    return (prob * (acc * dn * trapezoid_weights(grid))[None, :]).sum(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-significance", action="store_true", help="skip the fits (about 5 min)"
    )
    args = parser.parse_args()
    template = load_coherent_lar_2020().histograms["cevns"].sum(axis=(1, 2))
    print("SM CEvNS per energy bin (keVee), against the release's template (128.0):")
    print(
        f"{'variant':52s} {'total':>7s} {'ratio':>6s}  "
        + " ".join(f"{int(10 * i):>5d}" for i in range(5))
    )
    print(
        f"{'release template':52s} {template.sum():7.1f} {1:6.3f}  "
        + " ".join(f"{x:5.1f}" for x in template[:5])
    )
    for name, overrides in VARIANTS.items():
        n = prediction(overrides)
        print(
            f"{name:52s} {n.sum():7.1f} {n.sum() / 128:6.3f}  "
            + " ".join(f"{x:5.1f}" for x in n[:5])
        )
    n = prediction_acceptance_at_true_energy()
    name = "acceptance at the true, not reconstructed, energy"
    print(
        f"{name:52s} {n.sum():7.1f} {n.sum() / 128:6.3f}  " + " ".join(f"{x:5.1f}" for x in n[:5])
    )
    if args.no_significance:
        return
    print("\nno-CEvNS rejected at (sigma), sqrt of Delta(-2 ln L) at signal_strength = 0:")
    for name, overrides in {
        "release data, full model": {},
        "release data, no shape systematics": {
            "detectors.LAr.energy_response.shape_systematics": False
        },
        "release data, no shape systematics, no QF/flux/mass nuisances": {
            "detectors.LAr.energy_response.shape_systematics": False,
            "nuisances.quenching": False,
            "nuisances.flux_sigma": 0.0,
            "nuisances.detector_sigma": 0.0,
        },
        "Asimov data at the SM (median expected), full model": {"data.kind": "asimov"},
    }.items():
        study = load_study(SPEC, overrides)
        fitter = ProfileFitter(model_for_study(study), study.free_parameters)
        best = fitter.best_fit()
        print(
            f"  {name:62s} {fitter.significance('signal_strength', 0.0):5.2f}"
            f"   (signal_strength {best.parameters['signal_strength']:.3f})"
        )
    print(f"\nload average: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""BCS form factors against Helm and Klein-Nystrand: the figure and radii of docs/bcs.md.

Writes ``docs/figures/bcs_form_factors.png`` (F_Z, F_N of the BCS ground state beside
Helm and Klein-Nystrand for 20Ne, 40Ar, 76Ge, 132Xe, with the ratios to Helm over the
SNS momentum transfers) and prints, per nucleus, the point rms radii, the neutron skin
and the form factors at a few q.

Usage::

    cd /work/main && .venv/bin/python benchmarks/bcs_comparison.py [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cenns_bayes.physics import bcs
from cenns_bayes.physics.form_factors import form_factor_pair
from cenns_bayes.physics.nuclei import get_nucleus
from cenns_bayes.plotting.form_factor_plots import plot_bcs_comparison, realistic_window_q_inv_fm

ROOT = Path(__file__).resolve().parents[1]
NUCLEI = ("Ne20", "Ar40", "Ge76", "Xe132")


def main() -> None:
    """Write the figure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "figures" / "bcs_form_factors.png"
    )
    args = parser.parse_args()
    path = plot_bcs_comparison(args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB)")
    print(
        "| nucleus | r_p BCS (fm) | r_n BCS (fm) | skin (fm) | r Helm (fm) | r K-N (fm) | "
        "realistic q window (fm^-1) | F_Z/Helm, F_N/Helm at q=0.3 | at q=0.5 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in NUCLEI:
        nuc = get_nucleus(name)
        res = bcs.solve_bcs(nuc.Z, nuc.A)
        helm = form_factor_pair("helm", nuc)[0]
        kn = form_factor_pair("klein-nystrand", nuc)[0]
        lo, hi = realistic_window_q_inv_fm(name)
        q = np.array([0.3, 0.5])
        rz, rn = res.proton_form_factor(q) / helm(q), res.neutron_form_factor(q) / helm(q)
        print(
            f"| {name} | {res.proton_rms_fm:.3f} | {res.neutron_rms_fm:.3f} | "
            f"{res.neutron_skin_fm:.3f} | "
            f"{helm.rms_radius_fm:.3f} | {kn.rms_radius_fm:.3f} | {lo:.2f}-{hi:.2f} | "
            f"{rz[0]:.3f}, {rn[0]:.3f} | {rz[1]:.3f}, {rn[1]:.3f} |"
        )


if __name__ == "__main__":
    main()

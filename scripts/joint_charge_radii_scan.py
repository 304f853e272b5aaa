"""1-D profiles of the joint charge radii, both branches tried at every grid point.

The joint likelihood in (<r^2>_nu_mu, <r^2>_nu_e) has two valleys (each flavour's effective
sin^2 can sit on either side of the cross section's minimum), so the profile of one radius
is not one connected well and the interval search of ``fit --fit charge_radii``, which
walks out from the best fit, sees only the valley of the best fit. Here each grid point is
profiled from a start in each valley (the other radius at -27 and at 0, 1e-32 cm^2) and the
lower minimum kept.

Run:  .venv/bin/python scripts/joint_charge_radii_scan.py OUT.json
"""

import json
import sys
import time

import numpy as np

from cenns_bayes.specs.joint import load_joint_study
from cenns_bayes.stats.joint import fit_bounds, joint_model_for_study
from cenns_bayes.stats.profile import ProfileFitter


def accepted_ranges(rows: list, delta: float) -> list[list[float]]:
    """The grid's ranges with Delta(-2 ln L) <= delta, ends linearly interpolated."""
    x = np.array([r[0] for r in rows])
    d = np.array([r[1] for r in rows])
    ok = d <= delta
    out = []
    k = 0
    while k < x.size:
        if not ok[k]:
            k += 1
            continue
        start = k
        while k + 1 < x.size and ok[k + 1]:
            k += 1
        lo = x[start]
        if start > 0:
            lo = np.interp(delta, [d[start], d[start - 1]], [x[start], x[start - 1]])
        hi = x[k]
        if k + 1 < x.size:
            hi = np.interp(delta, [d[k], d[k + 1]], [x[k], x[k + 1]])
        out.append([round(float(lo), 2), round(float(hi), 2)])
        k += 1
    return out


def main(path: str) -> None:
    """Scan both radii and write the profiles and accepted ranges to ``path`` (JSON)."""
    study = load_joint_study("models/coherent_joint.toml")
    sub = study.for_fit("charge_radii")
    m = joint_model_for_study(sub)
    f = ProfileFitter(m, sub.free_parameters, bounds=fit_bounds(sub))
    best = f.best_fit().neg2ll
    out: dict = {}
    t0 = time.process_time()
    for scanned, other in (("r2_nu_e", "r2_nu_mu"), ("r2_nu_mu", "r2_nu_e")):
        rows = []
        for v in np.arange(-60.0, 20.01, 2.5):
            vals = [f.fit({scanned: float(v)}, start={other: s}) for s in (-27.0, 0.0)]
            r = min(vals, key=lambda x: x.neg2ll)
            rows.append((float(v), r.neg2ll - best, r.parameters[other]))
            print(scanned, *[round(x, 4) for x in rows[-1]], flush=True)
        out[scanned] = rows
    add_ranges(out)
    out["best_neg2ll"] = best
    out["cpu_seconds"] = time.process_time() - t0
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)


def add_ranges(out: dict) -> None:
    """Add the 68 % (Delta 1) and 90 % (Delta 2.706) ranges of each scanned radius."""
    for name in ("r2_nu_e", "r2_nu_mu"):
        out[f"{name}_68"] = accepted_ranges(out[name], 1.0)
        out[f"{name}_90"] = accepted_ranges(out[name], 2.706)
    out["lowest_delta_on_grid"] = min(r[1] for n in ("r2_nu_e", "r2_nu_mu") for r in out[n])


if __name__ == "__main__":
    main(sys.argv[1])

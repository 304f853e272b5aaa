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

study = load_joint_study("models/coherent_joint.toml")
sub = study.for_fit("charge_radii")
m = joint_model_for_study(sub)
f = ProfileFitter(m, sub.free_parameters, bounds=fit_bounds(sub))
best = f.best_fit().neg2ll
out = {}
t0 = time.process_time()
for scanned, other in (("r2_nu_e", "r2_nu_mu"), ("r2_nu_mu", "r2_nu_e")):
    rows = []
    for v in np.arange(-60.0, 20.01, 2.5):
        vals = [f.fit({scanned: float(v)}, start={other: s}) for s in (-27.0, 0.0)]
        r = min(vals, key=lambda x: x.neg2ll)
        rows.append((float(v), r.neg2ll - best, r.parameters[other]))
        print(scanned, *[round(x, 4) for x in rows[-1]], flush=True)
    out[scanned] = rows
mins = min(r[1] for rows in out.values() for r in rows)
out["best_neg2ll"] = best
out["lowest_delta_on_grid"] = mins
out["cpu_seconds"] = time.process_time() - t0
json.dump(out, open(sys.argv[1], "w"), indent=1)

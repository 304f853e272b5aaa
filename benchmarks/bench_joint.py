"""Timing of the joint COHERENT analysis (models/coherent_joint.toml).

Run:  .venv/bin/python benchmarks/bench_joint.py [--main-job DIR] [--draws N --tune N --chains N]

Prints, each with the load average at its start (the machine is shared):

* building the three member models and the joint model (with and without the three
  neutron-radius templates);
* one joint best fit of sin^2(theta_W) (profile engine, every nuisance minimised) and the
  68 % profile interval; for scale, the same fit of each data set alone; each with the
  exact gradient (the default) and, side by side, with numerical derivatives;
* one evaluation of the joint expectation (NumPy);
* with ``--main-job DIR``: ``cenns-bayes study models/coherent_joint.toml --out DIR`` as a
  whole process (wall and CPU time of the child).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("cenns-bayes"))
SPEC = ROOT / "models" / "coherent_joint.toml"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def timed(label: str, func):
    print(f"[{load()}] {label} ...", flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    out = func()
    print(
        f"    {label}: {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU",
        flush=True,
    )
    return out


def fits() -> None:
    from cenns_bayes.specs.joint import load_joint_study
    from cenns_bayes.stats.joint import joint_model_for_study, member_models
    from cenns_bayes.stats.profile import DELTA_68, ProfileFitter

    study = load_joint_study(SPEC)
    timed("member models", lambda: member_models(study))
    joint = timed("joint model (sin2 fit)", lambda: joint_model_for_study(study))
    radii = study.for_fit("neutron_radii")
    timed("joint model with radius templates", lambda: joint_model_for_study(radii))
    nominal = joint.nominal_nuisances()
    # alternate two flux values: equal inputs would be served from the members' cache
    inputs = [{**nominal, "flux_norm": 1.0 + 1e-3 * (i % 2)} for i in range(50)]
    t0 = time.perf_counter()
    for nuis in inputs:
        joint.expected({}, nuis)
    per_call = (time.perf_counter() - t0) / len(inputs)
    print(f"    one joint expectation: {per_call * 1e3:.2f} ms ({joint.observed.size} bins)")
    # side by side: exact gradients (the default) and numerical derivatives
    for exact in (True, False):
        how = "exact gradient" if exact else "numerical derivatives"
        joint.has_jacobian = exact
        fitter = ProfileFitter(joint, ["sin2_theta_w"])
        best = timed(f"joint best fit of sin2_theta_w, {how}", fitter.best_fit)
        interval = timed(
            f"joint 68 % profile interval of sin2_theta_w, {how}",
            lambda fitter=fitter: fitter.interval("sin2_theta_w", DELTA_68),
        )
        print(
            f"    -2 ln L {best.neg2ll:.6f}, sin2 {best.parameters['sin2_theta_w']:.6f}, "
            f"68 % [{interval[0]:.6f}, {interval[1]:.6f}]"
        )
        for label in study.members:
            alone = joint_model_for_study(study, [label])
            alone.has_jacobian = exact
            timed(
                f"{label} alone: best fit, {how}", ProfileFitter(alone, ["sin2_theta_w"]).best_fit
            )
            alone.has_jacobian = True
    joint.has_jacobian = True


def main_job(out: str, draws: int, tune: int, chains: int) -> None:
    cmd = [CLI, "study", str(SPEC), "--out", out, "--draws", str(draws), "--tune", str(tune)]
    cmd += ["--chains", str(chains)]
    print(f"[{load()}] {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"    main job: {time.perf_counter() - t0:.0f} s wall, {cpu:.0f} s CPU [{load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--main-job", metavar="DIR", help="also time the main job into DIR")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    args = parser.parse_args()
    fits()
    if args.main_job:
        main_job(args.main_job, args.draws, args.tune, args.chains)


if __name__ == "__main__":
    main()

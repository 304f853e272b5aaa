"""Where the divergences of the flux-study SBC come from, and what removes them.

Reads the replications of an SBC run of ``models/calibration_ge76_sin2_flux.toml``
(``check --kind sbc --out DIR``), lists the replications with divergences or R-hat > 1.05
and their prior draws of sin2_theta_w, then refits those replications (and as many clean
ones as controls) with nutpie at target_accept 0.95 and 0.99, ``--seeds`` seeds each, and
counts divergent fits; for the divergent fits at 0.95 it prints where the divergent
transitions sit beside the posterior's bulk.

    cenns-bayes check models/calibration_ge76_sin2_flux.toml --kind sbc --toys 1000 \\
        --target-accept 0.95 --workers 1 --seed 20151 --out DIR
    .venv/bin/python benchmarks/sbc_flux_divergences.py DIR
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

SPEC = "models/calibration_ge76_sin2_flux.toml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sbc_dir", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    import nutpie

    import cenns_bayes as cb
    from cenns_bayes.bayes.model import build_model
    from cenns_bayes.calibration.common import split_rhat

    lines = (args.sbc_dir / "sbc_replications.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if '"task"' in line]
    meta = json.loads(lines[0])["_meta"]
    print(f"load {os.getloadavg()[0]:.2f}; {len(rows)} replications, sampler {meta['sampler']}")

    def bad(r: dict) -> bool:
        return r["divergences"] > 0 or (r["max_r_hat"] or np.inf) > 1.05

    divergent = [r for r in rows if r["divergences"] > 0]
    print(
        f"{sum(r['divergences'] for r in rows)} divergences in {len(divergent)} replications; "
        f"prior sin2 of those: {sorted(round(r['prior']['sin2_theta_w'], 4) for r in divergent)}"
    )
    rhat_bad = [r for r in rows if (r["max_r_hat"] or np.inf) > 1.05]
    edge = sum(
        min(r["prior"]["sin2_theta_w"] - 0.10, 0.40 - r["prior"]["sin2_theta_w"]) < 0.03
        for r in rhat_bad
    )
    print(
        f"{len(rhat_bad)} replications with R-hat > 1.05 (largest "
        f"{max((r['max_r_hat'] or np.inf) for r in rhat_bad):.2f}); {edge} of them with the prior "
        "draw within 0.03 of a bound of [0.10, 0.40] (20 % of the prior range)"
    )
    problem = [r for r in rows if bad(r)]
    control = [r for r in rows if not bad(r)][: len(problem)]
    model, _ = build_model(cb.load_study(SPEC))
    compiled = nutpie.compile_pymc_model(model)
    for target in (0.95, 0.99):
        t0 = time.perf_counter()
        for label, group in (("problem", problem), ("control", control)):
            fits = n_div = n_div_fits = n_rhat = 0
            for r in group:
                data = compiled.with_data(observed_counts=np.asarray(r["counts"], dtype=float))
                for seed in range(args.seeds):
                    idata = nutpie.sample(
                        data,
                        draws=500,
                        tune=500,
                        chains=2,
                        cores=1,
                        seed=1000 + seed + 7 * r["key"][1],
                        target_accept=target,
                        progress_bar=False,
                    )
                    div = np.asarray(idata["sample_stats"]["diverging"]).astype(bool)
                    s = np.asarray(idata["posterior"]["sin2_theta_w"])
                    flux = np.asarray(idata["posterior"]["flux_norm"])
                    fits += 1
                    n_div += int(div.sum())
                    n_div_fits += bool(div.any())
                    n_rhat += split_rhat(s) > 1.05
                    if div.any() and target == 0.95:
                        where = (
                            f"sin2 {np.round(s[div], 4).tolist()}, "
                            f"flux {np.round(flux[div], 3).tolist()}"
                        )
                        bulk = (
                            f"sin2 median {np.median(s):.4f}, 99 % {np.quantile(s, 0.99):.4f}, "
                            f"flux median {np.median(flux):.3f}"
                        )
                        print(
                            f"  prior sin2 {r['prior']['sin2_theta_w']:.4f}: divergent at "
                            f"{where}; posterior {bulk}"
                        )
            print(
                f"target_accept {target}: {label} replications, {fits} fits: {n_div} divergences "
                f"in {n_div_fits} fits; {n_rhat} fits with R-hat > 1.05",
                flush=True,
            )
        print(f"  {time.perf_counter() - t0:.0f} s; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

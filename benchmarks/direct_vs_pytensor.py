"""The main job's posterior through both log-density paths, over several seeds.

Run:  .venv/bin/python benchmarks/direct_vs_pytensor.py [--seeds 6]

Samples ``models/paper_realistic.toml`` (partial pooling, 4 chains x 1000 draws,
target_accept 0.99) with nutpie on the hand-written log-density (bayes/direct.py) and on
PyMC's compiled graph, one model of each made once and sampled with seeds 1..N, and
prints per path the mean over seeds (with its standard error) of the 90 % quantiles of
mu_nu_mu and mu_nu_e and of the posterior mean of sin^2 theta_W. The seed-to-seed spread
is the honest Monte Carlo error of one run's numbers.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    import nutpie
    from threadpoolctl import threadpool_limits

    from cenns_bayes.bayes.direct import compile_direct
    from cenns_bayes.bayes.model import build_model
    from cenns_bayes.specs import load_study
    from cenns_bayes.stats.binned import model_for_study

    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    threadpool_limits(1)
    study = load_study("models/paper_realistic.toml")
    counting = model_for_study(study)
    model, _ = build_model(study, None, counting)
    paths = {
        "hand-written": compile_direct(study, counting),
        "pytensor": nutpie.compile_pymc_model(model),
    }
    for name, compiled in paths.items():
        stats: dict[str, list[float]] = {"mu_nu_mu q90": [], "mu_nu_e q90": [], "sin2 mean": []}
        for seed in range(1, args.seeds + 1):
            post = nutpie.sample(
                compiled,
                draws=1000,
                tune=1000,
                chains=4,
                cores=2,
                seed=seed,
                target_accept=0.99,
                progress_bar=False,
                save_warmup=False,
            )["posterior"]
            stats["mu_nu_mu q90"].append(float(post["mu_nu_mu"].quantile(0.9)))
            stats["mu_nu_e q90"].append(float(post["mu_nu_e"].quantile(0.9)))
            stats["sin2 mean"].append(float(post["sin2_theta_w"].mean()))
        print(
            f"{name}: "
            + "; ".join(
                f"{k} {np.mean(v):.4g} ± {np.std(v, ddof=1) / np.sqrt(len(v)):.2g} "
                f"(seeds: {', '.join(f'{x:.4g}' for x in v)})"
                for k, v in stats.items()
            )
        )


if __name__ == "__main__":
    main()

"""Wall time of the four-nucleus hierarchical study: compile and sampling separately.

Run:  .venv/bin/python benchmarks/bench_bayes.py [--cold]

4 chains x 1000 draws (1000 tuning) of models/paper_realistic.toml (Ne, Ar, Ge, Xe;
sin^2 theta_W, mu_nu_mu, mu_nu_e free; shared flux and partially pooled per-detector
normalisations) with nutpie. ``--cold`` empties PyTensor's compile cache first (what a
fresh machine pays once).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    if "--cold" in sys.argv:
        shutil.rmtree(Path.home() / ".pytensor", ignore_errors=True)
    t0 = time.perf_counter()
    from cenns_bayes.bayes import diagnostics, sample_study
    from cenns_bayes.specs import load_study

    t_import = time.perf_counter() - t0
    study = load_study(ROOT / "models" / "paper_realistic.toml")
    t1 = time.perf_counter()
    result = sample_study(study, draws=1000, tune=1000, chains=4, progressbar=False, prior_draws=10)
    t_total = time.perf_counter() - t1
    d = diagnostics(result.idata, study.free_parameters)
    print(f"date: {time.strftime('%Y-%m-%d')}; sampler {result.backend}; 4 chains x 1000 draws")
    print(f"import pymc + package: {t_import:.1f} s")
    print(
        f"compile: {result.compile_seconds:.1f} s; sampling: {result.sampling_seconds:.2f} s; "
        f"build + compile + sample + prior draws: {t_total:.1f} s"
    )
    print(
        f"divergences {d['divergences']}, max R-hat {d['max_r_hat']:.4f}, "
        f"min bulk ESS {d['min_ess_bulk']:.0f}"
    )


if __name__ == "__main__":
    main()

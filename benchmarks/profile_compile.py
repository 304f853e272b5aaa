"""Where a warm nutpie compile of a study's model spends its time.

Run:  .venv/bin/python benchmarks/profile_compile.py [models/paper_realistic.toml]

Compiles the study's PyMC model with nutpie once (run it twice: the first run may fill
PyTensor's Numba cache) under cProfile and prints the total and the share spent in
Numba's compile of nutpie's C callbacks (``numba.cfunc``), which Numba cannot cache.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time


def main() -> None:
    import nutpie
    from threadpoolctl import threadpool_limits

    from cenns_bayes.bayes.model import build_model
    from cenns_bayes.specs import load_study

    path = sys.argv[1] if len(sys.argv) > 1 else "models/paper_realistic.toml"
    model, _ = build_model(load_study(path))
    profiler = cProfile.Profile()
    with threadpool_limits(1):
        t0 = time.perf_counter()
        profiler.enable()
        nutpie.compile_pymc_model(model)
        profiler.disable()
        total = time.perf_counter() - t0
    stats = pstats.Stats(profiler).stats
    callback_file = os.path.join("numba", "core", "ccallback.py")
    cfunc = sum(
        v[3]
        for (file, _, name), v in stats.items()
        if file.endswith(callback_file) and name == "compile"
    )
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print(
        f"{path}: nutpie compile {total:.2f} s, of which numba.cfunc compile {cfunc:.2f} s "
        f"({cfunc / total:.0%})"
    )


if __name__ == "__main__":
    main()

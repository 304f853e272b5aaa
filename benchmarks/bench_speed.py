"""Speed of the main paths, each variant beside its alternative in one run.

Run:  .venv/bin/python benchmarks/bench_speed.py
      [--only study,fits,curves,kernel,toys,scan,counts,reproduce] [--repeats N]
      [--baseline REV] [--skip-pytensor]

``--baseline REV`` adds, to every whole-process section (study, toys, scan, reproduce), the same
command run on the package as it was at git revision REV (``git archive REV`` unpacked in a
temporary folder and put first on PYTHONPATH; same virtual environment, same compile
caches), alternating with the current code: before and after side by side in one run.
``--skip-pytensor`` leaves out the ``sampling.log_density=pytensor`` variants.

Sections (the load average is printed before each, since the machine is shared):

* ``study``: the main job (``cenns-bayes study models/paper_realistic.toml``) as a whole
  process with a warm compile cache: the default (nutpie on the hand-written log-density
  of bayes/direct.py) and ``--set sampling.log_density=pytensor`` (three PyTensor/nutpie
  compiles), alternating;
* ``fits``: the main job's frequentist part (``frequentist_intervals``) in-process, CPU
  time, with the one-pass counting objective compiled by Numba (stats/_fused_kernel.py,
  the default for fits with nuisances), the same objective in NumPy, and the engine's
  generic objective, alternating;
* ``curves``: the main job's six figure profile curves (61 points each) in-process, CPU
  time: walked from the best fit, each point started at its neighbour's minimum (the
  default, ``ProfileFitter.profile(..., follow=True)``), and as independent fits with every
  start;
* ``kernel``: the main job's first best fit in a fresh process with an empty Numba cache
  (the compiled objective is compiled) and again with that cache (it is loaded);
* ``toys``: ``cenns-bayes check models/calibration_ge76_mu.toml --kind coverage --toys 100
  --workers 1`` (chi^2, profile and Feldman-Cousins intervals, the FC belt, a posterior
  refit per toy) as a whole process, default and ``--set sampling.log_density=pytensor``;
* ``scan``: a 10-point posterior threshold scan on one worker, as a whole process
  (``cenns-bayes scan ... --method posterior --workers 1``): the default (the hand-written
  log-density of bayes/direct.py, built once, each point's coefficients swapped into its
  buffer) and ``--set sampling.log_density=pytensor`` (one PyTensor compile, data swapped),
  alternating (with ``--baseline``, also the baseline revision); then in-process: the
  default, PyTensor compiled once, PyTensor compiled at every point, with the files
  PyTensor's Numba cache gains and each variant's limits;
* ``counts``: the 12 realistic channels at 10^6 parameter points: the previous
  broadcasting formula, :meth:`RateModel.counts`, and the same into a preallocated
  ``out=``; the floor (writing a result of that size) for scale;
* ``reproduce``: ``cenns-bayes reproduce --json`` as a whole process (wall and CPU time),
  and the CPU time of importing what it needs.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("cenns-bayes"))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def run_process(
    cmd: list[str], env: dict | None = None, cwd: str | Path = ROOT
) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one command run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        cmd,
        check=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


#: PYTHONPATH of the --baseline revision's package (None: no baseline).
BASELINE: dict[str, str] = {}


def baseline_env() -> dict[str, str]:
    """Environment that makes a child process import the baseline revision's package."""
    return {"PYTHONPATH": BASELINE["path"]}


def export_baseline(rev: str, into: str) -> str:
    """Unpack ``git archive rev`` into ``into``; returns the folder to put on PYTHONPATH."""
    archive = subprocess.run(
        ["git", "archive", rev], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    BASELINE.update(path=into, label=f"baseline {rev} ({commit})")
    return into


def section(title: str) -> None:
    print(f"\n## {title}  ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {load()})")


def bench_study(repeats: int, pytensor: bool = True) -> None:
    section("main job, whole process, warm cache")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [CLI, "study", "models/paper_realistic.toml", "--out", tmp]
        wall, _ = run_process(cmd)  # fills the compile cache if it is cold
        print(f"warm-up run (not counted): {wall:.1f} s")
        variants: dict[str, tuple[list[str], dict | None]] = {}
        if BASELINE:
            variants[BASELINE["label"]] = (cmd, baseline_env())
        variants["hand-written log-density, compiled fits (default)"] = (cmd, None)
        if pytensor:
            variants["sampling.log_density = pytensor"] = (
                [*cmd, "--set", "sampling.log_density=pytensor"],
                None,
            )
        runs: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
        for _ in range(repeats):
            for label, (variant, env) in variants.items():
                runs[label].append(run_process(variant, env))
        for label, times in runs.items():
            print(f"{label}: " + ", ".join(f"{w:.1f} s wall ({c:.1f} s CPU)" for w, c in times))
        print(f"after: {load()}")


def bench_fits(repeats: int) -> None:
    section("frequentist part of the main job, in-process, CPU time")
    from cenns_bayes.bayes.compare import frequentist_intervals
    from cenns_bayes.specs import load_study
    from cenns_bayes.stats import profile
    from cenns_bayes.stats.binned import model_for_study

    study = load_study(ROOT / "models/paper_realistic.toml")
    counting = model_for_study(study)
    fused = profile.counting_objective
    objectives = {
        "one-pass objective, Numba kernel (default)": fused,
        "one-pass objective, NumPy": functools.partial(fused, compiled=False),
        "generic objective": lambda *a, **k: None,
    }
    frequentist_intervals(study, counting)  # loads the kernel from Numba's cache once
    runs: dict[str, list[float]] = {label: [] for label in objectives}
    results = {}
    for _ in range(repeats):
        for label, objective in objectives.items():
            profile.counting_objective = objective
            t0 = time.process_time()
            results[label] = frequentist_intervals(study, counting)
            runs[label].append(time.process_time() - t0)
    profile.counting_objective = fused
    for label, times in runs.items():
        print(f"{label}: " + ", ".join(f"{t:.2f} s CPU" for t in times))
    reference = results["generic objective"]
    for label, a in results.items():
        worst = max(
            abs(x - y) / max(abs(y), 1e-300)
            for p in a
            for m in a[p]
            for k in ("interval_68", "interval_90")
            for x, y in zip(a[p][m][k], reference[p][m][k], strict=True)
        )
        print(f"{label}: largest relative difference of an interval end to generic: {worst:.1e}")
    print(f"after: {load()}")


def bench_curves(repeats: int) -> None:
    section("figure profile curves of the main job (6 x 61 points), in-process, CPU time")
    from cenns_bayes.bayes.compare import frequentist_intervals
    from cenns_bayes.specs import load_study
    from cenns_bayes.stats.binned import model_for_study
    from cenns_bayes.stats.profile import ProfileFitter

    study = load_study(ROOT / "models/paper_realistic.toml")
    counting = model_for_study(study)
    freq = frequentist_intervals(study, counting)
    grids = {}
    for p in study.free_parameters:  # the 90 % interval and 30 % beyond, as the figures
        lo, hi = freq[p]["profile"]["interval_90"]
        lo, hi = lo - 0.3 * (hi - lo), hi + 0.3 * (hi - lo)
        grids[p] = np.linspace(max(lo, 0.0) if p.startswith("mu_nu") else lo, hi, 61)
    runs: dict[str, list[float]] = {"walked from the best fit (default)": [], "independent": []}
    curves: dict[str, list[np.ndarray]] = {}
    for _ in range(repeats):
        for label in runs:
            t0 = time.process_time()
            curves[label] = [
                ProfileFitter(counting, study.free_parameters, cost=cost).profile(
                    p, grid, follow="default" in label
                )
                for p, grid in grids.items()
                for cost in ("chi2", "poisson")
            ]
            runs[label].append(time.process_time() - t0)
    for label, times in runs.items():
        print(f"{label}: " + ", ".join(f"{t:.2f} s CPU" for t in times))
    a, b = curves.values()
    worst = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))
    print(f"largest difference of Delta(-2 ln L) between the two: {worst:.1e}")
    print(f"after: {load()}")


def bench_kernel() -> None:
    section("the compiled fit objective: first best fit of the main job in a fresh process")
    code = (
        "import time\n"
        "from cenns_bayes.specs import load_study\n"
        "from cenns_bayes.stats.binned import model_for_study\n"
        "from cenns_bayes.stats.profile import ProfileFitter\n"
        "study = load_study('models/paper_realistic.toml')\n"
        "counting = model_for_study(study)\n"
        "t0, c0 = time.perf_counter(), time.process_time()\n"
        "ProfileFitter(counting, study.free_parameters).best_fit()\n"
        "print(f'{time.perf_counter() - t0:.2f} s wall, {time.process_time() - c0:.2f} s CPU')\n"
    )
    with tempfile.TemporaryDirectory() as cache:  # an empty Numba cache: compiled afresh
        for label in ("cold (compiles the kernel)", "warm (loads it from the cache)"):
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env={**os.environ, "NUMBA_CACHE_DIR": cache},
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            print(f"{label}: {out}")
    print(f"after: {load()}")


def bench_toys(repeats: int, pytensor: bool = True) -> None:
    section("100 coverage toys with posterior refits and the FC belt, one worker, whole process")
    base = [
        CLI,
        "check",
        "models/calibration_ge76_mu.toml",
        "--kind",
        "coverage",
        "--toys",
        "100",
        "--workers",
        "1",
        "--seed",
        "20151",
        "--json",
    ]
    variants: dict[str, tuple[list[str], dict | None]] = {}
    if BASELINE:
        variants[BASELINE["label"]] = ([], baseline_env())
    variants["hand-written log-density, raw draws (default)"] = ([], None)
    if pytensor:
        variants["sampling.log_density = pytensor"] = (
            ["--set", "sampling.log_density=pytensor"],
            None,
        )
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    for _ in range(repeats):
        for label, (extra, env) in variants.items():
            with tempfile.TemporaryDirectory() as tmp:  # fresh: the toy tables resume
                runs[label].append(run_process([*base, "--out", tmp, *extra], env))
    for label, times in runs.items():
        print(f"{label}: " + ", ".join(f"{w:.1f} s wall ({c:.1f} s CPU)" for w, c in times))
    print(f"after: {load()}")


def _cache_files() -> int:
    import pytensor

    roots = [Path(pytensor.config.compiledir), Path.home() / ".pytensor" / "numba"]
    return sum(sum(1 for p in r.rglob("*") if p.is_file()) for r in roots if r.exists())


def bench_scan(repeats: int = 2, pytensor: bool = True) -> None:
    section("10-point posterior threshold scan, one worker")
    vary = "detectors.Ar.recoil_window_kev.0=0.5:40:10:log"
    base = [
        CLI,
        "scan",
        "models/argon_1t_20m.toml",
        "--vary",
        vary,
        "--target",
        "mu_nu_mu",
        "--method",
        "posterior",
        "--workers",
        "1",
        "--json",
    ]
    variants: dict[str, tuple[list[str], dict | None]] = {}
    if BASELINE:
        variants[BASELINE["label"]] = ([], baseline_env())
    variants["hand-written log-density, built once, coefficients swapped (default)"] = ([], None)
    if pytensor:
        variants["sampling.log_density = pytensor (compiled once, data swapped)"] = (
            ["--set", "sampling.log_density=pytensor"],
            None,
        )
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    for _ in range(repeats):
        for label, (extra, env) in variants.items():
            runs[label].append(run_process([*base, *extra], env))
    print("whole process (`cenns-bayes scan ... --method posterior --workers 1`):")
    for label, times in runs.items():
        print(f"  {label}: " + ", ".join(f"{w:.1f} s wall ({c:.1f} s CPU)" for w, c in times))

    from cenns_bayes.bayes import sampling
    from cenns_bayes.parallel import single_threaded_blas
    from cenns_bayes.scans import ScanAxis, StudyScanner, run_scan

    axis = ScanAxis("detectors.Ar.recoil_window_kev.0", tuple(np.geomspace(0.5, 40, 10)))
    limits = {}
    with single_threaded_blas():
        for label, setting, size in (
            ("hand-written log-density (default)", "auto", 4),
            ("pytensor, compiled once, data swapped", "pytensor", 4),
            ("pytensor, compiled at every point", "pytensor", 0),
        ):
            if setting == "pytensor" and not pytensor:
                continue
            scanner = StudyScanner.from_file(
                ROOT / "models" / "argon_1t_20m.toml", {"sampling.log_density": setting}
            )
            sampling._COMPILED.clear()
            sampling._DIRECT_COMPILED.clear()
            sampling.COMPILED_CACHE_SIZE = size
            files = _cache_files()
            t0 = time.perf_counter()
            res = run_scan(scanner, [axis], "mu_nu_mu", method="posterior")
            elapsed = time.perf_counter() - t0
            limits[label] = [p.posterior_limit for p in res.points]
            print(
                f"in-process, {label}: {elapsed:.1f} s; compile-cache files "
                f"+{_cache_files() - files}"
            )
    for label, values in limits.items():
        print(f"limits, {label}: " + " ".join(f"{v:.3f}" for v in values))
    print(f"after: {load()}")


def _previous_counts(model, p):
    """The broadcasting formula RateModel.counts used before (for comparison)."""
    from cenns_bayes.physics import constants as const

    s2 = np.asarray(p["sin2_theta_w"], dtype=float)[..., None]
    is_e = model.mu_index == 1
    r2 = np.where(is_e, np.asarray(p["r2_nu_e"])[..., None], np.asarray(p["r2_nu_mu"])[..., None])
    mu = np.where(is_e, np.asarray(p["mu_nu_e"])[..., None], np.asarray(p["mu_nu_mu"])[..., None])
    s = s2 + const.CHARGE_RADIUS_SHIFT * r2
    c0, c1, c2, cm = model.polynomial
    strength = np.asarray(p["signal_strength"], dtype=float)[..., None]
    return strength * (c0 + s * (c1 + s * c2)) + cm * mu**2


def _timed(fn, repeats: int = 9) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def counts_workload(n: int = 1_000_000) -> tuple:
    """The realistic preset's RateModel (12 channels) and ``n`` random parameter points."""
    from cenns_bayes.paper.reproduce import load_presets

    model = load_presets()["realistic"].rate_model()
    rng = np.random.default_rng(1)
    p = {
        "sin2_theta_w": rng.uniform(0.2, 0.26, n),
        "mu_nu_mu": rng.uniform(0, 20, n),
        "mu_nu_e": rng.uniform(0, 20, n),
        "r2_nu_mu": rng.normal(0, 1, n),
        "r2_nu_e": rng.normal(0, 1, n),
        "signal_strength": rng.uniform(0.5, 1.5, n),
    }
    return model, p


def bench_counts() -> None:
    from cenns_bayes.parallel import single_threaded_blas

    section("counts of 12 channels at 10^6 parameter points (warm; min / median of 9)")
    model, p = counts_workload()
    n = len(p["sin2_theta_w"])
    out = np.empty((n, model.polynomial.shape[1]))
    with single_threaded_blas():
        ref = _previous_counts(model, p)
        new = model.counts(p)
        print(f"largest relative difference new/previous: {np.max(np.abs(new / ref - 1)):.1e}")
        rows = {
            "previous broadcasting formula": lambda: _previous_counts(model, p),
            "RateModel.counts": lambda: model.counts(p),
            "RateModel.counts(out=preallocated)": lambda: model.counts(p, out=out),
            "floor: out.fill(1.0) (writing 96 MB)": lambda: out.fill(1.0),
        }
        for label, fn in rows.items():
            lo, med = _timed(fn)
            print(f"{label}: {lo * 1e3:.1f} / {med * 1e3:.1f} ms")
        scalar = {k: float(v[0]) for k, v in p.items()}
        t0 = time.perf_counter()
        for _ in range(20000):
            model.counts(scalar)
        print(
            f"one parameter point (inner loop of the fits): "
            f"{(time.perf_counter() - t0) / 20000 * 1e6:.1f} us"
        )
    print(f"after: {load()}")


def bench_reproduce(repeats: int) -> None:
    section(f"reproduce, whole process (median of {repeats})")
    variants: dict[str, dict | None] = {}
    if BASELINE:
        variants[BASELINE["label"]] = baseline_env()
    variants["current"] = None
    imports = (
        "import cenns_bayes.cli.main, cenns_bayes.cli.reproduce_cmd, cenns_bayes.paper.reproduce"
    )
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    import_cpu: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(repeats):
        for label, env in variants.items():
            runs[label].append(run_process([CLI, "reproduce", "--json"], env))
            # -c puts the working folder first on sys.path: run from elsewhere
            import_cpu[label].append(
                run_process([sys.executable, "-c", imports], env, cwd=tempfile.gettempdir())[1]
            )
    for label, times in runs.items():
        print(
            f"{label}: `cenns-bayes reproduce --json` "
            f"{statistics.median(w for w, _ in times):.2f} s wall, "
            f"{statistics.median(c for _, c in times):.2f} s CPU "
            f"(runs: {', '.join(f'{w:.2f}' for w, _ in times)} s wall); python start-up and "
            f"imports {statistics.median(import_cpu[label]):.2f} s CPU"
        )
    print(f"after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="study,fits,curves,kernel,toys,scan,counts,reproduce")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each main-job variant")
    parser.add_argument("--baseline", metavar="REV", help="also run the package at git REV")
    parser.add_argument("--skip-pytensor", action="store_true", help="no pytensor variants")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(
        f"# bench_speed.py, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, {load()}"
    )
    with tempfile.TemporaryDirectory() as baseline_dir:
        if args.baseline:
            export_baseline(args.baseline, baseline_dir)
        if "counts" in only:
            bench_counts()
        if "reproduce" in only:
            bench_reproduce(3)
        if "scan" in only:
            bench_scan(args.repeats, not args.skip_pytensor)
        if "fits" in only:
            bench_fits(args.repeats)
        if "curves" in only:
            bench_curves(args.repeats)
        if "kernel" in only:
            bench_kernel()
        if "toys" in only:
            bench_toys(args.repeats, not args.skip_pytensor)
        if "study" in only:
            bench_study(args.repeats, not args.skip_pytensor)


if __name__ == "__main__":
    main()

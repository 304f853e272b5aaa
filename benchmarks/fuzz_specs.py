"""Mutation fuzzing of the spec loader: every mutant of a shipped spec loads or fails cleanly.

Each mutant (``tests/spec_mutations.py``) is checked as ``cenns-bayes rates --json`` would
use it: parsed, validated and its counts computed and written as strict JSON. A mutant may
be accepted (finite counts) or rejected with a one-line ``SpecError``; anything else is a
traceback a user could reach, and a mutant taking longer than ``--timeout`` seconds a hang.
``--cli N`` also runs the first N mutants through the installed command in a subprocess and
requires exit status 0 or 2, one stderr line and no traceback.

Usage::

    python benchmarks/fuzz_specs.py --seed 1 --mutants 3000 --mode mixed
    python benchmarks/fuzz_specs.py --seed 2 --mutants 3000 --mode numeric
"""

from __future__ import annotations

import argparse
import collections
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.spec_mutations import check_one, mutant_text, shipped_specs  # noqa: E402


class Hang(Exception):
    """A mutant that took longer than the time limit."""


def _alarm(signum, frame):
    raise Hang()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mutants", type=int, default=3000)
    parser.add_argument("--mode", choices=("mixed", "numeric"), default="mixed")
    parser.add_argument(
        "--timeout", type=int, default=20, help="seconds per mutant before it counts as a hang"
    )
    parser.add_argument(
        "--cli",
        type=int,
        default=0,
        metavar="N",
        help="also run the first N mutants through the command line",
    )
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")  # numerical warnings of extreme but valid specs
    specs = shipped_specs()
    rng = random.Random(args.seed)
    outcome: collections.Counter = collections.Counter()
    failures: dict[str, tuple[str, str]] = {}
    signal.signal(signal.SIGALRM, _alarm)
    t0 = time.perf_counter()
    cli_cases = []
    for i in range(args.mutants):
        spec = specs[rng.randrange(len(specs))]
        text = mutant_text(spec, rng, args.mode)
        if i < args.cli:
            cli_cases.append((spec[0], text))
        signal.alarm(args.timeout)
        try:
            outcome[check_one(spec[0], text)] += 1
        except Hang:
            outcome["hang"] += 1
            failures.setdefault(f"hang in {spec[0].name}", (spec[0].name, text[:2000]))
        except Exception as err:  # noqa: BLE001 - counting every way it can fail
            frame = traceback.extract_tb(err.__traceback__)[-1]
            key = f"{type(err).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            outcome["traceback"] += 1
            failures.setdefault(key, (spec[0].name, f"{err!s:.300}"))
        finally:
            signal.alarm(0)
    seconds = time.perf_counter() - t0
    cli = collections.Counter()
    if cli_cases:
        with tempfile.TemporaryDirectory() as tmp:
            for n, (path, text) in enumerate(cli_cases):
                mutant = Path(tmp) / f"{path.stem}-{n}.toml"
                mutant.write_text(text, encoding="utf-8")
                try:
                    res = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "cenns_bayes.cli.main",
                            "rates",
                            str(mutant),
                            "--json",
                        ],
                        capture_output=True,
                        text=True,
                        cwd=tmp,
                        timeout=args.timeout * 3,
                    )
                    lines = res.stderr.strip().splitlines()
                    clean = (res.returncode == 0 and not lines) or (
                        res.returncode == 2 and len(lines) == 1 and len(lines[0]) <= 300
                    )
                    cli["clean" if clean and "Traceback" not in res.stderr else "not clean"] += 1
                    if not clean:
                        failures.setdefault(
                            f"cli exit {res.returncode}", (path.name, res.stderr[-300:])
                        )
                except subprocess.TimeoutExpired:
                    cli["hang"] += 1
                finally:
                    mutant.unlink(missing_ok=True)
    print(
        f"{args.mutants} mutants (seed {args.seed}, {args.mode}) of {len(specs)} shipped specs in "
        f"{seconds:.1f} s: {outcome['ok']} accepted, {outcome['rejected']} rejected with one line, "
        f"{outcome['traceback']} tracebacks, {outcome['hang']} hangs"
    )
    if cli_cases:
        print(
            f"command line on the first {len(cli_cases)}: {cli['clean']} clean, "
            f"{cli['not clean']} not clean, {cli['hang']} hangs"
        )
    for key, (name, detail) in failures.items():
        print(f"  {key} ({name}): {detail}")
    return 1 if outcome["traceback"] or outcome["hang"] or cli["not clean"] or cli["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())

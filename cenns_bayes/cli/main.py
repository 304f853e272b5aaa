"""Entry point of the ``cenns-bayes`` command.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported only when their command runs, so ``rates`` and ``reproduce`` never
import PyMC. Errors a user can fix (bad specs, bad options) end the process with one line
on stderr and exit status 2; nothing is left half-written.

Every command runs with one BLAS/OpenMP thread by default: the numerical work is many
small operations (minimiser steps on arrays of a few dozen numbers, NUTS on one core per
chain), where a second BLAS thread only contends for the cores; on a busy 2-core machine
a single L-BFGS-B step was measured 400-1600x slower with OpenBLAS's default threads
(docs/benchmarks.md). ``--blas-threads N`` or the environment variable
``CENNS_BAYES_BLAS_THREADS=N`` chooses N threads; ``default`` leaves the libraries' own
choice.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Environment variable that sets the BLAS/OpenMP thread count (a number or ``default``).
BLAS_THREADS_ENV = "CENNS_BAYES_BLAS_THREADS"
#: Variables read by BLAS and OpenMP runtimes when they load.
_THREAD_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

#: Sub-command name -> (module, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "rates": ("cenns_bayes.cli.rates_cmd", "expected counts per detector and flavour"),
    "reproduce": ("cenns_bayes.cli.reproduce_cmd", "the seed paper's Tables III-VI and Eqs. 13-14"),
    "sample": ("cenns_bayes.cli.sample_cmd", "NUTS posterior of a study, summarised"),
    "study": ("cenns_bayes.cli.study_cmd", "the main job: rates, limits, posterior, report"),
    "fit": ("cenns_bayes.cli.fit_cmd", "maximum-likelihood fit with profile-likelihood intervals"),
    "scan": ("cenns_bayes.cli.scan_cmd", "expected limits against spec values, with Brazil bands"),
    "check": ("cenns_bayes.cli.check_cmd", "calibration: Asimov posteriors, toy coverage, SBC"),
}


def _blas_threads_setting(text: str) -> int | None:
    """``"1"`` -> 1, ``"default"`` -> None; anything else raises ValueError."""
    text = text.strip().lower()
    if text == "default":
        return None
    n = int(text)
    if n < 1:
        raise ValueError(f"BLAS threads must be >= 1 or 'default', got {text!r}")
    return n


@contextmanager
def limit_blas_threads(threads: int | None) -> Iterator[None]:
    """Limit BLAS/OpenMP thread pools to ``threads`` for the duration (None: change nothing).

    Libraries that load later read the environment variables set here; those already
    loaded are limited through threadpoolctl. Child processes started meanwhile (local
    Dask workers) inherit the variables. Both are restored on exit.
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    saved = {var: os.environ.get(var) for var in _THREAD_ENV_VARS}
    os.environ.update({var: str(threads) for var in _THREAD_ENV_VARS})
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _pre_parse_blas_threads(argv: list[str]) -> int | None:
    """The thread setting from ``--blas-threads`` or the environment, before any import.

    Read before the sub-command modules (and with them NumPy's and SciPy's BLAS) load,
    so the setting reaches the libraries through their environment variables.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--blas-threads", default=None)
    known, _ = pre.parse_known_args(argv)
    text = known.blas_threads or os.environ.get(BLAS_THREADS_ENV) or "1"
    try:
        return _blas_threads_setting(text)
    except ValueError:
        print(f"cenns-bayes: error: --blas-threads / {BLAS_THREADS_ENV}: expected a positive "
              f"integer or 'default', got {text!r}", file=sys.stderr)
        raise SystemExit(2) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="cenns-bayes",
        description="Frequentist and Bayesian inference on CEvNS at stopped-pion sources.",
    )
    parser.add_argument("--version", action="version", version=f"cenns-bayes {__version__}")
    parser.add_argument(
        "--blas-threads", metavar="N|default", default=None,
        help=f"BLAS/OpenMP threads (default 1, or ${BLAS_THREADS_ENV}); 'default' leaves the "
        "libraries' own choice")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    threads = _pre_parse_blas_threads(argv)
    with limit_blas_threads(threads):
        return _main(argv)


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..specs.errors import SpecError
    from .common import UserError

    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except (SpecError, UserError) as err:
        print(f"cenns-bayes {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cenns-bayes {args.command}: interrupted; no partial output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

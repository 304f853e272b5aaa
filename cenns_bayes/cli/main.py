"""Entry point of the ``cenns-bayes`` command.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported only when their command runs, so ``rates`` and ``reproduce`` never
import PyMC. Errors a user can fix (bad specs, bad options) end the process with one line
on stderr and exit status 2; nothing is left half-written. Any other error is also reported
as one line (exit status 1) unless ``--debug`` asks for the traceback; Ctrl-C prints one line
(exit status 130) and a closed pipe (``| head``) ends the command quietly.

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
_THREAD_ENV_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

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
        print(
            f"cenns-bayes: error: --blas-threads / {BLAS_THREADS_ENV}: expected a positive "
            f"integer or 'default', got {text!r}",
            file=sys.stderr,
        )
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
        "--debug",
        action="store_true",
        help="show the traceback of an unexpected error (anywhere on the line)",
    )
    parser.add_argument(
        "--blas-threads",
        metavar="N|default",
        default=None,
        help=f"BLAS/OpenMP threads (default 1, or ${BLAS_THREADS_ENV}); 'default' leaves the "
        "libraries' own choice",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # ``--debug`` is accepted anywhere on the line, also after the sub-command.
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    threads = _pre_parse_blas_threads(argv)
    with limit_blas_threads(threads):
        return _main(argv, debug)


def _main(argv: list[str], debug: bool) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.debug = debug
    from ..datasets.coherent import ChecksumError
    from ..specs.errors import SpecError
    from .common import UserError, clean_text

    command = args.command
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except (SpecError, UserError, ChecksumError) as err:
        _say(f"cenns-bayes {command}: error: {clean_text(str(err))}")
        return 2
    except KeyboardInterrupt:
        written = getattr(args, "_written_note", None) or "no partial output was written"
        _say(f"cenns-bayes {command}: interrupted; {written}")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except Exception as err:  # noqa: BLE001 - the one catch-all: a user never sees a traceback
        if debug:
            raise
        if isinstance(err, OSError) and err.errno is not None and _is_broken_pipe(err):
            _silence_stdout()
            return 141
        what = clean_text(f"{type(err).__name__}: {err}")
        _say(f"cenns-bayes {command}: failed: {what} (run with --debug for the traceback)")
        return 1


def _say(line: str) -> None:
    """One line on stderr (nothing if stderr itself is gone)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (BrokenPipeError, OSError):
        pass


def _is_broken_pipe(err: OSError) -> bool:
    import errno

    return err.errno == errno.EPIPE


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null: the flush at exit stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

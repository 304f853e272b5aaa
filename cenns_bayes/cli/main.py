"""Entry point of the ``cenns-bayes`` command.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported only when their command runs, so ``rates`` and ``reproduce`` never
import PyMC. Errors a user can fix (bad specs, bad options) end the process with one line
on stderr and exit status 2; nothing is left half-written. Any other error is also reported
as one line (exit status 1) unless ``--debug`` asks for the traceback; Ctrl-C prints one line
(exit status 130) and a closed pipe (``| head``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="cenns-bayes",
        description="Frequentist and Bayesian inference on CEvNS at stopped-pion sources.",
    )
    parser.add_argument("--version", action="version", version=f"cenns-bayes {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error (anywhere on the line)")
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

"""Entry point of the ``cenns-bayes`` command.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported only when their command runs, so ``rates`` and ``reproduce`` never
import PyMC. Errors a user can fix (bad specs, bad options) end the process with one line
on stderr and exit status 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import importlib
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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..datasets.coherent import ChecksumError
    from ..specs.errors import SpecError
    from .common import UserError

    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except (SpecError, UserError, ChecksumError) as err:
        print(f"cenns-bayes {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cenns-bayes {args.command}: interrupted; no partial output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Helpers shared by sub-commands: loading studies with overrides, JSON and atomic writes."""

from __future__ import annotations

import json
from typing import Any

from ..io import atomic_path, write_text_atomic  # noqa: F401  (re-exported for commands)
from ..provenance import provenance
from ..specs import load_study, parse_override


class UserError(Exception):
    """An error in the user's input, reported as one line without a traceback."""


def add_study_arguments(parser) -> None:
    """The STUDY positional argument and repeatable ``--set NAME=VALUE``."""
    parser.add_argument("study", metavar="STUDY.toml", help="study specification file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
        help="override a parameter (mu_nu_mu=5) or any spec value by dotted path "
        "(detectors.Ar40.mass_kg=1000); repeatable",
    )


def overrides_from_args(args) -> dict[str, Any]:
    """The ``--set NAME=VALUE`` overrides as a dict (values parsed as TOML)."""
    overrides = {}
    for text in args.overrides:
        try:
            name, value = parse_override(text)
        except ValueError as err:
            raise UserError(str(err)) from None
        overrides[name] = value
    return overrides


def study_from_args(args):
    """Load the study named on the command line with its ``--set`` overrides."""
    return load_study(args.study, overrides_from_args(args) or None)


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    print(json.dumps(obj, indent=2, allow_nan=False))


def with_provenance(doc: dict[str, Any], study: Any) -> dict[str, Any]:
    """``doc`` plus the package version and the spec's SHA-256 (every JSON output has them).

    ``study`` is the :class:`~cenns_bayes.specs.Study` the result came from, or ``None``
    for results made from no spec (``spec_sha256`` is then ``null``).
    """
    return {**doc, **provenance(study)}


def add_hepdata_argument(parser) -> None:
    """The ``--hepdata DIR`` option: also write the results as a HEPData submission."""
    parser.add_argument(
        "--hepdata", metavar="DIR", default=None,
        help="also write a HEPData submission (YAML tables and submission.tar.gz, validated) "
        "to DIR",
    )


def write_hepdata(kind: str, doc: dict[str, Any], out_dir: str) -> None:
    """Write ``doc`` (a scan, fit or study result) as a validated HEPData submission.

    ``kind`` is ``"scan"``, ``"fit"`` or ``"study"``. Problems become a :class:`UserError`.
    """
    from ..export import hepdata

    build = {"scan": hepdata.scan_submission, "fit": hepdata.fit_submission,
             "study": hepdata.study_submission}[kind]
    try:
        hepdata.write_submission(build(doc), out_dir)
    except (hepdata.HepdataExportError, OSError) as err:
        raise UserError(f"--hepdata: {err}") from None

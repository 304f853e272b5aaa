"""Helpers shared by sub-commands: loading studies with overrides, JSON and atomic writes."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from ..io import OutputError, OutputFile, OutputFolder, atomic_path, write_text_atomic  # noqa: F401  (re-exported for commands)
from ..provenance import provenance
from ..specs import load_study, parse_override

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from rich.console import Console
    from rich.status import Status

#: Longest error or warning line printed (longer ones are cut with an ellipsis).
MAX_LINE_CHARS = 300
#: Upper bounds of the sampler and toy options (a typo such as 10**9 draws fails at once).
MAX_DRAWS = 1_000_000
MAX_CHAINS = 64
MAX_TOYS = 1_000_000
MAX_WORKERS = 1024
MAX_SEED = 2**32 - 1

_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI sequences (colours, cursor moves, clear screen)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC sequences (window title, hyperlinks)
    r"|[\x00-\x1f\x7f-\x9f]"  # any other control character
)


class UserError(Exception):
    """An error in the user's input, reported as one line without a traceback."""


def clean_text(text: str, limit: int | None = MAX_LINE_CHARS) -> str:
    """``text`` made safe for a terminal, cut to ``limit`` characters.

    Escape sequences and control characters are removed (newlines and tabs become spaces).
    """
    text = _CONTROL.sub(lambda m: " " if m.group(0) in "\n\r\t" else "", str(text))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


def warn(command: str, message: str) -> None:
    """One warning line on stderr."""
    print(clean_text(f"cenns-bayes {command}: warning: {message}"), file=sys.stderr, flush=True)


def check_int_option(args, name: str, low: int, high: int) -> None:
    """Raise :class:`UserError` unless ``args.NAME`` is None or an integer in [low, high]."""
    value = getattr(args, name, None)
    if value is not None and not low <= value <= high:
        flag = "--" + name.replace("_", "-")
        raise UserError(f"{flag} must be an integer from {low} to {high} (got {value})")


def check_sampler_options(args) -> None:
    """``--draws``, ``--tune``, ``--chains``, ``--seed``: ranges checked before any work."""
    check_int_option(args, "draws", 1, MAX_DRAWS)
    check_int_option(args, "tune", 1, MAX_DRAWS)
    check_int_option(args, "chains", 1, MAX_CHAINS)
    check_int_option(args, "seed", 0, MAX_SEED)


def check_scheduler(command: str, address: str | None) -> None:
    """Check a ``--scheduler`` address and that something listens there, before any work.

    A scheduler on another machine receives pickled tasks (and the spec); warn unless the
    address uses TLS.
    """
    if address is None:
        return
    m = re.fullmatch(
        r"(?:(tcp|tls|inproc|ucx|ws|wss)://)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})/?",
        address.strip(),
    )
    if m is None or not 0 < int(m.group(3)) < 65536:
        raise UserError(f"--scheduler {address!r} is not an address such as tcp://host:8786")
    protocol, host, port = m.group(1) or "tcp", m.group(2).strip("[]"), int(m.group(3))
    if protocol not in ("tcp", "tls"):
        raise UserError(f"--scheduler {address!r}: only tcp:// and tls:// schedulers are supported")
    import socket

    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as err:
        raise UserError(
            f"--scheduler {address!r}: cannot reach the Dask scheduler ({err.strerror or err})"
        ) from None
    local = host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
    if not local and protocol != "tls":
        warn(
            command,
            f"--scheduler {address}: tasks and the spec are sent as pickles, unencrypted "
            "and unauthenticated; use only a cluster you trust, over TLS (tls://, see "
            "https://distributed.dask.org/en/stable/tls.html)",
        )


class InterruptGuard:
    """Remember a Ctrl-C that a library swallowed, and raise it again on leaving.

    nutpie and PyMC catch ``KeyboardInterrupt`` during sampling and return the draws made so
    far; a command would then summarise and write a truncated posterior as if complete.
    Inside ``with InterruptGuard():`` a Ctrl-C is recorded (and raised as usual); if the
    block ends normally after one, ``KeyboardInterrupt`` is raised there, so nothing
    after it is written and the command prints its one "interrupted" line.
    """

    def __init__(self) -> None:
        self.interrupted = False
        # the SIGINT handler to restore on leaving, when this guard replaced it
        self._previous: Callable[[int, FrameType | None], Any] | None = None

    def _handler(self, signum, frame):
        self.interrupted = True
        raise KeyboardInterrupt

    def __enter__(self) -> InterruptGuard:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:  # leave SIG_IGN and custom handlers be
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        if exc_type is None and self.interrupted:
            raise KeyboardInterrupt


def start_local_workers(engine) -> None:
    """Start an engine's local Dask worker processes with SIGINT ignored in them.

    Ctrl-C in a terminal signals the whole process group; workers that received it would
    each print a traceback. Spawned with SIGINT ignored (the disposition is inherited), they
    leave Ctrl-C to this process, which prints one line and shuts them down.
    """
    import signal
    import threading

    if engine is None or getattr(engine, "scheduler", None) is not None:
        return
    if getattr(engine, "in_process", True):
        return
    start = getattr(engine, "_get_client", None)
    if start is None or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        start()
    finally:
        signal.signal(signal.SIGINT, previous)


def output_folder(
    args, *, whole: bool, option: str = "--out", attr: str = "out"
) -> OutputFolder | None:
    """Check, lock and prepare the folder named by ``args.<attr>`` (None if not given).

    The lock is held until the returned folder is released (``with`` or ``release()``);
    ``args._written_note`` says what an interruption leaves behind.
    """
    target = getattr(args, attr, None)
    if target is None:
        return None
    folder = OutputFolder(target, whole=whole, option=option)
    try:
        folder.acquire()
    except OutputError as err:
        raise UserError(str(err)) from None
    args._written_note = folder.not_written_note()
    return folder


def output_file(args, option: str = "--out") -> OutputFile | None:
    """Check and lock the single output file ``args.out`` (None if not given)."""
    if getattr(args, "out", None) is None:
        return None
    out = OutputFile(args.out, option)
    try:
        out.acquire()
    except OutputError as err:
        raise UserError(str(err)) from None
    args._written_note = f"{args.out} was not written"
    return out


def add_study_arguments(parser) -> None:
    """The STUDY positional argument and repeatable ``--set NAME=VALUE``."""
    parser.add_argument("study", metavar="STUDY.toml", help="study specification file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter (mu_nu_mu=5) or any spec value by dotted path "
        "(detectors.Ar40.mass_kg=1000); repeatable",
    )


def add_joint_fits_argument(
    parser, help_text: str = "joint specs: run only this [[fits]] entry (repeatable; default all)"
) -> None:
    """The repeatable ``--fit NAME`` option of the commands that take a joint spec."""
    parser.add_argument(
        "--fit",
        dest="joint_fits",
        action="append",
        default=[],
        metavar="NAME",
        help=help_text,
    )


def joint_fits(args, study) -> list[str]:
    """The ``--fit`` names, checked against the joint spec's ``[[fits]]`` (default: all)."""
    known = [f.name for f in study.spec.fits]
    for name in args.joint_fits:
        if name not in known:
            raise UserError(
                f"{study.path}: --fit {name}: no such [[fits]] entry ({', '.join(known)})"
            )
    return list(args.joint_fits) or known


def require_free_parameters(study) -> None:
    """One clean line when the study frees no parameter (nothing to infer)."""
    if not study.free_parameters:
        raise UserError(f"{study.path}: priors: no free parameter; give [priors] for at least one")


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


def study_from_args(args, joint: bool = False):
    """Load the study named on the command line with its ``--set`` overrides.

    A joint spec (``[[members]]``, e.g. ``models/coherent_joint.toml``) gives a
    :class:`~cenns_bayes.specs.joint.JointStudy` when the command handles one (``joint``),
    otherwise one clean line saying which commands do.
    """
    from ..specs.joint import is_joint_spec, load_joint_study

    if is_joint_spec(args.study):
        if not joint:
            raise UserError(
                f"{args.study}: a joint study ([[members]]): use fit, sample or study with it"
            )
        return load_joint_study(args.study, overrides_from_args(args) or None)
    return load_study(args.study, overrides_from_args(args) or None)


def plain_console(stderr: bool = False):
    """A rich console; when not writing to a terminal, a wide one without colour.

    Tables are then printed whole (no ``0.00…`` cells) and can be read by other programs.
    """
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=250, no_color=True, highlight=False)
    return console


class Progress:
    """Stage messages: a rich status line on a terminal, one plain line per stage otherwise.

    Use as ``with Progress("fit", study_name) as say: say("profile sin2_theta_w 1/3")``.
    """

    def __init__(
        self, command: str, label: str = "", enabled: bool = True, live: bool = True
    ) -> None:
        self.command, self.label, self.enabled = command, clean_text(label, 80), enabled
        self.live = live  # False: plain lines also on a terminal (beside other progress bars)
        self._status: Status | None = None
        self._console: Console | None = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console

            self._console = Console(stderr=True)
            if self._console.is_terminal and self.live:
                self._status = self._console.status(self._prefix("starting"))
                self._status.__enter__()
        return self

    def _prefix(self, message: str) -> str:
        return f"{self.label}: {message}" if self.label else message

    def __call__(self, message: str) -> None:
        """Report the stage ``message`` (on the status line, or as one line on stderr)."""
        if not self.enabled:
            return
        text = clean_text(self._prefix(message))
        if self._status is not None:
            self._status.update(text)
        else:
            print(f"cenns-bayes {self.command}: {text}", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)
            self._status = None


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    print(json.dumps(obj, indent=2, allow_nan=False))


def with_provenance(doc: dict[str, Any], study: Any) -> dict[str, Any]:
    """``doc`` plus the package version and the spec's SHA-256 (every JSON output has them).

    ``study`` is the :class:`~cenns_bayes.specs.Study` the result came from, or ``None``
    for results made from no spec (``spec_sha256`` is then ``null``).
    """
    return {**doc, **provenance(study)}


def task_failure(err, args) -> UserError:
    """The one-line error of a failed task of a resumable run (its traceback with --debug)."""
    if getattr(args, "debug", False):
        print(err.remote_traceback, file=sys.stderr)
    return UserError(
        f"{err} (finished results are kept; rerun with the same --out to resume; "
        "--debug shows the task's traceback)"
    )


def add_sampler_arguments(parser) -> None:
    """``--draws``, ``--tune``, ``--chains`` and ``--seed`` of one NUTS run (spec defaults)."""
    parser.add_argument("--draws", type=int, default=None, help="draws per chain (spec default)")
    parser.add_argument("--tune", type=int, default=None, help="warm-up draws per chain")
    parser.add_argument("--chains", type=int, default=None, help="number of chains")
    parser.add_argument("--seed", type=int, default=None, help="random seed")


def sampler_options(args) -> dict[str, Any]:
    """The options of :func:`add_sampler_arguments` as keywords (None: the spec's value)."""
    return {k: getattr(args, k) for k in ("draws", "tune", "chains", "seed")}


def add_engine_arguments(parser, purpose: str = "") -> None:
    """``--workers`` or ``--scheduler`` (where tasks run) and ``--seed`` (the master seed).

    ``purpose`` names what runs there in the help, e.g. "toys and sampling".
    """
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help=f"local worker processes{' for ' + purpose if purpose else ''} "
        "(default: all cores; 1: in this process)",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help=f"run {purpose + ' ' if purpose else ''}on an existing Dask cluster (tcp://host:8786)",
    )
    parser.add_argument("--seed", type=int, default=20151, help="master seed (default 20151)")


def add_hepdata_argument(parser) -> None:
    """The ``--hepdata DIR`` option: also write the results as a HEPData submission."""
    parser.add_argument(
        "--hepdata",
        metavar="DIR",
        default=None,
        help="also write a HEPData submission (YAML tables and submission.tar.gz, validated) "
        "to DIR",
    )


def check_hepdata_target(args) -> None:
    """Refuse a ``--hepdata DIR`` that could not be written, before any computation."""
    if not getattr(args, "hepdata", None):
        return
    from pathlib import Path

    from ..export.hepdata import is_replaceable

    out = Path(args.hepdata)
    if not is_replaceable(out):
        raise UserError(
            f"--hepdata: {out}: exists and is not an earlier HEPData submission; "
            "give an empty or new folder"
        )
    parent = out.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UserError(f"--hepdata: {parent}: not a writable folder")


def write_hepdata(kind: str, doc: dict[str, Any], out_dir: str) -> None:
    """Write ``doc`` (a scan, fit or study result) as a validated HEPData submission.

    ``kind`` is ``"scan"``, ``"fit"`` or ``"study"``. Problems become a :class:`UserError`.
    """
    from ..export import hepdata

    build = {
        "scan": hepdata.scan_submission,
        "fit": hepdata.fit_submission,
        "study": hepdata.study_submission,
    }[kind]
    try:
        hepdata.write_submission(build(doc), out_dir)
    except (hepdata.HepdataExportError, OSError) as err:
        raise UserError(f"--hepdata: {err}") from None

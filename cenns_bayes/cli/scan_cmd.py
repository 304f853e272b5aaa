"""``cenns-bayes scan STUDY.toml --vary PATH=VALUES --target PARAM``: limits over design values."""

from __future__ import annotations

import json
import re

from .common import (
    MAX_SEED,
    MAX_TOYS,
    MAX_WORKERS,
    UserError,
    add_engine_arguments,
    add_hepdata_argument,
    check_hepdata_target,
    check_int_option,
    check_scheduler,
    clean_text,
    output_folder,
    overrides_from_args,
    plain_console,
    print_json,
    start_local_workers,
    study_from_args,
    task_failure,
    warn,
    with_provenance,
    write_hepdata,
    write_text_atomic,
)

#: Most points on one axis and in a whole scan (each point is at least one fit).
MAX_AXIS_POINTS = 10_000
MAX_SCAN_POINTS = 100_000

_TARGETS = ("mu_nu_mu", "mu_nu_e", "sin2_theta_w", "r2_nu_mu", "r2_nu_e")


def add_arguments(parser) -> None:
    """Register the command's options."""
    from .common import add_study_arguments

    add_study_arguments(parser)
    parser.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="PATH=VALUES",
        help="spec value to scan by dotted path, e.g. "
        "detectors.Ar40.recoil_window_kev.0=2:40:20:log; VALUES: a comma list, "
        "start:stop:count (linear) or start:stop:count:log; give twice for a 2-D map",
    )
    parser.add_argument(
        "--target",
        required=True,
        choices=_TARGETS,
        help="mu_nu_*: 90 %% upper limit; sin2_theta_w: 1 sigma half-width; "
        "r2_nu_*: half-width of the 90 %% interval",
    )
    parser.add_argument(
        "--level",
        type=float,
        default=None,
        help="confidence level instead of the target's default (e.g. 0.9 for sin2_theta_w)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=_TARGETS,
        metavar="PARAM",
        help="also profile this physics parameter in the chi2 fits; repeatable",
    )
    parser.add_argument(
        "--method",
        choices=("chi2", "posterior", "both"),
        default="chi2",
        help="Asimov chi2 limits (default), posterior credible limits, or both",
    )
    parser.add_argument(
        "--toys",
        type=int,
        default=0,
        metavar="N",
        help="Poisson pseudo-experiments per point for the Brazil band (default 0)",
    )
    add_engine_arguments(parser, "toys and sampling")
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="write scan.json, the per-toy table (resumable) and plots to DIR",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_hepdata_argument(parser)


def _check(args) -> list:
    from ..scans import ScanValueError, parse_vary

    if len(args.vary) > 2:
        raise UserError("--vary: a scan varies one or two spec values")
    for text in args.vary:
        # Count the points before any grid is built (a typo of 10**9 points would try to
        # allocate gigabytes).
        values = text.split("=", 1)[-1]
        count = re.fullmatch(r"[^:]*:[^:]*:\s*(\d+)\s*(?::.*)?", values)
        n = int(count.group(1)) if count else values.count(",") + 1
        if n > MAX_AXIS_POINTS:
            raise UserError(
                f"--vary {clean_text(text, 80)}: {n} points; at most {MAX_AXIS_POINTS} per axis"
            )
    try:
        axes = [parse_vary(v) for v in args.vary]
    except ScanValueError as err:
        raise UserError(f"--vary: {err}") from None
    if len(axes) == 2 and axes[0].path == axes[1].path:
        raise UserError(f"--vary: {axes[0].path} given twice")
    total = 1
    for axis in axes:
        total *= len(axis.values)
    if total > MAX_SCAN_POINTS:
        raise UserError(f"--vary: {total} points in all; at most {MAX_SCAN_POINTS}")
    check_int_option(args, "toys", 0, MAX_TOYS)
    check_int_option(args, "workers", 1, MAX_WORKERS)
    check_int_option(args, "seed", 0, MAX_SEED)
    if args.level is not None and not 0 < args.level < 1:
        raise UserError(f"--level must lie in (0, 1), got {args.level}")
    return axes


def run(args) -> int:
    """Run the scan and print or write the results."""
    from ..scans import StudyScanner

    axes = _check(args)
    check_scheduler("scan", args.scheduler)
    check_hepdata_target(args)
    overrides = overrides_from_args(args)
    study_from_args(args)  # checked as every command checks a spec (file, size, schema)
    scanner = StudyScanner.from_file(args.study, overrides)
    # --out checked and locked before any computation; written in place, because the per-toy
    # table is appended as toys finish and an interrupted scan resumes from it.
    folder = output_folder(args, whole=False)
    try:
        return _run(args, axes, scanner)
    finally:
        if folder is not None:
            folder.release()


def _run(args, axes, scanner) -> int:
    from ..parallel import Engine, TableMismatchError, TaskFailedError
    from ..scans import PosteriorUnavailableError, ScanSetupError, run_scan

    needs_engine = args.toys > 0 or args.method != "chi2"
    engine = Engine(workers=args.workers, scheduler=args.scheduler) if needs_engine else None
    try:
        start_local_workers(engine)
        result = run_scan(
            scanner,
            axes,
            args.target,
            method=args.method,
            toys=args.toys,
            seed=args.seed,
            engine=engine,
            out_dir=args.out,
            profile=args.profile,
            level=args.level,
        )
    except (PosteriorUnavailableError, ScanSetupError, TableMismatchError, ConnectionError) as err:
        raise UserError(str(err)) from None
    except TaskFailedError as err:
        raise task_failure(err, args) from None
    finally:
        if engine is not None:
            engine.close()
    # The hash of the spec file with its --set overrides, as `fit` and `sample` give it.
    doc = with_provenance(result.to_json(), study_from_args(args))
    limits = [p.chi2_limit for p in result.points if p.chi2_limit is not None]
    if len(limits) > 1 and max(limits) == min(limits):
        warn(
            "scan",
            "the limit does not change over the scan; does the scanned value affect the "
            "counts? (a detector's flux_per_flavor overrides its distance_m)",
        )
    if args.out:
        from pathlib import Path

        from ..plotting.scan_plots import write_scan_plots

        out = Path(args.out)
        write_text_atomic(out / "scan.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
        write_scan_plots(result, out)
    if args.hepdata:
        write_hepdata("scan", doc, args.hepdata)
    if args.json:
        print_json(doc)
        return 0
    _print_table(result)
    if args.out:
        print(f"wrote scan.json, the figures and the per-toy table to {args.out}")
    return 0


def _fmt(x) -> str:
    return "" if x is None else f"{x:.4g}"


def _print_table(result) -> None:
    from rich.table import Table

    table = Table(
        title=f"{clean_text(result.study, None)}: scan of {result.target.description}",
        caption="scanned: " + ", ".join(a.path for a in result.axes),
    )
    for a in result.axes:
        table.add_column(".".join(a.path.split(".")[-2:]), no_wrap=True)
    table.add_column("counts", justify="right")
    show_chi2 = any(p.chi2_limit is not None for p in result.points)
    show_post = any(p.posterior_limit is not None for p in result.points)
    show_band = any(p.band for p in result.points)
    if show_chi2:
        table.add_column("chi2", justify="right")
    if show_post:
        table.add_column("posterior", justify="right")
    if show_band:
        for col in ("toys -2σ", "-1σ", "median", "+1σ", "+2σ"):
            table.add_column(col, justify="right")
    for p in result.points:
        row = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in p.values.values()]
        row.append(f"{p.expected_counts:.4g}")
        if show_chi2:
            row.append(_fmt(p.chi2_limit))
        if show_post:
            row.append(_fmt(p.posterior_limit))
        if show_band:
            b = p.band or {}
            row += [_fmt(b.get(k)) for k in ("minus2", "minus1", "median", "plus1", "plus2")]
        table.add_row(*row)
    plain_console().print(table)

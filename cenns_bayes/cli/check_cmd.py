"""``cenns-bayes check STUDY.toml --kind asimov|coverage|sbc``: calibration of the intervals."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .common import (
    MAX_CHAINS,
    MAX_DRAWS,
    MAX_SEED,
    MAX_TOYS,
    MAX_WORKERS,
    InterruptGuard,
    UserError,
    add_engine_arguments,
    add_study_arguments,
    check_int_option,
    check_scheduler,
    output_folder,
    overrides_from_args,
    plain_console,
    print_json,
    require_free_parameters,
    start_local_workers,
    study_from_args,
    task_failure,
    with_provenance,
    write_text_atomic,
)

if TYPE_CHECKING:
    from ..calibration.coverage import CoverageResult
    from ..calibration.sbc import SBCResult

KINDS = ("asimov", "coverage", "sbc")


def add_arguments(parser) -> None:
    """Register the command's options."""
    add_study_arguments(parser)
    parser.add_argument(
        "--kind",
        required=True,
        choices=KINDS,
        help="asimov: posterior on Asimov data under several priors; coverage: "
        "Poisson toys at the true point; sbc: simulation-based calibration",
    )
    parser.add_argument(
        "--toys",
        type=int,
        default=None,
        metavar="N",
        help="pseudo-experiments (coverage, default 500) or replications (sbc, default 1000)",
    )
    add_engine_arguments(parser)
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="write the report (Markdown, PNG), summary JSON and raw table (resumable) here",
    )
    parser.add_argument(
        "--draws",
        type=int,
        default=None,
        help="posterior draws per chain per fit (default 500; asimov 1000)",
    )
    parser.add_argument(
        "--tune",
        type=int,
        default=None,
        help="warm-up draws per chain per fit (default 500; asimov 1000)",
    )
    parser.add_argument(
        "--chains", type=int, default=None, help="chains per fit (default 2; asimov 4)"
    )
    parser.add_argument(
        "--target-accept",
        type=float,
        default=None,
        help="NUTS target acceptance (default: the spec's)",
    )
    parser.add_argument(
        "--fc-points",
        type=int,
        default=25,
        help="coverage: grid points of the Feldman-Cousins construction (default 25)",
    )
    parser.add_argument(
        "--fc-toys",
        type=int,
        default=None,
        help="coverage: toys per Feldman-Cousins grid point (default 10000 when "
        "the toys are vectorised: one moment free, no nuisances; else 1000)",
    )
    parser.add_argument(
        "--frequentist-only", action="store_true", help="coverage: skip the posterior refits"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _check(args) -> None:
    big = args.kind == "asimov"
    for name, small, large in (("draws", 500, 1000), ("tune", 500, 1000), ("chains", 2, 4)):
        if getattr(args, name) is None:
            setattr(args, name, large if big else small)
    for name, high in (
        ("draws", MAX_DRAWS),
        ("tune", MAX_DRAWS),
        ("chains", MAX_CHAINS),
        ("fc_points", 10_000),
        ("fc_toys", MAX_TOYS),
        ("toys", MAX_TOYS),
        ("workers", MAX_WORKERS),
        ("seed", MAX_SEED),
    ):
        check_int_option(args, name, 0 if name == "seed" else 1, high)
    if args.target_accept is not None and not 0 < args.target_accept < 1:
        raise UserError(f"--target-accept must lie in (0, 1), got {args.target_accept}")
    if args.kind == "sbc" and args.chains * args.draws < 99:
        raise UserError("--chains x --draws must be at least 99 for the SBC rank statistic")


def run(args) -> int:
    """Run the chosen check, write the report and print the summary."""
    _check(args)
    check_scheduler("check", args.scheduler)
    # --out checked and locked before any computation; written in place, because the raw
    # tables are appended toy by toy and an interrupted run resumes from them.
    from ..calibration.common import StudyRef

    study_from_args(args)  # checked as every command checks a spec (file kind, size, schema)
    ref = StudyRef.from_file(args.study, overrides_from_args(args))
    study = ref.load()
    require_free_parameters(study)
    folder = output_folder(args, whole=False)
    try:
        with InterruptGuard():  # a posterior fit cut short by Ctrl-C never reaches the report
            return _run(args, ref, study)
    finally:
        if folder is not None:
            folder.release()


def _run(args, ref, study) -> int:
    from ..calibration.common import SamplerSettings
    from ..parallel import Engine, TableMismatchError, TaskFailedError

    target = args.target_accept or study.spec.sampling.target_accept
    sampler = SamplerSettings(
        draws=args.draws, tune=args.tune, chains=args.chains, target_accept=target
    )
    if args.kind == "asimov":
        from ..calibration.asimov import run_asimov

        asimov = run_asimov(ref, sampler, seed=args.seed, progress=not args.json)
        doc = with_provenance(asimov.to_json(), study)
        if args.out:
            from ..calibration.report import write_asimov_report

            write_asimov_report(asimov, args.out)
        _emit(args, doc, asimov)
        return 0
    engine = Engine(workers=args.workers, scheduler=args.scheduler, progress=not args.json)
    result: CoverageResult | SBCResult
    try:
        start_local_workers(engine)
        if args.kind == "coverage":
            from ..calibration.coverage import CoverageSettings, run_coverage

            settings = CoverageSettings(
                toys=args.toys or 500,
                sampler=None if args.frequentist_only else sampler,
                fc_points=args.fc_points,
                fc_toys=args.fc_toys,
            )
            result = run_coverage(ref, settings, seed=args.seed, engine=engine, out_dir=args.out)
        else:
            from ..calibration.sbc import response_refusal, run_sbc

            if study.response_detector is not None:
                raise UserError(response_refusal(study))

            result = run_sbc(
                ref, args.toys or 1000, sampler, seed=args.seed, engine=engine, out_dir=args.out
            )
    except TableMismatchError as err:
        raise UserError(str(err)) from None
    except TaskFailedError as err:
        raise task_failure(err, args) from None
    finally:
        engine.close()
    doc = with_provenance(result.to_json(), study)
    if args.out:
        from ..calibration import report

        writer = (
            report.write_coverage_report if args.kind == "coverage" else report.write_sbc_report
        )
        writer(result, args.out)
    _emit(args, doc, result)
    return 0


def _emit(args, doc: dict, result) -> None:
    if args.out:
        from pathlib import Path

        write_text_atomic(
            Path(args.out) / f"{args.kind}.json", json.dumps(doc, indent=2, allow_nan=False) + "\n"
        )
    if args.json:
        print_json(doc)
        return
    from rich.table import Table

    console = plain_console()
    if args.kind == "coverage":
        table = Table(
            title=f"{result.study}: coverage of {len(result.rows)} toys at {result.truth_label()}"
        )
        from ..calibration.report import format_ci95, format_stderr

        for col in (
            "parameter",
            "method",
            "level",
            "coverage",
            "stderr",
            "95 % CI",
            "median interval",
        ):
            table.add_column(col, justify="left" if col in ("parameter", "method") else "right")
        for r in result.summary:
            table.add_row(
                r["parameter"],
                r["method"],
                f"{r['level']:g}",
                f"{r['coverage']:.3f}",
                format_stderr(r),
                format_ci95(r),
                f"[{r['median_lower']:.4g}, {r['median_upper']:.4g}]",
            )
        console.print(table)
        divs = sum(r.get("divergences", 0) for r in result.rows)
        console.print(f"posterior divergences over all toys: {divs}")
    elif args.kind == "sbc":
        table = Table(title=f"{result.study}: SBC, {len(result.rows)} replications")
        for col in ("parameter", "uniformity p-value", "ECDF in 99 % band", "rank histogram"):
            table.add_column(col)
        for p, pv in result.pvalues.items():
            band = result.ecdf.get(p)
            inside = "n/a" if band is None else ("yes" if band["passes"] else "no")
            table.add_row(p, f"{pv:.3g}", inside, " ".join(str(h) for h in result.histograms[p]))
        console.print(table)
    else:
        console.print(result.markdown())
    if args.out:
        console.print(f"wrote {args.out}")

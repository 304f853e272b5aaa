"""``cenns-bayes study STUDY.toml --out DIR``: the main job, written up as a report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import (
    InterruptGuard,
    Progress,
    UserError,
    add_hepdata_argument,
    add_joint_fits_argument,
    add_sampler_arguments,
    add_study_arguments,
    check_hepdata_target,
    check_sampler_options,
    clean_text,
    joint_fits,
    output_folder,
    require_free_parameters,
    sampler_options,
    study_from_args,
    warn,
    write_hepdata,
)


def add_arguments(parser) -> None:
    """Register the command's options."""
    add_study_arguments(parser)
    parser.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="output folder for the report (replaced whole when the run succeeds)",
    )
    add_sampler_arguments(parser)
    parser.add_argument(
        "--no-pooling-comparison",
        action="store_true",
        help="skip re-sampling with the other two pooling choices",
    )
    add_joint_fits_argument(parser)
    add_hepdata_argument(parser)


def run(args) -> int:
    """Run the study and report where the results are."""
    check_sampler_options(args)
    check_hepdata_target(args)
    study = study_from_args(args, joint=True)
    joint = hasattr(study, "members")
    options: dict[str, Any]
    if joint:
        if args.hepdata:
            raise UserError(f"{study.path}: --hepdata is not available for a joint study")
        options = {"fits": joint_fits(args, study)}
    else:
        require_free_parameters(study)
        options = {"pooling_comparison": not args.no_pooling_comparison}
    # --out checked and locked before any computation; written into a temporary sibling folder
    # and swapped in at the end, so DIR holds the old complete report or the new one.
    folder = output_folder(args, whole=True)
    assert folder is not None and folder.work is not None  # --out is required; acquired above
    name = clean_text(study.name, 80)
    try:
        run_report: Callable[..., dict[str, Any]]
        if joint:
            from ..reports.joint import run_joint_study as run_report
        else:
            from ..reports.study import run_study as run_report

        with InterruptGuard(), Progress("study", name) as say:
            summary = run_report(
                study, folder.work, progress=say, **sampler_options(args), **options
            )
        folder.commit()
    finally:
        folder.release()
    if args.hepdata:
        write_hepdata("study", summary, args.hepdata)
    d = summary["diagnostics"]
    for w in summary.get("warnings", []):
        warn("study", w)
    print(
        f"{name}: report in {args.out}/report.md ({summary['wall_seconds']:.0f} s; "
        f"{d['divergences']} divergences, max R-hat {d['max_r_hat']:.3f}, "
        f"min bulk ESS {d['min_ess_bulk']:.0f})"
    )
    if joint:
        return 0  # the joint report compares several fits: see report.md
    for p, s in summary["posterior"].items():
        f = summary["frequentist"][p].get("chi2") or summary["frequentist"][p]["profile"]
        print(
            f"  {p}: posterior HDI 90 % [{s['hdi_90'][0]:.4g}, {s['hdi_90'][1]:.4g}]; "
            f"frequentist 90 % [{f['interval_90'][0]:.4g}, {f['interval_90'][1]:.4g}]"
        )
    return 0

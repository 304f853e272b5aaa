"""``cenns-bayes study STUDY.toml --out DIR``: the main job, written up as a report."""

from __future__ import annotations

from .common import (
    UserError,
    add_hepdata_argument,
    add_study_arguments,
    study_from_args,
    write_hepdata,
)


def add_arguments(parser) -> None:
    """Register the command's options."""
    add_study_arguments(parser)
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder for the report")
    parser.add_argument("--draws", type=int, default=None, help="draws per chain (spec default)")
    parser.add_argument("--tune", type=int, default=None, help="warm-up draws per chain")
    parser.add_argument("--chains", type=int, default=None, help="number of chains")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--no-pooling-comparison", action="store_true",
                        help="skip re-sampling with the other two pooling choices")
    add_hepdata_argument(parser)


def run(args) -> int:
    """Run the study and report where the results are."""
    study = study_from_args(args)
    if not study.free_parameters:
        raise UserError(f"{study.path}: priors: no free parameter; give [priors] for at least one")
    from rich.console import Console

    from ..reports.study import run_study

    console = Console(stderr=True)
    with console.status("starting") as status:
        summary = run_study(study, args.out, draws=args.draws, tune=args.tune, chains=args.chains,
                            seed=args.seed, pooling_comparison=not args.no_pooling_comparison,
                            progress=lambda msg: status.update(f"{study.name}: {msg}"))
    if args.hepdata:
        write_hepdata("study", summary, args.hepdata)
    d = summary["diagnostics"]
    print(f"{study.name}: report in {args.out}/report.md ({summary['wall_seconds']:.0f} s; "
          f"{d['divergences']} divergences, max R-hat {d['max_r_hat']:.3f}, "
          f"min bulk ESS {d['min_ess_bulk']:.0f})")
    for p, s in summary["posterior"].items():
        f = summary["frequentist"][p].get("chi2") or summary["frequentist"][p]["profile"]
        print(f"  {p}: posterior HDI 90 % [{s['hdi_90'][0]:.4g}, {s['hdi_90'][1]:.4g}]; "
              f"frequentist 90 % [{f['interval_90'][0]:.4g}, {f['interval_90'][1]:.4g}]")
    return 0

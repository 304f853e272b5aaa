"""``cenns-bayes sample STUDY.toml``: NUTS posterior of a study, summarised."""

from __future__ import annotations

from .common import (
    InterruptGuard,
    Progress,
    UserError,
    add_joint_fits_argument,
    add_sampler_arguments,
    add_study_arguments,
    check_sampler_options,
    clean_text,
    joint_fits,
    output_file,
    plain_console,
    print_json,
    require_free_parameters,
    sampler_options,
    study_from_args,
    warn,
    with_provenance,
)


def add_arguments(parser) -> None:
    """Register the command's options."""
    add_study_arguments(parser)
    add_sampler_arguments(parser)
    parser.add_argument(
        "--backend",
        choices=["auto", "nutpie", "pymc"],
        default=None,
        help="NUTS implementation (default: the spec's, auto = nutpie if installed)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.nc",
        default=None,
        help="write the InferenceData to this NetCDF file (atomically)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_joint_fits_argument(
        parser, "joint specs: the [[fits]] entry whose posterior to sample (one; default the first)"
    )


def run(args) -> int:
    """Sample and print the summary."""
    check_sampler_options(args)
    out = output_file(args)  # checked and locked before any sampling
    try:
        return _run(args)
    finally:
        if out is not None:
            out.release()


def _run(args) -> int:
    study = study_from_args(args, joint=True)
    if hasattr(study, "members"):
        return _run_joint(args, study)
    require_free_parameters(study)
    from ..bayes import diagnostics, sample_study, summarise_posterior
    from ..bayes.sampling import write_netcdf
    from ..reports.study import sampler_warnings

    with InterruptGuard(), Progress("sample", study.name) as say:
        say("compiling the model and sampling the posterior (NUTS)")
        result = sample_study(
            study, backend=args.backend, progressbar=not args.json, **sampler_options(args)
        )
    if args.out:
        write_netcdf(result.idata, args.out)
    params = study.free_parameters
    summary = summarise_posterior(result.idata, params)
    diag = diagnostics(result.idata, params)
    warnings = sampler_warnings(diag, summary)
    for w in warnings:
        warn("sample", w)
    keys = (
        "mean",
        "median",
        "sd",
        "hdi_68",
        "hdi_90",
        "eti_68",
        "eti_90",
        "upper_90",
        "r_hat",
        "ess_bulk",
    )
    if args.json:
        print_json(
            with_provenance(
                {
                    "study": study.name,
                    "parameters": {p: {k: summary[p][k] for k in keys} for p in params},
                    "divergences": diag["divergences"],
                    "diagnostics": diag,
                    "warnings": warnings,
                    "sampler": {
                        "backend": result.backend,
                        "compile_seconds": result.compile_seconds,
                        "sampling_seconds": result.sampling_seconds,
                    },
                },
                study,
            )
        )
        return 0
    from rich.table import Table

    from ..reports.study import UNITS

    table = Table(
        title=f"{clean_text(study.name, None)}: posterior ({result.backend}, "
        f"{diag['chains']} x {diag['draws']})"
    )
    for col in (
        "parameter",
        "unit",
        "mean",
        "median",
        "sd",
        "HDI 90 %",
        "ETI 90 %",
        "upper 90 %",
        "R-hat",
        "ESS bulk",
    ):
        table.add_column(col, justify="left" if col in ("parameter", "unit") else "right")
    for p in params:
        s = summary[p]
        table.add_row(
            p,
            UNITS.get(p, ""),
            f"{s['mean']:.4g}",
            f"{s['median']:.4g}",
            f"{s['sd']:.3g}",
            f"[{s['hdi_90'][0]:.4g}, {s['hdi_90'][1]:.4g}]",
            f"[{s['eti_90'][0]:.4g}, {s['eti_90'][1]:.4g}]",
            f"{s['upper_90']:.4g}",
            f"{s['r_hat']:.3f}",
            f"{s['ess_bulk']:.0f}",
        )
    console = plain_console()
    console.print(table)
    console.print(
        f"divergences: {diag['divergences']}; compile {result.compile_seconds:.1f} s, "
        f"sampling {result.sampling_seconds:.1f} s" + (f"; wrote {args.out}" if args.out else "")
    )
    return 0


def _run_joint(args, study) -> int:
    """The joint posterior of one ``[[fits]]`` entry of a joint spec (JSON summary)."""
    from ..bayes import diagnostics, summarise_posterior
    from ..bayes.sampling import write_netcdf
    from ..reports.joint import sample_joint_fit

    if len(args.joint_fits) > 1:
        raise UserError(f"{study.path}: sample takes one --fit at a time")
    name = joint_fits(args, study)[0]
    sub = study.for_fit(name)
    with InterruptGuard(), Progress("sample", f"{study.name}: {name}") as say:
        say("building the joint model, compiling it and sampling the posterior (NUTS)")
        idata, backend, t_compile, t_sample = sample_joint_fit(
            study, name, backend=args.backend, **sampler_options(args)
        )
    if args.out:
        write_netcdf(idata, args.out)
    params = sub.free_parameters
    summary = summarise_posterior(idata, params)
    diag = diagnostics(idata, params)
    print_json(
        with_provenance(
            {
                "study": study.name,
                "fit": name,
                "parameters": summary,
                "divergences": diag["divergences"],
                "diagnostics": diag,
                "sampler": {
                    "backend": backend,
                    "compile_seconds": t_compile,
                    "sampling_seconds": t_sample,
                },
            },
            study,
        )
    )
    return 0

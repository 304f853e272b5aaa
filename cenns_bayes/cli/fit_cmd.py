"""``cenns-bayes fit STUDY.toml``: maximum likelihood and profile-likelihood intervals.

Works for any study: counting studies (the seed paper's set-ups) and studies with a detector
response and real data (COHERENT CsI 2017). Imports no PyMC.
"""

from __future__ import annotations

import math

from .common import (
    Progress, UserError, add_hepdata_argument, check_hepdata_target, add_study_arguments, clean_text, plain_console,
    print_json, study_from_args, with_provenance, write_hepdata,
)


def add_arguments(parser) -> None:
    """Register the command's options."""
    add_study_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_hepdata_argument(parser)


def run(args) -> int:
    """Fit and print."""
    check_hepdata_target(args)
    study = study_from_args(args)
    if not study.free_parameters:
        raise UserError(
            f"{study.path}: priors: no free parameters; give each parameter to fit a [priors] entry"
        )
    from ..stats.fit import fit_study

    with Progress("fit", study.name) as say:
        say(f"maximum-likelihood fit and profile intervals of {', '.join(study.free_parameters)}")
        result = fit_study(study)  # the engine runs its fits with one BLAS thread
    result = with_provenance(result, study)
    if args.hepdata:
        write_hepdata("fit", result, args.hepdata)
    if args.json:
        print_json(result)
        return 0
    from rich.table import Table

    console = plain_console()
    name = clean_text(result["study"], None)
    table = Table(title=f"{name}: profile-likelihood fit ({result['details']['data']} data)")
    for col in ("parameter", "best fit", "68 % interval", "90 % interval"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, row in result["parameters"].items():
        table.add_row(name, _fmt(row["best"]), _interval(row["interval_68"]), _interval(row["interval_90"]))
    console.print(table)
    if result["derived"]:
        ev = result["derived"]["cevns_events"]
        console.print(
            f"CEvNS events in the analysis region: {ev['best']:.1f}, 68 % interval "
            f"{_interval(ev['interval_68'])}; Standard-Model expectation {ev['sm_expected']:.1f}"
        )
        console.print(f"No-CEvNS hypothesis rejected at {result['significance_sigma']:.2f} sigma "
                      "(sqrt of Delta(-2 ln L) at signal_strength = 0)")
        xs = result["derived"].get("flux_averaged_cross_section_cm2")
        if xs is not None:
            console.print(f"flux-averaged cross section per nucleus: {xs['best']:.3g} cm^2, 68 % interval "
                          f"[{xs['interval_68'][0]:.3g}, {xs['interval_68'][1]:.3g}]; "
                          f"Standard Model {xs['sm_expected']:.3g}")
    details = result["details"]
    if details["nuisances"]:
        pulls = Table(title="nuisances at the best fit")
        for col in ("nuisance", "kind", "value", "pull (sigma)"):
            pulls.add_column(col, justify="left" if col in ("nuisance", "kind") else "right")
        for row in details["nuisances"]:
            pulls.add_row(row["name"], row["kind"], f"{row['value']:.4g}", f"{row['pull_sigma']:+.2f}")
        console.print(pulls)
    if "components_at_best" in details:
        comp = ", ".join(f"{k} {v:.1f}" for k, v in details["components_at_best"].items())
        console.print(f"expected at the best fit: {comp}; observed {details['observed_total']:.0f} "
                      f"in {details['n_bins']} bins")
    return 0


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def _interval(pair) -> str:
    return f"[{_fmt(pair[0])}, {_fmt(pair[1])}]"

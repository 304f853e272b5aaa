"""``cenns-bayes fit STUDY.toml``: maximum likelihood and profile-likelihood intervals.

Works for any study: counting studies (the seed paper's set-ups) and studies with a detector
response and real data (COHERENT CsI 2017). Imports no PyMC.
"""

from __future__ import annotations

import math

from .common import (
    Progress,
    UserError,
    add_hepdata_argument,
    add_joint_fits_argument,
    add_study_arguments,
    check_hepdata_target,
    clean_text,
    joint_fits,
    overrides_from_args,
    plain_console,
    print_json,
    study_from_args,
    with_provenance,
    write_hepdata,
)


def add_arguments(parser) -> None:
    """Register the command's options."""
    add_study_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--method",
        choices=("profile", "feldman-cousins"),
        default="profile",
        help="interval method: profile likelihood (default) or, for the magnetic "
        "moments, also the Feldman-Cousins unified interval (toy Neyman construction)",
    )
    parser.add_argument(
        "--fc-points", type=int, default=25, help="feldman-cousins: grid points (default 25)"
    )
    parser.add_argument(
        "--fc-toys",
        type=int,
        default=None,
        help="feldman-cousins: toys per grid point (default 10000 when vectorised, else 1000)",
    )
    parser.add_argument(
        "--fc-seed", type=int, default=20151, help="feldman-cousins: seed of the toys"
    )
    add_joint_fits_argument(parser)
    add_hepdata_argument(parser)


def run(args) -> int:
    """Fit and print."""
    check_hepdata_target(args)
    study = study_from_args(args, joint=True)
    if hasattr(study, "members"):
        return _run_joint(args, study)
    if not study.free_parameters:
        raise UserError(
            f"{study.path}: priors: no free parameters; give each parameter to fit a [priors] entry"
        )
    from ..stats.fit import fit_study

    moments = [p for p in study.free_parameters if p.startswith("mu_nu")]
    if args.method == "feldman-cousins":
        from .common import MAX_TOYS, check_int_option

        if not moments:
            raise UserError(
                f"{study.path}: --method feldman-cousins needs a free magnetic moment "
                f"(free: {', '.join(study.free_parameters)})"
            )
        check_int_option(args, "fc_points", 3, 10_000)
        check_int_option(args, "fc_toys", 10, MAX_TOYS)
        check_int_option(args, "fc_seed", 0, 2**32 - 1)
    with Progress("fit", study.name) as say:
        say(f"maximum-likelihood fit and profile intervals of {', '.join(study.free_parameters)}")
        result = fit_study(study)  # the engine runs its fits with one BLAS thread
        if args.method == "feldman-cousins":
            from ..calibration.common import StudyRef
            from ..calibration.feldman_cousins import feldman_cousins_of_data

            ref = StudyRef.from_file(args.study, overrides_from_args(args) or None)
            result["feldman_cousins"] = {}
            for p in moments:
                say(f"Feldman-Cousins belt of {p}")
                result["feldman_cousins"][p] = feldman_cousins_of_data(
                    ref, p, points=args.fc_points, toys=args.fc_toys, seed=args.fc_seed
                )
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
        table.add_row(
            name, _fmt(row["best"]), _interval(row["interval_68"]), _interval(row["interval_90"])
        )
    console.print(table)
    for p, fc in result.get("feldman_cousins", {}).items():
        note = " (upper end beyond the grid)" if any(fc["open"].values()) else ""
        mc = ", ".join(f"{k}: {v:.4f}" for k, v in fc["acceptance_stderr"].items())
        console.print(
            f"Feldman-Cousins {p}: 68 % {_interval(fc['interval_68'])}, 90 % "
            f"{_interval(fc['interval_90'])}{note}; belt of {len(fc['grid'])} points to "
            f"{fc['grid'][-1]:.4g}, {fc['toys_per_point']} toys each (Monte Carlo error of the "
            f"belt's acceptance {mc})"
        )
    if result["derived"]:
        ev = result["derived"]["cevns_events"]
        console.print(
            f"CEvNS events in the analysis region: {ev['best']:.1f}, 68 % interval "
            f"{_interval(ev['interval_68'])}; Standard-Model expectation {ev['sm_expected']:.1f}"
        )
        console.print(
            f"No-CEvNS hypothesis rejected at {result['significance_sigma']:.2f} sigma "
            "(sqrt of Delta(-2 ln L) at signal_strength = 0)"
        )
        xs = result["derived"].get("flux_averaged_cross_section_cm2")
        if xs is not None:
            console.print(
                f"flux-averaged cross section per nucleus: {xs['best']:.3g} cm^2, 68 % interval "
                f"[{xs['interval_68'][0]:.3g}, {xs['interval_68'][1]:.3g}]; "
                f"Standard Model {xs['sm_expected']:.3g}"
            )
    details = result["details"]
    if details["nuisances"]:
        pulls = Table(title="nuisances at the best fit")
        for col in ("nuisance", "kind", "value", "pull (sigma)"):
            pulls.add_column(col, justify="left" if col in ("nuisance", "kind") else "right")
        for row in details["nuisances"]:
            pulls.add_row(
                row["name"], row["kind"], f"{row['value']:.4g}", f"{row['pull_sigma']:+.2f}"
            )
        console.print(pulls)
    if "components_at_best" in details:
        comp = ", ".join(f"{k} {v:.1f}" for k, v in details["components_at_best"].items())
        console.print(
            f"expected at the best fit: {comp}; observed {details['observed_total']:.0f} "
            f"in {details['n_bins']} bins"
        )
    return 0


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def _interval(pair) -> str:
    return f"[{_fmt(pair[0])}, {_fmt(pair[1])}]"


def _run_joint(args, study) -> int:
    """``fit JOINT.toml``: every ``[[fits]]`` entry jointly and per data set, side by side."""
    if args.method != "profile":
        raise UserError(
            f"{study.path}: --method {args.method}: a joint study is fitted by profile "
            "likelihood only (docs/coherent_joint.md says why)"
        )
    if args.hepdata:
        raise UserError(f"{study.path}: --hepdata is not available for a joint study")
    from ..stats.joint import fit_joint

    fits = joint_fits(args, study)
    with Progress("fit", study.name) as say:
        result = fit_joint(study, fits=fits, progress=say)
    result = with_provenance(result, study)
    if args.json:
        print_json(result)
        return 0
    from rich.table import Table

    console = plain_console()
    for fit_name, entry in result["fits"].items():
        table = Table(title=f"{clean_text(study.name, None)}: {fit_name} (profile likelihood)")
        for col in ("parameter", "data", "best fit", "68 % interval", "90 % interval"):
            table.add_column(col, justify="left" if col in ("parameter", "data") else "right")
        for p in entry["free"]:
            rows = [("joint", entry["joint"])] + list(entry.get("members", {}).items())
            for label, fit in rows:
                if p not in fit["parameters"]:
                    continue
                row = fit["parameters"][p]
                table.add_row(
                    p,
                    label,
                    _fmt(row["best"]),
                    _interval(row["interval_68"]),
                    _interval(row["interval_90"]),
                )
        console.print(table)
        sig = entry["joint"].get("significance_sigma")
        if sig is not None:
            console.print(f"No-CEvNS rejected (joint) at {sig:.2f} sigma")
    return 0

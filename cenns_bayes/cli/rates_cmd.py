"""``cenns-bayes rates STUDY.toml``: expected counts per detector and flavour."""

from __future__ import annotations

from .common import (
    add_study_arguments,
    clean_text,
    plain_console,
    print_json,
    study_from_args,
    with_provenance,
)


def add_arguments(parser) -> None:
    """Register the command's options."""
    add_study_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--binned", action="store_true", help="show counts per recoil bin")


def run(args) -> int:
    """Compute and print the counts."""
    study = study_from_args(args)
    params = study.true_parameters()
    rows = []
    for det in study.detector_names:
        for flavor in study.flavors:
            ch = study.channel(det, flavor, binned=args.binned)
            counts = ch.counts(
                params["sin2_theta_w"], params[ch.mu_parameter], params[ch.r2_parameter]
            )
            row = {"detector": det, "flavor": flavor, "expected": float(counts.sum())}
            if args.binned:
                row["bin_edges_kev"] = [float(x) for x in ch.bin_edges_kev]
                row["expected_per_bin"] = [float(x) for x in counts]
            rows.append(row)
    if args.json:
        doc = {"study": study.name, "parameters": params, "counts": rows}
        print_json(with_provenance(doc, study))
        return 0
    from rich.table import Table

    table = Table(
        title=f"{clean_text(study.name, None)}: expected counts", caption=_caption(params)
    )
    table.add_column("detector")
    table.add_column("flavour")
    table.add_column("window (keV)")
    table.add_column("expected", justify="right")
    for row in rows:
        ch = study.channel(row["detector"], row["flavor"], binned=False)
        lo, hi = ch.bin_edges_kev[0], ch.bin_edges_kev[-1]
        table.add_row(
            clean_text(row["detector"], None),
            row["flavor"],
            f"{lo:g}-{hi:.4g}",
            f"{row['expected']:.2f}",
        )
    plain_console().print(table)
    return 0


def _caption(params: dict) -> str:
    return (
        f"sin2_theta_w = {params['sin2_theta_w']}, mu_nu_mu = {params['mu_nu_mu']}, "
        f"mu_nu_e = {params['mu_nu_e']} (1e-10 mu_B), r2_nu_mu = {params['r2_nu_mu']}, "
        f"r2_nu_e = {params['r2_nu_e']} (1e-32 cm^2)"
    )

"""``cenns-bayes reproduce``: the seed paper's frequentist tables beside the project's values."""

from __future__ import annotations

from .common import UserError, output_folder, plain_console, print_json, with_provenance


def add_arguments(parser) -> None:
    """Register the command's options."""
    parser.add_argument(
        "--form-factor",
        default=None,
        metavar="NAME",
        help="form factor for every detector (default: the presets' helm)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--plots", metavar="DIR", default=None, help="write Figs. 1-8 as PNG to DIR"
    )


def run(args) -> int:
    """Compute and print every entry."""
    from ..paper.reproduce import reproduce, summarise
    from ..physics.form_factors import FORM_FACTOR_MODELS

    if args.form_factor is not None and args.form_factor not in FORM_FACTOR_MODELS:
        raise UserError(
            f"--form-factor: unknown form factor {args.form_factor!r}; expected one of "
            f"{', '.join(FORM_FACTOR_MODELS)}"
        )
    # --plots checked and locked first; the figures go to a temporary sibling folder that
    # replaces DIR only when all of them are written.
    folder = output_folder(args, whole=True, option="--plots", attr="plots")
    try:
        entries = reproduce(args.form_factor)
        summary = summarise(entries)
        if folder is not None:
            from ..plotting.paper_figures import write_paper_figures

            assert folder.work is not None  # output_folder acquired it
            write_paper_figures(folder.work, args.form_factor)
            folder.commit()
    finally:
        if folder is not None:
            folder.release()
    if args.json:
        print_json(
            with_provenance(
                {
                    "form_factor": args.form_factor or "helm",
                    "summary": summary,
                    "entries": [e.to_json() for e in entries],
                },
                None,
            )
        )
        return 0
    from rich.table import Table

    table = Table(
        title=f"Kosmas et al. 2015 reproduced (form factor: {args.form_factor or 'helm'})"
    )
    for col in ("table", "quantity", "setup", "nuclei", "channel", "bound"):
        table.add_column(col)
    for col in ("paper", "computed", "diff %", "gap %"):
        table.add_column(col, justify="right")
    for e in entries:
        table.add_row(
            e.table,
            e.quantity,
            e.setup,
            e.nuclei,
            e.channel,
            e.bound,
            f"{e.paper:g}",
            f"{e.computed:.4g}",
            f"{100 * e.relative_difference:+.2f}",
            f"{100 * e.gap:.2f}",
        )
    console = plain_console()
    console.print(table)
    console.print(
        f"{summary['entries']} entries. Gap allowing half a printed unit: median "
        f"{100 * summary['median_gap']:.2f} %, largest {100 * summary['max_gap']:.2f} %. "
        f"Raw relative difference: median {100 * summary['median_relative_difference']:.2f} %, "
        f"largest {100 * summary['max_relative_difference']:.2f} %."
    )
    return 0

"""Sample every study in models/ and report the sampler diagnostics (issue acceptance).

Run:  .venv/bin/python benchmarks/sample_all_models.py [--out docs/sampler_diagnostics.md]

Each study is sampled with its own [sampling] settings (4 chains x 1000 draws unless the
spec says otherwise) and judged by: zero divergences, R-hat <= 1.01, bulk ESS >= 400 for
every free parameter. Studies without [priors] are listed as skipped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run() -> list[dict]:
    from cenns_bayes.bayes import diagnostics, sample_study, summarise_posterior
    from cenns_bayes.specs import load_study

    rows = []
    from cenns_bayes.specs.joint import is_joint_spec

    for path in sorted((ROOT / "models").glob("*.toml")):
        if is_joint_spec(path):  # sampled by its own main job (docs/coherent_joint.md)
            continue
        study = load_study(path)
        if not study.free_parameters:
            rows.append({"study": path.name, "skipped": True, "mu_upper_90": None})
            continue
        t0 = time.perf_counter()
        result = sample_study(study, progressbar=False, prior_draws=10)
        d = diagnostics(result.idata, study.free_parameters)
        mu = (
            summarise_posterior(result.idata, ["mu_nu_mu"])["mu_nu_mu"]["upper_90"]
            if "mu_nu_mu" in study.free_parameters
            else None
        )
        d.update(
            study=path.name,
            seconds=time.perf_counter() - t0,
            skipped=False,
            mu_upper_90=mu,
            free=", ".join(study.free_parameters),
            ok=d["divergences"] == 0 and d["max_r_hat"] <= 1.01 and d["min_ess_bulk"] >= 400,
        )
        rows.append(d)
        print(
            f"{path.name}: {d['divergences']} div, R-hat {d['max_r_hat']:.4f}, "
            f"ESS {d['min_ess_bulk']:.0f}, {d['seconds']:.0f} s",
            flush=True,
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} with "
        "`.venv/bin/python benchmarks/sample_all_models.py`.",
        "",
        "Pass: zero divergences, R-hat <= 1.01 and bulk ESS >= 400 for every free parameter.",
        "The last column is the posterior 90 % upper limit on mu_nu_mu (1e-10 mu_B) "
        "where it is free.",
        "",
        "| study | free parameters | divergences | max R-hat | min bulk ESS | wall s | pass "
        "| mu_nu_mu 90 % |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        if r["skipped"]:
            lines.append(f"| {r['study']} | (no priors) | | | | | skipped | |")
            continue
        mu = "" if r["mu_upper_90"] is None else f"{r['mu_upper_90']:.2f}"
        lines.append(
            f"| {r['study']} | {r['free']} | {r['divergences']} | {r['max_r_hat']:.4f} | "
            f"{r['min_ess_bulk']:.0f} | {r['seconds']:.0f} | {'yes' if r['ok'] else 'NO'} | {mu} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    rows = run()
    text = markdown(rows)
    print(text)
    if "--out" in sys.argv:
        Path(sys.argv[sys.argv.index("--out") + 1]).write_text(text)

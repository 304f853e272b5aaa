"""Reproduce every frequentist number of the seed paper's Tables III-VI and Eqs. (13)-(14).

Conventions (``docs/reproduction.md``; measured in ``../shared/PAPER_NOTES.md``):

* Table III/IV: half-width (s_max - s_min)/2 of {Delta chi^2 <= 1};
* Table V, Eqs. 13-14: upper limit on mu_nu at Delta chi^2 = chi2.ppf(0.9, 1) = 2.706;
* Table VI: the interval on <r^2> at the same Delta chi^2;
* "comb": all three channels in Table IV, nu_mu + anti-nu_mu in Tables V, VI and Eqs. 13-14;
* chi^2 statistical only (Eqs. 10-12) on Asimov data at sin^2(theta_W) = 0.23120.

The gap to the paper is shown raw, |c - p|/|p|, and allowing half a unit of the last
printed digit, max(0, |c - p| - u/2)/|p|.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..specs import Study, load_study
from ..stats.counting import CountingModel
from ..stats.profile import DELTA_CHI2, ProfileFitter

__all__ = ["ReproducedEntry", "paper_entries", "preset_path", "reproduce", "summarise"]

NUCLEI_ORDER = ("Ne20", "Ar40", "Ge76", "Xe132")
_DELTA = {
    "sin2_theta_w": DELTA_CHI2["1sigma"],
    "mu_nu": DELTA_CHI2["90cl_1dof"],
    "r2_nu": DELTA_CHI2["90cl_1dof"],
}


@dataclass(frozen=True)
class ReproducedEntry:
    """One printed number of the paper and the project's value for it."""

    table: str
    quantity: str
    setup: str
    nuclei: str
    channel: str
    bound: str
    paper: float
    computed: float
    printed_unit: float

    @property
    def relative_difference(self) -> float:
        """(computed - paper) / |paper|."""
        return (self.computed - self.paper) / abs(self.paper)

    @property
    def gap(self) -> float:
        """|computed - paper| less half a printed unit (not below 0), over |paper|."""
        return max(0.0, abs(self.computed - self.paper) - 0.5 * self.printed_unit) / abs(self.paper)

    def to_json(self) -> dict:
        """JSON-ready dict with the agreed keys plus both gap figures."""
        d = asdict(self)
        d.pop("printed_unit")
        d["relative_difference"] = self.relative_difference
        d["gap_allowing_precision"] = self.gap
        return d


def preset_path(setup: str) -> Path:
    """Path of a packaged paper preset (``"realistic"`` or ``"optimistic"``)."""
    return Path(str(resources.files("cenns_bayes.paper") / "presets" / f"{setup}.toml"))


def paper_entries() -> list[dict]:
    """The paper's printed values (``kosmas2015_tables.csv``) with their printed unit."""
    text = (resources.files("cenns_bayes.paper") / "kosmas2015_tables.csv").read_text()
    rows = [
        r for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    ]
    for r in rows:
        digits = r["paper"].split(".")[1] if "." in r["paper"] else ""
        r["printed_unit"] = 10.0 ** (-len(digits))
    return rows


def _channels(quantity: str, table: str, channel: str) -> list[str]:
    if channel != "comb":
        return [channel]
    return ["numu", "numubar", "nue"] if table == "IV" else ["numu", "numubar"]


def _parameter(quantity: str, channels: list[str]) -> str:
    if quantity == "sin2_theta_w":
        return "sin2_theta_w"
    flavour = "e" if channels == ["nue"] else "mu"
    return f"{quantity}_{flavour}"


def compute_entry(study: Study, row: dict) -> float:
    """The project's value for one printed entry of the paper."""
    detectors = row["nuclei"].split("+")
    channels = _channels(row["quantity"], row["table"], row["channel"])
    model = study.rate_model(detectors, channels, binned=False)
    observed = model.counts(study.true_parameters())
    param = _parameter(row["quantity"], channels)
    counting = CountingModel(model, observed, fixed=study.true_parameters())
    fitter = ProfileFitter(counting, [param], cost="chi2")
    delta = _DELTA[row["quantity"]]
    if row["bound"] == "half-width":
        lo, hi = fitter.interval(param, delta)
        return 0.5 * (hi - lo)
    if row["bound"] == "upper":
        return fitter.crossing(param, delta, +1)
    return fitter.crossing(param, delta, -1)


def load_presets(form_factor: str | None = None) -> dict[str, Study]:
    """The realistic and optimistic presets, optionally with every form factor replaced."""
    out = {}
    for setup in ("realistic", "optimistic"):
        overrides = None
        if form_factor:
            overrides = {f"detectors.{n}.form_factor": form_factor for n in NUCLEI_ORDER}
        out[setup] = load_study(preset_path(setup), overrides)
    return out


def reproduce(form_factor: str | None = None) -> list[ReproducedEntry]:
    """Compute every entry of Tables III-VI and Eqs. (13)-(14)."""
    studies = load_presets(form_factor)
    out = []
    for row in paper_entries():
        value = compute_entry(studies[row["setup"]], row)
        out.append(
            ReproducedEntry(
                row["table"],
                row["quantity"],
                row["setup"],
                row["nuclei"],
                row["channel"],
                row["bound"],
                float(row["paper"]),
                float(value),
                row["printed_unit"],
            )
        )
    return out


def summarise(entries: list[ReproducedEntry]) -> dict[str, float]:
    """Median and largest gaps, raw and allowing the printed precision."""
    raw = np.array([abs(e.relative_difference) for e in entries])
    gap = np.array([e.gap for e in entries])
    return {
        "entries": len(entries),
        "median_gap": float(np.median(gap)),
        "max_gap": float(gap.max()),
        "median_relative_difference": float(np.median(raw)),
        "max_relative_difference": float(raw.max()),
    }

"""HEPData submissions of scans, fits and studies, written with ``hepdata_lib``.

HEPData (hepdata.net) is the field's archive of numerical results: a submission is a
folder of YAML files (``submission.yaml`` plus one file per table) and the same files as
``submission.tar.gz``. Three writers build one from the JSON results of the command line:

* :func:`scan_submission` -- expected limits against the scanned spec values: the Asimov
  Delta chi^2 limit, the posterior credible limit, and the Brazil band of toy limits as
  the median with asymmetric ``1 sigma`` and ``2 sigma`` uncertainties (the convention of
  expected-limit tables on HEPData);
* :func:`fit_submission` -- best fit with 68 % and 90 % profile-likelihood intervals, and
  the mu_nu upper limits;
* :func:`study_submission` -- every interval of the main job (chi^2, Poisson profile,
  posterior HDI and ETI) and every mu_nu upper limit.

:func:`write_submission` writes and validates (with ``hepdata-validator``, offline).
Every submission records the package version and the spec's SHA-256 in its comment.
A value that was not computed is written ``"-"``, HEPData's mark for a missing entry;
an interval end at infinity as ``"inf"``/``"-inf"``.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hepdata_lib import Submission, Table, Uncertainty, Variable

from ..stats.parameters import PARAMETERS

__all__ = [
    "HepdataExportError",
    "fit_submission",
    "scan_submission",
    "study_submission",
    "validate_submission",
    "write_submission",
]

#: Units of the physics parameters, from the parameter table (reports use the same).
PARAMETER_UNITS = {k: p.unit for k, p in PARAMETERS.items() if k != "neutron_skin_fm"}

#: Unit of a spec value, from the suffix of its key (the spec's naming rule).
_SUFFIX_UNITS = {
    "_kev": "keV",
    "_kg": "kg",
    "_m": "m",
    "_s": "s",
    "_gwh": "GWh",
    "_gev": "GeV",
    "_per_cm2_s": "cm^-2 s^-1",
}

_PHRASES = ["Coherent elastic neutrino-nucleus scattering", "CEvNS", "Neutrino"]


class HepdataExportError(ValueError):
    """A submission that cannot be written or does not validate."""


def _value(x: Any) -> float | str:
    """A table entry: ``"-"`` for a value not computed, ``"inf"`` for an open end."""
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _finite(x: Any) -> bool:
    return x is not None and math.isfinite(float(x))


def _parameter_label(name: str) -> str:
    unit = PARAMETER_UNITS.get(name, "")
    return f"{name} [{unit}]" if unit else name


def _path_units(path: str) -> str:
    key = path.split(".")[-1]
    if key.isdigit():  # an element of a list, e.g. recoil_window_kev.0
        key = path.split(".")[-2]
    for suffix in sorted(_SUFFIX_UNITS, key=len, reverse=True):
        if key.endswith(suffix):
            return _SUFFIX_UNITS[suffix]
    return ""


def _new_submission(doc: Mapping[str, Any], what: str) -> Submission:
    sub = Submission()
    sub.comment = (
        f"{what} of the study {doc.get('study', '?')!r}, made with cenns_bayes "
        f"{doc.get('cenns_bayes_version', '?')} from the spec with SHA-256 "
        f"{doc.get('spec_sha256') or 'unknown'}. Units: mu_nu in 1e-10 mu_B, "
        "<r^2> in 1e-32 cm^2."
    )
    return sub


def _table(name: str, description: str, location: str) -> Table:
    table = Table(name)
    table.description = description
    table.location = location
    table.keywords["phrases"] = list(_PHRASES)
    return table


def _independent(name: str, values: Sequence[Any], units: str = "") -> Variable:
    var = Variable(name, is_independent=True, is_binned=False, units=units)
    var.values = list(values)
    return var


def _dependent(
    name: str, values: Sequence[Any], units: str = "", qualifiers: Mapping[str, Any] | None = None
) -> Variable:
    var = Variable(
        name, is_independent=False, is_binned=False, units=units, zero_uncertainties_warning=False
    )
    var.values = [_value(v) for v in values]
    for key, value in (qualifiers or {}).items():
        var.add_qualifier(key, value)
    return var


def _band(label: str, centre: Sequence[Any], bounds: Sequence[Any]) -> Uncertainty:
    """Asymmetric uncertainty ``(lower - centre, upper - centre)`` per row.

    A row without a band gets ``(0, 0)``, which hepdata_lib leaves out of the file when
    every uncertainty of the row is zero (the bands of a row are all present or all absent).
    """
    unc = Uncertainty(label, is_symmetric=False)
    values: list[tuple[float, float]] = []
    for c, pair in zip(centre, bounds, strict=True):
        if pair is None or not _finite(c) or not (_finite(pair[0]) and _finite(pair[1])):
            values.append((0.0, 0.0))
        else:
            values.append((float(pair[0]) - float(c), float(pair[1]) - float(c)))
    unc.values = values
    return unc


def _interval_columns(
    table: Table, intervals: Mapping[str, Sequence[Any]], units: str = ""
) -> None:
    """Lower and upper ends of intervals as plain columns (exact, and open ends allowed)."""
    for level, pairs in intervals.items():
        for end, k in (("lower", 0), ("upper", 1)):
            table.add_variable(
                _dependent(
                    f"{end.capitalize()} end, {level}",
                    [None if pair is None else pair[k] for pair in pairs],
                    units,
                    {"CL": level},
                )
            )


# ---------------------------------------------------------------------------- scans


def scan_submission(doc: Mapping[str, Any]) -> Submission:
    """A submission of a sensitivity scan (the JSON of ``cenns-bayes scan``).

    Parameters
    ----------
    doc : mapping
        ``scan.json``: ``target``, ``figure``, ``axes``, ``points`` and the provenance keys.

    Returns
    -------
    hepdata_lib.Submission
        One table, ``Expected limits``, with a row per scan point.
    """
    figure = doc["figure"]
    points = doc["points"]
    axes = doc["axes"]
    table = _table(
        "Expected limits",
        f"{figure['description']} against "
        + " and ".join(a["path"] for a in axes)
        + f", for the study {doc.get('study')!r} (statistic: {doc.get('statistic', '?')}; "
        f"{doc.get('toys', 0)} toys per point for the band, seed {doc.get('seed')}).",
        "cenns-bayes scan",
    )
    for axis in axes:
        table.add_variable(
            _independent(
                axis["path"], [p["values"][axis["path"]] for p in points], _path_units(axis["path"])
            )
        )
    unit = figure.get("unit", "") or PARAMETER_UNITS.get(doc["target"], "")
    qualifiers = {"CL": f"{100 * figure['level']:.4g} %", "Target": doc["target"]}
    if any(p.get("expected_counts") is not None for p in points):
        table.add_variable(
            _dependent(
                "Expected CEvNS counts", [p.get("expected_counts") for p in points], "events"
            )
        )
    for key, name, quals in (
        (
            "chi2_limit",
            "Expected limit (Asimov, Delta chi^2)",
            {**qualifiers, "Delta chi^2": figure.get("delta_chi2")},
        ),
        ("posterior_limit", "Expected limit (posterior, Asimov data)", qualifiers),
    ):
        if any(p.get(key) is not None for p in points):
            table.add_variable(_dependent(name, [p.get(key) for p in points], unit, quals))
    if any(p.get("band") for p in points):
        bands = [p.get("band") or {} for p in points]
        median = [b.get("median") for b in bands]
        var = _dependent("Expected limit (toys, median)", median, unit, qualifiers)
        one = [(b["minus1"], b["plus1"]) if "minus1" in b and "plus1" in b else None for b in bands]
        two = [(b["minus2"], b["plus2"]) if "minus2" in b and "plus2" in b else None for b in bands]
        var.add_uncertainty(_band("1 sigma", median, one))
        var.add_uncertainty(_band("2 sigma", median, two))
        table.add_variable(var)
    sub = _new_submission(doc, "Expected limits")
    sub.add_table(table)
    return sub


# ---------------------------------------------------------------------------- fits


def fit_submission(doc: Mapping[str, Any]) -> Submission:
    """A submission of a profile-likelihood fit (the JSON of ``cenns-bayes fit``).

    Parameters
    ----------
    doc : mapping
        ``parameters`` (``best``, ``interval_68``, ``interval_90``), ``derived`` and the
        provenance keys.

    Returns
    -------
    hepdata_lib.Submission
        ``Profile-likelihood fit`` (best fit and the ends of the 68 % and 90 %
        intervals), ``Upper limits`` when a mu_nu is free, and
        ``CEvNS events`` when the signal strength is free.
    """
    params = doc["parameters"]
    names = list(params)
    sub = _new_submission(doc, "Profile-likelihood fit")
    table = _table(
        "Profile-likelihood fit",
        "Maximum-likelihood estimates with profile-likelihood intervals "
        "(Delta(-2 ln L) = 1 for 68 % CL, 2.706 for 90 % CL), other free parameters and "
        f"nuisances profiled; data: {doc.get('details', {}).get('data', '?')}.",
        "cenns-bayes fit",
    )
    table.add_variable(_independent("Parameter", [_parameter_label(n) for n in names]))
    table.add_variable(_dependent("Best fit", [params[n]["best"] for n in names]))
    _interval_columns(
        table,
        {
            "68 %": [params[n]["interval_68"] for n in names],
            "90 %": [params[n]["interval_90"] for n in names],
        },
    )
    sub.add_table(table)
    mu_names = [n for n in names if n.startswith("mu_nu")]
    if mu_names:
        limits = _table(
            "Upper limits",
            "90 % CL upper limits on the neutrino magnetic moment: the upper end of the "
            "profile-likelihood interval Delta(-2 ln L) = 2.706, the parameter bounded below by 0.",
            "cenns-bayes fit",
        )
        limits.add_variable(_independent("Parameter", mu_names))
        limits.add_variable(
            _dependent(
                "Upper limit",
                [params[n]["interval_90"][1] for n in mu_names],
                "1e-10 mu_B",
                {"CL": "90 %"},
            )
        )
        sub.add_table(limits)
    events = (doc.get("derived") or {}).get("cevns_events")
    if events:
        ev = _table(
            "CEvNS events",
            "CEvNS events in the analysis region at the best fit, with the 68 % CL profile "
            "interval, and the Standard-Model expectation.",
            "cenns-bayes fit",
        )
        ev.add_variable(_independent("Quantity", ["fitted", "Standard Model"]))
        ev.add_variable(
            _dependent("CEvNS events", [events["best"], events["sm_expected"]], "events")
        )
        _interval_columns(ev, {"68 %": [events["interval_68"], None]}, "events")
        sub.add_table(ev)
    return sub


# ---------------------------------------------------------------------------- studies


def _interval_rows(freq: Mapping[str, Any], post: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    rows = [(method, r["interval_68"], r["interval_90"]) for method, r in freq.items()]
    rows += [
        ("posterior HDI", post["hdi_68"], post["hdi_90"]),
        ("posterior ETI", post["eti_68"], post["eti_90"]),
    ]
    return rows


def study_submission(summary: Mapping[str, Any]) -> Submission:
    """A submission of the main job (``summary.json`` of ``cenns-bayes study``).

    Parameters
    ----------
    summary : mapping
        ``frequentist`` (per parameter and method), ``posterior`` (per parameter) and the
        provenance keys.

    Returns
    -------
    hepdata_lib.Submission
        A table of intervals per free parameter (one row per method) and, when a mu_nu
        is free, a table of its 90 % upper limits.
    """
    sub = _new_submission(summary, "Intervals and limits")
    freq, post = summary["frequentist"], summary["posterior"]
    for name in summary["free_parameters"]:
        rows = _interval_rows(freq[name], post[name])
        table = _table(
            f"Intervals {name}",
            f"68 % and 90 % intervals on {name} by method: frequentist (chi^2 or Poisson "
            "profile likelihood, Delta = 1 and 2.706) and posterior (highest-density and "
            "equal-tailed credible intervals).",
            "cenns-bayes study",
        )
        table.add_variable(_independent("Method", [r[0] for r in rows]))
        _interval_columns(
            table,
            {"68 %": [r[1] for r in rows], "90 %": [r[2] for r in rows]},
            PARAMETER_UNITS.get(name, ""),
        )
        sub.add_table(table)
    mu_names = [n for n in summary["free_parameters"] if n.startswith("mu_nu")]
    if mu_names:
        methods: list[tuple[str, str, Any]] = []
        for n in mu_names:
            for method, r in freq[n].items():
                methods.append((n, f"{method}, two-sided interval end", r.get("upper_90")))
                methods.append((n, f"{method}, one-sided", r.get("upper_90_one_sided")))
            methods.append((n, "posterior 90 % quantile", post[n].get("upper_90")))
        table = _table(
            "Upper limits",
            "90 % CL upper limits on the neutrino magnetic moment by method.",
            "cenns-bayes study",
        )
        table.add_variable(_independent("Parameter", [m[0] for m in methods]))
        table.add_variable(_independent("Method", [m[1] for m in methods]))
        table.add_variable(
            _dependent("Upper limit", [m[2] for m in methods], "1e-10 mu_B", {"CL": "90 %"})
        )
        sub.add_table(table)
    return sub


# ---------------------------------------------------------------------------- writing


def validate_submission(path: str | Path) -> list[str]:
    """Validate a submission offline with ``hepdata-validator``.

    Parameters
    ----------
    path : str or Path
        The ``submission.tar.gz`` archive (what is uploaded), or a folder holding only
        ``submission.yaml`` and its tables.

    Returns
    -------
    list of str
        The validator's messages, ``file: message``; empty when the submission is valid.
    """
    from hepdata_validator.full_submission_validator import FullSubmissionValidator

    path = Path(path)
    if not path.is_dir():
        # Unpack with the "data" filter (no links, no absolute paths), then check the files.
        with tempfile.TemporaryDirectory() as unpacked, tarfile.open(path) as tar:
            tar.extractall(unpacked, filter="data")
            return [f"{path.name}: {m}" for m in validate_submission(unpacked)]
    validator = FullSubmissionValidator(autoload_remote_schemas=False)
    valid = validator.validate(directory=str(path))
    messages = [
        f"{Path(name).name}: {msg.message}"
        for name, items in validator.get_messages().items()
        for msg in items
    ]
    if not valid and not messages:
        messages = [f"{path}: not a valid HEPData submission"]
    return messages


def is_replaceable(out: Path) -> bool:
    """Whether ``out`` is absent, empty, or an earlier submission (YAML files and the tarball)."""
    if not out.exists():
        return True
    if not out.is_dir():
        return False
    names = {p.name for p in out.iterdir()}
    return not names or (
        "submission.yaml" in names
        and all(n.endswith(".yaml") or n == "submission.tar.gz" for n in names)
    )


def write_submission(submission: Submission, out_dir: str | Path) -> Path:
    """Write ``submission`` to ``out_dir`` (YAML files and ``submission.tar.gz``), validated.

    The files are written to a temporary folder, validated, then moved into place, so a
    failed export leaves no half-written submission. An existing ``out_dir`` is replaced
    only when it is empty or holds an earlier submission.

    Parameters
    ----------
    submission : hepdata_lib.Submission
        From :func:`scan_submission`, :func:`fit_submission` or :func:`study_submission`.
    out_dir : str or Path
        The submission folder.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    HepdataExportError
        When ``out_dir`` holds other files, or the submission does not validate.
    """
    out = Path(out_dir)
    if not is_replaceable(out):
        raise HepdataExportError(
            f"{out}: exists and is not an earlier HEPData submission; give an empty or new folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        files = staging / "submission"
        # hepdata_lib writes submission.tar.gz into the working directory: give it its own.
        with contextlib.chdir(staging):
            submission.create_files(str(files), validate=False)
        problems = validate_submission(files) + validate_submission(staging / "submission.tar.gz")
        shutil.move(staging / "submission.tar.gz", files / "submission.tar.gz")
        if problems:
            raise HepdataExportError(
                f"{out}: the HEPData submission does not validate: " + "; ".join(problems[:5])
            )
        if out.exists():
            shutil.rmtree(out)
        files.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def table_names(submission: Submission) -> Iterable[str]:
    """Names of the submission's tables, in order."""
    return [t.name for t in submission.tables]

"""Loading a study spec: TOML -> structure check (stage 1) -> physics check (stage 2) -> Study.

Errors are :class:`~.errors.SpecError` subclasses whose message names the file, the
key path and the problem, with the nearest valid name where one is close.
"""

from __future__ import annotations

import copy
import csv
import difflib
import hashlib
import io
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
from pydantic import BaseModel, ValidationError

from ..physics.cross_sections import max_recoil_kev
from ..physics.form_factors import FORM_FACTOR_MODELS
from ..physics.nuclei import UnknownNucleusError, get_target
from ..physics.sns import flux_at_distance, sns_spectrum
from ..rates.coefficients import (
    PARAMETER_NAMES,
    ChannelCoefficients,
    DetectorSetup,
    RateModel,
    channel_coefficients,
    parameter_for_flavor,
)
from . import schema
from .errors import SpecPhysicsError, SpecStructureError

__all__ = [
    "Study",
    "apply_overrides",
    "load_study",
    "parse_study",
    "parse_override",
    "read_regular_file",
]

#: Largest spec file read, bytes (the shipped ones are below 10 kB).
MAX_SPEC_BYTES = 1_000_000
#: Largest ``[data] file`` read, bytes.
MAX_DATA_BYTES = 20_000_000
#: Deepest nesting of tables and arrays accepted in a spec (the schema needs 5).
MAX_NESTING = 12
#: Longest value shown in an error message, characters.
MAX_SHOWN = 80

_PARAMETER_NAMES = tuple(schema.ParametersSection.model_fields)


def _all_field_names(model: type[BaseModel], seen: set | None = None) -> set[str]:
    seen = set() if seen is None else seen
    names = set(model.model_fields)
    for f in model.model_fields.values():
        for arg in _walk_types(f.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in seen:
                seen.add(arg)
                names |= _all_field_names(arg, seen)
    return names


def _walk_types(tp) -> Iterable:
    yield tp
    for a in getattr(tp, "__args__", ()) or ():
        yield from _walk_types(a)
    for a in getattr(tp, "__metadata__", ()) or ():
        yield from _walk_types(a)


_KNOWN_KEYS = sorted(_all_field_names(schema.StudySpec))


def _key_homes(
    model: type[BaseModel], prefix: str = "", out: dict | None = None
) -> dict[str, list[str]]:
    """Every key of the schema -> the tables it belongs in (``"detectors.response"``)."""
    out = {} if out is None else out
    for name, f in model.model_fields.items():
        out.setdefault(name, [])
        if prefix and prefix not in out[name]:
            out[name].append(prefix)
        for arg in _walk_types(f.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg is not model:
                sub = f"{prefix}.{name}" if prefix else name
                if sub.count(".") < 4:
                    _key_homes(arg, sub, out)
    return out


_KEY_HOMES = _key_homes(schema.StudySpec)


_PRIOR_TAGS = ("uniform", "log-uniform", "normal", "half-normal", "truncated-normal")


def _user_loc(loc: tuple, raw: Any, keep_last: bool = False) -> tuple:
    """The parts of a pydantic error location that are keys or indices in the user's file.

    pydantic adds the names of union members and tags (``constrained-float``,
    ``list[...]``, ``uniform``) to locations; walking the parsed TOML alongside keeps only
    what the user wrote. ``keep_last`` keeps a final key absent from the file (a missing key).
    """
    out: list = []
    node = raw
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, (list, tuple)) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif keep_last and i == len(loc) - 1 and isinstance(part, str) and isinstance(node, dict):
            out.append(part)
    return tuple(out)


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "\u2026"


def _suggest(bad: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest candidate that is not ``bad`` itself."""
    if len(bad) > 100:
        return ""
    near = difflib.get_close_matches(bad, [c for c in candidates if c != bad], n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _table_name(loc: tuple) -> str:
    name = ".".join(str(p) for p in loc if isinstance(p, str))
    return f"in [{name}]" if name else "at the top level"


def _structure_error(path: str, err: ValidationError, raw: Any = None) -> SpecStructureError:
    errors = err.errors()
    # An unknown key explains a "missing" one next to it (a misspelling): report it first.
    first = min(errors, key=lambda e: (e["type"] != "extra_forbidden", e["type"] == "missing"))
    kind = first["type"]
    full_loc = tuple(p for p in first["loc"] if p != "[key]")
    loc = _user_loc(full_loc, raw, keep_last=kind == "missing") if raw is not None else full_loc
    key = _key_path(loc)
    if kind == "extra_forbidden":
        bad = str(full_loc[-1])
        homes = _KEY_HOMES.get(bad)
        if homes is not None:
            where = " or ".join(f"in [{h}]" if h else "at the top level" for h in homes[:3])
            where = where or "at the top level"
            return SpecStructureError(
                path, key, f"key not allowed {_table_name(loc[:-1])}; it belongs {where}"
            )
        return SpecStructureError(path, key, f"unknown key{_suggest(bad, _KNOWN_KEYS)}")
    if kind == "missing":
        return SpecStructureError(path, key, "required key is missing")
    found = first.get("input")
    msg = first["msg"].removeprefix("Value error, ")
    if kind in ("finite_number",):
        msg = "must be a finite number"
    if kind == "union_tag_invalid":
        dist = found.get("dist") if isinstance(found, dict) else found
        msg = f"unknown prior distribution {_shown(dist)}: expected one of " + ", ".join(
            _PRIOR_TAGS
        )
        return SpecStructureError(path, key, msg)
    if kind == "literal_error" and key.startswith("priors") and len(loc) == 2:
        # the schema's own list (a joint spec allows the neutron radii too)
        expected = str(first.get("ctx", {}).get("expected", ""))
        names = re.findall(r"'([^']+)'", expected) or list(_PARAMETER_NAMES)
        hint = _suggest(str(loc[-1]), names)
        return SpecStructureError(
            path,
            key,
            f"no parameter {_shown(loc[-1])}{hint}: priors can be given for {', '.join(names)}",
        )
    if len(msg) > 200:
        msg = msg[:199] + "\u2026"
    shown = "" if isinstance(found, (dict, list)) else f" (found {_shown(found)})"
    if isinstance(found, list):
        shown = f" (found a list of {len(found)})"
    return SpecStructureError(path, key, f"{msg}{shown}")


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``NAME=VALUE`` (VALUE as a TOML value, else a string)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not NAME=VALUE")
    name, value = text.split("=", 1)
    name, value = name.strip(), value.strip()
    if not name:
        raise ValueError(f"override {text!r} has no NAME")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        parsed = value
    if _depth(parsed) > MAX_NESTING:
        raise ValueError(f"override {name!r}: value nested too deeply")
    return name, parsed


def _depth(obj: Any) -> int:
    """Nesting depth of tables and arrays (iterative: safe on any input)."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_NESTING:
            break
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend((v, d + 1) for v in node)
    return deepest


def apply_overrides(raw: dict, overrides: Mapping[str, Any], path: str = "<string>") -> dict:
    """Return a copy of the raw spec with dotted-path overrides applied.

    Paths: a parameter name alone (``mu_nu_mu``), or a dotted path such as
    ``study.exposure_s``, ``detectors.Ar40.mass_kg`` (a detector by name),
    ``detectors.Ar40.recoil_window_kev.0`` (an element of a list).
    """
    out = copy.deepcopy(raw)
    for name, value in overrides.items():
        parts = name.split(".")
        if len(parts) == 1 and parts[0] in _PARAMETER_NAMES:
            parts = ["parameters", parts[0]]
        if any(not part for part in parts) or len(parts) > MAX_NESTING:
            raise SpecStructureError(
                path, name, "not a dotted key path such as detectors.Ar40.mass_kg"
            )
        node: Any = out
        for part in parts[:-1]:
            if isinstance(node, list):
                node = _select(node, part, name, path)
            elif isinstance(node, dict):
                if part not in node:
                    node[part] = {}
                node = node[part]
            else:
                raise SpecStructureError(path, name, "cannot set a value inside a scalar")
        last = parts[-1]
        if isinstance(node, list):
            idx = _list_index(node, last, name, path)
            node[idx] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise SpecStructureError(path, name, "cannot set a value inside a scalar")
    return out


def _list_index(node: list, part: str, name: str, path: str) -> int:
    if part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
        return int(part)
    raise SpecStructureError(path, name, f"no element {part!r} in a list of {len(node)}")


def _select(node: list, part: str, name: str, path: str):
    for item in node:
        if isinstance(item, dict) and item.get("name") == part:
            return item
    if part.isdigit():
        return node[_list_index(node, part, name, path)]
    names = [str(item.get("name")) for item in node if isinstance(item, dict) and item.get("name")]
    hint = _suggest(part, names)
    have = ", ".join(_shown(n) for n in names[:10]) or "none"
    raise SpecStructureError(path, name, f"no detector named {_shown(part)}{hint}; have {have}")


def parse_study(
    raw: dict | str, path: str | Path = "<string>", overrides: Mapping[str, Any] | None = None
) -> Study:
    """Validate a spec given as TOML text or an already parsed dict, and build a :class:`Study`."""
    path_s = str(path)
    if isinstance(raw, str):
        text = raw
        try:
            raw = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as err:
            raise SpecStructureError(path_s, "", f"not valid TOML: {_clip(str(err))}") from None
        except RecursionError:
            raise SpecStructureError(
                path_s, "", "not valid TOML: tables or arrays nested too deeply"
            ) from None
    else:
        text = repr(raw)
    if _depth(raw) > MAX_NESTING:
        raise SpecStructureError(
            path_s,
            "",
            f"tables or arrays nested deeper than {MAX_NESTING} levels: not a study spec",
        )
    if overrides:
        raw = apply_overrides(raw, overrides, path_s)
        text += repr(sorted(overrides.items()))
    try:
        spec = schema.StudySpec.model_validate(raw)
    except ValidationError as err:
        raise _structure_error(path_s, err, raw) from None
    base = Path(path).parent if path_s != "<string>" else Path.cwd()
    study = Study(
        spec=spec, path=path_s, sha256=hashlib.sha256(text.encode()).hexdigest(), base_dir=base
    )
    _check_physics(study)
    return study


def load_study(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Study:
    """Read, validate and build a study from a TOML file.

    Raises
    ------
    SpecError
        Naming the file, the key and the problem.
    """
    p = Path(path)
    try:
        data = read_regular_file(p, MAX_SPEC_BYTES)
    except FileNotFoundError:
        raise SpecStructureError(str(p), "", "no such file") from None
    except OSError as err:
        raise SpecStructureError(
            str(p), "", f"cannot read: {_clip(err.strerror or str(err))}"
        ) from None
    except ValueError as err:
        raise SpecStructureError(str(p), "", str(err)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecStructureError(str(p), "", f"not UTF-8 text (byte {err.start})") from None
    return parse_study(text, p, overrides)


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``.

    Special files (devices such as ``/dev/zero``, FIFOs, sockets, folders) are refused
    before reading: opened without blocking, checked with ``fstat``, then read up to the cap.

    Raises
    ------
    FileNotFoundError, OSError
        As from ``open``.
    ValueError
        Not a regular file, or larger than ``max_bytes``.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > max_bytes:
            raise ValueError(f"file of {st.st_size} bytes exceeds the limit of {max_bytes}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise ValueError(f"file exceeds the limit of {max_bytes} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _check_physics(study: Study) -> None:
    spec, path = study.spec, study.path
    flavors = spec.analysis.flavors
    for i, det in enumerate(spec.detectors):
        key = f"detectors[{i}]"
        try:
            target = get_target(det.nucleus)
        except UnknownNucleusError as err:
            raise SpecPhysicsError(path, f"{key}.nucleus", str(err)) from None
        if det.form_factor not in FORM_FACTOR_MODELS:
            near = difflib.get_close_matches(det.form_factor, list(FORM_FACTOR_MODELS), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise SpecPhysicsError(
                path,
                f"{key}.form_factor",
                f"unknown form factor {det.form_factor!r}{hint}: expected one of "
                f"{', '.join(FORM_FACTOR_MODELS)}",
            )
        if det.form_factor in ("bcs", "unity") and spec.nuisances.neutron_radius_sigma_fm > 0:
            raise SpecPhysicsError(
                path,
                "nuisances.neutron_radius_sigma_fm",
                f"detector {det.name!r} uses form factor {det.form_factor!r}, whose neutron radius "
                "cannot be varied; use helm, klein-nystrand or symmetrized-fermi",
            )
        if det.form_factor == "bcs":
            from ..physics.bcs import SUPPORTED_NUCLEI

            missing = [
                c.nucleus.name
                for c in target.components
                if (c.nucleus.Z, c.nucleus.A) not in SUPPORTED_NUCLEI
            ]
            if missing:
                raise SpecPhysicsError(
                    path,
                    f"{key}.form_factor",
                    f"no shipped BCS nuclear data for {', '.join(missing)} (in {det.nucleus}); "
                    "use helm, klein-nystrand or symmetrized-fermi, or a supported isotope",
                )
        lo = det.recoil_window_kev[0]
        e_max = max(sns_spectrum(f, spec.source.prompt_energy_mev).max_energy_mev for f in flavors)
        t_max = float(max_recoil_kev(e_max, target.min_nucleus_mass_mev))
        if lo >= t_max:
            raise SpecPhysicsError(
                path,
                f"{key}.recoil_window_kev",
                f"lower edge {lo} keV lies above the largest recoil any analysed flavour can give "
                f"{det.nucleus} ({t_max:.1f} keV): no counts possible",
            )
        if isinstance(det.recoil_bins, list):
            edges = det.recoil_bins
            hi = det.recoil_window_kev[1]
            if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=False)) or len(edges) < 2:
                raise SpecPhysicsError(
                    path, f"{key}.recoil_bins", "bin edges must increase (two or more)"
                )
            if edges[0] < lo or (hi != "max" and edges[-1] > hi):
                raise SpecPhysicsError(
                    path, f"{key}.recoil_bins", "bin edges must lie inside recoil_window_kev"
                )
    for name, prior in spec.priors.items():
        _check_prior(path, name, prior, flavors)
    _check_response(study)
    from .lar_checks import check_energy_response

    check_energy_response(study)
    if spec.analysis.binned and not any(d.recoil_bins for d in spec.detectors):
        raise SpecPhysicsError(
            path, "analysis.binned", "binned analysis needs recoil_bins on a detector"
        )
    if spec.data.kind == "observed":
        study.observed_counts()  # raises SpecPhysicsError with the key on mismatch


_ALL_FLAVOUR_PARAMETERS = ("sin2_theta_w", "signal_strength", "neutron_skin_fm")


def _check_response(study: Study) -> None:
    """Stage-2 checks of detector responses, backgrounds, response data and the analysis region."""
    spec, path = study.spec, study.path
    with_response = [i for i, d in enumerate(spec.detectors) if d.response is not None]
    needs = []
    if spec.data.kind == "coherent-csi-2017":
        needs.append("data.kind")
    if spec.backgrounds.prompt_neutrons is not None or spec.backgrounds.steady_state is not None:
        needs.append("backgrounds")
    if "neutron_skin_fm" in spec.priors:
        needs.append("priors.neutron_skin_fm")
    if needs and not with_response:
        raise SpecPhysicsError(path, needs[0], "needs a detector with a [detectors.response] table")
    if len(with_response) > 1:
        raise SpecPhysicsError(
            path,
            f"detectors[{with_response[1]}].response",
            "only one detector may have a response (fit the others as separate studies)",
        )
    if spec.backgrounds.detector is not None:
        names = [spec.detectors[i].name for i in with_response]
        if spec.backgrounds.detector not in names:
            raise SpecPhysicsError(
                path,
                "backgrounds.detector",
                f"no detector with a response named {spec.backgrounds.detector!r}; have {names}",
            )
    if not with_response:
        return
    i = with_response[0]
    det = spec.detectors[i]
    resp = det.response
    assert resp is not None  # with_response lists only detectors with one
    key = f"detectors[{i}].response"
    if spec.analysis.binned:
        raise SpecPhysicsError(
            path, "analysis.binned", "a response study is binned in PE and time; remove 'binned'"
        )
    if det.efficiency != 1.0:
        raise SpecPhysicsError(
            path,
            f"detectors[{i}].efficiency",
            "with a response, give the efficiency in [detectors.response.efficiency]",
        )
    if det.form_factor in ("bcs", "unity") and "neutron_skin_fm" in spec.priors:
        raise SpecPhysicsError(
            path,
            "priors.neutron_skin_fm",
            f"form factor {det.form_factor!r} has no adjustable neutron radius; use helm, "
            "klein-nystrand or symmetrized-fermi",
        )
    lo, hi = spec.analysis.pe_range
    pe_edges = np.arange(0, resp.pe_max + 1, resp.pe_bin_width)
    for value, name in ((lo, "pe_range"), (hi, "pe_range")):
        if not np.any(np.isclose(pe_edges, value)):
            raise SpecPhysicsError(
                path,
                f"analysis.{name}",
                f"{value} PE is not a bin edge "
                f"(edges every {resp.pe_bin_width} PE up to {resp.pe_max})",
            )
    if hi <= lo:
        raise SpecPhysicsError(
            path, "analysis.pe_range", "upper edge must lie above the lower edge"
        )
    if resp.timing == "explicit":
        t_edges = np.asarray(resp.time_edges_us, dtype=float)
        for pdf_key in ("time_pdf_prompt", "time_pdf_delayed"):
            total = float(np.sum(getattr(resp, pdf_key)))
            if abs(total - 1.0) > 1e-6:
                raise SpecPhysicsError(path, f"{key}.{pdf_key}", f"sums to {total:.6g}, not 1")
    else:
        t_edges = np.arange(25) * 0.5
    t_lo, t_hi = spec.analysis.time_range_us
    for value in (t_lo, t_hi):
        if not np.any(np.isclose(t_edges, value)):
            raise SpecPhysicsError(
                path,
                "analysis.time_range_us",
                f"{value} us is not a time-bin edge of {t_edges.tolist()}",
            )
    if t_hi <= t_lo:
        raise SpecPhysicsError(
            path, "analysis.time_range_us", "upper edge must lie above the lower edge"
        )
    release_keys = []
    if (
        spec.data.kind == "coherent-csi-2017"
        or spec.backgrounds.prompt_neutrons
        or spec.backgrounds.steady_state
    ):
        release_keys.append("release")
    if release_keys and (
        resp.pe_max != 50 or resp.pe_bin_width != 2 or resp.timing != "coherent-csi-2017"
    ):
        raise SpecPhysicsError(
            path,
            key,
            "the coherent-csi-2017 data and backgrounds need the release binning: pe_max = 50, "
            "pe_bin_width = 2, timing = 'coherent-csi-2017'",
        )
    if spec.backgrounds.steady_state is not None and spec.data.kind == "observed":
        raise SpecPhysicsError(
            path,
            "backgrounds.steady_state",
            "the anticoincidence measurement goes with coherent-csi-2017 or asimov data",
        )


def _check_prior(path: str, name: str, prior, flavors: Sequence[str]) -> None:
    key = f"priors.{name}"
    acting = (
        {f for f in flavors if name in parameter_for_flavor(f)}
        if name not in _ALL_FLAVOUR_PARAMETERS
        else set(flavors)
    )
    if not acting:
        raise SpecPhysicsError(
            path, key, f"no analysed flavour depends on {name} (flavours: {flavors})"
        )
    if name == "signal_strength":
        if prior.dist == "normal":
            raise SpecPhysicsError(
                path,
                key,
                "a normal prior allows signal_strength < 0; use uniform or truncated-normal",
            )
        if prior.dist in ("uniform", "truncated-normal") and prior.lower < 0:
            raise SpecPhysicsError(
                path,
                f"{key}.lower",
                f"signal_strength >= 0 is physical; found lower = {prior.lower}",
            )
    if name.startswith("mu_nu"):
        if prior.dist == "normal":
            raise SpecPhysicsError(
                path,
                key,
                "a normal prior allows mu_nu < 0; use half-normal, truncated-normal, "
                "uniform or log-uniform with lower >= 0",
            )
        if prior.dist in ("uniform", "truncated-normal") and prior.lower < 0:
            raise SpecPhysicsError(
                path, f"{key}.lower", f"mu_nu >= 0 is physical; found lower = {prior.lower}"
            )
    elif getattr(prior, "on", "value") == "square":
        raise SpecPhysicsError(path, f"{key}.on", "'square' priors are for magnetic moments only")
    if name == "sin2_theta_w":
        if prior.dist in ("uniform", "truncated-normal", "log-uniform") and not (
            0 < prior.lower and prior.upper < 1
        ):
            raise SpecPhysicsError(path, key, "sin2_theta_w prior must lie inside (0, 1)")
        if prior.dist in ("half-normal",):
            raise SpecPhysicsError(
                path, key, "use uniform, normal or truncated-normal for sin2_theta_w"
            )


@dataclass
class Study:
    """A validated study: the spec plus the derived detector set-ups and rate models.

    Attributes
    ----------
    spec : schema.StudySpec
    path : str
        Where it was read from.
    sha256 : str
        Hash of the spec text (with overrides), carried into results for traceability.
    """

    spec: schema.StudySpec
    path: str
    sha256: str
    base_dir: Path = field(default_factory=Path.cwd)
    _coefficients: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The study's name."""
        return self.spec.study.name

    @property
    def flavors(self) -> list[str]:
        """Analysed flavours."""
        return list(self.spec.analysis.flavors)

    @property
    def detector_names(self) -> list[str]:
        """Detector names in spec order."""
        return [d.name for d in self.spec.detectors]

    def flux_per_cm2_s(self, detector: str) -> float:
        """Flux per flavour at a detector: its override, or the source flux scaled as 1/r^2.

        For a beam source (``kind = "sns-beam"``) the time-integrated fluence
        r POT / (4 pi L^2) divided by ``study.exposure_s`` (a mean flux).
        """
        det = self._detector(detector)
        if det.flux_per_flavor is not None:
            return det.flux_per_flavor
        src = self.spec.source
        if src.kind == "sns-beam":
            return self.fluence_per_cm2(detector) / self.spec.study.exposure_s
        return flux_at_distance(src.flux_per_flavor, src.reference_distance_m, det.distance_m)

    @property
    def protons_on_target(self) -> float | None:
        """Protons on target of a beam source (None for a flux source)."""
        from ..detector.beam import resolve_protons_on_target

        src = self.spec.source
        if src.kind != "sns-beam":
            return None
        return resolve_protons_on_target(
            protons_on_target=src.protons_on_target,
            exposure_gwh=None if src.protons_on_target is not None else src.exposure_gwh,
            proton_energy_gev=None if src.protons_on_target is not None else src.proton_energy_gev,
        )

    def fluence_per_cm2(self, detector: str) -> float:
        """Time-integrated fluence per flavour at a detector, nu/cm^2."""
        det = self._detector(detector)
        src = self.spec.source
        if det.flux_per_flavor is None and src.kind == "sns-beam":
            from ..detector.beam import neutrino_fluence_per_cm2

            protons = self.protons_on_target
            # the schema requires both for an sns-beam source
            assert src.neutrinos_per_proton is not None and protons is not None
            return neutrino_fluence_per_cm2(src.neutrinos_per_proton, protons, det.distance_m)
        return self.flux_per_cm2_s(detector) * self.spec.study.exposure_s

    @property
    def response_detector(self) -> str | None:
        """Name of the detector with a ``[detectors.response]`` or ``energy_response`` table."""
        for d in self.spec.detectors:
            if d.response is not None or d.energy_response is not None:
                return d.name
        return None

    def _detector(self, name: str) -> schema.DetectorSection:
        for d in self.spec.detectors:
            if d.name == name:
                return d
        raise KeyError(f"no detector {name!r}; have {self.detector_names}")

    def setup(self, detector: str) -> DetectorSetup:
        """The physics-level :class:`DetectorSetup` of a detector."""
        det = self._detector(detector)
        lo, hi = det.recoil_window_kev
        edges = None
        if isinstance(det.recoil_bins, list):
            edges = tuple(det.recoil_bins)
        setup = DetectorSetup(
            name=det.name,
            target=get_target(det.nucleus),
            mass_kg=det.mass_kg,
            fluence_per_cm2=self.fluence_per_cm2(det.name),
            efficiency=det.efficiency,
            recoil_window_kev=(lo, None if hi == "max" else hi),
            form_factor=det.form_factor,
            neutron_skin_fm=(
                det.neutron_skin_fm
                if self.spec.parameters.neutron_skin_fm is None
                else self.spec.parameters.neutron_skin_fm
            ),
            prompt_energy_mev=self.spec.source.prompt_energy_mev,
            bin_edges_kev=edges,
        )
        if isinstance(det.recoil_bins, int):
            e = setup.edges_kev()
            edges = tuple(np.linspace(e[0], e[-1], det.recoil_bins + 1))
            setup = DetectorSetup(**{**setup.__dict__, "bin_edges_kev": edges})
        return setup

    def channel(
        self, detector: str, flavor: str, binned: bool | None = None
    ) -> ChannelCoefficients:
        """Coefficients of one channel (cached; unbinned unless ``binned``)."""
        binned = self.spec.analysis.binned if binned is None else binned
        key = (detector, flavor, bool(binned))
        if key not in self._coefficients:
            setup = self.setup(detector)
            if not binned:
                setup = DetectorSetup(**{**setup.__dict__, "bin_edges_kev": None})
            self._coefficients[key] = channel_coefficients(setup, flavor)
        return self._coefficients[key]

    def channel_with_skin_shift(
        self, detector: str, flavor: str, shift_fm: float, binned: bool | None = None
    ) -> ChannelCoefficients:
        """Coefficients of a channel with the neutron rms radius moved by ``shift_fm`` (cached)."""
        binned = self.spec.analysis.binned if binned is None else binned
        key = (detector, flavor, bool(binned), float(shift_fm))
        if key not in self._coefficients:
            setup = self.setup(detector)
            changes: dict[str, Any] = {"neutron_skin_fm": setup.neutron_skin_fm + shift_fm}
            if not binned:
                changes["bin_edges_kev"] = None
            self._coefficients[key] = channel_coefficients(
                DetectorSetup(**{**setup.__dict__, **changes}), flavor
            )
        return self._coefficients[key]

    def rate_model(
        self,
        detectors: Iterable[str] | None = None,
        flavors: Iterable[str] | None = None,
        binned: bool | None = None,
    ) -> RateModel:
        """A :class:`RateModel` over the chosen detectors and flavours (default: all analysed)."""
        dets = list(detectors) if detectors is not None else self.detector_names
        flvs = list(flavors) if flavors is not None else self.flavors
        return RateModel([self.channel(d, f, binned) for d in dets for f in flvs])

    def true_parameters(self) -> dict[str, float]:
        """The ``[parameters]`` table as a dict (unset optional entries left out)."""
        return {k: v for k, v in self.spec.parameters.model_dump().items() if v is not None}

    @property
    def free_parameters(self) -> list[str]:
        """Parameters with a prior, in canonical order."""
        return [p for p in _PARAMETER_NAMES if p in self.spec.priors]

    def observed_counts(self, model: RateModel | None = None) -> np.ndarray:
        """Observed counts per column of ``model`` (Asimov: the expectation at ``[parameters]``)."""
        model = self.rate_model() if model is None else model
        data = self.spec.data
        if data.kind == "asimov":
            # Parameters that change the coefficients themselves (a neutron skin) are
            # already built into ``model``; the polynomial takes the rest.
            return model.counts(
                {k: v for k, v in self.true_parameters().items() if k in PARAMETER_NAMES}
            )
        table: dict[tuple[str, str], list[int]] = {}
        if data.channels:
            for given in data.channels:
                table[(given.detector, given.flavor)] = (
                    given.counts if isinstance(given.counts, list) else [given.counts]
                )
        else:
            assert data.file is not None  # the schema requires channels or file for observed data
            table = self._read_counts_file(data.file)
        out = []
        for ch in model.channels:
            got = table.get((ch.detector, ch.flavor))
            if got is None:
                raise SpecPhysicsError(
                    self.path,
                    "data",
                    f"no observed counts for detector {ch.detector!r}, flavour {ch.flavor!r}",
                )
            if len(got) != ch.i_pp.size:
                raise SpecPhysicsError(
                    self.path,
                    "data",
                    f"{ch.detector}/{ch.flavor}: {len(got)} count(s) given, "
                    f"{ch.i_pp.size} bin(s) expected",
                )
            out.extend(got)
        known = {(c.detector, c.flavor) for c in model.channels}
        extra = set(table) - known
        if (
            extra
            and model.channels
            and len(model.channels) == len(self.detector_names) * len(self.flavors)
        ):
            raise SpecPhysicsError(
                self.path, "data", f"counts for unknown channel(s) {sorted(extra)}"
            )
        return np.asarray(out, dtype=float)

    def _read_counts_file(self, name: str) -> dict[tuple[str, str], list[int]]:
        """Counts from a ``[data] file`` CSV, checked exactly like inline ``channels``.

        The file is resolved relative to the spec's folder, must be a regular UTF-8 file of
        at most :data:`MAX_DATA_BYTES`, with columns ``detector,flavor,bin,counts``; bins of a
        channel run 0, 1, ... once each; counts are integers in [0, 1e9].
        """
        p = (self.base_dir / name) if not Path(name).is_absolute() else Path(name)
        shown = _clip(str(p), 120)

        def fail(problem: str) -> SpecPhysicsError:
            return SpecPhysicsError(self.path, "data.file", f"{shown}: {problem}")

        try:
            data = read_regular_file(p, MAX_DATA_BYTES)
        except FileNotFoundError:
            raise fail("no such file") from None
        except OSError as err:
            raise fail(f"cannot read ({err.strerror or err})") from None
        except ValueError as err:
            raise fail(str(err)) from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise fail(f"not UTF-8 text (byte {err.start})") from None
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = [h.strip() for h in next(reader, [])]
            needed = {"detector", "flavor", "counts"}
            if not needed <= set(header) or len(set(header)) != len(header):
                raise fail("the first line must name the columns detector,flavor,bin,counts")
            col = {h: header.index(h) for h in header}
            flavors = set(get_args(schema.Flavor))
            table: dict[tuple[str, str], dict[int, int]] = {}
            for row in reader:
                n = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise fail(f"line {n}: {len(row)} field(s), expected {len(header)}")
                detector, flavor = row[col["detector"]].strip(), row[col["flavor"]].strip()
                if flavor not in flavors:
                    raise fail(
                        f"line {n}: flavor {_shown(flavor)} is not one of "
                        f"{', '.join(sorted(flavors))}"
                    )
                cells = {
                    "bin": row[col["bin"]].strip() if "bin" in col else "0",
                    "counts": row[col["counts"]].strip(),
                }
                values = {}
                for key, cell in cells.items():
                    cell = cell or ("0" if key == "bin" else "")
                    if not cell.isdigit() or len(cell) > 10:
                        raise fail(f"line {n}: {key} {_shown(cell)} is not a whole number >= 0")
                    values[key] = int(cell)
                if values["counts"] > 10**9:
                    raise fail(f"line {n}: counts {values['counts']} exceeds 1e9")
                bins = table.setdefault((detector, flavor), {})
                if values["bin"] in bins:
                    raise fail(f"line {n}: bin {values['bin']} of {detector}/{flavor} given twice")
                if len(bins) >= 10_000:
                    raise fail(f"line {n}: more than 10000 bins for {detector}/{flavor}")
                bins[values["bin"]] = values["counts"]
        except csv.Error as err:
            raise fail(f"not a CSV table: {_clip(str(err), 80)}") from None
        if not table:
            raise fail("no counts in the file")
        for (detector, flavor), bins in table.items():
            if sorted(bins) != list(range(len(bins))):
                raise fail(
                    f"bins of {detector}/{flavor} must run 0, 1, 2, ... (found {sorted(bins)[:5]})"
                )
        return {k: [v[i] for i in sorted(v)] for k, v in table.items()}

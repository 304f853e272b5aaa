"""Joint study specs: several data-set specs in one likelihood (``models/coherent_joint.toml``).

A joint spec names its member specs by path and the parameters they share::

    [study]      name, description, schema_version
    [[members]]  label (prefix of the member's nuisances), spec (path, relative to this file)
    [parameters] values of the physics parameters a fit does not free
    [priors]     a prior for every parameter some fit frees (also the fit's bounds)
    [nuisances]  flux_sigma (the shared SNS flux scale), flux_pooling ("complete" | "none")
    [[fits]]     name, free (parameters freed together; the others stay at [parameters])
    [sampling]   NUTS settings, as in a study spec

Validated on load; every error names the file and the key (:class:`SpecError`). Members are
loaded with :func:`~cenns_bayes.specs.load.load_study`, so their own errors name their file.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator

from . import schema
from .errors import SpecPhysicsError, SpecStructureError
from .load import (
    MAX_SPEC_BYTES,
    Study,
    _structure_error,
    apply_overrides,
    load_study,
    read_regular_file,
)

__all__ = ["JointSpec", "JointStudy", "is_joint_spec", "load_joint_study"]

#: Physics parameters a joint fit can free (their units: docs/specs.md).
JointParameterName = Literal[
    "sin2_theta_w",
    "mu_nu_mu",
    "mu_nu_e",
    "r2_nu_mu",
    "r2_nu_e",
    "neutron_radius_cs133_fm",
    "neutron_radius_i127_fm",
    "neutron_radius_ar40_fm",
    "signal_strength",
]
#: Template ranges of the neutron radii (fm): priors must lie inside (stats/parameters.py).
RADIUS_RANGES_FM = {
    "neutron_radius_cs133_fm": (3.8, 7.3),
    "neutron_radius_i127_fm": (3.8, 7.3),
    "neutron_radius_ar40_fm": (2.6, 5.2),
}
Label = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")]


class JointStudySection(schema._Strict):
    """``[study]`` of a joint spec."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: schema.ShortText = ""
    schema_version: Literal[1] = 1


class JointMemberSection(schema._Strict):
    """``[[members]]``: one data set."""

    label: Label
    spec: Annotated[str, Field(min_length=1, max_length=500)]


class JointParametersSection(schema._Strict):
    """``[parameters]``: values of the parameters a fit does not free."""

    sin2_theta_w: Annotated[float, Field(gt=0, lt=1)] = 0.23120
    mu_nu_mu: Annotated[float, Field(ge=0, le=1e4)] = 0.0
    mu_nu_e: Annotated[float, Field(ge=0, le=1e4)] = 0.0
    r2_nu_mu: Annotated[float, Field(ge=-1e4, le=1e4)] = 0.0
    r2_nu_e: Annotated[float, Field(ge=-1e4, le=1e4)] = 0.0


class JointNuisanceSection(schema._Strict):
    """``[nuisances]``: the shared SNS flux normalisation and how the members share it."""

    flux_sigma: Annotated[float, Field(gt=0, le=1)] = 0.10
    flux_pooling: Literal["complete", "none"] = "complete"


class JointFitSection(schema._Strict):
    """``[[fits]]``: parameters freed together."""

    name: Label
    free: list[JointParameterName] = Field(min_length=1, max_length=8)
    sample: bool = Field(True, description="the main job samples this fit's posterior")
    per_data_set: bool = Field(True, description="also fit each data set alone")


class JointSpec(schema._Strict):
    """A whole joint spec file."""

    study: JointStudySection
    members: list[JointMemberSection] = Field(min_length=2, max_length=10)
    parameters: JointParametersSection = JointParametersSection()
    priors: dict[JointParameterName, schema.Prior] = Field(default_factory=dict)
    nuisances: JointNuisanceSection = JointNuisanceSection()
    fits: list[JointFitSection] = Field(min_length=1, max_length=20)
    sampling: schema.SamplingSection = schema.SamplingSection()

    @field_validator("members")
    @classmethod
    def _unique_labels(cls, v):
        return schema.require_unique(v, "label", "member labels")

    @field_validator("fits")
    @classmethod
    def _unique_fits(cls, v):
        return schema.require_unique(v, "name", "fit names")


@dataclass
class JointStudy:
    """A validated joint spec with its loaded member studies.

    Offers what the Bayesian model builder reads from a study (``path``, ``spec.priors``,
    ``free_parameters``, ``true_parameters``) for one fit at a time (:meth:`for_fit`).
    """

    spec: JointSpec
    path: str
    sha256: str
    members: dict[str, Study]
    fit_name: str | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The study's name."""
        return self.spec.study.name

    @property
    def fit(self) -> JointFitSection:
        """The selected fit (the first unless :meth:`for_fit` chose another)."""
        if self.fit_name is None:
            return self.spec.fits[0]
        return next(f for f in self.spec.fits if f.name == self.fit_name)

    def for_fit(self, name: str) -> JointStudy:
        """The same study with fit ``name`` selected (members and caches shared)."""
        if name not in [f.name for f in self.spec.fits]:
            raise KeyError(name)
        return JointStudy(self.spec, self.path, self.sha256, self.members, name, self._cache)

    @property
    def free_parameters(self) -> list[str]:
        """Free parameters of the selected fit."""
        return list(self.fit.free)

    def true_parameters(self) -> dict[str, float]:
        """The ``[parameters]`` table (values of the non-free parameters)."""
        return {**self.spec.parameters.model_dump(), "signal_strength": 1.0}


def is_joint_spec(path: str | Path) -> bool:
    """Whether the TOML file at ``path`` is a joint spec (has a top-level ``members`` array)."""
    try:
        raw = tomllib.loads(read_regular_file(Path(path), MAX_SPEC_BYTES).decode("utf-8"))
    except (OSError, ValueError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False  # load_study reports the problem in its own words
    return isinstance(raw.get("members"), list) and "detectors" not in raw


def load_joint_study(path: str | Path, overrides: dict[str, Any] | None = None) -> JointStudy:
    """Read and validate a joint spec and load its members.

    Raises
    ------
    SpecError
        Naming the file, the key and the problem (a member's own errors name its file).
    """
    p = Path(path)
    path_s = str(p)
    try:
        text = read_regular_file(p, MAX_SPEC_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise SpecStructureError(path_s, "", "no such file") from None
    except (OSError, ValueError) as err:
        raise SpecStructureError(path_s, "", f"cannot read: {err}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecStructureError(path_s, "", f"not valid TOML: {err}") from None
    if overrides:
        raw = apply_overrides(raw, overrides, path_s)
        text += repr(sorted(overrides.items()))
    try:
        spec = JointSpec.model_validate(raw)
    except ValidationError as err:
        raise _structure_error(path_s, err, raw) from None
    members: dict[str, Study] = {}
    for i, m in enumerate(spec.members):
        member_path = (p.parent / m.spec).resolve()
        if not member_path.is_file():
            raise SpecPhysicsError(path_s, f"members[{i}].spec", f"no such file: {m.spec}")
        study = load_study(member_path)
        key = f"members[{i}].spec"
        if study.response_detector is None:
            raise SpecPhysicsError(path_s, key, f"{m.spec}: not a data set with a response")
        if study.spec.nuisances.flux_sigma <= 0:
            raise SpecPhysicsError(
                path_s, key, f"{m.spec}: a member needs nuisances.flux_sigma > 0"
            )
        members[m.label] = study
    for i, fit in enumerate(spec.fits):
        for name in fit.free:
            if name not in spec.priors:
                raise SpecPhysicsError(
                    path_s, f"fits[{i}].free", f"{name} is free but has no [priors] entry"
                )
    for radius, (lo, hi) in RADIUS_RANGES_FM.items():
        prior = spec.priors.get(radius)  # type: ignore[call-overload]
        if prior is None:
            continue
        if not isinstance(prior, schema.UniformPrior) or prior.lower < lo or prior.upper > hi:
            raise SpecPhysicsError(
                path_s,
                f"priors.{radius}",
                f"must be uniform within the template range [{lo}, {hi}] fm",
            )
    return JointStudy(spec, path_s, hashlib.sha256(text.encode()).hexdigest(), members)

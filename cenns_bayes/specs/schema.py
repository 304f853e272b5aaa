"""The study-spec schema (stage 1 of validation: structure, types and ranges).

Every table forbids unknown keys. The keys documented in ``docs/specs.md`` are stable;
``study.schema_version`` identifies the schema a file was written for.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..physics.sns import FLAVORS

SCHEMA_VERSION = 1

PositiveFloat = Annotated[float, Field(gt=0)]
Flavor = Literal["numu", "numubar", "nue"]
ParameterName = Literal["sin2_theta_w", "mu_nu_mu", "mu_nu_e", "r2_nu_mu", "r2_nu_e"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudySection(_Strict):
    """``[study]``: name, exposure and schema version."""

    name: str = Field(min_length=1)
    exposure_s: PositiveFloat = Field(description="live time of data taking, s")
    schema_version: Literal[1] = SCHEMA_VERSION
    description: str = ""


class SourceSection(_Strict):
    """``[source]``: a stopped-pion source, flux per flavour at a reference distance."""

    kind: Literal["sns"] = "sns"
    flux_per_flavor: PositiveFloat = Field(2.5e7, description="nu cm^-2 s^-1 per flavour")
    reference_distance_m: PositiveFloat = 20.0
    prompt_energy_mev: PositiveFloat = 29.9


class DetectorSection(_Strict):
    """``[[detectors]]``: one detector."""

    name: str = Field(min_length=1)
    nucleus: str
    mass_kg: PositiveFloat
    distance_m: PositiveFloat
    efficiency: Annotated[float, Field(gt=0, le=1)] = 1.0
    recoil_window_kev: tuple[PositiveFloat, PositiveFloat | Literal["max"]]
    form_factor: str = "helm"
    flux_per_flavor: PositiveFloat | None = Field(
        None, description="override of the 1/r^2-scaled source flux, nu cm^-2 s^-1 per flavour"
    )
    neutron_skin_fm: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    recoil_bins: Annotated[int, Field(ge=1, le=200)] | list[PositiveFloat] | None = Field(
        None, description="number of equal bins in the window, or explicit edges in keV"
    )

    @field_validator("recoil_window_kev")
    @classmethod
    def _ordered(cls, v):
        lo, hi = v
        if hi != "max" and hi <= lo:
            raise ValueError(f"upper edge {hi} keV must lie above the lower edge {lo} keV")
        return v


class AnalysisSection(_Strict):
    """``[analysis]``: channels and test statistic."""

    flavors: list[Flavor] = Field(default_factory=lambda: list(FLAVORS), min_length=1)
    statistic: Literal["chi2", "poisson"] = Field(
        "chi2", description="chi2: Eqs. (10)-(12), sigma^2 = N_obs; poisson: -2 ln of the Poisson ratio"
    )
    binned: bool = Field(False, description="use the detectors' recoil_bins in the likelihood")

    @field_validator("flavors")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("flavours must not repeat")
        return v


class ParametersSection(_Strict):
    """``[parameters]``: true values (Asimov data) and fixed values of non-free parameters."""

    sin2_theta_w: Annotated[float, Field(gt=0, lt=1)] = 0.23120
    mu_nu_mu: Annotated[float, Field(ge=0)] = 0.0
    mu_nu_e: Annotated[float, Field(ge=0)] = 0.0
    r2_nu_mu: float = 0.0
    r2_nu_e: float = 0.0


class UniformPrior(_Strict):
    """Flat on [lower, upper]."""

    dist: Literal["uniform"]
    lower: float
    upper: float
    on: Literal["value", "square"] = Field(
        "value", description="for mu_nu: flat in mu ('value') or in mu^2 ('square')"
    )

    @model_validator(mode="after")
    def _range(self):
        if self.upper <= self.lower:
            raise ValueError(f"upper ({self.upper}) must exceed lower ({self.lower})")
        return self


class LogUniformPrior(_Strict):
    """Flat in the logarithm on [lower, upper], lower > 0."""

    dist: Literal["log-uniform"]
    lower: PositiveFloat
    upper: PositiveFloat

    @model_validator(mode="after")
    def _range(self):
        if self.upper <= self.lower:
            raise ValueError(f"upper ({self.upper}) must exceed lower ({self.lower})")
        return self


class NormalPrior(_Strict):
    """Gaussian."""

    dist: Literal["normal"]
    mu: float
    sigma: PositiveFloat


class HalfNormalPrior(_Strict):
    """Half-Gaussian on [0, inf)."""

    dist: Literal["half-normal"]
    sigma: PositiveFloat


class TruncatedNormalPrior(_Strict):
    """Gaussian truncated to [lower, upper]."""

    dist: Literal["truncated-normal"]
    mu: float
    sigma: PositiveFloat
    lower: float
    upper: float

    @model_validator(mode="after")
    def _range(self):
        if self.upper <= self.lower:
            raise ValueError(f"upper ({self.upper}) must exceed lower ({self.lower})")
        return self


Prior = Annotated[
    UniformPrior | LogUniformPrior | NormalPrior | HalfNormalPrior | TruncatedNormalPrior,
    Field(discriminator="dist"),
]


class ObservedChannel(_Strict):
    """Observed counts of one detector x flavour channel (one number, or one per bin)."""

    detector: str
    flavor: Flavor
    counts: Annotated[int, Field(ge=0)] | list[Annotated[int, Field(ge=0)]]


class DataSection(_Strict):
    """``[data]``: what is observed."""

    kind: Literal["asimov", "observed"] = "asimov"
    channels: list[ObservedChannel] | None = None
    file: str | None = Field(None, description="CSV next to the spec: detector,flavor,bin,counts")

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind == "asimov" and (self.channels or self.file):
            raise ValueError("asimov data take no 'channels' or 'file'")
        if self.kind == "observed" and not (self.channels or self.file):
            raise ValueError("observed data need 'channels' or 'file'")
        if self.channels and self.file:
            raise ValueError("give 'channels' or 'file', not both")
        return self


class NuisanceSection(_Strict):
    """``[nuisances]``: systematic terms (all off by default: the paper is statistics only)."""

    flux_sigma: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0, description="relative width of the shared flux normalisation (log-normal); 0 = fixed"
    )
    detector_sigma: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0, description="relative width of per-detector normalisations; 0 = fixed"
    )
    pooling: Literal["partial", "complete", "none"] = Field(
        "partial", description="how per-detector normalisations are combined across detectors"
    )
    form_factor_radius_sigma: Annotated[float, Field(ge=0, lt=0.5)] = Field(
        0.0, description="relative width of a per-nucleus form-factor radius scale; 0 = fixed"
    )


class SamplingSection(_Strict):
    """``[sampling]``: NUTS settings."""

    draws: Annotated[int, Field(ge=10)] = 1000
    tune: Annotated[int, Field(ge=10)] = 1000
    chains: Annotated[int, Field(ge=1, le=64)] = 4
    target_accept: Annotated[float, Field(gt=0.5, lt=1)] = 0.99
    seed: int = 20151
    backend: Literal["auto", "nutpie", "pymc"] = "auto"


class StudySpec(_Strict):
    """A whole study file."""

    study: StudySection
    source: SourceSection = SourceSection()
    detectors: list[DetectorSection] = Field(min_length=1)
    analysis: AnalysisSection = AnalysisSection()
    parameters: ParametersSection = ParametersSection()
    priors: dict[ParameterName, Prior] = Field(default_factory=dict)
    data: DataSection = DataSection()
    nuisances: NuisanceSection = NuisanceSection()
    sampling: SamplingSection = SamplingSection()

    @field_validator("detectors")
    @classmethod
    def _unique_names(cls, v):
        names = [d.name for d in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"detector names must be unique; repeated: {sorted(dup)}")
        return v

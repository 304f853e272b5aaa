"""The study-spec schema (stage 1 of validation: structure, types and ranges).

Every table forbids unknown keys. The keys documented in ``docs/specs.md`` are stable;
``study.schema_version`` identifies the schema a file was written for. Every number must be
finite and lie in the physical range given with its key (``docs/specs.md`` lists them), and
``true``/``false`` is never taken for a number.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..physics.constants import PION_DAR_NU_ENERGY_MEV
from ..physics.sns import FLAVORS

SCHEMA_VERSION: Final = 1

PositiveFloat = Annotated[float, Field(gt=0)]
#: Bounded quantities: finite (non-finite numbers are refused for every key) and physical.
ExposureSeconds = Annotated[float, Field(gt=0, le=1e12)]
FluxPerCm2S = Annotated[float, Field(gt=0, le=1e20)]
DistanceMetres = Annotated[float, Field(ge=1.0, le=1e6)]
MassKg = Annotated[float, Field(gt=0, le=1e9)]
RecoilKev = Annotated[float, Field(ge=1e-3, le=1e5)]
RecoilEdges = Annotated[list[RecoilKev], Field(max_length=201)]
TimeMicroseconds = Annotated[float, Field(ge=-1e4, le=1e4)]
Probability = Annotated[float, Field(ge=0, le=1)]
PhotoElectrons = Annotated[float, Field(ge=0, le=1e4)]
#: Prior bounds, locations and widths (the parameters' own units); log-uniform lower bounds.
PriorNumber = Annotated[float, Field(ge=-1e4, le=1e4)]
PriorWidth = Annotated[float, Field(gt=0, le=1e4)]
PriorPositive = Annotated[float, Field(ge=1e-8, le=1e4)]
#: Length of names and other short strings.
ShortText = Annotated[str, Field(max_length=200)]
Flavor = Literal["numu", "numubar", "nue"]
ParameterName = Literal[
    "sin2_theta_w",
    "mu_nu_mu",
    "mu_nu_e",
    "r2_nu_mu",
    "r2_nu_e",
    "signal_strength",
    "neutron_skin_fm",
]
#: Name of a shipped data release that can provide time PDFs, backgrounds and data.
ReleaseName = Literal["coherent-csi-2017"]


def require_unique(items: list, attribute: str, what: str) -> list:
    """``items`` unchanged, or a ValueError naming the repeated values of ``attribute``."""
    values = [getattr(x, attribute) for x in items]
    repeated = sorted({x for x in values if values.count(x) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique; repeated: {repeated}")
    return items


def _has_bool(tp) -> bool:
    if tp is bool:
        return True
    return any(_has_bool(a) for a in (getattr(tp, "__args__", ()) or ()))


class _BoolGiven:
    """Stands in for ``true``/``false`` given where a number or text is expected.

    Validation then fails at that key (pydantic's lax mode would read true as 1).
    """

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "true" if self.value else "false"


def _mark_bools(value):
    if isinstance(value, bool):
        return _BoolGiven(value)
    if isinstance(value, list):
        return [_mark_bools(v) for v in value]
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_as_number(cls, data):
        if not isinstance(data, dict):
            return data
        out = None
        for name, value in data.items():
            field = cls.model_fields.get(name) if isinstance(name, str) else None
            if field is None or _has_bool(field.annotation):
                continue
            marked = _mark_bools(value)
            if marked is not value and (isinstance(value, bool) or marked != value):
                out = dict(data) if out is None else out
                out[name] = marked
        return data if out is None else out


class StudySection(_Strict):
    """``[study]``: name, exposure and schema version."""

    name: str = Field(min_length=1, max_length=200)
    exposure_s: ExposureSeconds = Field(description="live time of data taking, s")
    schema_version: Literal[1] = SCHEMA_VERSION
    description: str = Field("", max_length=10_000)


class SourceSection(_Strict):
    """``[source]``: a stopped-pion source.

    ``kind = "sns"``: a flux per flavour at a reference distance, scaled as 1/r^2.
    ``kind = "sns-beam"``: a beam exposure, protons on target (``protons_on_target``, or
    ``exposure_gwh`` with ``proton_energy_gev``) times ``neutrinos_per_proton`` per flavour,
    emitted isotropically; the prompt line defaults to the pion-decay kinematics
    (29.79 MeV) instead of the seed paper's 29.9 MeV.
    """

    kind: Literal["sns", "sns-beam"] = "sns"
    flux_per_flavor: FluxPerCm2S = Field(2.5e7, description="nu cm^-2 s^-1 per flavour")
    reference_distance_m: DistanceMetres = 20.0
    prompt_energy_mev: Annotated[float, Field(ge=20.0, le=40.0)] = Field(
        29.9, description="energy of the prompt line, MeV (pion decay at rest: 29.79)"
    )
    protons_on_target: Annotated[float, Field(gt=0, le=1e26)] | None = Field(
        None, description="sns-beam: protons on target"
    )
    exposure_gwh: Annotated[float, Field(gt=0, le=1e6)] | None = Field(
        None, description="sns-beam: beam energy on target, GW h"
    )
    proton_energy_gev: Annotated[float, Field(ge=0.1, le=100.0)] | None = Field(
        None, description="sns-beam: average proton kinetic energy, GeV (with exposure_gwh)"
    )
    neutrinos_per_proton: Annotated[float, Field(gt=0, le=10.0)] | None = Field(
        None, description="sns-beam: neutrinos per flavour per proton on target"
    )

    @model_validator(mode="before")
    @classmethod
    def _beam_prompt_energy(cls, data):
        if (
            isinstance(data, dict)
            and data.get("kind") == "sns-beam"
            and "prompt_energy_mev" not in data
        ):
            data = {**data, "prompt_energy_mev": PION_DAR_NU_ENERGY_MEV}
        return data

    @model_validator(mode="after")
    def _beam_keys(self):
        beam_keys = (
            "protons_on_target",
            "exposure_gwh",
            "proton_energy_gev",
            "neutrinos_per_proton",
        )
        if self.kind == "sns":
            given = [k for k in beam_keys if getattr(self, k) is not None]
            if given:
                raise ValueError(f"{given[0]} needs kind = 'sns-beam'")
            return self
        if self.neutrinos_per_proton is None:
            raise ValueError("kind = 'sns-beam' needs neutrinos_per_proton")
        pot = self.protons_on_target is not None
        energy = self.exposure_gwh is not None and self.proton_energy_gev is not None
        if pot == energy or (
            not pot and (self.exposure_gwh is None) != (self.proton_energy_gev is None)
        ):
            raise ValueError(
                "kind = 'sns-beam' needs protons_on_target, or exposure_gwh and proton_energy_gev "
                "(one of the two forms)"
            )
        return self


class QuenchingSection(_Strict):
    """``[detectors.response.quenching]``: keVee per keVnr.

    ``model = "constant"``: QF = ``value``. ``model = "polynomial"``: QF(T) = sum_k
    ``coefficients[k]`` (T / keVnr)^k. The 1-sigma uncertainty is ``sigma`` (absolute,
    constant model) or ``relative_sigma`` (either model); it becomes a nuisance that scales
    QF(T) by (1 + relative_sigma z) and enters through templates (docs/coherent_csi_2017.md).
    """

    model: Literal["constant", "polynomial"] = "constant"
    value: Annotated[float, Field(gt=0, lt=1)] | None = None
    coefficients: list[Annotated[float, Field(ge=-1e3, le=1e3)]] | None = Field(None, max_length=20)
    sigma: Annotated[float, Field(ge=0, lt=1)] | None = None
    relative_sigma: Annotated[float, Field(ge=0, lt=0.5)] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.model == "constant":
            if self.value is None or self.coefficients is not None:
                raise ValueError(
                    "a constant quenching factor takes 'value' (and no 'coefficients')"
                )
        else:
            if not self.coefficients or self.value is not None:
                raise ValueError(
                    "a polynomial quenching factor takes 'coefficients' (and no 'value')"
                )
            if self.sigma is not None:
                raise ValueError("give the polynomial's uncertainty as 'relative_sigma'")
        if self.sigma is not None and self.relative_sigma is not None:
            raise ValueError("give 'sigma' or 'relative_sigma', not both")
        return self

    def relative_width(self) -> float:
        """Relative 1-sigma width of the QF scale (0: fixed)."""
        if self.relative_sigma is not None:
            return self.relative_sigma
        if self.sigma is not None and self.value:
            return self.sigma / self.value
        return 0.0


class EfficiencyParameter(_Strict):
    """An efficiency parameter with asymmetric 1-sigma errors ``error_hi``, ``error_lo`` >= 0."""

    value: Annotated[float, Field(ge=-1e4, le=1e4)]
    error_hi: Annotated[float, Field(ge=0, le=1e4)] = 0.0
    error_lo: Annotated[float, Field(ge=0, le=1e4)] = 0.0


class EfficiencySection(_Strict):
    """``[detectors.response.efficiency]``: the release's f(x) = a / (1 + e^{-k (x - x0)}) H(x)."""

    model: Literal["logistic-step", "none"] = "logistic-step"
    a: EfficiencyParameter | None = None
    k_per_pe: EfficiencyParameter | None = None
    x0_pe: EfficiencyParameter | None = None
    pe_bin_convention: Literal["n_minus_half", "n_plus_half"] = "n_minus_half"

    @model_validator(mode="after")
    def _complete(self):
        if self.model == "logistic-step" and None in (self.a, self.k_per_pe, self.x0_pe):
            raise ValueError("the logistic-step efficiency needs a, k_per_pe and x0_pe")
        return self


class ResponseSection(_Strict):
    """``[detectors.response]``: quenching, light, PE smearing, efficiency, PE and time binning."""

    light_yield_pe_per_kevee: Annotated[float, Field(gt=0, le=1e3)]
    smearing: Literal["poisson"] = "poisson"
    quenching: QuenchingSection
    efficiency: EfficiencySection = EfficiencySection(model="none")
    pe_max: Annotated[int, Field(ge=2, le=1000)] = Field(
        50, description="upper edge of the PE histogram"
    )
    pe_bin_width: Annotated[int, Field(ge=1, le=100)] = 2
    timing: ReleaseName | Literal["explicit"] = Field(
        "coherent-csi-2017",
        description="time bins and per-component arrival-time PDFs: a release, or 'explicit' lists",
    )
    time_edges_us: list[TimeMicroseconds] | None = Field(None, max_length=1001)
    time_pdf_prompt: list[Probability] | None = Field(None, max_length=1000)
    time_pdf_delayed: list[Probability] | None = Field(None, max_length=1000)
    recoil_grid_points: Annotated[int, Field(ge=200, le=100000)] = 4001
    template_sigmas: list[Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=lambda: [1.0, 2.0],
        min_length=1,
        max_length=10,
        description="nuisance values (in sigma, both signs) at which shape templates are computed",
    )

    @model_validator(mode="after")
    def _binning(self):
        if self.pe_max % self.pe_bin_width:
            raise ValueError(f"pe_bin_width {self.pe_bin_width} must divide pe_max {self.pe_max}")
        explicit = (self.time_edges_us, self.time_pdf_prompt, self.time_pdf_delayed)
        if self.timing != "explicit" and any(x is not None for x in explicit):
            raise ValueError("time_edges_us and time PDFs need timing = 'explicit'")
        if self.timing == "explicit":
            edges, prompt, delayed = explicit
            if edges is None or prompt is None or delayed is None:
                raise ValueError(
                    "timing = 'explicit' needs time_edges_us, time_pdf_prompt and time_pdf_delayed"
                )
            n = len(edges) - 1
            if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=False)):
                raise ValueError("time_edges_us must increase")
            if n < 1 or len(prompt) != n or len(delayed) != n:
                raise ValueError("time PDFs need one entry per time bin (len(time_edges_us) - 1)")
        return self


class LArQuenching(_Strict):
    """QF(T) = a + b T/keVnr (keVee per keVnr) with independent 1-sigma errors of a and b."""

    a: Annotated[float, Field(gt=0, lt=1)]
    a_sigma: Annotated[float, Field(ge=0)] = 0.0
    b_per_kevnr: float = 0.0
    b_sigma_per_kevnr: Annotated[float, Field(ge=0)] = 0.0


class EnergyResponseSection(_Strict):
    """``[detectors.energy_response]``: reconstructed-energy (keVee) x F90 x time bins of a release.

    The CEvNS energy spectrum comes from the physics core through QF(T), a Gaussian
    resolution sigma/E = resolution / sqrt(E/keVee) and the release's acceptance; the F90
    and arrival-time shapes (and the binning) come from the release's CEvNS template
    (docs/coherent_lar_2020.md).
    """

    release: Literal["coherent-lar-2020", "coherent-csi-2021"] = "coherent-lar-2020"
    quenching: LArQuenching | None = Field(
        None,
        description="coherent-lar-2020: QF(T) = a + b T (required); coherent-csi-2021 reads its "
        "scintillation response from the release",
    )
    light_yield_pe_per_kevee: Annotated[float, Field(gt=0, le=1e3)] = Field(
        13.35, description="coherent-csi-2021: PE per keVee"
    )
    pe_bin_width: Annotated[float, Field(ge=0.5, le=60)] = Field(
        4.0, description="coherent-csi-2021: analysis PE bin width (0-60 PE), 0.5 to 60"
    )
    time_bin_width_us: Annotated[float, Field(ge=0.01, le=6)] = Field(
        0.5, description="coherent-csi-2021: analysis time bin width (0-6 us), 0.01 to 6 us"
    )
    timing_acceptance: tuple[
        Annotated[float, Field(ge=0, le=6)], Annotated[float, Field(ge=0, le=1e3)]
    ] = Field(
        (0.52, 0.0494),
        description="coherent-csi-2021: acceptance 1 up to t0 us, exp(-k (t - t0)) beyond: (t0, k)",
    )
    resolution_sqrt_kevee: Annotated[float, Field(gt=1e-3, le=10)] = Field(
        0.58, description="sigma/E = value / sqrt(E / keVee), in (0.001, 10]"
    )
    recoil_grid_points: Annotated[int, Field(ge=200, le=100000)] = 3001
    template_sigmas: list[Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=lambda: [1.0, 2.0],
        description="QF nuisance values (in sigma, both signs) at which templates are computed",
    )
    shape_systematics: bool = Field(
        True, description="the release's 8 shape-systematic templates as nuisances"
    )

    @model_validator(mode="after")
    def _release_fields(self):
        if self.release == "coherent-lar-2020" and self.quenching is None:
            raise ValueError("the coherent-lar-2020 response needs 'quenching'")
        if self.release == "coherent-csi-2021":
            for name in ("template_sigmas", "resolution_sqrt_kevee", "shape_systematics"):
                if name in self.model_fields_set:  # given, not defaulted: it would be ignored
                    raise ValueError(
                        f"'{name}' applies to the coherent-lar-2020 response only; "
                        "remove it for release = 'coherent-csi-2021'"
                    )
            if self.quenching is not None:
                raise ValueError(
                    "the coherent-csi-2021 response takes its quenching from the release, "
                    "not 'quenching'"
                )
            for name, width, span in (
                ("pe_bin_width", self.pe_bin_width, 60.0),
                ("time_bin_width_us", self.time_bin_width_us, 6.0),
            ):
                n = span / width
                if abs(n - round(n)) > 1e-9:
                    raise ValueError(
                        f"{name} = {width} does not divide the analysis range 0-{span:g}"
                    )
        return self


class DetectorSection(_Strict):
    """``[[detectors]]``: one detector (optionally with a ``[detectors.response]``)."""

    name: str = Field(min_length=1, max_length=200)
    nucleus: ShortText
    mass_kg: MassKg
    distance_m: DistanceMetres
    efficiency: Annotated[float, Field(gt=0, le=1)] = 1.0
    recoil_window_kev: tuple[RecoilKev, RecoilKev | Literal["max"]]
    form_factor: ShortText = "helm"
    flux_per_flavor: FluxPerCm2S | None = Field(
        None, description="override of the 1/r^2-scaled source flux, nu cm^-2 s^-1 per flavour"
    )
    neutron_skin_fm: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    recoil_bins: Annotated[int, Field(ge=1, le=200)] | RecoilEdges | None = Field(
        None, description="number of equal bins in the window, or explicit edges in keV"
    )
    response: ResponseSection | None = Field(
        None,
        description="detector response: counts in PE x arrival-time bins instead of recoil bins",
    )
    energy_response: EnergyResponseSection | None = Field(
        None, description="release response: counts in keVee x F90 x time bins (coherent-lar-2020)"
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

    flavors: list[Flavor] = Field(
        default_factory=lambda: cast(list[Flavor], list(FLAVORS)), min_length=1, max_length=3
    )
    statistic: Literal["chi2", "poisson"] = Field(
        "chi2",
        description="chi2: Eqs. (10)-(12), sigma^2 = N_obs; poisson: -2 ln of the Poisson ratio",
    )
    binned: bool = Field(False, description="use the detectors' recoil_bins in the likelihood")
    pe_range: tuple[PhotoElectrons, PhotoElectrons] = Field(
        (6.0, 30.0), description="response studies: region in PE"
    )
    time_range_us: tuple[TimeMicroseconds, TimeMicroseconds] = Field(
        (0.0, 12.0), description="response studies: region in arrival time, us"
    )
    use_timing: bool = Field(
        True, description="response studies: bins in time (false: summed over time)"
    )

    @field_validator("flavors")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("flavours must not repeat")
        return v


class ParametersSection(_Strict):
    """``[parameters]``: true values (Asimov data) and fixed values of non-free parameters."""

    sin2_theta_w: Annotated[float, Field(gt=0, lt=1)] = 0.23120
    mu_nu_mu: Annotated[float, Field(ge=0, le=1e4)] = 0.0
    mu_nu_e: Annotated[float, Field(ge=0, le=1e4)] = 0.0
    r2_nu_mu: Annotated[float, Field(ge=-1e4, le=1e4)] = 0.0
    r2_nu_e: Annotated[float, Field(ge=-1e4, le=1e4)] = 0.0
    signal_strength: Annotated[float, Field(ge=0, le=1e3)] = Field(
        1.0, description="CEvNS count in units of its Standard-Model value at the other parameters"
    )
    neutron_skin_fm: Annotated[float, Field(ge=-0.5, le=1.5)] | None = Field(
        None, description="r_n - r_p of every target nucleus, fm; None: each detector's own value"
    )


class UniformPrior(_Strict):
    """Flat on [lower, upper]."""

    dist: Literal["uniform"]
    lower: PriorNumber
    upper: PriorNumber
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
    lower: PriorPositive
    upper: PriorPositive

    @model_validator(mode="after")
    def _range(self):
        if self.upper <= self.lower:
            raise ValueError(f"upper ({self.upper}) must exceed lower ({self.lower})")
        return self


class NormalPrior(_Strict):
    """Gaussian."""

    dist: Literal["normal"]
    mu: PriorNumber
    sigma: PriorWidth


class HalfNormalPrior(_Strict):
    """Half-Gaussian on [0, inf)."""

    dist: Literal["half-normal"]
    sigma: PriorWidth


class TruncatedNormalPrior(_Strict):
    """Gaussian truncated to [lower, upper]."""

    dist: Literal["truncated-normal"]
    mu: PriorNumber
    sigma: PriorWidth
    lower: PriorNumber
    upper: PriorNumber

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

    detector: ShortText
    flavor: Flavor
    counts: (
        Annotated[int, Field(ge=0, le=10**9)]
        | Annotated[
            list[Annotated[int, Field(ge=0, le=10**9)]], Field(min_length=1, max_length=10_000)
        ]
    )


class DataSection(_Strict):
    """``[data]``: what is observed."""

    kind: Literal[
        "asimov", "observed", "coherent-csi-2017", "coherent-lar-2020", "coherent-csi-2021"
    ] = "asimov"
    channels: list[ObservedChannel] | None = None
    file: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        None, description="CSV, relative to the spec's folder: detector,flavor,bin,counts"
    )

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind in (
            "asimov",
            "coherent-csi-2017",
            "coherent-lar-2020",
            "coherent-csi-2021",
        ) and (self.channels or self.file):
            raise ValueError(f"{self.kind} data take no 'channels' or 'file'")
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
    neutron_radius_sigma_fm: Annotated[float, Field(ge=0, le=1.0)] = Field(
        0.0,
        description="counting studies: 1-sigma uncertainty of each nucleus's neutron rms "
        "radius, fm (the proton radius is measured); one nuisance per target nucleus; 0 = fixed",
    )
    quenching: bool = Field(True, description="response studies: QF uncertainty as a nuisance")
    efficiency: bool = Field(
        True, description="response studies: efficiency parameters as nuisances"
    )


class PromptNeutronBackground(_Strict):
    """``[backgrounds.prompt_neutrons]``: beam-related neutrons from a release template."""

    template: ReleaseName = "coherent-csi-2017"
    normalisation_sigma: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.25, description="relative width of the (log-normal) normalisation; 0 = fixed"
    )


ControlSample = Literal["ac-beam-on", "c-beam-off", "ac-beam-off"]


class SteadyStateBackground(_Strict):
    """``[backgrounds.steady_state]``: beam-unrelated background measured in control samples.

    The control samples (``control_samples``) are the release's histograms without beam-related
    signal: the anticoincidence window with beam (``ac-beam-on``) and both windows without beam
    (``c-beam-off``, ``ac-beam-off``); by default all three with ``model`` and ``ac-beam-on``
    alone with the older ``treatment``. Every window has the length of the coincidence window, so
    together they measure tau * b with tau = sum of their live times / beam-on live time
    (``tau`` overrides it). ``model = "smooth"``: b_ij = P_i q_j(lambda, early), a few
    parameters constrained by the Poisson likelihood of the pooled control counts;
    ``model = "per-bin"``: one rate per bin, as ``treatment = "measured"``.

    ``treatment`` (used when ``model`` is not given) keeps the older alternatives:
    ``"measured"`` one rate per bin constrained by the control count m ~ Poisson(tau b)
    (a ``poisson`` nuisance per bin, profiled in closed form); ``"flat-measured"`` one rate
    per PE bin, flat in arrival time; ``"exact"`` / ``"flat-exact"`` the control counts (per bin
    / averaged over time) / tau taken as the known expectation; ``"factorised-exact"`` their PE
    marginal times their time marginal (divided by the total), taken as known.
    """

    measurement: Literal["coherent-csi-2017-anticoincidence"] = "coherent-csi-2017-anticoincidence"
    model: Literal["smooth", "per-bin"] | None = Field(
        None, description="steady-state model: smooth few-parameter shape, or one rate per bin"
    )
    treatment: Literal["measured", "exact", "flat-measured", "flat-exact", "factorised-exact"] = (
        "measured"
    )
    control_samples: Annotated[list[ControlSample], Field(min_length=1)] | None = Field(
        None,
        description="control histograms of the release that measure the steady state "
        "(default: all three with 'model', the AC beam-on one with the older 'treatment')",
    )
    beam_on_live_days: Annotated[float, Field(gt=0, le=1e5)] = Field(
        308.1, description="beam-on live time, days"
    )
    beam_off_live_days: Annotated[float, Field(gt=0, le=1e5)] = Field(
        153.5, description="beam-off live time, days"
    )
    tau: Annotated[float, Field(gt=0, le=1e3)] | None = Field(
        None, description="control / coincidence exposure ratio (default: from the live times)"
    )
    pe_shape: Literal["free", "control"] = Field(
        "free",
        description="smooth model: a free amplitude per PE bin, "
        "or the control PE spectrum x one amplitude",
    )
    early_time_us: Annotated[float, Field(ge=0)] = Field(
        1.0, description="smooth model: arrival times below this get their own amplitude (0: none)"
    )
    rate_prior: Literal["jeffreys", "uniform"] = Field(
        "jeffreys", description="Bayesian prior of the background rates / amplitudes"
    )

    @model_validator(mode="after")
    def _model_or_treatment(self):
        if self.model is not None and "treatment" in self.model_fields_set:
            raise ValueError("give either 'model' or the older 'treatment', not both")
        if self.control_samples is not None and len(set(self.control_samples)) != len(
            self.control_samples
        ):
            raise ValueError(f"control_samples lists a sample twice: {self.control_samples}")
        return self

    def samples(self) -> list[str]:
        """The control samples used.

        As given, else all three with ``model`` and the AC beam-on one with the older
        ``treatment`` (older specs keep their meaning).
        """
        if self.control_samples is not None:
            return list(self.control_samples)
        return (
            ["ac-beam-on", "c-beam-off", "ac-beam-off"]
            if self.model is not None
            else ["ac-beam-on"]
        )

    def exposure_ratio(self) -> float:
        """tau: live time of the control samples over the beam-on (coincidence) live time."""
        if self.tau is not None:
            return float(self.tau)
        days = {
            "ac-beam-on": self.beam_on_live_days,
            "c-beam-off": self.beam_off_live_days,
            "ac-beam-off": self.beam_off_live_days,
        }
        return sum(days[s] for s in self.samples()) / self.beam_on_live_days

    def effective_model(self) -> str:
        """``"smooth"``, or the treatment (``"per-bin"`` is ``"measured"``)."""
        if self.model == "smooth":
            return "smooth"
        if self.model == "per-bin":
            return "measured"
        return self.treatment


class TemplateNormalisation(_Strict):
    """Expected events of a release background template and its 1-sigma (Gaussian) constraint."""

    events: Annotated[float, Field(gt=0, le=1e7)]
    sigma: Annotated[float, Field(ge=0, le=1e7)] = 0.0


class ReleaseTemplateBackgrounds(_Strict):
    """``[backgrounds.release_templates]``: the coherent-lar-2020 background templates.

    Each template (shape from the release) is scaled to ``events`` and its normalisation is
    a Gaussian-constrained nuisance of relative width ``sigma / events`` (0: fixed).
    """

    prompt_neutrons: TemplateNormalisation | None = None
    delayed_neutrons: TemplateNormalisation | None = None
    steady_state: TemplateNormalisation | None = None
    neutrino_induced_neutrons: TemplateNormalisation | None = Field(
        None, description="coherent-csi-2021: neutrino-induced neutrons (NIN)"
    )


class BackgroundsSection(_Strict):
    """``[backgrounds]``: backgrounds of the detector with a response."""

    detector: ShortText | None = Field(
        None, description="detector they belong to (default: the one with a response)"
    )
    prompt_neutrons: PromptNeutronBackground | None = None
    steady_state: SteadyStateBackground | None = None
    release_templates: ReleaseTemplateBackgrounds | None = None


class SamplingSection(_Strict):
    """``[sampling]``: NUTS settings."""

    draws: Annotated[int, Field(ge=10, le=1_000_000)] = 1000
    tune: Annotated[int, Field(ge=10, le=1_000_000)] = 1000
    chains: Annotated[int, Field(ge=1, le=64)] = 4
    target_accept: Annotated[float, Field(gt=0.5, lt=1)] = 0.99
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 20151
    backend: Literal["auto", "nutpie", "pymc"] = "auto"
    #: nutpie's log-density of a counting study: "auto" takes the hand-written one with its
    #: exact gradient (bayes/direct.py) where it applies, "pytensor" always compiles PyMC's.
    log_density: Literal["auto", "pytensor"] = "auto"


class StudySpec(_Strict):
    """A whole study file."""

    study: StudySection
    source: SourceSection = SourceSection()
    detectors: list[DetectorSection] = Field(min_length=1, max_length=100)
    analysis: AnalysisSection = AnalysisSection()
    parameters: ParametersSection = ParametersSection()
    priors: dict[ParameterName, Prior] = Field(default_factory=dict)
    data: DataSection = DataSection()
    nuisances: NuisanceSection = NuisanceSection()
    backgrounds: BackgroundsSection = BackgroundsSection()
    sampling: SamplingSection = SamplingSection()

    @field_validator("detectors")
    @classmethod
    def _unique_names(cls, v):
        return require_unique(v, "name", "detector names")

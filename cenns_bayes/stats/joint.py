"""One likelihood for several COHERENT data sets (CsI 2017, CsI 2021, LAr 2020).

The joint model concatenates the bins of its members, each an
:class:`~cenns_bayes.stats.model.ExpectationModel`
(:class:`~cenns_bayes.stats.binned.ResponseModel`,
:class:`~cenns_bayes.stats.csi2021.CsI2021Model`, :class:`~cenns_bayes.stats.lar.LArModel`):

    mu = concat_m mu_m(theta, R_n, A_flux, nu_m)

* theta (sin^2 theta_W, mu_nu_mu, mu_nu_e, <r^2>_nu_mu, <r^2>_nu_e) is shared: it enters every
  member through the exact coefficient-row weights, so each member stays an exact
  polynomial in it.
* A_flux, the SNS neutrinos per proton, is one log-normal scale shared by every member
  (``flux_pooling = "complete"``; each member keeps its own nominal nu/POT); with
  ``"none"`` each member keeps its own flux nuisance.
* Every other nuisance nu_m (quenching, efficiency, backgrounds, steady state, detector
  mass) stays the member's own, renamed ``"<label>.<name>"``.
* The neutron rms radii R_n of Cs-133, I-127 and Ar-40 are physics parameters
  (``neutron_radius_cs133_fm``, ...), shared by every member whose target holds the isotope
  (Cs and I by both CsI data sets). Each enters a member as an additive template
  difference of its coefficient rows: the isotope's recoil spectrum is recomputed on a grid
  of R_n across the parameter's range, mapped through the member's nominal response
  (``spectrum_projection``, a linear map) and fitted per bin by a polynomial in R_n - R_n0
  through 0 at the nominal radius (:func:`radius_templates`; largest relative residual in
  :attr:`JointModel.notes`). Cross terms of a radius change with the members' response
  nuisances are neglected, as between the members' own shape nuisances.

:meth:`JointModel.expected` uses only arithmetic, ``xp.where`` and ``xp.concatenate``, so the
same code builds NumPy values for :class:`~cenns_bayes.stats.profile.ProfileFitter` and
PyTensor graphs for the PyMC builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..physics.form_factors import form_factor_pair
from ..rates.coefficients import DetectorSetup, isotope_differential_coefficients
from . import parameters as _par
from .binned import ResponseModel, ShapeTerm
from .lar import LArModel, TemplateShift
from .model import ModelBase, NuisanceSpec

__all__ = [
    "JOINT_PARAMETERS",
    "RADIUS_PARAMETERS",
    "JointMember",
    "JointModel",
    "RadiusTemplate",
    "build_joint_model",
    "isotope_neutron_radius_fm",
    "project_spectra",
    "radius_parameter",
    "radius_templates",
]

#: Neutron-radius parameter of each isotope the joint model can free.
RADIUS_PARAMETERS: dict[str, str] = {
    "Cs133": "neutron_radius_cs133_fm",
    "I127": "neutron_radius_i127_fm",
    "Ar40": "neutron_radius_ar40_fm",
}

#: Every physics parameter of the joint model.
JOINT_PARAMETERS: tuple[str, ...] = (
    "sin2_theta_w",
    "mu_nu_mu",
    "mu_nu_e",
    "r2_nu_mu",
    "r2_nu_e",
    *RADIUS_PARAMETERS.values(),
)

#: Template nodes per radius and polynomial degree in R_n - R_n0.
_RADIUS_NODES = 15
_RADIUS_DEGREE = 6


def radius_parameter(nucleus) -> str | None:
    """Name of the neutron-radius parameter of a :class:`~cenns_bayes.physics.nuclei.Nucleus`."""
    return RADIUS_PARAMETERS.get(f"{nucleus.symbol}{nucleus.A}")


def project_spectra(
    projection: tuple[np.ndarray, np.ndarray, np.ndarray], spectra: np.ndarray
) -> np.ndarray:
    """Coefficient rows of recoil spectra through a member's nominal response.

    Parameters
    ----------
    projection : (recoil_grid_kev, A, B)
        A member's ``spectrum_projection``: A (n_x, n_T), B (n_flavours, n_x, n_bins).
    spectra : ndarray (n_flavours, 4, n_T)
        dI/dT (counts per keV) of the four coefficient rows on the recoil grid.

    Returns
    -------
    ndarray (n_flavours, 4, n_bins)
    """
    _, a, b = projection
    return np.einsum("frx,fxb->frb", spectra @ a.T, b)


def isotope_neutron_radius_fm(setup: DetectorSetup, component: int) -> tuple[float, float]:
    """(proton rms radius, nominal neutron rms radius) in fm of one isotope of a set-up.

    The neutron radius is the proton form factor's rms radius plus the set-up's skin.
    """
    nucleus = setup.target.components[component].nucleus
    proton, _ = form_factor_pair(setup.form_factor, nucleus, 0.0)
    rp = float(proton.rms_radius_fm)  # type: ignore[attr-defined]  # phenomenological models
    return rp, rp + setup.neutron_skin_fm


@dataclass(frozen=True)
class RadiusTemplate:
    """Rows of one member as a polynomial in one isotope's neutron radius.

    Delta(R) = sum_{k=1..degree} coeffs[k] (R - origin)^k, linear beyond the grid's ends.

    Attributes
    ----------
    parameter : str
        The radius parameter (fm).
    origin_fm : float
        The member's nominal radius (Delta = 0 there exactly).
    coeffs : ndarray (degree + 1, n_flavours, 4, n_bins)
    slopes : ndarray (2, n_flavours, 4, n_bins)
        dDelta/dR at the grid's lower and upper end.
    lower, upper : float
        Grid ends relative to ``origin_fm``.
    max_residual_rel : float
        Largest |fit - recomputed| over the grid, relative to the largest |row|.
    """

    parameter: str
    origin_fm: float
    coeffs: np.ndarray
    slopes: np.ndarray
    lower: float
    upper: float
    max_residual_rel: float

    def evaluate(self, radius_fm: float) -> np.ndarray:
        """Delta of the rows at ``radius_fm`` (NumPy)."""
        return self.as_shift().evaluate(radius_fm - self.origin_fm)

    def as_shift(self) -> TemplateShift:
        """The template as a :class:`TemplateShift` driven by R - origin."""
        return TemplateShift(self.parameter, self.coeffs, self.slopes, self.lower, self.upper)

    def as_shape_term(self) -> ShapeTerm:
        """The template as a parameter-driven :class:`ShapeTerm` (response models)."""
        return ShapeTerm(
            self.parameter,
            "parameter",
            self.origin_fm,
            self.coeffs,
            self.slopes,
            None,
            None,
            self.lower,
            self.upper,
        )


def isotope_rows(
    model, setup: DetectorSetup, flavors: list[str], component: int, radius_fm: float
) -> np.ndarray:
    """One isotope's coefficient rows in a member's bins at neutron radius ``radius_fm``."""
    grid = model.spectrum_projection[0]
    rp, _ = isotope_neutron_radius_fm(setup, component)
    moved = replace(setup, neutron_skin_fm=float(radius_fm - rp))
    spectra = np.stack(
        [isotope_differential_coefficients(moved, f, component, grid) for f in flavors]
    )
    return project_spectra(model.spectrum_projection, spectra)


def radius_templates(
    model, setup: DetectorSetup, flavors: list[str], parameters: list[str]
) -> list[RadiusTemplate]:
    """Radius templates of a member for the isotopes of its target named in ``parameters``.

    The rows are recomputed at :data:`_RADIUS_NODES` radii spanning the parameter's bounds
    and fitted per bin by a polynomial of degree :data:`_RADIUS_DEGREE` in R - R0 with no
    constant term (exact at R0).
    """
    if model.spectrum_projection is None:
        raise ValueError(f"{type(model).__name__} has no spectrum_projection")
    out = []
    for component, comp in enumerate(setup.target.components):
        name = radius_parameter(comp.nucleus)
        if name is None or name not in parameters:
            continue
        _, origin = isotope_neutron_radius_fm(setup, component)
        lo, hi = _par.bounds(name)
        nodes = np.linspace(lo, hi, _RADIUS_NODES)
        at_origin = isotope_rows(model, setup, flavors, component, origin)
        values = np.stack([isotope_rows(model, setup, flavors, component, r) for r in nodes])
        x = nodes - origin
        powers = np.arange(1, _RADIUS_DEGREE + 1)
        flat = (values - at_origin).reshape(nodes.size, -1)
        # scaled Vandermonde: columns of order one, so the least-squares solve is well posed
        span = float(np.abs(x).max())
        sol, *_ = np.linalg.lstsq((x[:, None] / span) ** powers[None, :], flat, rcond=None)
        sol = sol / span ** powers[:, None]
        coeffs = np.concatenate([np.zeros((1, flat.shape[1])), sol]).reshape(
            _RADIUS_DEGREE + 1, *at_origin.shape
        )
        fitted = np.tensordot(x[:, None] ** np.arange(_RADIUS_DEGREE + 1)[None, :], coeffs, 1)
        scale = max(float(np.abs(values).max()), 1e-300)
        residual = float(np.abs(fitted - (values - at_origin)).max() / scale)
        slopes = np.stack(
            [
                np.tensordot(powers * x[0] ** (powers - 1), coeffs[1:], 1),
                np.tensordot(powers * x[-1] ** (powers - 1), coeffs[1:], 1),
            ]
        )
        out.append(
            RadiusTemplate(name, float(origin), coeffs, slopes, float(x[0]), float(x[-1]), residual)
        )
    return out


@dataclass(eq=False)
class JointMember:
    """One data set of a joint model.

    Attributes
    ----------
    label : str
        Short name, the prefix of its nuisances (``"csi2021"``).
    model : ExpectationModel
        The member's model with its radius templates added.
    renames : dict
        Joint nuisance name -> the member's own name.
    radius_origins : dict
        Radius parameter -> the member's nominal radius (fm), for members whose templates
        are driven through the nuisance mapping (:class:`TemplateShift`).
    n_bins : int
    """

    label: str
    model: Any
    renames: dict[str, str]
    radius_origins: dict[str, float]
    n_bins: int


@dataclass(eq=False)
class JointModel(ModelBase):
    """Several data sets in one likelihood (``ExpectationModel``); see the module docstring.

    Attributes
    ----------
    observed : ndarray
        The members' observed counts, concatenated in member order.
    parameter_names : list of str
    nuisances : list of NuisanceSpec
        The shared flux normalisation and every member's own nuisances, renamed.
    bin_labels : list of tuple
        ``(label, *member bin label)``.
    fixed : dict
        Values of the parameters that are not free (radii at their nominal values).
    members : list of JointMember
    notes : dict
    """

    observed: np.ndarray
    parameter_names: list[str]
    nuisances: list[NuisanceSpec]
    bin_labels: list
    fixed: dict[str, float]
    members: list[JointMember]
    notes: dict[str, Any] = field(default_factory=dict)
    #: Whether :meth:`jacobian` is exact for every member (the fitter then uses it; set
    #: False for numerical derivatives).
    has_jacobian: bool = False

    def jacobian(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any], names: list[str]
    ) -> dict[str, np.ndarray]:
        """Exact d expected / d x for the physics parameters ``names`` and every nuisance.

        Each member's derivatives (:mod:`.jacobians`) placed in its bins: shared physics
        parameters and the shared flux scale collect every member's, a member's own
        nuisance only its own. Arrays of shape (n_bins,), (size, n_bins) for vectors.
        """
        n_total = self.observed.size
        out: dict[str, np.ndarray] = {name: np.zeros(n_total) for name in names}
        for spec in self.nuisances:
            out[spec.name] = np.zeros((spec.size, n_total) if spec.size > 1 else n_total)
        for m, sl in zip(self.members, self.member_slices().values(), strict=True):
            p, n = self.member_inputs(m, params, nuisances)
            jac = m.model.jacobian(p, n, list(names))
            for name in names:
                if name in jac:
                    out[name][..., sl] += jac[name]
            for joint_name, own in m.renames.items():
                if own in jac:
                    out[joint_name][..., sl] += jac[own]
        return out

    def member_inputs(
        self, member: JointMember, params: Mapping[str, Any], nuisances: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The physics parameters and nuisances (member names) a member sees."""
        p = {**self.fixed, **params}
        n = {own: nuisances[joint] for joint, own in member.renames.items() if joint in nuisances}
        for name, origin in member.radius_origins.items():
            n[name] = p.get(name, origin) - origin
        return p, n

    def expected(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """Expected counts per bin, the members' concatenated (NumPy or PyTensor).

        On NumPy a member whose inputs equal those of the previous call is not recomputed:
        a numerical gradient moves one nuisance at a time, which changes one member only.
        """
        if xp is not np:
            return xp.concatenate(
                [
                    m.model.expected(*self.member_inputs(m, params, nuisances), xp=xp)
                    for m in self.members
                ]
            )
        cache = self.__dict__.setdefault("_last_expected", {})
        parts = []
        for m in self.members:
            p, n = self.member_inputs(m, params, nuisances)
            key = _inputs_key(p, n)
            hit = cache.get(m.label)
            if hit is None or hit[0] != key:
                value = np.asarray(m.model.expected(p, n), dtype=float)
                hit = (key, np.broadcast_to(value, (m.n_bins,)).copy())
                cache[m.label] = hit
            parts.append(hit[1])
        return np.concatenate(parts)

    def signal(self, params: Mapping[str, Any], nuisances: Mapping[str, Any], xp=np):
        """Expected CEvNS counts per bin, the members' concatenated."""
        parts = []
        for m in self.members:
            s = m.model.signal(*self.member_inputs(m, params, nuisances), xp=xp)
            if xp is np:
                s = np.broadcast_to(np.asarray(s, float), (m.n_bins,))
            parts.append(s)
        return xp.concatenate(parts)

    def member_slices(self) -> dict[str, slice]:
        """Bins of each member in the concatenated vector."""
        out, start = {}, 0
        for m in self.members:
            out[m.label] = slice(start, start + m.n_bins)
            start += m.n_bins
        return out

    def components(
        self, params: Mapping[str, Any], nuisances: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        """Each member's components, keyed ``"<label>.<component>"`` (the member's bins only)."""
        out = {}
        for m in self.members:
            if hasattr(m.model, "components"):
                for k, v in m.model.components(*self.member_inputs(m, params, nuisances)).items():
                    out[f"{m.label}.{k}"] = v
        return out


def _member_has_jacobian(model) -> bool:
    """Whether :mod:`.jacobians` covers a member model (radius templates included)."""
    return isinstance(model, LArModel | ResponseModel) and model.has_jacobian


def _inputs_key(params: Mapping[str, Any], nuisances: Mapping[str, Any]) -> tuple:
    """A hashable snapshot of a member's inputs (exact values, so a cache hit is exact)."""
    return tuple(
        (k, np.asarray(v, dtype=float).tobytes())
        for d in (params, nuisances)
        for k, v in sorted(d.items())
    )


def build_joint_model(
    members: list[tuple[str, Any, Any]],
    free: list[str],
    fixed: Mapping[str, float],
    flux_sigma: float,
    flux_pooling: str = "complete",
) -> JointModel:
    """Join member models into one :class:`JointModel`.

    Parameters
    ----------
    members : list of (label, study, model)
        Each data set's label, its :class:`~cenns_bayes.specs.Study` and its built model
        (which must carry a ``flux_norm`` nuisance and a ``spectrum_projection``).
    free : list of str
        Free physics parameters of the joint fit (radius templates are built for the free
        radii only).
    fixed : mapping
        Values of the other physics parameters.
    flux_sigma : float
        Relative width of the shared log-normal flux normalisation.
    flux_pooling : {"complete", "none"}
        One flux normalisation for every member, or each member's own.
    """
    if flux_pooling not in ("complete", "none"):
        raise ValueError(f"flux_pooling must be 'complete' or 'none', not {flux_pooling!r}")
    radii = [p for p in free if p in RADIUS_PARAMETERS.values()]
    nuisances: list[NuisanceSpec] = []
    if flux_pooling == "complete":
        nuisances.append(
            NuisanceSpec(
                "flux_norm",
                "lognormal",
                flux_sigma,
                description="SNS neutrinos per proton, shared by every data set (log-normal "
                "scale on each data set's own nominal value)",
            )
        )
    joined: list[JointMember] = []
    labels: list = []
    observed = []
    notes: dict[str, Any] = {"radius_templates": {}}
    radius_fixed: dict[str, float] = {}
    for label, study, model in members:
        names = {n.name for n in model.nuisances}
        if "flux_norm" not in names:
            raise ValueError(
                f"{study.path}: nuisances.flux_sigma: a joint member needs flux_sigma > 0"
            )
        renames: dict[str, str] = {}
        for n in model.nuisances:
            if n.name == "flux_norm" and flux_pooling == "complete":
                renames["flux_norm"] = "flux_norm"
                continue
            joint_name = f"{label}.{n.name}"
            renames[joint_name] = n.name
            nuisances.append(replace(n, name=joint_name))
        setup = study.setup(study.response_detector)
        for component in range(len(setup.target.components)):
            pname = radius_parameter(setup.target.components[component].nucleus)
            if pname is not None:
                radius_fixed.setdefault(pname, isotope_neutron_radius_fm(setup, component)[1])
        templates = radius_templates(model, setup, study.flavors, radii) if radii else []
        origins: dict[str, float] = {}
        if templates:
            if isinstance(model, ResponseModel):
                model = replace(
                    model, shape_terms=[*model.shape_terms, *(t.as_shape_term() for t in templates)]
                )
            elif isinstance(model, LArModel):
                model = replace(
                    model, cevns_terms=[*model.cevns_terms, *(t.as_shift() for t in templates)]
                )
                origins = {t.parameter: t.origin_fm for t in templates}
            else:
                raise TypeError(f"{label}: no radius templates for {type(model).__name__}")
            notes["radius_templates"][label] = {
                t.parameter: {"origin_fm": t.origin_fm, "max_residual_rel": t.max_residual_rel}
                for t in templates
            }
        n_bins = int(np.asarray(model.observed).size)
        joined.append(JointMember(label, model, renames, origins, n_bins))
        labels += [(label, *b) if isinstance(b, tuple) else (label, b) for b in model.bin_labels]
        observed.append(np.asarray(model.observed, float))
    all_fixed = {**radius_fixed, **{k: v for k, v in fixed.items() if k not in free}}
    notes["nominal_radii_fm"] = radius_fixed
    return JointModel(
        observed=np.concatenate(observed),
        parameter_names=[*JOINT_PARAMETERS, "signal_strength"],
        nuisances=nuisances,
        bin_labels=labels,
        fixed=all_fixed,
        members=joined,
        notes=notes,
        has_jacobian=all(_member_has_jacobian(m.model) for m in joined),
    )


# ---------------------------------------------------------------------- studies


def member_models(study) -> dict[str, Any]:
    """Each member's model, built once per joint study (cached on it)."""
    from .binned import model_for_study

    cache = study._cache.setdefault("member_models", {})
    for label, member in study.members.items():
        if label not in cache:
            cache[label] = model_for_study(member)
    return cache


def joint_model_for_study(study, labels: list[str] | None = None) -> JointModel:
    """The :class:`JointModel` of a joint study's selected fit (of some members only, if given).

    One member alone gives that data set's own likelihood, with the fit's parameters
    (radii included) entering exactly as in the joint model.
    """
    models = member_models(study)
    chosen = list(study.members) if labels is None else labels
    nuis = study.spec.nuisances
    free = study.free_parameters
    key = (
        "joint",
        tuple(chosen),
        tuple(sorted(p for p in free if p in RADIUS_PARAMETERS.values())),
    )
    cache = study._cache.setdefault("joint_models", {})
    if key not in cache:
        cache[key] = build_joint_model(
            [(label, study.members[label], models[label]) for label in chosen],
            free,
            study.true_parameters(),
            nuis.flux_sigma,
            nuis.flux_pooling if len(chosen) > 1 else "complete",
        )
    model = cache[key]
    # the non-free parameters at the spec's values, the radii at their nominal values
    model.fixed = {
        **model.notes["nominal_radii_fm"],
        **{k: v for k, v in study.true_parameters().items() if k not in free},
    }
    return model


def _fit_one(model: JointModel, free: list[str], bounds: dict, progress=None) -> dict:
    """Best fit, 68 % and 90 % profile intervals of each free parameter, pulls and counts."""
    from .profile import DELTA_68, DELTA_90, ProfileFitter, nuisance_table

    fitter = ProfileFitter(model, free, bounds=bounds)
    best = fitter.best_fit()
    out: dict[str, Any] = {"parameters": {}}
    for name in free:
        if progress is not None:
            progress(f"profile of {name}")
        out["parameters"][name] = {
            "best": best.parameters[name],
            "interval_68": list(fitter.interval(name, DELTA_68)),
            "interval_90": list(fitter.interval(name, DELTA_90)),
        }
    signal = np.asarray(model.signal(best.parameters, best.nuisances), float)
    out["cevns_events_at_best"] = {
        label: float(signal[sl].sum()) for label, sl in model.member_slices().items()
    }
    if "signal_strength" in free:
        out["significance_sigma"] = fitter.significance("signal_strength", 0.0)
    out["minimum_neg2ll"] = best.neg2ll
    out["converged"] = best.success
    out["nuisances"] = nuisance_table(model, best)
    out["n_bins"] = int(model.observed.size)
    return out


def fit_bounds(study) -> dict[str, tuple[float, float]]:
    """Fit bounds of the free parameters: their uniform priors' ranges where given."""
    out = {}
    for name, prior in study.spec.priors.items():
        lo, hi = getattr(prior, "lower", None), getattr(prior, "upper", None)
        if lo is not None and hi is not None:
            plo, phi = _par.bounds(name)
            out[name] = (max(float(lo), plo), min(float(hi), phi))
    return out


def fit_joint(
    study, fits: list[str] | None = None, per_data_set: bool = True, progress=None
) -> dict:
    """Fit a joint study: each ``[[fits]]`` entry jointly and, beside it, per data set.

    Returns the JSON-ready result of ``cenns-bayes fit JOINT.toml``: per fit, the joint
    best fit and profile intervals (68 %: Delta = 1, 90 %: Delta = 2.706; for the magnetic
    moments the 90 % upper end is the limit) and the same for every member alone (only the
    parameters its data depend on; radii of isotopes it lacks are left out).
    """
    import time

    out: dict[str, Any] = {"study": study.name, "fits": {}}
    bounds = fit_bounds(study)
    names = fits or [f.name for f in study.spec.fits]
    for name in names:
        sub = study.for_fit(name)
        free = sub.free_parameters
        entry: dict[str, Any] = {"free": free}
        if progress is not None:
            progress(f"{name}: joint fit of {', '.join(free)}")
        start = time.perf_counter()
        model = joint_model_for_study(sub)
        entry["joint"] = _fit_one(model, free, bounds, progress)
        entry["joint"]["seconds"] = time.perf_counter() - start
        if per_data_set and sub.fit.per_data_set:
            entry["members"] = {}
            for label in sub.members:
                alone = joint_model_for_study(sub, [label])
                own = [
                    p for p in free if p not in RADIUS_PARAMETERS.values() or p in _radii_of(alone)
                ]
                if not own:
                    continue
                if progress is not None:
                    progress(f"{name}: {label} alone")
                start = time.perf_counter()
                entry["members"][label] = _fit_one(alone, own, bounds)
                entry["members"][label]["seconds"] = time.perf_counter() - start
        out["fits"][name] = entry
    out["details"] = {
        "members": {label: s.path for label, s in study.members.items()},
        "flux": {
            "sigma": study.spec.nuisances.flux_sigma,
            "pooling": study.spec.nuisances.flux_pooling,
        },
        "statistic": "poisson profile likelihood; intervals: Delta(-2 ln L) = 1 (68 %) and "
        "2.706 (90 %), clipped at physical bounds (mu_nu >= 0)",
        "fixed_parameters": study.true_parameters(),
        "radius_templates": {
            k: v
            for m in study._cache.get("joint_models", {}).values()
            for k, v in m.notes["radius_templates"].items()
        },
    }
    return out


def _radii_of(model: JointModel) -> set[str]:
    """Radius parameters whose isotopes the model's targets hold."""
    return set(model.notes["nominal_radii_fm"])

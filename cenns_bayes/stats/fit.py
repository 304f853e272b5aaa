"""Fitting a study: maximum likelihood, profile intervals, derived CEvNS count, significance."""

from __future__ import annotations

from .binned import model_for_study
from .profile import DELTA_68, DELTA_90, ProfileFitter, nuisance_table

__all__ = ["fit_study"]


def _flux_averaged_cross_section(study, strength: float, interval: list[float]) -> dict:
    """Measured flux-averaged cross section (per nucleus): signal strength x its SM value.

    Defined in :mod:`cenns_bayes.rates.flux_average`; the interval is the signal strength's
    profile interval (flux, quenching and efficiency uncertainties included) times the SM value.
    """
    from ..rates.flux_average import flux_averaged_cross_section_cm2

    name = study.response_detector
    sm = flux_averaged_cross_section_cm2(
        study.setup(name), study.flavors, study.true_parameters().get("sin2_theta_w", 0.23120)
    )
    return {
        "best": strength * sm,
        "interval_68": [v * sm for v in interval],
        "sm_expected": sm,
        "definition": "per target nucleus, averaged over the analysed flavours' SNS flux, "
        "all recoils, no threshold or efficiency; measured = signal_strength x SM value",
    }


def fit_study(study, model=None) -> dict:
    """Fit a study; the JSON-ready result of ``cenns-bayes fit``.

    Maximum-likelihood estimates and profile-likelihood intervals (68 %: Delta = 1,
    90 %: Delta = 2.706) for every free parameter; when ``signal_strength`` is free, the
    CEvNS count with its 68 % interval and the SM-versus-no-CEvNS significance.
    """
    free = study.free_parameters
    if not free:
        raise ValueError(f"{study.path}: priors: no free parameters to fit")
    model = model_for_study(study) if model is None else model
    fitter = ProfileFitter(model, free)
    assert fitter.fixed is not None  # ProfileFitter fills it in from the model
    best = fitter.best_fit()
    parameters = {}
    for name in free:
        parameters[name] = {
            "best": best.parameters[name],
            "interval_68": list(fitter.interval(name, DELTA_68)),
            "interval_90": list(fitter.interval(name, DELTA_90)),
        }
    derived: dict = {}
    significance = None
    if "signal_strength" in free:
        sm = {**fitter.fixed, "signal_strength": 1.0}
        derived["cevns_events"] = {
            "best": fitter.signal_events(best),
            "interval_68": list(fitter.signal_events_interval(DELTA_68)),
            "sm_expected": float(sum(model.signal(sm, model.nominal_nuisances()))),
        }
        significance = fitter.significance("signal_strength", 0.0)
        if (
            list(free) == ["signal_strength"]
            and getattr(study, "response_detector", None) is not None
        ):
            derived["flux_averaged_cross_section_cm2"] = _flux_averaged_cross_section(
                study,
                best.parameters["signal_strength"],
                parameters["signal_strength"]["interval_68"],
            )
    details = {
        "minimum_neg2ll": best.neg2ll,
        "converged": best.success,
        "n_bins": int(model.observed.size),
        "observed_total": float(model.observed.sum()),
        "expected_total_at_best": float(sum(model.expected(best.parameters, best.nuisances))),
        "data": study.spec.data.kind,
        "statistic": "poisson profile likelihood; "
        "intervals: Delta(-2 ln L) = 1 (68 %) and 2.706 (90 %)",
        "fixed_parameters": {k: v for k, v in fitter.fixed.items() if k not in free},
        "nuisances": nuisance_table(model, best),
    }
    if hasattr(model, "components"):
        details["components_at_best"] = {
            k: float(v.sum()) for k, v in model.components(best.parameters, best.nuisances).items()
        }
    return {
        "study": study.name,
        "parameters": parameters,
        "derived": derived,
        "significance_sigma": significance,
        "details": details,
    }

"""Fitting a study: maximum likelihood, profile intervals, derived CEvNS count and significance."""

from __future__ import annotations

from .binned import model_for_study
from .profile import DELTA_68, DELTA_90, ProfileFitter, nuisance_table

__all__ = ["fit_study"]


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
        if getattr(model, "cross_section_per_unit_strength_cm2", None) is not None:
            # the cross section scales with the signal strength (docs/coherent_lar_2020.md)
            unit = model.cross_section_per_unit_strength_cm2
            derived["flux_averaged_cross_section_cm2"] = {
                "best": unit * best.parameters["signal_strength"],
                "interval_68": [unit * x for x in parameters["signal_strength"]["interval_68"]],
                "sm_expected": unit,
            }
    details = {
        "minimum_neg2ll": best.neg2ll,
        "converged": best.success,
        "n_bins": int(model.observed.size),
        "observed_total": float(model.observed.sum()),
        "expected_total_at_best": float(sum(model.expected(best.parameters, best.nuisances))),
        "data": study.spec.data.kind,
        "statistic": "poisson profile likelihood; intervals: Delta(-2 ln L) = 1 (68 %) and 2.706 (90 %)",
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

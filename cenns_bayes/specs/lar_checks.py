"""Stage-2 checks of studies with a release energy response (COHERENT LAr 2020, CsI 2021)."""

from __future__ import annotations

from ..physics.nuclei import get_target
from .errors import SpecPhysicsError

__all__ = ["check_energy_response"]


def check_energy_response(study) -> None:
    """Physics consistency of ``[detectors.energy_response]``, its data and its backgrounds.

    Raises
    ------
    SpecPhysicsError
        Naming the key: LAr data or release templates without an energy response, more
        than one, a non-argon target, a second response kind, recoil bins, a binned analysis.
    """
    spec, path = study.spec, study.path
    with_energy = [i for i, d in enumerate(spec.detectors) if d.energy_response is not None]
    needs = []
    if spec.data.kind in ("coherent-lar-2020", "coherent-csi-2021"):
        needs.append("data.kind")
    if spec.backgrounds.release_templates is not None:
        needs.append("backgrounds.release_templates")
    if needs and not with_energy:
        raise SpecPhysicsError(
            path, needs[0], "needs a detector with a [detectors.energy_response] table"
        )
    if not with_energy:
        return
    if len(with_energy) > 1:
        raise SpecPhysicsError(
            path,
            f"detectors[{with_energy[1]}].energy_response",
            "only one detector may have an energy response",
        )
    i = with_energy[0]
    det = spec.detectors[i]
    key = f"detectors[{i}]"
    if any(d.response is not None for d in spec.detectors):
        raise SpecPhysicsError(
            path,
            f"{key}.energy_response",
            "a study has either a [detectors.response] or an energy response, not both",
        )
    if (
        spec.data.kind == "coherent-csi-2017"
        or spec.backgrounds.prompt_neutrons
        or spec.backgrounds.steady_state
    ):
        raise SpecPhysicsError(
            path,
            "data.kind" if spec.data.kind == "coherent-csi-2017" else "backgrounds",
            "coherent-csi-2017 data and backgrounds need a CsI [detectors.response]",
        )
    release = det.energy_response.release
    if spec.data.kind not in (release, "asimov"):
        raise SpecPhysicsError(
            path, "data.kind", f"a {release} study takes {release} or asimov data"
        )
    symbols = {c.nucleus.symbol for c in get_target(det.nucleus).components}
    wanted = {"coherent-lar-2020": ({"Ar"}, "argon"), "coherent-csi-2021": ({"Cs", "I"}, "CsI")}[
        release
    ]
    if symbols != wanted[0]:
        raise SpecPhysicsError(
            path,
            f"{key}.nucleus",
            f"the {release} response is for {wanted[1]}; got {det.nucleus!r}",
        )
    templates = spec.backgrounds.release_templates
    if templates is not None:
        foreign = {
            "coherent-lar-2020": ("neutrino_induced_neutrons",),
            "coherent-csi-2021": ("delayed_neutrons", "steady_state"),
        }[release]
        for name in foreign:
            if getattr(templates, name) is not None:
                why = (
                    "the steady state comes from the anticoincidence events"
                    if name == "steady_state"
                    else f"the {release} release has no such template"
                )
                raise SpecPhysicsError(path, f"backgrounds.release_templates.{name}", why)
    if det.recoil_bins is not None:
        raise SpecPhysicsError(
            path, f"{key}.recoil_bins", "an energy-response study is binned by the release"
        )
    if det.efficiency != 1.0:
        raise SpecPhysicsError(
            path,
            f"{key}.efficiency",
            "with an energy response the release's acceptance file is the efficiency",
        )
    if spec.analysis.binned:
        raise SpecPhysicsError(
            path, "analysis.binned", "an energy-response study is binned by the release"
        )
    if "neutron_skin_fm" in spec.priors:
        raise SpecPhysicsError(
            path, "priors.neutron_skin_fm", "not supported with an energy response"
        )

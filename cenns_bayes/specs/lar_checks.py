"""Stage-2 checks of studies with an energy response (the COHERENT LAr 2020 release)."""

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
    if spec.data.kind == "coherent-lar-2020":
        needs.append("data.kind")
    if spec.backgrounds.release_templates is not None:
        needs.append("backgrounds.release_templates")
    if needs and not with_energy:
        raise SpecPhysicsError(path, needs[0], "needs a detector with a [detectors.energy_response] table")
    if not with_energy:
        return
    if len(with_energy) > 1:
        raise SpecPhysicsError(path, f"detectors[{with_energy[1]}].energy_response",
                               "only one detector may have an energy response")
    i = with_energy[0]
    det = spec.detectors[i]
    key = f"detectors[{i}]"
    if any(d.response is not None for d in spec.detectors):
        raise SpecPhysicsError(path, f"{key}.energy_response",
                               "a study has either a [detectors.response] or an energy response, not both")
    if spec.data.kind == "coherent-csi-2017" or spec.backgrounds.prompt_neutrons or spec.backgrounds.steady_state:
        raise SpecPhysicsError(path, "data.kind" if spec.data.kind == "coherent-csi-2017" else "backgrounds",
                               "coherent-csi-2017 data and backgrounds need a CsI [detectors.response]")
    if spec.data.kind == "observed":
        raise SpecPhysicsError(path, "data.kind", "an energy-response study takes coherent-lar-2020 or asimov data")
    symbols = {c.nucleus.symbol for c in get_target(det.nucleus).components}
    if symbols != {"Ar"}:
        raise SpecPhysicsError(path, f"{key}.nucleus",
                               f"the coherent-lar-2020 response is for argon; got {det.nucleus!r}")
    if det.recoil_bins is not None:
        raise SpecPhysicsError(path, f"{key}.recoil_bins", "an energy-response study is binned by the release")
    if det.efficiency != 1.0:
        raise SpecPhysicsError(path, f"{key}.efficiency",
                               "with an energy response the release's acceptance file is the efficiency")
    if spec.analysis.binned:
        raise SpecPhysicsError(path, "analysis.binned", "an energy-response study is binned by the release")
    if "neutron_skin_fm" in spec.priors:
        raise SpecPhysicsError(path, "priors.neutron_skin_fm", "not supported with an energy response")

"""Study specifications: the TOML schema, two-stage validation, and the Study object."""

from .errors import SpecError, SpecPhysicsError, SpecStructureError
from .load import Study, apply_overrides, load_study, parse_override, parse_study

__all__ = [
    "SpecError",
    "SpecPhysicsError",
    "SpecStructureError",
    "Study",
    "apply_overrides",
    "load_study",
    "parse_override",
    "parse_study",
]

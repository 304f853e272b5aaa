"""Errors raised while loading a study spec: each names the file, the key and the problem."""

from __future__ import annotations


class SpecError(ValueError):
    """A study spec that cannot be used.

    Attributes
    ----------
    path : str
        The spec file (or ``"<string>"``).
    key : str
        Dotted key path of the offending entry (``"detectors[0].mass_kg"``), or ``""``.
    problem : str
        What is wrong and what was expected.
    """

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path, self.key, self.problem = str(path), key, problem
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem)


class SpecStructureError(SpecError):
    """Stage 1: the file is not TOML, or a key is unknown, missing, mistyped or out of range."""


class SpecPhysicsError(SpecError):
    """Stage 2: the spec is well formed but physically inconsistent (e.g. no counts possible)."""

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

    #: Longest key path and problem kept in the message (a fuzzed 200 kB value must not
    #: become a 200 kB error line).
    MAX_KEY_CHARS = 80
    MAX_PROBLEM_CHARS = 220

    def __init__(self, path: str, key: str, problem: str) -> None:
        key, problem = _clip(key, self.MAX_KEY_CHARS), _clip(problem, self.MAX_PROBLEM_CHARS)
        self.path, self.key, self.problem = str(path), key, problem
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem)


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class SpecStructureError(SpecError):
    """Stage 1: the file is not TOML, or a key is unknown, missing, mistyped or out of range."""


class SpecPhysicsError(SpecError):
    """Stage 2: the spec is well formed but physically inconsistent (e.g. no counts possible)."""

"""Mutations of the shipped study specs.

For the spec-loader fuzz test and ``benchmarks/fuzz_specs.py``.

A mutation takes a parsed spec (the dict ``tomllib`` gives) and changes one thing: a number
replaced by a non-finite, huge, tiny, negative or wrongly typed value; a string replaced by
an empty, very long, control-character or numeric one; a key deleted, misspelt, moved or
added; a list lengthened, shortened or nested; or the TOML text itself cut or corrupted.
Every mutant must either load (and give finite counts) or fail with a ``SpecError``: any
other exception is a defect.
"""

from __future__ import annotations

import copy
import json
import math
import random
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from cenns_bayes.specs import SpecError, parse_study
from cenns_bayes.specs.joint import is_joint_spec

MODELS = Path(__file__).resolve().parents[1] / "models"

#: Numbers that broke the loader before: non-finite, huge, tiny, negative, int limits.
SPECIAL_NUMBERS: tuple[Any, ...] = (
    math.inf,
    -math.inf,
    math.nan,
    0,
    0.0,
    -0.0,
    -1,
    -1.0,
    1e300,
    -1e300,
    1e-300,
    -1e-300,
    5e-324,
    1.7976931348623157e308,
    2**63 - 1,
    -(2**63),
    2**31,
    1e20,
    1e-20,
    0.5,
    1,
    2,
    1000,
)
#: Values of the wrong type for a number.
WRONG_TYPES: tuple[Any, ...] = (True, False, "text", "", "1e3", [], [1.0], {}, {"a": 1})
#: Strings that broke the loader or the terminal before.
SPECIAL_STRINGS: tuple[Any, ...] = (
    "",
    " ",
    "x" * 200_000,
    "\x1b[31mred\x1b[0m",
    "a\nb",
    "\x00",
    "Ar40",
    "max",
    "helm",
    "numu",
    "coherent-csi-2017",
    "../../etc/passwd",
    "/dev/zero",
    "é€😀",
    "1",
    1,
    1.5,
    True,
)


def shipped_specs() -> list[tuple[Path, str, dict]]:
    """(path, text, parsed dict) of every shipped model."""
    out = []
    for p in sorted(MODELS.glob("*.toml")):
        if is_joint_spec(p):  # a joint spec has its own loader
            continue
        text = p.read_text(encoding="utf-8")
        out.append((p, text, tomllib.loads(text)))
    return out


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every leaf and container (dict keys, list indices)."""
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _leaves(v, (*path, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


def _set(node: Any, path: tuple, value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


def _random_number(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(SPECIAL_NUMBERS)
    if roll < 0.8:
        return rng.choice((-1, 1)) * 10 ** rng.uniform(-320, 308)
    return rng.randint(-(2**63), 2**63 - 1)


def _misspell(rng: random.Random, key: str) -> str:
    if len(key) < 2:
        return key + "x"
    i = rng.randrange(len(key))
    op = rng.randrange(3)
    if op == 0:
        return key[:i] + key[i + 1 :]
    if op == 1:
        return key[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz_") + key[i:]
    j = min(i + 1, len(key) - 1)
    chars = list(key)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars) if "".join(chars) != key else key + "s"


def mutate(raw: dict, rng: random.Random, mode: str = "mixed") -> dict:
    """One mutation of ``raw`` (a copy); ``mode`` is ``"numeric"`` or ``"mixed"``."""
    out = copy.deepcopy(raw)
    paths = _leaves(out)
    numeric = [
        p
        for p in paths
        if isinstance(_get(out, p), (int, float)) and not isinstance(_get(out, p), bool)
    ]
    if mode == "numeric" or (numeric and rng.random() < 0.4):
        target = rng.choice(numeric or paths)
        _set(out, target, _random_number(rng))
        return out
    target = rng.choice(paths)
    value = _get(out, target)
    parent = _get(out, target[:-1])
    op = rng.randrange(10)
    if op == 0:  # wrong type
        _set(out, target, rng.choice(WRONG_TYPES))
    elif op == 1:  # special string
        _set(out, target, rng.choice(SPECIAL_STRINGS))
    elif op == 2 and isinstance(parent, dict):  # delete a key
        del parent[target[-1]]
    elif op == 3 and isinstance(parent, dict):  # misspell a key
        parent[_misspell(rng, str(target[-1]))] = parent.pop(target[-1])
    elif op == 4:  # move a key or value into another table
        tables = [p for p in paths if isinstance(_get(out, p), dict)] or [()]
        dest = _get(out, rng.choice(tables))
        dest[str(target[-1]) if not isinstance(target[-1], int) else "moved"] = copy.deepcopy(value)
    elif op == 5 and isinstance(value, list):  # change a list's length
        if value and rng.random() < 0.5:
            value.pop(rng.randrange(len(value)))
        else:
            value.append(copy.deepcopy(value[-1]) if value else _random_number(rng))
    elif op == 6:  # nest
        depth = rng.choice((1, 2, 5, 50))
        for _ in range(depth):
            value = [value] if rng.random() < 0.5 else {"x": value}
        _set(out, target, value)
    elif op == 7 and isinstance(parent, dict):  # add an unknown or known key
        parent[
            rng.choice(("mass_kg", "name", "lower", "dist", "file", "kind", "extra", "counts"))
        ] = rng.choice((*SPECIAL_NUMBERS[:6], *WRONG_TYPES[:4], *SPECIAL_STRINGS[:4]))
    elif op == 8 and isinstance(value, (int, float)) and not isinstance(value, bool):
        _set(out, target, value * rng.choice((-1, 0.0, 1e-6, 1e6, 1e300)))
    else:
        _set(out, target, _random_number(rng))
    return out


def mutate_text(text: str, rng: random.Random) -> str:
    """A mutation of the TOML text itself: cut, a byte inserted, a line dropped or doubled."""
    op = rng.randrange(4)
    i = rng.randrange(len(text) + 1)
    if op == 0:
        return text[:i]
    if op == 1:
        return (
            text[:i] + rng.choice(["[", "]", "=", '"', "\x00", "\\", "\n[[", "{", "é"]) + text[i:]
        )
    lines = text.splitlines(keepends=True)
    j = rng.randrange(len(lines))
    if op == 2:
        return "".join(lines[:j] + lines[j + 1 :])
    return "".join(lines[: j + 1] + lines[j:])


def to_toml(raw: dict) -> str | None:
    """TOML text of a mutated dict (None if TOML cannot express it, e.g. a None value)."""
    try:
        return tomli_w.dumps(raw)
    except (TypeError, ValueError):
        return None


def check_one(path: Path, text: str) -> str:
    """Load a mutant as ``cenns-bayes rates --json`` would and compute its counts.

    Returns ``"ok"`` or ``"rejected"``; any exception other than ``SpecError`` propagates
    (it would be a traceback for the user).
    """
    try:
        study = parse_study(text, path)
    except SpecError as err:
        assert "\n" not in str(err), f"multi-line error: {err!s:.300}"
        assert len(str(err)) <= 300 + len(str(path)), f"error line too long: {len(str(err))}"
        rejected = err.key.rsplit(".", 1)[-1].split("[", 1)[0]
        assert not rejected or f"did you mean {rejected!r}" not in str(err), str(err)
        assert "constrained-" not in str(err) and "function-" not in str(err), str(err)
        return "rejected"
    params = study.true_parameters()
    rows = []
    for det in study.detector_names:
        for flavor in study.flavors:
            ch = study.channel(det, flavor)
            counts = ch.counts(
                params["sin2_theta_w"], params[ch.mu_parameter], params[ch.r2_parameter]
            )
            rows.append(float(counts.sum()))
    json.dumps({"parameters": params, "counts": rows}, allow_nan=False)
    assert all(math.isfinite(r) and r >= 0 for r in rows), rows
    return "ok"


def mutant_text(spec: tuple[Path, str, dict], rng: random.Random, mode: str) -> str:
    """Text of one mutant of ``spec``: a structural mutation written as TOML, or (mixed mode,
    one time in ten) a mutation of the text itself."""
    path, text, raw = spec
    if mode == "mixed" and rng.random() < 0.1:
        return mutate_text(text, rng)
    for _ in range(10):
        out = to_toml(mutate(raw, rng, mode))
        if out is not None:
            return out
    return text

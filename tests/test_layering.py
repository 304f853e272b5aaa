"""Architecture: each layer imports only the layers above it in docs/architecture.md.

Two checks: a static one over every module's imports (including the lazy ones inside
functions), against the order of the layer table, and a run-time one that the core
layers import without PyMC.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys

from .conftest import ROOT

PACKAGE = ROOT / "cenns_bayes"

#: Third-party modules the layers below ``bayes`` never import (docs/architecture.md).
HEAVY = ("pymc", "pytensor", "arviz", "nutpie", "matplotlib")
NO_HEAVY = ("physics", "rates", "detector", "datasets", "specs", "stats", "paper")


def layer_table() -> list[list[str]]:
    """The layer table of docs/architecture.md: folders (or modules) of each row, in order."""
    rows = []
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[1].startswith("`cenns_bayes/"):
            continue
        names = re.findall(r"`cenns_bayes/([a-z_]+)(?:/|\.py)`", cells[1])
        rows.append(names)
    return rows


def layer_of(module: str, rank: dict[str, int]) -> int | None:
    """Rank of a ``cenns_bayes.x.y`` module (None for the package root)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return rank[parts[1]]


def imports_of(path) -> list[tuple[str, int]]:
    """Absolute names of the package modules (and third-party top names) ``path`` imports."""
    rel = path.relative_to(ROOT).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
                if not node.module:  # "from .. import x": x may be a module
                    out += [(f"{name}.{alias.name}", node.lineno) for alias in node.names]
                    continue
            else:
                name = node.module or ""
            out.append((name, node.lineno))
    return out


def test_the_table_names_every_part_of_the_package():
    rows = layer_table()
    named = {n for row in rows for n in row}
    present = {
        p.name if p.is_dir() else p.stem
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.stem != "__init__")
    }
    assert present <= named, present - named
    assert len(rows) >= 10


def test_each_layer_imports_only_layers_above_it():
    rank = {name: i for i, row in enumerate(layer_table()) for name in row}
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if parts[0] == "__init__.py":
            continue
        own_name = parts[0].removesuffix(".py")
        own = rank[own_name]
        for name, line in imports_of(path):
            if name.split(".")[0] == "cenns_bayes":
                target = name.split(".")[1] if name.count(".") else None
                if target is None or target == "__init__":
                    continue  # the package root: version string only
                target = target.removesuffix(".py")
                if target in rank and rank[target] > own:
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {name} (a lower layer)")
            elif own_name in NO_HEAVY and name.split(".")[0] in HEAVY:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def _printed_by(code: str) -> str:
    """What ``code`` prints when run in a fresh interpreter (a clean ``sys.modules``)."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return res.stdout.strip()


def test_core_layers_import_without_pymc():
    code = (
        "import sys\n"
        "import cenns_bayes.physics.constants, cenns_bayes.physics.nuclei, "
        "cenns_bayes.physics.form_factors, cenns_bayes.physics.cross_sections, "
        "cenns_bayes.physics.sns, cenns_bayes.rates, cenns_bayes.rates.quadrature, "
        "cenns_bayes.specs, cenns_bayes.stats, cenns_bayes.paper.reproduce, cenns_bayes.cli.main\n"
        "from cenns_bayes.paper.reproduce import reproduce; reproduce()\n"
        "heavy = ('pymc', 'pytensor', 'arviz', 'nutpie', 'matplotlib')\n"
        "bad = [m for m in heavy if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    assert _printed_by(code) == ""


def test_reproduce_imports_no_scipy():
    """``cenns-bayes reproduce`` runs without importing SciPy (about 0.45 s of its start-up):
    its fits have one coordinate and its interval ends come from the engine's own Brent
    iteration."""
    code = (
        "import sys\n"
        "import cenns_bayes.cli.main, cenns_bayes.cli.reproduce_cmd\n"
        "from cenns_bayes.paper.reproduce import reproduce, summarise\n"
        "summarise(reproduce())\n"
        "print(','.join(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n"
    )
    assert _printed_by(code) == ""


def test_posterior_refits_of_the_direct_path_import_no_pymc():
    """Coverage toys of a counting study sample the hand-written log-density: they import
    neither PyMC nor PyTensor (about 1 s of the check's start-up) and build no PyMC model."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from cenns_bayes.calibration.common import PosteriorRefitter, SamplerSettings\n"
        "from cenns_bayes.specs import load_study\n"
        f"study = load_study({str(ROOT / 'models' / 'calibration_ge76_mu.toml')!r})\n"
        "refitter = PosteriorRefitter(study, SamplerSettings(draws=30, tune=30, chains=1))\n"
        "fit = refitter.fit(np.array([600.0, 1390.0, 940.0]), seed=1)\n"
        "assert refitter.direct and fit.draws['mu_nu_mu'].shape == (1, 30)\n"
        "assert 'model' not in vars(refitter)\n"
        "print(','.join(m for m in ('pymc', 'pytensor') if m in sys.modules))\n"
    )
    assert _printed_by(code) == ""

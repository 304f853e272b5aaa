"""scripts/package_lines.py: the line counts quoted in docs/architecture.md."""

from __future__ import annotations

import importlib.util

from .conftest import ROOT

SAMPLE = '''"""Module docstring,
two lines."""

import os  # a comment after code counts as code

# a comment line


def f(x):
    """One-line docstring."""
    y = (
        "a string inside an expression is code"
    )
    return x + len(y)
'''


def test_counts_code_without_blank_lines_comments_and_docstrings(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "package_lines", ROOT / "scripts" / "package_lines.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path / "sample.py"
    path.write_text(SAMPLE)
    # 14 lines; code: import, def, "y = (", the string, ")", return
    assert module.count(path) == (14, 6)

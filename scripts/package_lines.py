"""Count the package's Python lines: all lines, and lines of code.

Lines of code leave out blank lines, comment lines and docstrings (the string tokens
that stand alone as a statement), so that the figure follows the logic, not its prose.

Usage: ``python scripts/package_lines.py [folder]`` (default ``cenns_bayes``).
"""

from __future__ import annotations

import io
import sys
import tokenize
from pathlib import Path


def count(path: Path) -> tuple[int, int]:
    """(all lines, lines of code) of one Python file."""
    text = path.read_text(encoding="utf-8")
    prose: set[int] = set()
    previous = tokenize.NEWLINE
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT and not tok.line[: tok.start[1]].strip():
            prose.add(tok.start[0])  # a comment alone on its line
        elif tok.type == tokenize.STRING and previous in (
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
        ):
            # a string standing alone as a statement: a docstring
            prose.update(range(tok.start[0], tok.end[0] + 1))
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.type
    lines = text.splitlines()
    code = sum(1 for i, line in enumerate(lines, 1) if line.strip() and i not in prose)
    return len(lines), code


def main() -> None:
    """Print the file count, all lines and lines of code below the folder named."""
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "cenns_bayes")
    files = sorted(root.rglob("*.py"))
    total = code = 0
    for path in files:
        n_all, n_code = count(path)
        total += n_all
        code += n_code
    print(f"{len(files)} files, {total} lines, {code} lines of code")


if __name__ == "__main__":
    main()

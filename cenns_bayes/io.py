"""Writing results safely: every file appears under its name only once it is complete.

Used by every layer that writes (figures, NetCDF, reports, tables), so an interrupted
run never leaves a half-written file that looks finished.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "save_figure_atomic", "write_text_atomic"]


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` only on success.

    The finished file gets an ordinary file's permissions (0644, less the umask), not the
    0600 of a temporary file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o644 & ~umask)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically; returns the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def save_figure_atomic(fig, target: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG at ``target`` atomically; returns the path."""
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return Path(target)

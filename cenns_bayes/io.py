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

__all__ = [
    "OUTPUT_MARKER",
    "OutputError",
    "OutputFile",
    "OutputFolder",
    "atomic_path",
    "check_output_file",
    "save_figure_atomic",
    "write_text_atomic",
]


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


# --------------------------------------------------------------------------- output folders

#: Marker file in every output folder written whole, so a later run knows it may replace it.
OUTPUT_MARKER = ".cenns-bayes-output"


class OutputError(Exception):
    """An output path that cannot be used (wrong kind, not writable, or locked by another run)."""


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and not p.is_symlink():
        if p.parent == p:
            break
        p = p.parent
    return p


def check_output_file(target: str | os.PathLike, option: str = "--out") -> Path:
    """Check that ``target`` can be written as one file; create its folder and probe it.

    Raises
    ------
    OutputError
        If ``target`` is a directory, lies under a file, or its folder is not writable.
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{option} {target} is a directory; give a file name")
    _check_under_directories(target, option)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(
            f"{option} {target}: cannot write there ({err.strerror or err})"
        ) from None
    return target


def _check_under_directories(target: Path, option: str) -> None:
    anchor = _nearest_existing(Path(os.path.abspath(target)).parent)
    if anchor.exists() and not anchor.is_dir():
        raise OutputError(f"{option} {target}: {anchor} is a file, not a folder")


def _take_lock(lock_path: Path, target: Path, option: str) -> int:
    """Create ``lock_path`` and hold an exclusive ``flock`` on it; the kernel drops it if we die."""
    import fcntl

    while True:
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise OutputError(
                f"{option} {target}: cannot write there ({err.strerror or err})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError(
                f"{option} {target} is being written by another cenns-bayes run; "
                "wait for it or choose another path"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # else the previous holder removed the file meanwhile: lock the new one
            return fd
        os.close(fd)


def _drop_lock(fd: int | None, lock_path: Path) -> None:
    if fd is None:
        return
    try:
        lock_path.unlink(missing_ok=True)
    except OSError:
        pass
    os.close(fd)


class OutputFile:
    """One output file (``sample --out FILE.nc``), checked and locked before any computation.

    The file itself is written with :func:`atomic_path`; the lock refuses a second writer and
    lets this run remove the ``.part`` files of a killed one.
    """

    def __init__(self, target: str | os.PathLike, option: str = "--out") -> None:
        self.target = Path(target)
        self.option = option
        self._lock_path = self.target.parent / f".{self.target.name}.lock"
        self._lock_fd: int | None = None

    def acquire(self) -> OutputFile:
        """Check the kind and writability, take the lock, remove stale temporaries."""
        check_output_file(self.target, self.option)
        self._lock_fd = _take_lock(self._lock_path, self.target, self.option)
        for part in self.target.parent.glob(f".{self.target.name}.*.part"):
            part.unlink(missing_ok=True)
        return self

    def release(self) -> None:
        """Drop the lock."""
        _drop_lock(self._lock_fd, self._lock_path)
        self._lock_fd = None

    def __enter__(self) -> Path:
        if self._lock_fd is None:
            self.acquire()
        return self.target

    def __exit__(self, *exc) -> None:
        self.release()


class OutputFolder:
    """An output folder guarded by a lock, optionally written whole.

    ``with OutputFolder(target) as work:`` takes an exclusive lock (a second writer is
    refused at once), and yields the folder to write into:

    * ``whole=True``: a temporary sibling folder ``.NAME.tmp-PID``; on success it is swapped in
      for ``target``, so ``target`` holds either the old complete results or the new ones.
      On failure the temporary folder is removed and ``target`` is untouched.
    * ``whole=False`` (resumable commands whose append-only tables must survive an
      interruption): ``target`` itself; each file in it is written atomically.

    Temporaries left by a killed run are removed by the next run; a swap cut short between
    its two renames is completed backwards (the old results are restored).
    """

    def __init__(
        self, target: str | os.PathLike, *, whole: bool = True, option: str = "--out"
    ) -> None:
        self.target = Path(target)
        self.whole = whole
        self.option = option
        self.work: Path | None = None
        self._lock_fd: int | None = None
        self._lock_path = self.target.parent / f".{self.target.name}.lock"
        self.committed = False
        self._created = False

    # -- checks and locking (before any computation) --------------------------------
    def acquire(self) -> OutputFolder:
        """Check the target, create its parent, take the lock and clean stale temporaries."""
        t, opt = self.target, self.option
        if t.exists() and not t.is_dir():
            raise OutputError(f"{opt} {t} is a file; give a folder")
        _check_under_directories(t, opt)
        if self.whole and t.is_dir() and not self._replaceable(t):
            raise OutputError(
                f"{opt} {t} exists and is not an output folder of cenns-bayes; "
                "give a new or empty folder"
            )
        self._lock_fd = _take_lock(self._lock_path, t, opt)
        try:
            self._clean_stale()
            if self.whole:
                self.work = self.target.parent / f".{self.target.name}.tmp-{os.getpid()}"
                self.work.mkdir()
                marker = self.work / OUTPUT_MARKER
                marker.write_text("written whole by cenns-bayes\n", encoding="utf-8")
            else:
                self._created = not self.target.exists()
                self.target.mkdir(exist_ok=True)
                if not os.access(self.target, os.W_OK | os.X_OK):
                    raise OutputError(f"{opt} {t}: folder is not writable")
                self.work = self.target
        except OSError as err:
            self.release()
            raise OutputError(f"{opt} {t}: cannot write there ({err.strerror or err})") from None
        except BaseException:
            self.release()
            raise
        return self

    @staticmethod
    def _replaceable(folder: Path) -> bool:
        entries = list(folder.iterdir())
        if not entries or (folder / OUTPUT_MARKER).exists():
            return True
        if folder.resolve() in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
            return False
        # folders written before the marker existed: a study report or a set of figures
        names = {e.name for e in entries}
        return {"summary.json", "report.md"} <= names or all(
            e.is_file() and e.suffix == ".png" for e in entries
        )

    def _stale(self, kind: str) -> list[Path]:
        return sorted(self.target.parent.glob(f".{self.target.name}.{kind}-*"))

    def _clean_stale(self) -> None:
        import shutil

        old = self._stale("old")
        if old and not self.target.exists():
            os.replace(old[-1], self.target)  # a swap was cut short: restore the old results
            old = old[:-1]
        for p in [*old, *self._stale("tmp")]:
            shutil.rmtree(p, ignore_errors=True)
        if not self.whole and self.target.is_dir():
            for part in self.target.glob(".*.part"):  # files of a killed run, never renamed
                part.unlink(missing_ok=True)

    # -- finishing -------------------------------------------------------------------
    def commit(self) -> None:
        """Swap the finished temporary folder in for the target (``whole=True``)."""
        import shutil

        if not self.whole or self.work is None:
            self.committed = True
            return
        old = None
        if self.target.exists():
            old = self.target.parent / f".{self.target.name}.old-{os.getpid()}"
            os.replace(self.target, old)
        os.replace(self.work, self.target)
        self.work = self.target
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def release(self) -> None:
        """Remove an uncommitted temporary folder and drop the lock."""
        import shutil

        if self.whole and not self.committed and self.work is not None and self.work != self.target:
            shutil.rmtree(self.work, ignore_errors=True)
            self.work = None
        if not self.whole and self._created and not self.committed:
            try:
                self.target.rmdir()  # only if this run made it and wrote nothing
            except OSError:
                pass
        _drop_lock(self._lock_fd, self._lock_path)
        self._lock_fd = None

    def not_written_note(self) -> str:
        """What an interruption leaves behind, in words, for the one-line message."""
        if self.whole:
            kept = (
                "the previous results are kept" if self.target.exists() else "nothing was written"
            )
            return f"{self.target} was not changed ({kept})"
        return (
            f"finished results in {self.target} are kept; rerun with the same "
            f"{self.option} to resume"
        )

    def __enter__(self) -> Path:
        if self._lock_fd is None:
            self.acquire()
        assert self.work is not None
        return self.work

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.release()

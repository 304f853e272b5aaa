"""Scale-out of independent tasks: toys, scan points, calibration replications.

A :class:`Task` is a picklable callable with its arguments and an integer key. The
:class:`Engine` runs a list of tasks

* in the calling process (``workers=1``: tests, debugging, tiny runs);
* on a local Dask cluster of ``workers`` single-threaded worker processes (the default,
  one per core);
* on an existing Dask cluster given its scheduler address (``scheduler="tcp://..."``).

Every task receives a :class:`numpy.random.SeedSequence` derived from the run's master
seed and the task's key (``SeedSequence(seed, spawn_key=key)``), so a result depends on
the master seed and the key only: not on the number of workers, the order in which
tasks finish, the batching, or which tasks were already done.

Results are appended to a table file (JSON lines) as they finish, each line flushed at
once (a killed run loses nothing that finished) and synced to disk at least once a
second. A rerun with the same table resumes: tasks whose id is already in the table are
not run again. The table's first line records the run's metadata (master seed
and whatever identifies the computation); resuming with different metadata is refused.

File format::

    {"_meta": {"seed": 1, ...}}
    {"task": "0.3", "key": [0, 3], "elapsed_s": 0.004, ...result...}
    ...

Reload it with :func:`read_table`.

Security: a Dask scheduler runs whatever pickled task it is sent, and its workers
unpickle results. Anyone who can reach an unprotected scheduler port can run code as the
user who started it. A scheduler address that is not on this machine (and not ``tls://``)
therefore draws an :class:`InsecureSchedulerWarning` pointing to Dask's TLS set-up; see
``docs/cluster.md``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import os
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Engine",
    "InsecureSchedulerWarning",
    "ResultTable",
    "Task",
    "TaskFailedError",
    "TableMismatchError",
    "default_workers",
    "engine_or_local",
    "scheduler_security_warning",
    "read_table",
    "run_tasks",
    "single_threaded_blas",
    "task_seed",
]

#: Key of the metadata line of a table file.
META_KEY = "_meta"
#: Keys the engine adds to every row (a task's result must not use them).
RESERVED_KEYS = ("task", "key", "elapsed_s")


@dataclass(frozen=True, eq=False)
class Task:
    """One independent unit of work.

    The engine calls ``fn(*args, seed=seed_sequence, **kwargs)``; ``fn`` must be a
    module-level function (picklable) and return a mapping of JSON-serialisable values
    (one row of the result table) without the keys ``task``, ``key`` and ``elapsed_s``.

    Attributes
    ----------
    key : tuple of int
        Identifies the task within a run and keys its random seed, e.g.
        ``(point_index, toy_index)``. Keys must be unique within a run.
    fn : callable
    args : tuple
    kwargs : mapping
    """

    key: tuple[int, ...]
    fn: Callable[..., Mapping[str, Any]]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        key = tuple(int(k) for k in self.key)
        if not key or any(k < 0 for k in key):
            raise ValueError(
                f"task key must be a non-empty tuple of non-negative ints, got {self.key!r}"
            )
        object.__setattr__(self, "key", key)

    @property
    def task_id(self) -> str:
        """The key as a string, ``"3.17"``: the task's id in the table."""
        return ".".join(str(k) for k in self.key)


class TaskFailedError(RuntimeError):
    """A task raised. Results finished before it are in the table; a rerun resumes.

    Attributes
    ----------
    task_id : str
    remote_traceback : str
        The traceback from the process that ran the task.
    """

    def __init__(self, task_id: str, message: str, remote_traceback: str = "") -> None:
        self.task_id = task_id
        self.remote_traceback = remote_traceback
        super().__init__(f"task {task_id} failed: {message}")


class TableMismatchError(ValueError):
    """An existing table was written by a different computation (other seed or settings)."""


class InsecureSchedulerWarning(UserWarning):
    """A Dask scheduler is reached over a network without TLS."""


#: Dask's documentation of TLS between client, scheduler and workers.
DASK_TLS_DOCS = "https://distributed.dask.org/en/stable/tls.html"


def _is_local_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume it is reached over a network


def scheduler_security_warning(address: str) -> str | None:
    """The warning to give for a scheduler ``address``, or None when it is safe enough.

    Safe: in-process (``inproc://``) and loopback addresses (127.0.0.0/8, ::1,
    localhost), and any ``tls://`` address. Everything else -- a
    plain ``tcp://`` (or scheme-less) address of another machine -- is reachable by
    whoever can open its port, and a Dask scheduler executes the pickled tasks it is sent.
    """
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    scheme = scheme.lower()
    if scheme in ("tls", "inproc"):
        return None
    hostport = rest.split("/", 1)[0]
    host = (
        hostport.rsplit(":", 1)[0]
        if hostport.count(":") == 1 or hostport.startswith("[")
        else hostport
    )
    if _is_local_host(host):
        return None
    return (
        f"the Dask scheduler {address!r} is reached over the network without TLS: "
        "a scheduler runs any pickled task sent to it, so whoever can reach its port can "
        "run code as you. Use a tls:// address with Dask's TLS configuration "
        f"({DASK_TLS_DOCS}), or an SSH tunnel to a scheduler listening on 127.0.0.1."
    )


def task_seed(seed: int, key: Sequence[int]) -> np.random.SeedSequence:
    """The seed sequence of the task with ``key`` in a run with master ``seed``."""
    return np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key))


def default_workers() -> int:
    """Number of cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# -- the table file ---------------------------------------------------------------------
def read_table(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a table file (without the metadata line), in the order they were written.

    A partly written last line (a run killed mid-write) is ignored.
    """
    return list(_read_lines(Path(path))[1].values())


def _read_lines(path: Path) -> tuple[dict | None, dict[str, dict], int]:
    """(metadata, rows by task id, byte length of the complete lines)."""
    meta: dict | None = None
    rows: dict[str, dict] = {}
    good = 0
    with path.open("rb") as fh:
        data = fh.read()
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            break  # incomplete last line
        line = data[pos:end].strip()
        pos = end + 1
        if not line:
            good = pos
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            break
        if META_KEY in obj:
            meta = obj[META_KEY]
        else:
            rows[str(obj["task"])] = obj
        good = pos
    return meta, rows, good


class ResultTable:
    """An append-only JSON-lines table of task results, safe against interruption.

    Parameters
    ----------
    path : path-like
        The file; created with its metadata line if absent.
    meta : mapping
        What identifies the computation (JSON-serialisable). An existing file must
        carry the same metadata, else :class:`TableMismatchError`.
    """

    def __init__(self, path: str | os.PathLike, meta: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.meta = json.loads(json.dumps(dict(meta)))  # normalise (tuples -> lists)
        self.rows: dict[str, dict] = {}
        self._synced = -float("inf")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size > 0:
            old_meta, self.rows, good = _read_lines(self.path)
            if old_meta is not None and old_meta != self.meta:
                diff = sorted(
                    k for k in set(old_meta) | set(self.meta) if old_meta.get(k) != self.meta.get(k)
                )
                raise TableMismatchError(
                    f"{self.path} holds results of a different computation (differs in "
                    f"{', '.join(diff)}); use another output location or remove the file"
                )
            with self.path.open("r+b") as fh:  # drop a partly written last line
                fh.truncate(good)
            self._fh = self.path.open("a", encoding="utf-8")
            if old_meta is None:
                self._write({META_KEY: self.meta})
        else:
            self._fh = self.path.open("w", encoding="utf-8")
            self._write({META_KEY: self.meta})

    #: Longest time between syncs to disk, s (every row is flushed to the OS at once).
    SYNC_INTERVAL_S = 1.0

    def _write(self, obj: Mapping[str, Any]) -> None:
        self._fh.write(json.dumps(obj, allow_nan=False) + "\n")
        self._fh.flush()  # a killed process loses nothing that was written
        now = time.monotonic()
        if now - self._synced >= self.SYNC_INTERVAL_S:
            os.fsync(self._fh.fileno())  # and a crashed machine at most the last second
            self._synced = now

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row and flush it."""
        self._write(row)
        self.rows[str(row["task"])] = dict(row)

    def close(self) -> None:
        """Sync and close the file."""
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> ResultTable:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- running tasks ----------------------------------------------------------------------
def single_threaded_blas():
    """Limit BLAS/OpenMP pools to one thread, as Dask does for its worker processes.

    Tasks are small and one runs per core; a multi-threaded BLAS inside them (e.g. in
    L-BFGS-B) only contends for the cores, which on a busy machine makes each call
    tens of times slower. Uses threadpoolctl when installed, else changes nothing.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with the pinned environment
        return nullcontext()
    return threadpool_limits(limits=1)


def _run_batch(batch: Sequence[Task], seed: int) -> list[tuple[str, dict | None, str | None, str]]:
    """Run tasks one after the other; (task id, row or None, error or None, traceback)."""
    with single_threaded_blas():
        return _run_tasks(batch, seed)


def _run_tasks(batch: Sequence[Task], seed: int) -> list[tuple[str, dict | None, str | None, str]]:
    out: list[tuple[str, dict | None, str | None, str]] = []
    for task in batch:
        t0 = time.perf_counter()
        try:
            result = task.fn(*task.args, seed=task_seed(seed, task.key), **dict(task.kwargs))
            bad = set(result) & set(RESERVED_KEYS)
            if bad:
                raise ValueError(f"task result uses reserved key(s) {sorted(bad)}")
            row = {
                "task": task.task_id,
                "key": list(task.key),
                "elapsed_s": round(time.perf_counter() - t0, 6),
                **result,
            }
            json.dumps(row, allow_nan=False)  # fail here, in the task, if not serialisable
            out.append((task.task_id, row, None, ""))
        except Exception as err:  # noqa: BLE001 - reported to the caller with its traceback
            out.append((task.task_id, None, f"{type(err).__name__}: {err}", traceback.format_exc()))
            break
    return out


class Engine:
    """Runs tasks in-process, on a local Dask cluster or on an existing one.

    Use as a context manager; a local cluster starts at the first run that has work to
    do and is shut down on exit.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (one thread each). ``1`` runs in the calling process
        without Dask. Default: the number of available cores.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); ``workers`` is
        then ignored.
    progress : bool
        Show a progress bar (rich, on stderr).
    batch_size : int, optional
        Tasks sent to a worker at once (default: about eight batches per worker, so
        short tasks are not dominated by scheduling). Batching never changes results.
    """

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        progress: bool = True,
        batch_size: int | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.scheduler = scheduler
        self.workers = default_workers() if workers is None else int(workers)
        self.progress = progress
        self.batch_size = batch_size
        self._stack = ExitStack()
        self._client = None

    @property
    def in_process(self) -> bool:
        """True when tasks run in the calling process."""
        return self.scheduler is None and self.workers == 1

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Shut down a cluster this engine started (an external one is left running)."""
        self._client = None
        self._stack.close()

    def _get_client(self):
        if self._client is None:
            from distributed import Client, LocalCluster

            if self.scheduler is not None:
                message = scheduler_security_warning(self.scheduler)
                if message is not None:
                    warnings.warn(message, InsecureSchedulerWarning, stacklevel=3)
                try:
                    client = Client(self.scheduler, timeout="10s")
                except (OSError, TimeoutError) as err:
                    raise ConnectionError(
                        f"cannot reach the Dask scheduler at {self.scheduler!r}: {err}"
                    ) from None
                self._client = self._stack.enter_context(client)
            else:
                cluster = self._stack.enter_context(
                    LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",  # a free port: 8787 may be taken
                        silence_logs=logging.ERROR,
                    )
                )
                self._client = self._stack.enter_context(Client(cluster))
        return self._client

    def _n_slots(self) -> int:
        if self.scheduler is None:
            return self.workers
        return max(
            1,
            sum(
                w.get("nthreads", 1)
                for w in self._get_client().scheduler_info()["workers"].values()
            ),
        )

    def run(
        self,
        tasks: Sequence[Task],
        *,
        seed: int,
        table: str | os.PathLike | None = None,
        meta: Mapping[str, Any] | None = None,
        description: str = "tasks",
    ) -> list[dict]:
        """Run ``tasks`` (skipping those already in ``table``) and return every row.

        Parameters
        ----------
        tasks : sequence of Task
            Unique keys required.
        seed : int
            Master seed; task ``k`` gets ``SeedSequence(seed, spawn_key=k)``.
        table : path-like, optional
            JSON-lines result table to append to and resume from.
        meta : mapping, optional
            Identifies the computation in the table (the seed is added).
        description : str
            Label of the progress bar.

        Returns
        -------
        list of dict
            One row per task, in the order of ``tasks`` (resumed rows included).

        Raises
        ------
        TaskFailedError
            When a task raises; rows finished before are kept in the table.
        TableMismatchError
            When ``table`` holds results of another computation.
        """
        ids = [t.task_id for t in tasks]
        if len(set(ids)) != len(ids):
            raise ValueError("task keys must be unique within a run")
        full_meta = {**(meta or {}), "seed": int(seed)}
        with ExitStack() as stack:
            store = (
                stack.enter_context(ResultTable(table, full_meta)) if table is not None else None
            )
            done: dict[str, dict] = dict(store.rows) if store is not None else {}
            pending = [t for t in tasks if t.task_id not in done]
            if pending and not self.in_process:
                self._get_client()  # start or reach the cluster before showing progress
            bar = stack.enter_context(
                _progress(self.progress, description, len(tasks), len(tasks) - len(pending))
            )
            if pending:
                results = stack.enter_context(closing(self._execute(pending, int(seed))))
                for task_id, row, error, tb in results:
                    if error is not None:
                        raise TaskFailedError(task_id, error, tb)
                    assert row is not None  # a task that did not fail returned a row
                    if store is not None:
                        store.append(row)
                    done[task_id] = row
                    bar.advance()
        return [done[i] for i in ids]

    def _execute(
        self, pending: list[Task], seed: int
    ) -> Generator[tuple[str, dict | None, str | None, str], None, None]:
        if self.in_process:
            with single_threaded_blas():  # once: entering the limit costs milliseconds
                for task in pending:
                    yield from _run_tasks([task], seed)
            return
        from distributed import as_completed

        client = self._get_client()
        size = self.batch_size or max(1, math.ceil(len(pending) / (8 * self._n_slots())))
        batches = [pending[i : i + size] for i in range(0, len(pending), size)]
        run_id = uuid.uuid4().hex[:12]
        futures = [
            client.submit(_run_batch, b, seed, key=f"cenns-batch-{run_id}-{i}", pure=False)
            for i, b in enumerate(batches)
        ]
        seen: set[str] = set()
        try:
            for fut in as_completed(futures):
                seen.add(fut.key)
                entries = fut.result()
                failed = [e for e in entries if e[2] is not None]
                yield from (e for e in entries if e[2] is None)
                if failed:
                    # stop the rest, but keep every result that has already finished
                    client.cancel([f for f in futures if not f.done()])
                    for other in futures:
                        if other.key not in seen and other.status == "finished":
                            yield from (e for e in other.result() if e[2] is None)
                    yield failed[0]
                    return
        finally:
            client.cancel([f for f in futures if not f.done()])


@contextmanager
def engine_or_local(engine: Engine | None) -> Generator[Engine, None, None]:
    """``engine`` as given (left open), or a one-worker engine in this process, closed after."""
    if engine is not None:
        yield engine
        return
    with Engine(workers=1, progress=False) as local:
        yield local


def run_tasks(
    tasks: Sequence[Task],
    *,
    seed: int,
    table: str | os.PathLike | None = None,
    meta: Mapping[str, Any] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    description: str = "tasks",
) -> list[dict]:
    """Run ``tasks`` on a fresh :class:`Engine` (see :meth:`Engine.run`)."""
    with Engine(workers=workers, scheduler=scheduler, progress=progress) as engine:
        return engine.run(tasks, seed=seed, table=table, meta=meta, description=description)


class _NoBar:
    def advance(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class _RichBar:
    def __init__(self, description: str, total: int, completed: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(description, total=total, completed=completed)

    def advance(self) -> None:
        self._progress.advance(self._task)

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()


def _progress(show: bool, description: str, total: int, completed: int):
    return _RichBar(description, total, completed) if show else _NoBar()

"""Toys on a real multi-process Dask cluster give exactly the numbers of a local run.

Starts ``dask scheduler`` and two ``dask worker`` processes (one thread each) on the
loopback interface, as a user would on a batch system, runs a toy scan through
``Engine(scheduler=...)`` and compares every toy limit with the same scan run in this
process with the same seed. The cluster is shut down (and, if need be, killed) at the end;
the whole test has a time limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cenns_bayes.parallel import (
    Engine,
    InsecureSchedulerWarning,
    read_table,
    scheduler_security_warning,
)
from cenns_bayes.scans import ScanAxis, StudyScanner, run_scan

ROOT = Path(__file__).resolve().parents[1]
ARGON = ROOT / "models" / "argon_1t_20m.toml"
#: Longest time the cluster test may take, s (start-up, toys and shut-down).
TIME_LIMIT_S = 240
DASK = Path(sys.executable).with_name("dask")


class ClusterTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int):
    """Raise :class:`ClusterTimeout` in the test if it runs longer than ``seconds``."""

    def on_alarm(signum, frame):
        raise ClusterTimeout(f"the Dask cluster test exceeded {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _stop(procs: list[subprocess.Popen]) -> None:
    """Terminate the processes we started (each in its own session), kill what lingers."""
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


@pytest.fixture
def dask_cluster(tmp_path):
    """(scheduler address, [scheduler, worker, worker] processes) on 127.0.0.1."""
    if not DASK.exists():
        pytest.skip(f"no dask command beside {sys.executable}")
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    info = tmp_path / "scheduler.json"
    common = dict(
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "cluster.log", "w"),
    )
    procs = [
        subprocess.Popen(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            **common,
        )
    ]
    try:
        deadline = time.monotonic() + 90
        while not info.exists() or not info.read_text().strip():
            if procs[0].poll() is not None or time.monotonic() > deadline:
                log = (tmp_path / "cluster.log").read_text()
                raise RuntimeError("dask scheduler did not start:\n" + log)
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        str(DASK),
                        "worker",
                        "--scheduler-file",
                        str(info),
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--name",
                        f"test-worker-{i}",
                        "--local-directory",
                        str(tmp_path / f"w{i}"),
                    ],
                    **common,
                )
            )
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            pids = client.run(os.getpid)
        assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
        yield address, procs
    finally:
        _stop(procs)
        common["stderr"].close()


def test_toys_on_two_worker_processes_equal_a_local_run(dask_cluster, tmp_path):
    address, procs = dask_cluster
    assert scheduler_security_warning(address) is None  # loopback: no warning
    scanner = StudyScanner.from_file(ARGON)
    axes = [ScanAxis("detectors.Ar.mass_kg", (500.0, 1000.0))]
    kw = dict(toys=6, seed=424242)
    with time_limit(TIME_LIMIT_S):
        with Engine(scheduler=address, progress=False, batch_size=2) as engine:
            assert engine._n_slots() == 2
            remote = run_scan(
                scanner, axes, "mu_nu_mu", engine=engine, out_dir=tmp_path / "remote", **kw
            )
        local = run_scan(scanner, axes, "mu_nu_mu", out_dir=tmp_path / "local", **kw)
    rows_remote = {r["task"]: r["limit"] for r in read_table(tmp_path / "remote" / "toys.jsonl")}
    rows_local = {r["task"]: r["limit"] for r in read_table(tmp_path / "local" / "toys.jsonl")}
    assert len(rows_local) == 12
    assert rows_remote == rows_local  # every toy limit, bit for bit
    for a, b in zip(remote.points, local.points, strict=True):
        assert a.band == b.band and a.band is not None
    assert all(p.poll() is None for p in procs)  # the cluster stayed up throughout


def test_cluster_processes_are_gone_after_the_test(tmp_path):
    """The fixture's clean-up: processes started in their own session are all stopped."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
        )
        for _ in range(2)
    ]
    _stop(procs)
    assert all(p.returncode is not None for p in procs)


@pytest.mark.parametrize(
    "address, warns",
    [
        ("tcp://127.0.0.1:8786", False),
        ("localhost:8786", False),
        ("tcp://[::1]:8786", False),
        ("tls://10.1.2.3:8786", False),
        ("tcp://10.1.2.3:8786", True),
        ("node17:8786", True),
        ("tcp://login.cluster.example:8786", True),
    ],
)
def test_non_local_scheduler_without_tls_warns(address, warns):
    message = scheduler_security_warning(address)
    assert (message is not None) == warns
    if warns:
        assert "tls.html" in message and "pickled" in message


def test_engine_warns_before_connecting_to_a_remote_scheduler(monkeypatch):
    import distributed

    def unreachable(address, **kwargs):
        raise OSError(f"no scheduler at {address}")

    monkeypatch.setattr(distributed, "Client", unreachable)
    with Engine(scheduler="tcp://192.0.2.1:8786", progress=False) as engine:
        with (
            pytest.warns(InsecureSchedulerWarning, match="TLS"),
            pytest.raises(ConnectionError, match="cannot reach"),
        ):
            engine._get_client()

"""The scale-out engine: seeds, resumable tables, failures, and a small Dask cluster."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cenns_bayes.parallel import (
    Engine,
    TableMismatchError,
    Task,
    TaskFailedError,
    read_table,
    run_tasks,
    task_seed,
)


def draw(n: int, log: str | None = None, fail_on: int | None = None, *, seed) -> dict:
    """A task: n normal draws from the task's seed; logs its call; may fail on purpose."""
    if log is not None:
        with open(log, "a") as fh:
            fh.write(f"{n}\n")
    if fail_on is not None and n == fail_on:
        raise ArithmeticError(f"planned failure at {n}")
    x = np.random.default_rng(seed).normal(size=3)
    return {"n": n, "x": [float(v) for v in x]}


def tasks(n: int, log=None, fail_on=None) -> list[Task]:
    return [Task((i,), draw, (i, None if log is None else str(log), fail_on)) for i in range(n)]


def results(rows):
    return [(r["task"], r["n"], r["x"]) for r in rows]


def test_seeds_depend_on_master_seed_and_key_only():
    a = run_tasks(tasks(6), seed=7, workers=1, progress=False)
    b = run_tasks(list(reversed(tasks(6))), seed=7, workers=1, progress=False)
    assert results(a) == sorted(results(b))
    c = run_tasks(tasks(6), seed=8, workers=1, progress=False)
    assert all(ra["x"] != rc["x"] for ra, rc in zip(a, c, strict=True))
    # different keys give different streams; a task's stream is SeedSequence(seed, spawn_key=key)
    assert len({tuple(r["x"]) for r in a}) == 6
    expected = np.random.default_rng(task_seed(7, (3,))).normal(size=3)
    assert a[3]["x"] == [float(v) for v in expected]


def test_resume_runs_no_task_twice(tmp_path):
    log = tmp_path / "calls.log"
    table = tmp_path / "table.jsonl"
    meta = {"kind": "unit-test"}
    run_tasks(tasks(10, log)[:5], seed=3, table=table, meta=meta, workers=1, progress=False)
    rows = run_tasks(tasks(10, log), seed=3, table=table, meta=meta, workers=1, progress=False)
    calls = [int(x) for x in log.read_text().split()]
    assert sorted(calls) == list(range(10))  # each task ran exactly once
    assert [r["task"] for r in rows] == [str(i) for i in range(10)]
    fresh = run_tasks(tasks(10), seed=3, workers=1, progress=False)
    assert results(rows) == results(fresh)  # resuming does not change any result
    assert results(read_table(table)) == sorted(results(fresh))


def test_truncated_last_line_is_redone(tmp_path):
    table = tmp_path / "t.jsonl"
    full = run_tasks(tasks(4), seed=1, table=table, workers=1, progress=False)
    lines = table.read_text().splitlines(keepends=True)
    table.write_text("".join(lines[:-1]) + lines[-1][:15])  # killed while writing the last row
    assert len(read_table(table)) == 3
    log = tmp_path / "calls.log"
    again = run_tasks(tasks(4, log), seed=1, table=table, workers=1, progress=False)
    assert log.read_text().split() == ["3"]
    assert results(again) == results(full)
    assert all(json.loads(line) for line in table.read_text().splitlines())


def test_failure_keeps_finished_results_and_resume_completes(tmp_path):
    table = tmp_path / "t.jsonl"
    log = tmp_path / "calls.log"
    match = r"task 4 failed: ArithmeticError: planned failure"
    with pytest.raises(TaskFailedError, match=match) as info:
        run_tasks(tasks(8, log, fail_on=4), seed=2, table=table, workers=1, progress=False)
    assert "planned failure" in info.value.remote_traceback
    assert [r["task"] for r in read_table(table)] == ["0", "1", "2", "3"]
    log.unlink()
    rows = run_tasks(tasks(8, log), seed=2, table=table, workers=1, progress=False)
    assert sorted(int(x) for x in log.read_text().split()) == [4, 5, 6, 7]
    assert results(rows) == results(run_tasks(tasks(8), seed=2, workers=1, progress=False))


def test_table_of_another_computation_is_refused(tmp_path):
    table = tmp_path / "t.jsonl"
    run_tasks(tasks(2), seed=1, table=table, meta={"study": "a"}, workers=1, progress=False)
    with pytest.raises(TableMismatchError, match="seed"):
        run_tasks(tasks(2), seed=2, table=table, meta={"study": "a"}, workers=1, progress=False)
    with pytest.raises(TableMismatchError, match="study"):
        run_tasks(tasks(2), seed=1, table=table, meta={"study": "b"}, workers=1, progress=False)


def test_bad_tasks_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        run_tasks(tasks(2) + tasks(1), seed=1, workers=1, progress=False)
    with pytest.raises(ValueError, match="non-negative"):
        Task((-1,), draw)
    with pytest.raises(ValueError, match="workers"):
        Engine(workers=0)


def test_two_dask_workers_match_in_process(tmp_path):
    serial = run_tasks(tasks(24), seed=11, workers=1, progress=False)
    table = tmp_path / "t.jsonl"
    log = tmp_path / "calls.log"
    with Engine(workers=2, progress=False, batch_size=5) as engine:
        assert not engine.in_process
        first = engine.run(tasks(24, log)[:10], seed=11, table=table)
        rows = engine.run(tasks(24, log), seed=11, table=table)
    assert results(first) == results(serial[:10])
    assert results(rows) == results(serial)
    assert sorted(int(x) for x in log.read_text().split()) == list(range(24))


def test_failure_on_dask_keeps_finished_results(tmp_path):
    table = tmp_path / "t.jsonl"
    with Engine(workers=2, progress=False, batch_size=1) as engine:
        with pytest.raises(TaskFailedError, match="task 5 failed"):
            engine.run(tasks(12, fail_on=5), seed=4, table=table)
        done = {r["task"] for r in read_table(table)}
        assert "5" not in done
        rows = engine.run(tasks(12), seed=4, table=table)
    assert results(rows) == results(run_tasks(tasks(12), seed=4, workers=1, progress=False))

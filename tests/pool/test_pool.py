"""The local worker pool with real worker processes; fakes only inject faults (sleep, raise, die)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from compiler_opt.pool.base import (
    DeadlineClock,
    DeadlinePolicy,
    Job,
    JobCancelled,
    JobException,
    JobResult,
    JobStatus,
    JobTimeout,
    WorkerLost,
)
from compiler_opt.pool.local import LocalPool
from tests.pool import jobs


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie not yet reaped by init counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as pool:
        yield pool


def test_results_stream_as_they_finish(pool):
    started = time.monotonic()
    results = pool.run([Job("slow", jobs.sleep_then, (3.0, "s")), Job("fast", jobs.sleep_then, (0.05, "f"))])
    first = next(results)
    first_at = time.monotonic() - started
    assert first.key == "fast" and first.ok and first.value == "f"
    assert first_at < 2.0
    second = next(results)
    assert second.key == "slow" and second.value == "s" and second.seconds >= 3.0
    assert list(results) == []


def test_a_raising_job_is_a_failed_result_and_others_complete(pool):
    results = pool.run_all(
        [
            Job("bad", jobs.fail, ("broken module",)),
            Job("odd", jobs.fail_unpicklably),
            *[Job(f"ok{i}", jobs.sleep_then, (0.0, i)) for i in range(4)],
        ]
    )
    assert results["bad"].status is JobStatus.FAILED
    assert isinstance(results["bad"].error, ValueError) and "broken module" in str(results["bad"].error)
    assert "ValueError" in results["bad"].traceback
    assert isinstance(results["odd"].error, JobException) and results["odd"].error.type_name == "_Unpicklable"
    assert results["odd"].error.key == "odd"
    assert [results[f"ok{i}"].value for i in range(4)] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        results["bad"].unwrap()


def test_timeout_kills_the_worker_and_what_it_started(pool, tmp_path):
    before = set(pool.worker_pids())
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    results = pool.run_all(
        [
            Job("hang", jobs.spawn_grandchild_and_hang, (str(pid_file),), timeout=1.5),
            Job("quick", jobs.sleep_then, (0.0, 1)),
        ],
        timeout=60,
    )
    assert time.monotonic() - started < 10
    hang = results["hang"]
    assert hang.status is JobStatus.TIMEOUT and isinstance(hang.error, JobTimeout) and hang.error.key == "hang"
    assert results["quick"].ok
    assert _wait_gone(int(pid_file.read_text())), "the job's own child (in another session) outlived it"
    killed = before - set(pool.worker_pids())
    assert len(killed) == 1 and all(_wait_gone(pid) for pid in killed)
    # The pool keeps working with a fresh worker in that slot.
    again = pool.run_all([Job(f"j{i}", jobs.sleep_then, (0.0, i)) for i in range(4)])
    assert all(r.ok for r in again.values())
    assert len(pool.worker_pids()) == 2


def test_a_dying_worker_is_a_lost_result(pool):
    results = pool.run_all([Job("die", jobs.die, (3,)), Job("fine", jobs.sleep_then, (0.0, "x"))])
    assert results["die"].status is JobStatus.LOST and isinstance(results["die"].error, WorkerLost)
    assert "exit status 3" in str(results["die"].error)
    assert results["fine"].value == "x"
    assert pool.run_all([Job("after", jobs.sleep_then, (0.0, 7))])["after"].value == 7


def test_deadline_cancels_stragglers_and_accounts_for_every_job(pool):
    batch = [
        Job("f1", jobs.sleep_then, (0.05, 1)),
        Job("f2", jobs.sleep_then, (0.05, 2)),
        Job("s1", jobs.sleep_then, (60, 3)),
        Job("s2", jobs.sleep_then, (60, 4)),
        Job("q1", jobs.sleep_then, (0.0, 5)),
        Job("q2", jobs.sleep_then, (0.0, 6)),
    ]
    started = time.monotonic()
    # 2 of 6 in (a third) starts a 1 s grace; both workers are then stuck on s1, s2.
    results = pool.run_all(batch, deadline=DeadlinePolicy(quorum=1 / 3, grace_seconds=1.0))
    assert time.monotonic() - started < 8
    assert set(results) == {job.key for job in batch}
    assert results["f1"].ok and results["f2"].ok
    for key in ("s1", "s2", "q1", "q2"):
        assert results[key].status is JobStatus.CANCELLED and isinstance(results[key].error, JobCancelled)
    assert "killed" in str(results["s1"].error) and "not started" in str(results["q1"].error)
    assert pool.run_all([Job("after", jobs.sleep_then, (0.0, 8))])["after"].value == 8


def test_deadline_policy_grace():
    assert DeadlinePolicy(grace_seconds=5).grace([1, 2, 3]) == 5
    assert DeadlinePolicy(median_factor=3).grace([1, 2, 10]) == 6
    assert DeadlinePolicy(grace_seconds=1, median_factor=2).grace([4]) == 8
    assert DeadlinePolicy().grace([4]) == 0
    with pytest.raises(ValueError):
        DeadlinePolicy(quorum=0)
    clock = DeadlineClock(DeadlinePolicy(quorum=0.9, median_factor=2), total=10)
    for i in range(8):
        clock.note(JobResult(str(i), JobStatus.OK, seconds=1.0), now=100.0)
    assert clock.seconds_left(100.0) is None
    clock.note(JobResult("9", JobStatus.FAILED), now=100.0)
    assert clock.seconds_left(100.0) == 2.0 and not clock.expired(101.0) and clock.expired(102.0)


def test_shared_object_reaches_jobs_once_per_worker(pool):
    big = list(range(200_000))
    ref = pool.share(big)
    results = pool.run_all([Job(f"j{i}", jobs.shared_size, (ref,), {"extra": i}) for i in range(8)])
    assert [results[f"j{i}"].value[1] for i in range(8)] == [200_000 + i for i in range(8)]
    # Within one worker every job sees the same (cached) object.
    by_worker: dict[int, set[int]] = {}
    for result in results.values():
        pid, _, identity = result.value
        by_worker.setdefault(pid, set()).add(identity)
    assert all(len(ids) == 1 for ids in by_worker.values())
    pool.release(ref)
    stale = pool.run_all([Job("stale", jobs.shared_size, (ref,))])["stale"]
    assert stale.status is JobStatus.FAILED and isinstance(stale.error, JobException)


def test_workers_are_pinned_reused_and_use_their_own_temp_dirs(pool):
    first = pool.run_all([Job(f"w{i}", jobs.whoami) for i in range(6)])
    second = pool.run_all([Job(f"w{i}", jobs.whoami) for i in range(6)])
    pids = {r.value[0] for r in first.values()}
    assert pids == {r.value[0] for r in second.values()} == set(pool.worker_pids())
    allowed = os.sched_getaffinity(0)
    for _pid, affinity, tmpdir in (r.value for r in first.values()):
        assert len(affinity) == 1 or len(allowed) == 1
        assert tmpdir and Path(tmpdir).is_dir() and Path(tmpdir).name.startswith("worker-")
    if len(allowed) >= 2:
        assert len({tuple(r.value[1]) for r in first.values()}) == 2


def test_abandoning_a_run_kills_its_jobs(pool):
    results = pool.run([Job("fast", jobs.sleep_then, (0.0, 1)), Job("slow", jobs.sleep_then, (60, 2))])
    assert next(results).key == "fast"
    busy = set(pool.worker_pids())
    results.close()
    assert len(set(pool.worker_pids()) & busy) <= 1
    assert pool.run_all([Job("after", jobs.sleep_then, (0.0, 9))])["after"].value == 9


def test_duplicate_keys_and_unpicklable_jobs(pool):
    with pytest.raises(ValueError):
        pool.run([Job("a", jobs.whoami), Job("a", jobs.whoami)])
    result = pool.run_all([Job("lambda", lambda: 1)])["lambda"]
    assert result.status is JobStatus.FAILED and "pickled" in str(result.error)


def test_close_leaves_no_process_or_temp_dir():
    pool = LocalPool(2, start_method="spawn")
    results = pool.run_all([Job(f"w{i}", jobs.whoami) for i in range(2)])
    pids = pool.worker_pids()
    tmpdirs = {Path(r.value[2]) for r in results.values()}
    assert len(pids) == 2
    pool.close()
    assert all(_wait_gone(pid) for pid in pids)
    assert not any(d.exists() or d.parent.exists() for d in tmpdirs)
    with pytest.raises(RuntimeError):
        list(pool.run([Job("x", jobs.whoami)]))


def test_jobs_compile_real_modules_in_workers(pool, toolchain, modules):
    from compiler_opt.collect.trace import trace_module
    from compiler_opt.problems import get_problem

    batch = [
        Job(f"{name}:{policy}", jobs.trace, (toolchain, "inlining", policy, built.command(toolchain)))
        for name, built in modules.items()
        for policy in ("default", "never")
    ]
    results = pool.run_all(batch, timeout=120)
    assert all(r.ok for r in results.values()), [str(r.error) for r in results.values() if not r.ok]
    decisions, size = results["calls:default"].value
    assert decisions > 0 and size > 0
    here = trace_module(toolchain, get_problem("inlining"), "default", modules["calls"].command(toolchain))
    assert (here.decisions, here.score.value) == (decisions, size)


def test_interpreter_exit_leaves_no_worker(tmp_path):
    """A program that never closes its pool, with a job still running, leaves nothing behind."""
    import subprocess
    import sys

    script = tmp_path / "forgetful.py"
    script.write_text(
        "from compiler_opt.pool.base import Job\nfrom compiler_opt.pool.local import LocalPool\n"
        "from tests.pool import jobs\n"
        "if __name__ == '__main__':\n"
        "    pool = LocalPool(2)\n"
        "    results = pool.run([Job('fast', jobs.whoami), Job('slow', jobs.sleep_then, (120, 1))])\n"
        "    tmpdir = next(results).value[2]\n"
        "    print(' '.join(map(str, pool.worker_pids())), tmpdir, flush=True)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, cwd=root, env=env, timeout=60
    ).stdout.split()
    assert time.monotonic() - started < 30
    *pids, tmpdir = out
    assert len(pids) == 2
    assert all(_wait_gone(int(pid)) for pid in pids)
    assert not Path(tmpdir).parent.exists()

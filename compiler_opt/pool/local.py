"""The local backend of `WorkerPool`: one long-lived worker process per CPU.

Workers start from a `forkserver` (default) or `spawn` context, never by
forking the caller, which may hold TensorFlow and its threads. The forkserver
preloads this module (numpy and the LLVM layer, no TensorFlow), so starting a
worker, or replacing a killed one, is a fork of a warm process. Like any
multiprocessing child, a worker imports the caller's `__main__` module by
path (not as `__main__`): keep entry scripts light.

Each worker
- pins itself to one CPU (worker k to the k-th allowed CPU, round robin), so
  the compiler it starts and the interactive channel share that CPU (see
  `compiler_opt.llvm.channel`), and workers do not migrate;
- runs in its own session (a Ctrl-C in the terminal reaches only the
  caller, who then closes the pool), with its own temp dir under the pool's
  (`TMPDIR`), removed when the worker is killed or the pool closes;
- is reused by every run until the pool closes, and caches the shared objects
  it has been sent.

A job over its time limit, a cancelled straggler, or a job whose run was
abandoned (the caller stopped iterating) is stopped by killing its worker and
every process under it: the worker is frozen (SIGSTOP) so it cannot start
more, its descendants are found in /proc (the compiler runs in a session of
its own, so a process-group kill alone would miss it) and all are killed. The
slot gets a fresh worker when it next takes a job. `close()`, garbage
collection or interpreter exit stop every worker the same way.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import tempfile
import time
import uuid
import weakref
from collections import deque
from collections.abc import Iterator
from multiprocessing.context import ForkServerContext, SpawnContext
from typing import Any

from compiler_opt.pool.base import (
    DeadlineClock,
    DeadlinePolicy,
    Job,
    JobCancelled,
    JobException,
    JobResult,
    JobStatus,
    JobTimeout,
    SharedRef,
    WorkerLost,
    WorkerPool,
)
from compiler_opt.pool.job_call import unpacked_result
from compiler_opt.pool.local_slot import STOP_WAIT_SECONDS, WorkerSlot, shut_down

__all__ = ["LocalPool"]


class LocalPool(WorkerPool):
    """`workers` local processes (default: one per CPU this process may run on).

    `pin=False` leaves workers free to run on any allowed CPU.
    `start_method` is "forkserver" or "spawn" ("fork" is refused).
    """

    def __init__(self, workers: int | None = None, *, pin: bool = True, start_method: str = "forkserver") -> None:
        cpus = sorted(os.sched_getaffinity(0))
        count = len(cpus) if workers is None else int(workers)
        if count < 1:
            raise ValueError(f"a pool needs at least one worker, got {count}")
        if start_method not in ("forkserver", "spawn"):
            raise ValueError(
                f"start method must be 'forkserver' or 'spawn' (forking the caller is unsafe), got {start_method!r}"
            )
        self._context: ForkServerContext | SpawnContext
        if start_method == "forkserver":
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload([__name__])
        else:
            self._context = multiprocessing.get_context("spawn")
        self._id = uuid.uuid4().hex
        self._temp_root = tempfile.mkdtemp(prefix="mlgo-pool-")
        self._slots = [WorkerSlot(index, cpus[index % len(cpus)] if pin else None) for index in range(count)]
        self._shared: dict[int, bytes] = {}
        self._next_shared = itertools.count()
        self._running = False
        self._closed = False
        self._finalizer = weakref.finalize(self, shut_down, self._slots, self._temp_root)

    @property
    def workers(self) -> int:
        return len(self._slots)

    def worker_pids(self) -> list[int]:
        """The process ids of the live workers (for tests and diagnostics)."""
        return [slot.process.pid for slot in self._slots if slot.process is not None and slot.process.is_alive()]

    def share(self, obj: Any) -> SharedRef:
        self._check_open()
        ref = SharedRef(self._id, next(self._next_shared))
        self._shared[ref.id] = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return ref

    def release(self, ref: SharedRef) -> None:
        if ref.pool != self._id or self._shared.pop(ref.id, None) is None:
            return
        for slot in self._slots:
            if ref.id in slot.has:
                slot.has.discard(ref.id)
                if slot.alive():
                    try:
                        slot.conn.send(("drop", ref.id))
                    except OSError:
                        pass

    def close(self) -> None:
        self._closed = True
        self._shared.clear()
        self._finalizer()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")

    def _run(self, jobs: list[Job], timeout: float | None, deadline: DeadlinePolicy | None) -> Iterator[JobResult]:
        self._check_open()
        if self._running:
            raise RuntimeError("a LocalPool runs one batch at a time")
        self._running = True
        pending = deque(jobs)
        clock = DeadlineClock(deadline, len(jobs))
        left = len(jobs)
        try:
            while left:
                if self._closed:
                    raise RuntimeError("the pool was closed during a run")
                ready: list[JobResult] = []
                now = time.monotonic()
                # Per-job limits and the iteration deadline.
                for slot in self._slots:
                    if slot.job is not None and slot.job_deadline is not None and now >= slot.job_deadline:
                        job, seconds = slot.job, now - slot.job_started
                        worker = slot.name
                        self._kill(slot)
                        ready.append(
                            JobResult(
                                job.key,
                                JobStatus.TIMEOUT,
                                error=JobTimeout(
                                    job.key, f"job ran past its {_limit(job, timeout):g} s limit; its worker was killed"
                                ),
                                seconds=seconds,
                                worker=worker,
                            )
                        )
                if clock.expired(now):
                    ready += self._cancel_all(pending, now, "the iteration's deadline expired")
                    left -= len(ready)
                    yield from ready
                    break
                # Hand out work, wait for results, and hand out more before the caller
                # sees them, so every worker is busy while the caller handles them.
                ready += self._fill(pending, timeout)
                if not ready:
                    ready = self._wait(timeout_s=self._wait_seconds(clock))
                ready += self._fill(pending, timeout)
                for result in ready:
                    clock.note(result)
                left -= len(ready)
                yield from ready
        finally:
            # Abandoned (or failed) mid-run: nothing may keep running for it.
            for slot in self._slots:
                if slot.job is not None:
                    self._kill(slot)
            self._running = False

    def _fill(self, pending: deque, timeout: float | None) -> list[JobResult]:
        """Give queued jobs to idle workers; the results of jobs that could not be sent."""
        failures = []
        while pending and (slot := self._idle_slot()) is not None:
            failure = self._dispatch(slot, pending.popleft(), timeout)
            if failure is not None:
                failures.append(failure)
        return failures

    def _idle_slot(self) -> WorkerSlot | None:
        for slot in self._slots:
            if slot.job is None:
                return slot
        return None

    def _wait_seconds(self, clock: DeadlineClock) -> float | None:
        now = time.monotonic()
        limits = [slot.job_deadline - now for slot in self._slots if slot.job is not None and slot.job_deadline]
        left = clock.seconds_left(now)
        if left is not None:
            limits.append(left)
        return max(min(limits), 0.0) if limits else None

    def _dispatch(self, slot: WorkerSlot, job: Job, timeout: float | None) -> JobResult | None:
        """Send `job` to `slot` (starting its worker if needed); a result if it cannot be sent."""
        refs = [a for a in (*job.args, *job.kwargs.values()) if isinstance(a, SharedRef)]
        for ref in refs:
            if ref.pool != self._id or ref.id not in self._shared:
                return JobResult(
                    job.key,
                    JobStatus.FAILED,
                    error=JobException(
                        job.key, "the job uses a shared object this pool does not hold (released, or another pool's)"
                    ),
                )
        try:
            payload = pickle.dumps((job.fn, job.args, dict(job.kwargs)), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            return JobResult(
                job.key,
                JobStatus.FAILED,
                error=JobException(
                    job.key, f"the job cannot be pickled: {type(error).__name__}: {error}", type(error).__name__
                ),
            )
        if not slot.alive():
            slot.start(self._context, self._temp_root)
        try:
            for ref in refs:
                if ref.id not in slot.has:
                    slot.conn.send(("share", ref.id))
                    slot.conn.send_bytes(self._shared[ref.id])
                    slot.has.add(ref.id)
            slot.conn.send(("job", job.key, payload))
        except OSError:
            worker = slot.name
            self._kill(slot)
            return JobResult(
                job.key,
                JobStatus.LOST,
                error=WorkerLost(job.key, "its worker died before the job could be sent"),
                worker=worker,
            )
        limit = _limit(job, timeout)
        slot.job = job
        slot.job_started = time.monotonic()
        slot.job_deadline = None if limit is None else slot.job_started + limit
        return None

    def _wait(self, timeout_s: float | None) -> list[JobResult]:
        busy = [slot for slot in self._slots if slot.job is not None]
        if not busy:
            return []
        handles = {}
        for slot in busy:
            handles[slot.conn] = slot
            handles[slot.process.sentinel] = slot
        ready_handles = multiprocessing.connection.wait(list(handles), timeout_s)
        results: list[JobResult] = []
        done: set[int] = set()
        for handle in ready_handles:
            slot = handles[handle]
            if slot.index in done or slot.job is None:
                continue
            if handle is slot.conn or slot.conn.poll():
                result = self._receive(slot)
            else:
                result = None
            if result is None:  # the worker died without answering
                job, worker = slot.job, slot.name
                slot.process.join(STOP_WAIT_SECONDS)  # the pipe's EOF can come before the exit
                code = slot.process.exitcode
                self._kill(slot)
                how = (
                    f"killed by signal {-code}"
                    if code is not None and code < 0
                    else "still running; killed"
                    if code is None
                    else f"exit status {code}"
                )
                result = JobResult(
                    job.key,
                    JobStatus.LOST,
                    error=WorkerLost(job.key, f"its worker died ({how})"),
                    seconds=time.monotonic() - slot.job_started,
                    worker=worker,
                )
            done.add(slot.index)
            results.append(result)
        return results

    def _receive(self, slot: WorkerSlot) -> JobResult | None:
        job = slot.job
        assert job is not None  # only called for a busy slot (the caller skips slots with no job)
        try:
            data = slot.conn.recv_bytes()
        except (EOFError, OSError):
            return None
        slot.job = None
        slot.job_deadline = None
        return unpacked_result(job.key, data, slot.name)

    def _cancel_all(self, pending: deque, now: float, why: str) -> list[JobResult]:
        results = []
        for slot in self._slots:
            if slot.job is not None:
                job, worker = slot.job, slot.name
                self._kill(slot)
                results.append(
                    JobResult(
                        job.key,
                        JobStatus.CANCELLED,
                        error=JobCancelled(job.key, f"{why}; killed"),
                        seconds=now - slot.job_started,
                        worker=worker,
                    )
                )
        while pending:
            job = pending.popleft()
            results.append(JobResult(job.key, JobStatus.CANCELLED, error=JobCancelled(job.key, f"{why}; not started")))
        return results

    def _kill(self, slot: WorkerSlot) -> None:
        slot.stop(graceful=False)


def _limit(job: Job, timeout: float | None) -> float | None:
    return job.timeout if job.timeout is not None else timeout

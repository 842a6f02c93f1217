"""The Ray backend's scheduler: `RayPool`, which keeps at most `workers` jobs out as Ray tasks and collects them.

A job starts when it is submitted, so its time limit counts from then, and
jobs still queued when the iteration's deadline expires are "not started".
Results are fetched with `ray.wait` and yielded as they finish; the queue is
refilled before the caller sees them. A job over its limit, a straggler
cancelled by the deadline, or a job of an abandoned run is stopped with
`ray.cancel(force=True)`. A worker or node that dies under a job (crash, out
of memory, node lost, result lost) gets the job resubmitted, up to
`max_attempts` in all; a job that loses its worker on every attempt becomes
`WorkerLost` naming each failure, and the run goes on.
"""

from __future__ import annotations

import collections
import itertools
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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
from compiler_opt.pool.job_call import portable_error, unpacked_result
from compiler_opt.pool.ray_backend.connection import ClusterError, connect, disconnect, first_line, ray_module
from compiler_opt.pool.ray_backend.nodes import NodeCheck, cluster_cpus, remove_pool_dirs
from compiler_opt.pool.ray_backend.shipping import Shipper
from compiler_opt.pool.ray_backend.task import TaskHeader, execute

__all__ = ["RayPool"]

_SHIP_CACHE_BYTES = 1 << 30


@dataclass
class _Flight:
    job: Job
    attempt: int
    submitted: float
    deadline: float | None


class RayPool(WorkerPool):
    """Jobs as Ray tasks on the cluster at `address` (None: a private Ray instance on this machine, or the
    cluster this process is connected to already; `auto`: the cluster this machine is a node of).

    `workers`: at most this many jobs at once (default: every CPU of the
    cluster). `ship_modules`: stage the files each job declares (`Job.files`)
    on its node instead of reading them at their paths
    (`compiler_opt.pool.ray_backend.shipping`). `clang`: the compiler the jobs use, checked on every node
    (default: the one `find_toolchain` picks here). `max_attempts`: tries of
    a job whose worker dies. `check_nodes=False` skips the node check.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        *,
        ship_modules: bool = False,
        clang: str | os.PathLike | None = None,
        max_attempts: int = 3,
        check_nodes: bool = True,
        ship_cache_bytes: int = _SHIP_CACHE_BYTES,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"a pool needs at least one worker, got {workers}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        ray = ray_module()
        self._requested = workers
        self._max_attempts = max_attempts
        self._shipper = Shipper(ship_cache_bytes) if ship_modules else None
        self._id = uuid.uuid4().hex[:16]
        self._shared: dict[int, Any] = {}
        self._next_shared = itertools.count()
        self._running = False
        self._closed = True
        connect(address)
        self._closed = False
        try:
            self._execute = ray.remote(num_cpus=1, max_retries=0, retry_exceptions=False)(execute)
            self._node_check = NodeCheck(clang, enabled=check_nodes)
            self._node_check.check_new_nodes()
            self._slots = cluster_cpus(self._requested)
        except BaseException:
            self.close()
            raise

    # ---- the interface ---------------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self._slots

    def share(self, obj: Any) -> SharedRef:
        self._check_open()
        ref = SharedRef(self._id, next(self._next_shared))
        self._shared[ref.id] = ray_module().put(obj)
        return ref

    def release(self, ref: SharedRef) -> None:
        if ref.pool == self._id:
            self._shared.pop(ref.id, None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._shared.clear()
        if self._shipper is not None:
            self._shipper.clear()
        try:
            remove_pool_dirs(self._id)
        finally:
            disconnect()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")

    # ---- a run ---------------------------------------------------------------------------------------

    def _run(self, jobs: list[Job], timeout: float | None, deadline: DeadlinePolicy | None) -> Iterator[JobResult]:
        self._check_open()
        if self._running:
            raise RuntimeError("a RayPool runs one batch at a time")
        self._running = True
        self._node_check.check_new_nodes()
        self._slots = cluster_cpus(self._requested)
        pending: collections.deque[tuple[Job, int]] = collections.deque((job, 1) for job in jobs)
        flights: dict[Any, _Flight] = {}
        failures: dict[str, list[str]] = collections.defaultdict(list)
        clock = DeadlineClock(deadline, len(jobs))
        left = len(jobs)
        try:
            while left:
                if self._closed:
                    raise RuntimeError("the pool was closed during a run")
                now = time.monotonic()
                ready = self._time_out(flights, timeout, now)
                if clock.expired(now):
                    ready += self._cancel_all(flights, pending, now, "the iteration's deadline expired")
                    left -= len(ready)
                    yield from ready
                    break
                ready += self._fill(pending, flights, timeout)
                if not ready:
                    ready = self._wait(flights, pending, failures, self._wait_seconds(flights, clock))
                ready += self._fill(pending, flights, timeout)
                for result in ready:
                    clock.note(result)
                left -= len(ready)
                yield from ready
        finally:
            ray = ray_module()
            for ref in flights:
                _cancel(ray, ref)
            flights.clear()
            self._running = False

    def _fill(self, pending, flights: dict, timeout: float | None) -> list[JobResult]:
        """Submit queued jobs while fewer than `workers` are out; the results of jobs that could not be sent."""
        results = []
        while pending and len(flights) < self._slots:
            job, attempt = pending.popleft()
            result = self._submit(job, attempt, timeout, flights)
            if result is not None:
                results.append(result)
        return results

    def _submit(self, job: Job, attempt: int, timeout: float | None, flights: dict) -> JobResult | None:
        values = [*job.args, *job.kwargs.values()]
        shared = []
        for index, value in enumerate(values):
            if isinstance(value, SharedRef):
                if value.pool != self._id or value.id not in self._shared:
                    return JobResult(
                        job.key,
                        JobStatus.FAILED,
                        error=JobException(
                            job.key,
                            "the job uses a shared object this pool does not hold (released, or another pool's)",
                        ),
                    )
                values[index] = self._shared[value.id]
                shared.append(index)
        try:
            staged = self._shipper.ship(job.files, values) if self._shipper is not None else ()
        except OSError as error:
            return JobResult(
                job.key,
                JobStatus.FAILED,
                error=JobException(job.key, f"cannot read a module file to ship: {error}", type(error).__name__),
            )
        header = TaskHeader(job.key, self._id, len(job.args), tuple(job.kwargs), staged, tuple(shared))
        try:
            ref = self._execute.remote(header, job.fn, *values)
        except Exception as error:
            return JobResult(
                job.key,
                JobStatus.FAILED,
                error=JobException(
                    job.key,
                    f"the job cannot be pickled: {type(error).__name__}: {first_line(error)}",
                    type(error).__name__,
                ),
            )
        limit = job.timeout if job.timeout is not None else timeout
        now = time.monotonic()
        flights[ref] = _Flight(job, attempt, now, None if limit is None else now + limit)
        return None

    def _wait_seconds(self, flights: dict, clock: DeadlineClock) -> float | None:
        now = time.monotonic()
        limits = [flight.deadline - now for flight in flights.values() if flight.deadline is not None]
        left = clock.seconds_left(now)
        if left is not None:
            limits.append(left)
        return max(min(limits), 0.0) if limits else None

    def _wait(self, flights: dict, pending, failures: dict, timeout_s: float | None) -> list[JobResult]:
        """Results of the jobs that finished within `timeout_s`; lost workers' jobs go back to the queue."""
        if not flights:
            return []
        ray = ray_module()
        done, rest = ray.wait(list(flights), num_returns=1, timeout=timeout_s)
        if done and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            done += more
        results = []
        lost = False
        for ref in done:
            flight = flights.pop(ref)
            job = flight.job
            seconds = time.monotonic() - flight.submitted
            try:
                data = ray.get(ref)
            except ray.exceptions.TaskCancelledError:
                results.append(
                    JobResult(
                        job.key,
                        JobStatus.CANCELLED,
                        error=JobCancelled(job.key, "its Ray task was cancelled outside this pool"),
                        seconds=seconds,
                    )
                )
                continue
            except ray.exceptions.RayTaskError as error:  # the job never ran: its arguments did not load there
                cause = error.cause if isinstance(error.cause, BaseException) else error
                results.append(
                    JobResult(
                        job.key,
                        JobStatus.FAILED,
                        error=portable_error(job.key, cause),
                        seconds=seconds,
                        traceback=str(error),
                    )
                )
                continue
            except ray.exceptions.RayError as error:  # worker or node died, result lost, out of memory
                lost = True
                failures[job.key].append(f"{type(error).__name__}: {first_line(error)}")
                if flight.attempt < self._max_attempts:
                    pending.appendleft((job, flight.attempt + 1))
                    continue
                reasons = collections.Counter(failures.pop(job.key))
                results.append(
                    JobResult(
                        job.key,
                        JobStatus.LOST,
                        error=WorkerLost(
                            job.key,
                            f"its worker died on each of {flight.attempt} attempts, so it is not tried again: "
                            + "; ".join(f"{count} x {reason}" for reason, count in reasons.items()),
                        ),
                        seconds=seconds,
                    )
                )
                continue
            results.append(unpacked_result(job.key, data))
        if lost:  # a node may be gone: do not keep more jobs out than there are CPUs left
            try:
                self._slots = cluster_cpus(self._requested)
            except ClusterError:
                self._slots = 1
        return results

    def _time_out(self, flights: dict, timeout: float | None, now: float) -> list[JobResult]:
        results = []
        ray = ray_module()
        for ref, flight in list(flights.items()):
            if flight.deadline is not None and now >= flight.deadline:
                del flights[ref]
                _cancel(ray, ref)
                limit = flight.job.timeout if flight.job.timeout is not None else timeout
                results.append(
                    JobResult(
                        flight.job.key,
                        JobStatus.TIMEOUT,
                        error=JobTimeout(
                            flight.job.key,
                            f"job ran past its {limit:g} s limit; its Ray task was cancelled (worker killed)",
                        ),
                        seconds=now - flight.submitted,
                    )
                )
        return results

    def _cancel_all(self, flights: dict, pending, now: float, why: str) -> list[JobResult]:
        results = []
        ray = ray_module()
        for ref, flight in list(flights.items()):
            _cancel(ray, ref)
            results.append(
                JobResult(
                    flight.job.key,
                    JobStatus.CANCELLED,
                    error=JobCancelled(flight.job.key, f"{why}; killed"),
                    seconds=now - flight.submitted,
                )
            )
        flights.clear()
        while pending:
            job, _ = pending.popleft()
            results.append(JobResult(job.key, JobStatus.CANCELLED, error=JobCancelled(job.key, f"{why}; not started")))
        return results


def _cancel(ray, ref) -> None:
    try:
        ray.cancel(ref, force=True)
    except Exception:
        pass

"""The worker-pool interface: run picklable jobs somewhere, stream back typed results.

A `Job` is a key (usually the module's name) and a pure, picklable function
with its arguments. A `WorkerPool` runs a batch of jobs and yields one
`JobResult` per job *as it finishes*, never raising for a job: a job that
raises becomes a failed result carrying the exception (the original one when
it pickles, else a `JobException` stand-in) and the worker's traceback text;
a job over its time limit is killed (`JobTimeout`); a job still out when the
iteration's `DeadlinePolicy` expires is killed or never started
(`JobCancelled`); a worker that dies under a job gives `WorkerLost`. Every
submitted job gets exactly one result, so a caller can account for all of
them.

Large objects used by many jobs (a policy's weights) are handed to the pool
once with `share(obj)`, which returns a small `SharedRef`; a job that passes
the ref as a top-level positional or keyword argument receives the object
itself. This is Ray's `ray.put` / ObjectRef-argument contract, so a Ray
backend maps `share` to `ray.put` and swaps refs for ObjectRefs; the local
backend sends the pickled bytes to each worker once and caches them there.

Nothing here knows where workers live: `compiler_opt.pool.local` is
the local-process backend; a Ray backend implements the same four methods
(`workers`, `share`, `release`, `_run`, `close`) and reuses `DeadlineClock`
for the deadline rules.
"""

from __future__ import annotations

import abc
import enum
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler_opt.errors import MlgoError
from compiler_opt.progress import progress

__all__ = [
    "DeadlineClock",
    "DeadlinePolicy",
    "Job",
    "JobCancelled",
    "JobError",
    "JobException",
    "JobResult",
    "JobStatus",
    "JobTimeout",
    "SharedRef",
    "WorkerLost",
    "WorkerPool",
]


class JobStatus(str, enum.Enum):
    """How a job ended."""

    OK = "ok"
    FAILED = "failed"  # the job raised; `error` is its exception
    TIMEOUT = "timeout"  # over its own time limit; killed
    CANCELLED = "cancelled"  # still out when the iteration's deadline expired; killed or never started
    LOST = "lost"  # the worker died under it (crash, out of memory, node lost)


@dataclass(frozen=True)
class Job:
    """A unit of work: `fn(*args, **kwargs)`, all picklable; `key` names it in its result.

    `timeout` (seconds) overrides the run's per-job limit for this job.
    Top-level arguments that are `SharedRef`s arrive in `fn` as the shared objects.
    `files` names the files the job reads (a module's bitcode): a backend that
    stages files where the job runs (Ray with `ship_modules`) copies exactly
    these, and `fn` then receives its arguments with each of these paths,
    wherever it appears in them, replaced by its copy's.
    """

    key: str
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    files: tuple[str | os.PathLike, ...] = ()


@dataclass(frozen=True)
class JobResult:
    """The outcome of one job: `value` when `ok`, else `error` (an exception naming the job)."""

    key: str
    status: JobStatus
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    worker: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.status is JobStatus.OK

    def unwrap(self) -> Any:
        """The value, or raise the job's error."""
        if not self.ok:
            raise self.error  # type: ignore[misc]
        return self.value


class JobError(MlgoError):
    """A failure the pool itself reports for a job (it names the job's key)."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")

    def __reduce__(self):
        return (type(self), (self.key, self.reason))


class JobTimeout(JobError):
    """The job ran past its time limit and was killed."""


class JobCancelled(JobError):
    """The iteration's deadline expired while the job was running or waiting; it was dropped."""


class WorkerLost(JobError):
    """The worker running the job died (signal, exit, out of memory) before returning."""


class JobException(JobError):
    """Stands in for an exception (or result) that could not cross the process boundary."""

    def __init__(self, key: str, reason: str, type_name: str = "") -> None:
        super().__init__(key, reason)
        self.type_name = type_name

    def __reduce__(self):
        return (type(self), (self.key, self.reason, self.type_name))


@dataclass(frozen=True)
class SharedRef:
    """A handle to an object given to a pool with `share`; pass it as a job argument."""

    pool: str
    id: int


@dataclass(frozen=True)
class DeadlinePolicy:
    """When to stop waiting for an iteration's stragglers.

    Once `quorum` of the jobs (a fraction; any outcome counts) have finished,
    a grace period starts: the larger of `grace_seconds` and `median_factor`
    times the median duration of the jobs finished so far (either may be
    None; with neither, the grace is 0). Whatever is still running or queued
    when it ends is cancelled and reported as `JobCancelled`.
    """

    quorum: float = 0.9
    grace_seconds: float | None = None
    median_factor: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.quorum <= 1.0:
            raise ValueError(f"deadline quorum must be in (0, 1], got {self.quorum}")

    def grace(self, durations: Sequence[float]) -> float:
        candidates = [0.0]
        if self.grace_seconds is not None:
            candidates.append(self.grace_seconds)
        if self.median_factor is not None and durations:
            candidates.append(self.median_factor * statistics.median(durations))
        return max(candidates)


class DeadlineClock:
    """Applies a `DeadlinePolicy` to one run; every backend feeds it finished jobs."""

    def __init__(self, policy: DeadlinePolicy | None, total: int) -> None:
        self.policy = policy
        self.total = total
        self.needed = total if policy is None else max(1, math.ceil(policy.quorum * total - 1e-9))
        self.finished = 0
        self.durations: list[float] = []
        self.ends_at: float | None = None

    def note(self, result: JobResult, now: float | None = None) -> None:
        """Count a finished job; starts the grace period when the quorum is reached."""
        self.finished += 1
        if result.ok:
            self.durations.append(result.seconds)
        if self.policy is not None and self.ends_at is None and self.finished >= self.needed:
            now = time.monotonic() if now is None else now
            self.ends_at = now + self.policy.grace(self.durations)

    def seconds_left(self, now: float) -> float | None:
        """Seconds until the deadline, or None while no deadline is set."""
        return None if self.ends_at is None else max(self.ends_at - now, 0.0)

    def expired(self, now: float) -> bool:
        return self.ends_at is not None and now >= self.ends_at


class WorkerPool(abc.ABC):
    """Runs jobs on workers; use as a context manager so `close` always runs.

    A backend implements `workers`, `share`, `release`, `_run` and `close`.
    Runs do not nest: one `run` at a time per pool.
    """

    @property
    @abc.abstractmethod
    def workers(self) -> int:
        """How many jobs can run at once."""

    @abc.abstractmethod
    def share(self, obj: Any) -> SharedRef:
        """Hand `obj` to the workers once; jobs receive it where they pass the returned ref."""

    @abc.abstractmethod
    def release(self, ref: SharedRef) -> None:
        """Forget a shared object (workers drop their copy); later jobs may not use `ref`."""

    @abc.abstractmethod
    def _run(self, jobs: list[Job], timeout: float | None, deadline: DeadlinePolicy | None) -> Iterator[JobResult]:
        """The backend's run: one result per job, in finishing order. Closing the
        iterator early must cancel (kill) whatever is still running."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop every worker; afterwards no process of the pool is left."""

    def run(
        self,
        jobs: Iterable[Job],
        *,
        timeout: float | None = None,
        deadline: DeadlinePolicy | None = None,
        desc: str = "jobs",
    ) -> Iterator[JobResult]:
        """Run `jobs`, yielding their results as they finish (see the module docstring).

        `timeout` is the per-job limit in seconds (a job's own `timeout` wins);
        `deadline` cancels stragglers once most jobs are in. Keys must be unique.
        """
        jobs = list(jobs)
        keys = set()
        for job in jobs:
            if job.key in keys:
                raise ValueError(f"two jobs share the key {job.key!r}; keys name results and must be unique")
            keys.add(job.key)
        return self._with_progress(self._run(jobs, timeout, deadline), len(jobs), desc)

    def run_all(self, jobs: Iterable[Job], **options) -> dict[str, JobResult]:
        """Run `jobs` to the end; their results by key."""
        return {result.key: result for result in self.run(jobs, **options)}

    @staticmethod
    def _with_progress(results: Iterator[JobResult], total: int, desc: str) -> Iterator[JobResult]:
        bar = progress(total=total, desc=desc, unit="job")
        failed = 0
        try:
            for result in results:
                if not result.ok:
                    failed += 1
                    bar.set_postfix(failed=failed, refresh=False)
                bar.update(1)
                yield result
        finally:
            bar.close()
            close = getattr(results, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

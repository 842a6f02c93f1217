"""The worker pool: running jobs in parallel, locally or on a Ray cluster.

- `base`: the `WorkerPool` interface (jobs, typed results, deadlines, shared objects);
- `local`: its local-process backend, `LocalPool`;
- `ray_backend`: its Ray backend, `RayPool` (Ray is imported only when chosen);
- `backends`: `make_pool`, the one factory the verbs call.
"""

from compiler_opt.pool.local import LocalPool
from compiler_opt.pool.base import (
    DeadlinePolicy,
    Job,
    JobCancelled,
    JobError,
    JobException,
    JobResult,
    JobStatus,
    JobTimeout,
    SharedRef,
    WorkerLost,
    WorkerPool,
)

__all__ = [
    "DeadlinePolicy",
    "Job",
    "JobCancelled",
    "JobError",
    "JobException",
    "JobResult",
    "JobStatus",
    "JobTimeout",
    "LocalPool",
    "SharedRef",
    "WorkerLost",
    "WorkerPool",
]

"""The worker pool: running jobs in parallel, locally or on a Ray cluster.

- `base`: the `WorkerPool` interface (jobs, typed results, deadlines, shared objects);
- `job_call`: a job's call inside a worker and its reply's way back, for every backend;
- `local`: its local-process backend, `LocalPool`, whose workers run `local_worker`
  and are started and stopped through `local_slot`;
- `ray_backend`: its Ray backend, `RayPool` (Ray is imported only when chosen);
- `cpu_claim`: one CPU of this machine per claimant, through lock files;
- `backends`: `make_pool`, the one factory the verbs call.

The names below are imported from their modules on first use, so a light
user of one module (the drop-in compiler's `cpu_claim`) does not pay for
multiprocessing and the pool machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from compiler_opt.pool.local import LocalPool

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


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module("compiler_opt.pool.local" if name == "LocalPool" else "compiler_opt.pool.base")
    return getattr(module, name)

"""Running compile jobs and keeping what they produce.

- `pool`: the `WorkerPool` interface (jobs, typed results, deadlines, shared objects);
- `local_pool`: its local-process backend, `LocalPool`;
- `baseline`: `BaselineCache`, the default heuristic's score per module, on disk;
- `trajectories`: a module's trajectory as numpy arrays (for workers), and the
  TFRecord files and tf.data pipeline that carry them to the learner (TensorFlow
  is imported only there, and only when those functions are called).
"""

from compiler_opt.collect.local_pool import LocalPool
from compiler_opt.collect.pool import (
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

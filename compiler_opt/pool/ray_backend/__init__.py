"""The Ray backend of `WorkerPool`: every job is a Ray task on one CPU of a cluster.

    with RayPool("10.0.0.1:6379") as pool:            # or None: a private local Ray instance
        ref = pool.share(policy)                      # ray.put, once per iteration
        for result in pool.run(compile_jobs(tasks, ref), timeout=..., deadline=...):
            ...

What it keeps from the interface (see `compiler_opt.pool.base`):

- At most `workers` jobs are out at once (the cluster's CPUs, or fewer when
  asked); jobs still queued when the iteration's deadline expires are
  reported as "not started" (`scheduler`).
- `share(obj)` is `ray.put(obj)`: a job receives the object through a
  top-level ObjectRef argument, so each node fetches it once from the
  object store instead of every job carrying it. `release` drops the ref.
- A job over its limit, a straggler cancelled by the deadline, or a job of
  an abandoned run is stopped with `ray.cancel(force=True)`, which kills its
  worker process. The compiler it started runs in a session of its own, so
  nodes must be started with
  `RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper=true`
  (docs/distributed.md; a private local instance gets it from `connection`):
  the raylet then kills a dead worker's orphans within seconds.
- Job failures are typed results as in the local pool; a worker or node
  that dies under a job gets the job resubmitted, up to `max_attempts`.

The modules:
- `connection`: connecting to a cluster (or starting a private instance), shared by a process's pools;
- `nodes`: which nodes run jobs, their CPUs, and the check that each matches the driver;
- `scheduler`: `RayPool`, submitting, waiting, timing out and retrying jobs;
- `task`: the task on a node (its temp dir, its CPU claim, its reply);
- `shipping`: staging the files a job declares on its node (`ship_modules`);
- `local_cluster`: a throwaway multi-node cluster on this machine, for tests and benchmarks.
Ray itself is imported when a pool is made, not when this package is.
"""

from compiler_opt.pool.ray_backend.connection import ClusterError, RayUnavailable
from compiler_opt.pool.ray_backend.nodes import ClusterMismatch, node_facts
from compiler_opt.pool.ray_backend.scheduler import RayPool

__all__ = ["ClusterError", "ClusterMismatch", "RayPool", "RayUnavailable", "node_facts"]

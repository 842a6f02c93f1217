"""The worker pool: running jobs in parallel, locally or on a Ray cluster.

- `base`: the `WorkerPool` interface (jobs, typed results, deadlines, shared objects);
- `job_call`: a job's call inside a worker and its reply's way back, for every backend;
- `local`: its local-process backend, `LocalPool`, whose workers run `local_worker`
  and are started and stopped through `local_slot`;
- `ray_backend`: its Ray backend, `RayPool` (Ray is imported only when chosen);
- `cpu_claim`: one CPU of this machine per claimant, through lock files;
- `backends`: `make_pool`, the one factory the verbs call.

The package itself imports none of them, so a light user of one (the drop-in
compiler's `cpu_claim`) does not pay for multiprocessing and the pool machinery.
"""

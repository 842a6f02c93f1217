"""Which worker pool a verb runs its jobs on: the one factory.

Every verb offers the same choice of backend: local worker processes, or a
Ray cluster (`--backend ray --ray-address HEAD:PORT`, see docs/distributed.md;
Ray is imported only when chosen). The flags that choose it are `mlgo.flags`'.
"""

from __future__ import annotations

from compiler_opt.errors import MlgoError
from compiler_opt.pool.base import WorkerPool

BACKENDS = ("local", "ray")


def make_pool(
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    ship_modules: bool = False,
    *,
    clang: str | None = None,
) -> WorkerPool:
    """A worker pool of `backend` with `workers` workers (default: one per CPU, on Ray every CPU of the cluster).

    Ray: `ray_address` is the head node's HOST:PORT (None: a private Ray
    instance on this machine); `ship_modules` sends module bytes instead of
    paths; `clang` is the compiler every node must have (checked at start).
    """
    if backend not in BACKENDS:
        raise MlgoError(f"unknown pool backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise MlgoError(f"--workers must be at least 1 (got {workers})")
    if backend == "ray":
        from compiler_opt.pool.ray_backend import RayPool

        return RayPool(ray_address, workers, ship_modules=ship_modules, clang=clang)
    if ray_address is not None or ship_modules:
        raise MlgoError("--ray-address and --ship-modules apply to the Ray backend: add --backend ray")
    from compiler_opt.pool.local import LocalPool

    return LocalPool(workers)

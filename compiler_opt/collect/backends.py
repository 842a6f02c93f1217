"""Which worker pool a verb runs its jobs on: one factory, and the command-line flags that choose it.

Verbs (`mlgo train`, `eval`, `search`, `vocab`, ...) call `add_pool_flags` on
their parser and `pool_from_args` (or `make_pool`) with what was parsed, so
every verb offers the same choice of backend: local worker processes, or a
Ray cluster (`--backend ray --ray-address HEAD:PORT`, see docs/distributed.md;
Ray is imported only when chosen).
"""

from __future__ import annotations

import argparse

from compiler_opt.collect.pool import WorkerPool
from compiler_opt.errors import MlgoError

BACKENDS = ("local", "ray")


def make_pool(backend: str = "local", workers: int | None = None, ray_address: str | None = None,
              ship_modules: bool = False, *, clang: str | None = None) -> WorkerPool:
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
        from compiler_opt.collect.ray_pool import RayPool

        return RayPool(ray_address, workers, ship_modules=ship_modules, clang=clang)
    if ray_address is not None or ship_modules:
        raise MlgoError("--ray-address and --ship-modules apply to the Ray backend: add --backend ray")
    from compiler_opt.collect.local_pool import LocalPool

    return LocalPool(workers)


def add_pool_flags(parser: argparse.ArgumentParser) -> None:
    """Add --backend, --workers, --ray-address and --ship-modules to a verb's parser."""
    parser.add_argument("--backend", choices=BACKENDS, default="local",
                        help="where compile jobs run: local worker processes, or Ray tasks on a cluster "
                        "(needs the ray extra; see docs/distributed.md) (default: local)")
    parser.add_argument("--workers", type=int, default=None,
                        help="how many jobs run at once (default: one per CPU this process may use; with "
                        "--backend ray, every CPU of the cluster)")
    parser.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                        help="the Ray cluster's head node, as `ray start --head` printed it (default: start a "
                        "private Ray instance on this machine)")
    parser.add_argument("--ship-modules", action="store_true",
                        help="with --backend ray: send each module's bitcode to the node that compiles it, for "
                        "nodes that do not see the corpus folder at the same path")


def pool_from_args(args: argparse.Namespace) -> WorkerPool:
    """The pool `add_pool_flags`' parsed flags ask for."""
    return make_pool(args.backend, args.workers, getattr(args, "ray_address", None),
                     bool(getattr(args, "ship_modules", False)), clang=getattr(args, "clang", None))

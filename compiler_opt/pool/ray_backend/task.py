"""The Ray task that runs one job on a node: its temp dir, its CPU, its staged files and its reply.

Every task holds a CPU of its machine for its duration (a lock file per
CPU in the pool's folder there, `compiler_opt.pool.cpu_claim`; its thread
pinned to that CPU, so the compiler and the channel's host share it as in
the local pool; unpinned when all are held) and runs with its own temp dir
(`TMPDIR`, `tempfile.tempdir`) under `<node temp>/mlgo-ray-<pool id>/`; it
is removed when the task ends, a later task on the node removes those of
killed tasks (`sweep`), and the pool's `close()` removes the pool's folder
on every node (`remove_pool_dir`).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.pool.cpu_claim import claimed_cpu
from compiler_opt.pool.job_call import call_job, packed_reply
from compiler_opt.pool.ray_backend.shipping import staged_values

__all__ = ["TaskHeader", "execute", "remove_pool_dir"]

_TASK_ROOT_PREFIX = "mlgo-ray-"


@dataclass(frozen=True)
class TaskHeader:
    """What the task needs besides the job's function and values: the values are the job's `args` positional
    and then its keyword arguments (named `kwargs`), then the bytes of its `staged` files ((path, index)
    pairs); `shared` are the indexes of the shared objects among them."""

    key: str
    pool: str
    args: int
    kwargs: tuple[str, ...]
    staged: tuple[tuple[str, int], ...] = ()
    shared: tuple[int, ...] = ()


class _Node:
    """Per worker process: the node's temp dir as it was before any task, and how many tasks ran here."""

    base_temp: str | None = None
    tasks = itertools.count()
    name: str | None = None


def _base_temp() -> str:
    if _Node.base_temp is None:
        _Node.base_temp = tempfile.gettempdir()
    return _Node.base_temp


def _pool_dir(pool: str) -> Path:
    return Path(_base_temp(), _TASK_ROOT_PREFIX + pool)


def remove_pool_dir(pool: str) -> None:
    """Remove the folder of pool `pool` on this node (its task dirs and CPU locks)."""
    shutil.rmtree(_pool_dir(pool), ignore_errors=True)


def _sweep(pool_dir: Path) -> None:
    """Remove the task dirs of processes that are gone (tasks killed by a timeout or a cancel)."""
    try:
        entries = list(os.scandir(pool_dir))
    except OSError:
        return
    for entry in entries:
        pid = entry.name.split("-")[1] if entry.name.startswith("task-") else ""
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(entry.path, ignore_errors=True)


def _worker_name() -> str:
    if _Node.name is None:
        import ray

        context = ray.get_runtime_context()
        _Node.name = f"ray/{context.get_node_id()[:8]} (pid {os.getpid()})"
    return _Node.name


def execute(header: TaskHeader, fn, *values) -> bytes:
    """The Ray task: run one job in a private temp dir on a claimed CPU; its packed reply
    (`compiler_opt.pool.job_call`)."""
    pool_dir = _pool_dir(header.pool)
    workdir = pool_dir / f"task-{os.getpid()}-{next(_Node.tasks)}"
    _sweep(pool_dir)
    workdir.mkdir(parents=True)
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(workdir)
    try:
        with claimed_cpu(pool_dir, pin=True):
            reply = call_job(header.key, lambda: _call(header, fn, values, workdir))
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]
        shutil.rmtree(workdir, ignore_errors=True)
    return packed_reply(header.key, reply, _worker_name())


def _call(header: TaskHeader, fn, values: tuple, workdir: Path):
    count = header.args + len(header.kwargs)
    if header.staged:
        values = tuple(staged_values(values, count, header.staged, header.shared, workdir / "shipped"))
    kwargs = dict(zip(header.kwargs, values[header.args : count]))
    return fn(*values[: header.args], **kwargs)

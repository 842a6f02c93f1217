"""Claiming one CPU of this machine while a block runs: a lock file per CPU, so concurrent claimants differ.

    with claimed_cpu() as cpu:            # None: every CPU is held, or this process may use one CPU only
        InteractiveCompile(..., cpu=cpu)

Host and compiler take turns per decision, so a compile runs best with both
on one CPU that nothing else of ours uses (`compiler_opt.llvm.channel`).
Processes that do not share a pool (drop-in compiles of a `make -j`, Ray
tasks on one node) agree on who uses which CPU through `flock`ed lock files
in a shared folder; a lock dies with its process, so a killed claimant never
leaves a CPU taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["claimed_cpu", "user_cpu_folder"]


def user_cpu_folder() -> Path:
    """The lock folder every process of this user on this machine shares (in the system temp dir)."""
    return Path(tempfile.gettempdir()) / f"mlgo-cpus-{os.getuid()}"


@contextlib.contextmanager
def claimed_cpu(folder: str | os.PathLike | None = None, *, pin: bool = False) -> Iterator[int | None]:
    """A CPU this process may run on that no other claimant in `folder` holds, kept while the block runs.

    `folder` defaults to `user_cpu_folder()`. Yields None, claiming nothing,
    when this process may run on one CPU only or every CPU is held. With
    `pin`, the calling thread runs on the claimed CPU only until the block
    ends (then its previous CPUs come back). The search starts at a CPU that
    depends on the process id, so concurrent claimants rarely try the same
    lock first.
    """
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        yield None
        return
    folder = user_cpu_folder() if folder is None else Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    order = sorted(allowed)
    start = os.getpid() % len(order)
    for cpu in order[start:] + order[:start]:
        descriptor = os.open(folder / f"cpu-{cpu}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            continue
        try:
            if pin:
                os.sched_setaffinity(0, {cpu})
            yield cpu
        finally:
            if pin:
                os.sched_setaffinity(0, allowed)
            os.close(descriptor)  # releases the lock (as the process's death would)
        return
    yield None

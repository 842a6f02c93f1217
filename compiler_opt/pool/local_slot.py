"""One worker position of the local pool: its process, pipe, temp dir and job, and starting and stopping it.

A `WorkerSlot` is started with `start` (a new worker process running
`compiler_opt.pool.local_worker.serve`, with a fresh temp dir under the
pool's) and stopped with `stop`: gracefully (asked to stop, given
`STOP_WAIT_SECONDS`) when idle, else by killing the worker and every process
under it (`compiler_opt.processes.kill_process_tree`, which finds the
compiler in its own session). `shut_down` stops every slot of a pool and
removes the pool's temp dir. `compiler_opt.pool.local` decides when.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from multiprocessing.context import ForkServerContext, SpawnContext
from typing import Any

from compiler_opt.pool.base import Job
from compiler_opt.pool.local_worker import serve
from compiler_opt.processes import kill_process_tree

__all__ = ["STOP_WAIT_SECONDS", "WorkerSlot", "shut_down"]

STOP_WAIT_SECONDS = 2.0


@dataclass(eq=False)
class WorkerSlot:
    """One worker position: the live process (if any) and the job it runs."""

    index: int
    cpu: int | None
    process: Any = None
    conn: Any = None
    tempdir: str | None = None
    generation: int = 0
    has: set = field(default_factory=set)
    job: Job | None = None
    job_started: float = 0.0
    job_deadline: float | None = None

    @property
    def name(self) -> str:
        pid = self.process.pid if self.process is not None else None
        return f"local/{self.index} (pid {pid})"

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def start(self, context: ForkServerContext | SpawnContext, temp_root: str) -> None:
        """Start a fresh worker in this slot, with its own temp dir under `temp_root`."""
        if self.process is not None:  # died while idle (e.g. out of memory): clean up first
            self.stop(graceful=False)
        self.generation += 1
        self.tempdir = os.path.join(temp_root, f"worker-{self.index}-{self.generation}")
        os.makedirs(self.tempdir)
        parent_end, child_end = context.Pipe(duplex=True)
        process = context.Process(
            target=serve,
            args=(child_end, self.cpu, self.tempdir),
            name=f"mlgo-worker-{self.index}",
            daemon=True,
        )
        process.start()
        child_end.close()
        self.process, self.conn, self.has = process, parent_end, set()

    def stop(self, graceful: bool) -> None:
        """End the worker and everything under it; free the slot."""
        process, conn = self.process, self.conn
        if process is not None:
            if graceful and self.job is None and process.is_alive():
                try:
                    conn.send(("stop",))
                except OSError:
                    pass
                process.join(STOP_WAIT_SECONDS)
            if process.is_alive() or process.exitcode is None:
                kill_process_tree(process.pid)
            process.join()
            process.close()
        if conn is not None:
            conn.close()
        if self.tempdir is not None:
            shutil.rmtree(self.tempdir, ignore_errors=True)
        self.process = self.conn = self.tempdir = None
        self.has = set()
        self.job = None
        self.job_deadline = None


def shut_down(slots: list[WorkerSlot], temp_root: str) -> None:
    """Stop every slot's worker (gracefully where idle) and remove the pool's temp dir."""
    for slot in slots:
        slot.stop(graceful=True)
    shutil.rmtree(temp_root, ignore_errors=True)

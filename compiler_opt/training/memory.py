"""Peak memory of a process and everything under it (workers, compilers), sampled from /proc.

`PeakMemory` samples, in a background thread, the summed resident set size
of this process and all its descendants (the pool's forkserver and workers,
the clang processes they start), and keeps the highest sum seen. Workers of
a remote pool (Ray) are not descendants and are not counted. The sum can
miss a spike shorter than the sampling interval; the process's own
high-water mark (`ru_maxrss`) is a floor for it.
"""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Iterable

from compiler_opt.processes import parent_pids

_PAGE = os.sysconf("SC_PAGE_SIZE")


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in parent_pids().items():
        children.setdefault(parent, []).append(pid)
    tree, frontier = [root], [root]
    while frontier:
        frontier = [child for pid in frontier for child in children.get(pid, ())]
        tree += frontier
    return tree


def resident_bytes(pids: Iterable[int]) -> int:
    """The summed resident set size of `pids` (processes that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as stream:
                total += int(stream.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


class PeakMemory:
    """The highest summed RSS of a process tree, sampled every `interval` seconds while started.

    `window_peak(reset=True)` gives the peak since the last reset (e.g. one iteration), `peak()` the peak
    since the start.
    """

    def __init__(self, root: int | None = None, interval: float = 0.5) -> None:
        self.root = os.getpid() if root is None else root
        self.interval = interval
        self._peak = 0
        self._window = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> int:
        """Measure now; the current summed RSS."""
        current = resident_bytes(process_tree(self.root))
        with self._lock:
            self._peak = max(self._peak, current)
            self._window = max(self._window, current)
        return current

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> PeakMemory:
        if self._thread is None:
            self.sample()
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="peak-memory", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def window_peak(self, reset: bool = True) -> int:
        """The highest sum since the last reset."""
        self.sample()
        with self._lock:
            peak = self._window
            if reset:
                self._window = 0
        return peak

    def peak(self) -> int:
        """The highest sum since the start (at least this process's own high-water mark when it is the root)."""
        self.sample()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 if self.root == os.getpid() else 0
        with self._lock:
            return max(self._peak, own)

    def __enter__(self) -> PeakMemory:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

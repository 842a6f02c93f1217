"""Peak memory of a process tree: a child's allocation counts toward its parent's peak."""

from __future__ import annotations

import os
import subprocess
import sys

from compiler_opt.training.memory import PeakMemory, process_tree, resident_bytes

HOLD = (
    "import sys, time; block = bytearray(200 * 2**20); sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(30)"
)


def test_a_child_allocation_counts_toward_the_peak():
    memory = PeakMemory(interval=0.05).start()
    child = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        assert child.pid in process_tree(os.getpid())
        assert resident_bytes([child.pid]) >= 200 * 2**20
        with_child = memory.window_peak(reset=True)
        assert with_child >= resident_bytes([os.getpid()]) + 200 * 2**20
    finally:
        child.kill()
        child.wait()
        memory.stop()
    # After a reset the window forgets the child; the run's peak keeps it.
    assert memory.window_peak() < with_child <= memory.peak()

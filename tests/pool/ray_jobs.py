"""Job functions for the Ray pool tests (module-level, so Ray workers import them by name)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path


def pid_then_sleep(folder: str, key: str, seconds: float, value):
    """Leave `<folder>/<key>-<pid>` (one file per attempt), sleep, return `value`."""
    Path(folder, f"{key}-{os.getpid()}").write_text(str(os.getpid()))
    time.sleep(seconds)
    return value


def module_seen(holder):
    """Where the job finds its module's bitcode, the bytes' hash, and whether the path is in the job's temp dir."""
    module = getattr(holder, "module", holder)
    path = Path(module.bitcode)
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest(), path.is_relative_to(tempfile.gettempdir())


def temp_dir():
    """The job's temp dir (TMPDIR and tempfile agree), which must exist while it runs."""
    return tempfile.gettempdir(), os.environ.get("TMPDIR"), os.path.isdir(tempfile.gettempdir())


def cpus_while_sleeping(seconds: float):
    """The CPUs this job may run on, read after `seconds` (so jobs started together overlap)."""
    time.sleep(seconds)
    return sorted(os.sched_getaffinity(0))

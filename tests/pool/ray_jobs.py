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


def cpus_once_all_started(folder: str, count: int, name: str, timeout: float = 60.0):
    """The CPUs this job may run on, read once `count` jobs have marked themselves started in `folder` (so the
    jobs surely overlap, however late a busy machine starts one), or after `timeout` seconds."""
    Path(folder, name).touch()
    deadline = time.monotonic() + timeout
    while len(list(Path(folder).iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(os.sched_getaffinity(0))

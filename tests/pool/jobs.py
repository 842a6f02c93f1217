"""Job functions for the pool tests: module-level so workers can import them by name."""

from __future__ import annotations

import os
import time
from pathlib import Path


def sleep_then(seconds: float, value):
    time.sleep(seconds)
    return value


def fail(message: str):
    raise ValueError(message)


class _Unpicklable(Exception):
    def __init__(self, a, b):  # pickling keeps only args=(message,), so unpickling fails
        super().__init__(f"{a}/{b}")


def fail_unpicklably():
    raise _Unpicklable(1, 2)


def die(code: int):
    os._exit(code)


def whoami():
    return os.getpid(), sorted(os.sched_getaffinity(0)), os.environ.get("TMPDIR")


def spawn_grandchild_and_hang(pid_file: str):
    """Start a process in its own session (as the channel starts clang), record its pid, hang."""
    import subprocess

    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    Path(pid_file).write_text(str(child.pid))
    time.sleep(300)


def shared_size(shared, extra: int = 0):
    return os.getpid(), len(shared) + extra, id(shared)


def trace(toolchain, problem_name: str, policy: str, command):
    from compiler_opt.collect.trace import trace_module
    from compiler_opt.problems import get_problem

    result = trace_module(toolchain, get_problem(problem_name), policy, command)
    return result.decisions, result.score.value


def counted_baseline(toolchain, problem_name, command, timeout, *, counter_dir: str):
    """The real baseline compile, leaving one marker file per call (calls are counted across processes)."""
    import uuid

    from compiler_opt.collect.baseline import compute_baseline

    Path(counter_dir, uuid.uuid4().hex).write_text(command.bitcode)
    return compute_baseline(toolchain, problem_name, command, timeout)


def record_trajectory(toolchain, policy: str, command, module: str):
    """A worker-side collection: trace a real compile, record its trajectory, serialize it (no TensorFlow)."""
    import sys
    import tempfile

    from compiler_opt.collect.trace import trace_module
    from compiler_opt.collect.trajectories import TrajectoryRecorder, TrajectorySpec
    from compiler_opt.collect.trajectory_files import to_sequence_example
    from compiler_opt.llvm.log_format import LogReader
    from compiler_opt.problems import get_problem

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "trace.log"
        result = trace_module(toolchain, get_problem("inlining"), policy, command, log_path=log)
        with open(log, "rb") as stream:
            reader = LogReader(stream)
            spec = TrajectorySpec.from_header(reader.header)
            recorder = TrajectoryRecorder(reader.header, spec)
            for record in reader:
                recorder.record(record.observation, int(record.observation[spec.action.name][0]))
    trajectory = recorder.finish(module, result.score.value).with_reward(0.5)
    return spec, trajectory, to_sequence_example(trajectory, spec), "tensorflow" in sys.modules

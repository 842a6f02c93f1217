"""Build and run the C++ check harness (`compiler_opt/export/cc`) for an exported AOT policy.

`build_harness` configures and builds the CMake project in `cc/` against
the XLA AOT runtime sources of the installed TensorFlow wheel: first with
the minimal runtime (a handful of files, seconds), and when that does not
link, again with all runtime sources (minutes on 2 cores). `run_harness`
feeds it an observations file and parses its decisions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler_opt.export.aot import tensorflow_path
from compiler_opt.export.saved_model import ExportError
from compiler_opt.llvm.run import run_captured

SOURCE_DIR = Path(__file__).parent / "cc"
BINARY = "mlgo_aot_check"
RUNTIMES = ("minimal", "full")
BUILD_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Harness:
    """A built check harness: the binary, which runtime it linked, how long the build took."""

    binary: Path
    runtime: str
    seconds: float


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ExportError(f"the check harness needs {name!r}; install it (Debian: apt-get install -y cmake g++)")
    return path


def _run(command: list[str], what: str, timeout: float) -> subprocess.CompletedProcess:
    """`command` run by the process runner, its output decoded as text."""
    try:
        result = run_captured(command, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise ExportError(f"{what} ran past {timeout:g} s; killed") from error
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def build_harness(
    aot_dir: Path, build_dir: Path, *, runtimes: tuple[str, ...] = RUNTIMES, jobs: int | None = None
) -> Harness:
    """Build the harness for the model in `aot_dir` under `build_dir`, trying `runtimes` in order."""
    cmake = _tool("cmake")
    _tool("c++")
    jobs = jobs or max(1, len(os.sched_getaffinity(0)))
    failures = []
    for runtime in runtimes:
        started = time.monotonic()
        tree = build_dir / runtime
        configure = _run(
            [
                cmake,
                "-S",
                str(SOURCE_DIR),
                "-B",
                str(tree),
                f"-DTENSORFLOW_AOT_PATH={tensorflow_path()}",
                f"-DMLGO_AOT_DIR={aot_dir.resolve()}",
                f"-DMLGO_XLA_RUNTIME={runtime}",
            ],
            "configuring the check harness",
            BUILD_TIMEOUT,
        )
        if configure.returncode != 0:
            raise ExportError(f"configuring the check harness failed:\n{_tail(configure)}")
        build = _run(
            [cmake, "--build", str(tree), "--parallel", str(jobs)], "building the check harness", BUILD_TIMEOUT
        )
        if build.returncode == 0:
            return Harness(tree / BINARY, runtime, time.monotonic() - started)
        failures.append(f"with the {runtime} runtime:\n{_tail(build)}")
    raise ExportError("building the check harness failed " + "\n".join(failures))


def _tail(result: subprocess.CompletedProcess, lines: int = 20) -> str:
    return "\n".join((result.stdout + result.stderr).strip().splitlines()[-lines:])


def run_harness(
    binary: Path, observations_file: Path, advice_dtype: np.dtype, *, repeat: int = 0, timeout: float = 600.0
) -> tuple[np.ndarray, float | None]:
    """The harness's decisions on `observations_file`, and ns per decision when `repeat` passes were timed."""
    command = [str(binary), *(["--repeat", str(repeat)] if repeat else []), str(observations_file)]
    result = _run(command, "the check harness", timeout)
    if result.returncode != 0:
        raise ExportError(f"the check harness failed (exit status {result.returncode}): {result.stderr.strip()}")
    lines = result.stdout.split()
    if advice_dtype.kind == "f":
        decisions = np.array([float.fromhex(v) for v in lines], dtype=advice_dtype)
    else:
        decisions = np.array([int(v) for v in lines], dtype=advice_dtype)
    nanoseconds = None
    for line in result.stderr.splitlines():
        if line.startswith("ns_per_decision "):
            nanoseconds = float(line.split()[1])
    return decisions, nanoseconds

"""Configure and build a CMake project of the exporter's C++ parts (check harness, native driver, plugin).

`cmake_build(source, tree, definitions, what)` runs `cmake -S source -B tree
-DKEY=VALUE...` and `cmake --build tree --parallel N` through the process
runner, and raises `ExportError` with the tail of the output, naming `what`,
when either step fails or runs past its time limit. `require_tool` names the
Debian packages to install when a tool is missing. `build_with_xla_runtime`
builds a project that links an AOT policy against each XLA runtime in turn
(the minimal one first) until one links.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.export.aot import tensorflow_path
from compiler_opt.export.saved_model import ExportError
from compiler_opt.llvm.run import run_captured

BUILD_TIMEOUT = 1800.0


def require_tool(name: str, packages: str = "cmake g++") -> str:
    """The path of the build tool `name`, or an `ExportError` saying what to install."""
    path = shutil.which(name)
    if path is None:
        raise ExportError(
            f"building the exporter's C++ parts needs {name!r}; install it (Debian: apt-get install -y {packages})"
        )
    return path


def run_text(command: list[str], what: str, timeout: float = BUILD_TIMEOUT) -> subprocess.CompletedProcess:
    """`command` run by the process runner, its output decoded as text; `ExportError` when it runs too long."""
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


def output_tail(result: subprocess.CompletedProcess, lines: int = 20) -> str:
    """The last `lines` lines of a finished command's stdout and stderr."""
    return "\n".join((result.stdout + result.stderr).strip().splitlines()[-lines:])


def cmake_build(
    source: Path,
    tree: Path,
    definitions: Mapping[str, str],
    what: str,
    *,
    jobs: int | None = None,
    timeout: float = BUILD_TIMEOUT,
) -> subprocess.CompletedProcess:
    """Configure `source` into `tree` with `definitions` and build it; the build step's result.

    A failed configure raises `ExportError`; a failed build is returned
    (its `returncode` non-zero) so a caller can retry differently.
    """
    cmake = require_tool("cmake")
    require_tool("c++")
    jobs = jobs or max(1, len(os.sched_getaffinity(0)))
    configure = run_text(
        [cmake, "-S", str(source), "-B", str(tree), *(f"-D{key}={value}" for key, value in definitions.items())],
        f"configuring {what}",
        timeout,
    )
    if configure.returncode != 0:
        raise ExportError(f"configuring {what} failed:\n{output_tail(configure)}")
    return run_text([cmake, "--build", str(tree), "--parallel", str(jobs)], f"building {what}", timeout)


RUNTIMES = ("minimal", "full")


@dataclass(frozen=True)
class RuntimeBuild:
    """A successful `build_with_xla_runtime`: its build tree, the runtime it linked, how long that build took."""

    tree: Path
    runtime: str
    seconds: float


def build_with_xla_runtime(
    source: Path,
    build_dir: Path,
    definitions: Mapping[str, str],
    what: str,
    *,
    runtimes: tuple[str, ...] = RUNTIMES,
    tree_prefix: str = "",
    jobs: int | None = None,
) -> RuntimeBuild:
    """Build `source` (a project including cc/xla_runtime.cmake) in `build_dir/<tree_prefix><runtime>` with each
    of `runtimes` in turn until one links; `ExportError` with every attempt's output tail when none does."""
    failures = []
    for runtime in runtimes:
        started = time.monotonic()
        tree = build_dir / f"{tree_prefix}{runtime}"
        with_runtime = {**definitions, "TENSORFLOW_AOT_PATH": str(tensorflow_path()), "MLGO_XLA_RUNTIME": runtime}
        build = cmake_build(source, tree, with_runtime, what, jobs=jobs)
        if build.returncode == 0:
            return RuntimeBuild(tree, runtime, time.monotonic() - started)
        failures.append(f"with the {runtime} XLA runtime:\n{output_tail(build)}")
    raise ExportError(f"building {what} failed " + "\n".join(failures))

"""Build and run the C++ check harness (`compiler_opt/export/cc`) for an exported AOT policy.

`build_harness` configures and builds the CMake project in `cc/` against
the XLA AOT runtime sources of the installed TensorFlow wheel: first with
the minimal runtime (a handful of files, seconds), and when that does not
link, again with all runtime sources (minutes on 2 cores). `run_harness`
feeds it an observations file and parses its decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler_opt.export.cmake_build import RUNTIMES, build_with_xla_runtime, run_text
from compiler_opt.export.saved_model import ExportError

SOURCE_DIR = Path(__file__).parent / "cc"
BINARY = "mlgo_aot_check"


@dataclass(frozen=True)
class Harness:
    """A built check harness: the binary, which runtime it linked, how long the build took."""

    binary: Path
    runtime: str
    seconds: float


def build_harness(
    aot_dir: Path, build_dir: Path, *, runtimes: tuple[str, ...] = RUNTIMES, jobs: int | None = None
) -> Harness:
    """Build the harness for the model in `aot_dir` under `build_dir`, trying `runtimes` in order."""
    definitions = {"MLGO_AOT_DIR": str(aot_dir.resolve())}
    build = build_with_xla_runtime(
        SOURCE_DIR, build_dir, definitions, "the check harness", runtimes=runtimes, jobs=jobs
    )
    return Harness(build.tree / BINARY, build.runtime, build.seconds)


def run_harness(
    binary: Path, observations_file: Path, advice_dtype: np.dtype, *, repeat: int = 0, timeout: float = 600.0
) -> tuple[np.ndarray, float | None]:
    """The harness's decisions on `observations_file`, and ns per decision when `repeat` passes were timed."""
    command = [str(binary), *(["--repeat", str(repeat)] if repeat else []), str(observations_file)]
    result = run_text(command, "the check harness", timeout)
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

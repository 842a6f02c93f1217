"""Runtime benchmarks: the corpus's runnable programs, built from objects compiled under each side, run and counted.

Costs in remarks are a proxy for speed. The programs are the ones the
corpus describes (`compiler_opt.corpus.programs`, which checks them).

A program is its library's modules (all of them, compiled by the evaluation
under the default heuristic and under the policy) linked with its driver
`sources` (C files in the corpus folder, compiled once at `-O2`: the same
driver object on both sides) by the clang driver and the `ld.lld` of the
same LLVM. Each build runs in a fresh folder holding copies of `data`:
under `valgrind --tool=callgrind` for its instruction count (repeatable on
a noisy machine), then `runs` times natively for the median wall time (the
two builds alternate, after one untimed run each, so order favours neither). The
policy build's output must equal the default build's, else the program is
reported as an error (a miscompile, or a program that is not deterministic).
`measure_programs` does this for an evaluation's programs, from the objects
kept under each side (`compiler_opt.report.compile_sides`); a program whose
library did not compile whole is listed with that error.
"""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from compiler_opt.corpus.loading import Corpus
from compiler_opt.corpus.programs import Program, ProgramError
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.link import LinkError, compile_c, link_executable
from compiler_opt.llvm.run import run_tool
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.progress import progress
from compiler_opt.report.compile_sides import object_path

__all__ = ["check_runtime_tools", "measure_program", "measure_programs"]

_COLLECTED = re.compile(rb"Collected\s*:\s*(\d+)")


def check_runtime_tools() -> None:
    """Refuse, before anything is compiled, to run without valgrind."""
    if shutil.which("valgrind") is None:
        raise MlgoError(
            "--runtime counts instructions with valgrind, which is not installed: "
            "apt-get install valgrind (scripts/bootstrap.sh does), or leave out --runtime"
        )


def _instructions(binary: Path, program: Program, workdir: Path, timeout: float) -> tuple[int, bytes]:
    out = workdir / "callgrind.out"
    result = run_tool(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary), *program.args],
        f"{program.name}: running under callgrind",
        ProgramError,
        cwd=workdir,
        timeout=timeout,
    )
    found = _COLLECTED.search(result.stderr)
    if found is None:
        raise ProgramError(f"{program.name}: callgrind printed no instruction count")
    return int(found.group(1)), result.stdout


def _median_seconds(
    builds: Mapping[str, tuple[Path, Path]], program: Program, runs: int, timeout: float
) -> dict[str, float]:
    """Per side, the median wall time of `runs` runs; the sides alternate (after one untimed warm-up run each),
    so neither gains from running second (a warm page cache, a settled clock)."""
    seconds: dict[str, list[float]] = {side: [] for side in builds}
    for index in range(runs + 1):
        for side, (binary, workdir) in builds.items():
            started = time.perf_counter()
            run_tool(
                [str(binary), *program.args], f"{program.name}: running", ProgramError, cwd=workdir, timeout=timeout
            )
            if index:
                seconds[side].append(time.perf_counter() - started)
    return {side: statistics.median(values) for side, values in seconds.items()}


def measure_program(
    toolchain, program: Program, objects: Mapping[str, Sequence[Path]], *, runs: int = 5, timeout: float = 600.0
) -> dict:
    """Build `program` from each side's library objects (`{"default": [...], "policy": [...]}`), run and count.

    Returns the evaluation's runtime entry: `{"program", "library", "default": {"instructions", "seconds"},
    "policy": {...}, "ok", "error"}`; a failure of either side is the entry's `error`, never an exception.
    """
    entry: dict = {"program": program.name, "library": program.library, "ok": False, "error": None}
    try:
        with tempfile.TemporaryDirectory(prefix="mlgo-runtime-") as tmp:
            folder = Path(tmp)
            drivers = [
                compile_c(toolchain, source, folder / f"driver{index}.o", name=program.name, timeout=timeout)
                for index, source in enumerate(program.sources)
            ]
            outputs, builds = {}, {}
            for side in ("default", "policy"):
                workdir = folder / side
                workdir.mkdir()
                for path in program.data:
                    shutil.copy(path, workdir / path.name)
                binary = link_executable(
                    toolchain,
                    [*drivers, *objects[side]],
                    folder / f"{side}.bin",
                    program.link_flags,
                    name=f"{program.name} ({side})",
                    timeout=timeout,
                )
                builds[side] = binary, workdir
                instructions, outputs[side] = _instructions(binary, program, workdir, timeout)
                entry[side] = {"instructions": instructions}
            if outputs["default"] != outputs["policy"]:
                raise ProgramError(
                    f"{program.name}: the policy's build printed other output than the default's "
                    "(a miscompile, or a program whose output is not deterministic)"
                )
            for side, median in _median_seconds(builds, program, runs, timeout).items():
                entry[side]["seconds"] = median
    except (ProgramError, LinkError) as error:
        entry["error"] = str(error)
        return entry
    entry["ok"] = True
    return entry


def measure_programs(
    corpus: Corpus,
    programs: Sequence[Program],
    toolchain: Toolchain,
    objects: Path,
    default_errors: Mapping[str, str],
    policy_errors: Mapping[str, str],
    runs: int,
    timeout: float,
) -> list[dict]:
    """Build, run and count each program from its library's objects under both sides (in `objects/<side>`)."""
    entries = []
    for program in progress(programs, desc="runtime", unit="program"):
        members = corpus.libraries[program.library]
        failed = [
            f"{name} ({side})"
            for side, errors in (("default", default_errors), ("policy", policy_errors))
            for name in members
            if name in errors
        ]
        if failed:
            entries.append(
                {
                    "program": program.name,
                    "library": program.library,
                    "ok": False,
                    "error": f"modules of {program.library} did not compile: {', '.join(failed)}",
                }
            )
            continue
        entries.append(
            measure_program(
                toolchain,
                program,
                {side: [object_path(objects / side, name) for name in members] for side in ("default", "policy")},
                runs=runs,
                timeout=timeout,
            )
        )
    return entries

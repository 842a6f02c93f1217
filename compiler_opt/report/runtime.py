"""Runtime benchmarks: the corpus's runnable programs, built from objects compiled under each side, run and counted.

Costs in remarks are a proxy for speed. The programs are the ones the
corpus describes (`compiler_opt.corpus.programs`, which checks them).

A program is its library's modules (all of them, compiled by the evaluation
under the default heuristic and under the policy) linked with its driver
`sources` (C or C++ files in the corpus folder, compiled once at `-O2`: the
same driver object on both sides) by the clang driver and the `ld.lld` of
the same LLVM, with the C++ runtime when a source is C++ (as clang++ links;
the build and the count are `compiler_opt.collect.program_runs`'s).
Each build runs in a fresh folder holding copies of `data`, with a fixed
environment: under
`valgrind --tool=callgrind` for its instruction count (repeatable on a
noisy machine), then `runs` times natively for the wall time: the median,
the number of runs and their spread (fastest and slowest; the two builds
alternate, after one untimed run each, so order favours neither). The
policy build's output must equal the default build's, else the program is
reported as an error, never as a result (a miscompile, or a program that is
not deterministic).
`measure_programs` does this for an evaluation's programs, from the objects
kept under each side (`compiler_opt.report.compile_sides`); a program whose
library did not compile whole is listed with that error.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from compiler_opt.collect.program_runs import (
    BUILD_ERRORS,
    RUN_ENVIRONMENT,
    compile_drivers,
    count_instructions,
    link_program,
    prepare_folder,
    require_valgrind,
)
from compiler_opt.corpus.loading import Corpus
from compiler_opt.corpus.programs import Program, ProgramError
from compiler_opt.llvm.run import run_tool
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.progress import progress
from compiler_opt.report.compile_sides import object_path

__all__ = ["check_runtime_tools", "measure_program", "measure_programs"]


def check_runtime_tools() -> None:
    """Refuse, before anything is compiled, to run without valgrind."""
    require_valgrind("leave out --runtime")


def _wall_times(
    builds: Mapping[str, tuple[Path, Path]], program: Program, runs: int, timeout: float, output: bytes
) -> dict[str, dict[str, float]]:
    """Per side, the wall times of `runs` runs (`seconds`: the median; `runs`; `seconds_min`, `seconds_max`: the
    spread); the sides alternate (after one untimed warm-up run each), so neither gains from running second (a warm
    page cache, a settled clock). Every run must print `output` (what the builds printed under callgrind)."""
    seconds: dict[str, list[float]] = {side: [] for side in builds}
    for index in range(runs + 1):
        for side, (binary, workdir) in builds.items():
            started = time.perf_counter()
            result = run_tool(
                [f"./{binary.name}", *program.args],
                f"{program.name}: running",
                ProgramError,
                cwd=workdir,
                env=RUN_ENVIRONMENT,
                timeout=timeout,
            )
            elapsed = time.perf_counter() - started
            if result.stdout != output:
                raise ProgramError(
                    f"{program.name}: the {side} build printed other output natively than under callgrind "
                    "(a program whose output is not deterministic)"
                )
            if index:
                seconds[side].append(elapsed)
    return {
        side: {
            "seconds": statistics.median(values),
            "runs": len(values),
            "seconds_min": min(values),
            "seconds_max": max(values),
        }
        for side, values in seconds.items()
    }


def measure_program(
    toolchain, program: Program, objects: Mapping[str, Sequence[Path]], *, runs: int = 5, timeout: float = 600.0
) -> dict:
    """Build `program` from each side's library objects (`{"default": [...], "policy": [...]}`), run and count.

    Returns the evaluation's runtime entry: `{"program", "library", "held_out", "default": {"instructions",
    "seconds", "runs", "seconds_min", "seconds_max"}, "policy": {...}, "ok", "error"}`; a failure of either side
    (outputs that differ included) is the entry's `error` and `ok` is false, never an exception.
    """
    entry: dict = {
        "program": program.name,
        "library": program.library,
        "held_out": program.held_out,
        "ok": False,
        "error": None,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="mlgo-runtime-") as tmp:
            folder = Path(tmp)
            drivers = compile_drivers(toolchain, program, folder, timeout=timeout)
            outputs, builds = {}, {}
            for index, side in enumerate(("default", "policy")):
                workdir = prepare_folder(program, folder / f"build{index}")
                binary = link_program(
                    toolchain,
                    program,
                    [*drivers, *objects[side]],
                    workdir / "program",
                    name=f"{program.name} ({side})",
                    timeout=timeout,
                )
                builds[side] = binary, workdir
                run = count_instructions(binary, program, workdir, timeout=timeout)
                outputs[side] = run.stdout
                entry[side] = {"instructions": run.instructions}
            if outputs["default"] != outputs["policy"]:
                raise ProgramError(
                    f"{program.name}: the policy's build printed other output than the default's "
                    "(a miscompile, or a program whose output is not deterministic)"
                )
            for side, times in _wall_times(builds, program, runs, timeout, outputs["default"]).items():
                entry[side].update(times)
    except BUILD_ERRORS as error:
        # No figure of a failed program is kept: a report must not read a miscompile's count as a win.
        entry.pop("default", None)
        entry.pop("policy", None)
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
                    "held_out": program.held_out,
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

"""Running a corpus program: its binary built from library objects and driver sources, its instructions counted.

The primitives the runtime report (`compiler_opt.report.runtime`) and the
ES fitness on programs (`compiler_opt.es.program_fitness`) share. A program
(`compiler_opt.corpus.programs.Program`) is its library's objects linked
with its driver `sources` (compiled at `-O2`, the same driver object
whatever compiled the library: `compile_drivers`) by the clang driver and
the `ld.lld` of the same LLVM, with the C++ runtime when a source is C++ (as
clang++ links: `link_program`). It runs in a fresh folder holding copies of
its `data` (`prepare_folder`), under `valgrind --tool=callgrind`, which
counts the instructions it executes (`count_instructions`) and gives back
what it printed, so two builds' outputs can be compared. `run_program` does
all of it in a temporary folder. Every failure is a `ProgramError` or a
`LinkError` naming the program.

The count is repeatable on a noisy machine, unlike wall time, once what the
program starts with is the same: the process's environment, its `argv[0]`
and the path of the folder it runs in all land on its initial stack, and
their lengths change the instructions the C runtime's start-up executes (a
few hundred, measured with clang-19 and valgrind 3.19 on xxhash-bench). So
the program runs as `./<binary>` inside its run folder, whose path is padded
to `RUN_PATH_LENGTH` characters wherever the temporary folder is (a pool
worker has its own), with the fixed environment `RUN_ENVIRONMENT`.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.corpus.programs import Program, ProgramError
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.link import LinkError, compile_c, link_executable
from compiler_opt.llvm.run import run_tool
from compiler_opt.llvm.toolchain import Toolchain

__all__ = [
    "BUILD_ERRORS",
    "RUN_ENVIRONMENT",
    "RUN_PATH_LENGTH",
    "ProgramRun",
    "compile_drivers",
    "count_instructions",
    "driver_inputs_digest",
    "link_program",
    "prepare_folder",
    "require_valgrind",
    "run_conditions",
    "run_program",
]

_COLLECTED = re.compile(rb"Collected\s*:\s*(\d+)")
# What building or running a program raises (each names the program).
BUILD_ERRORS = (LinkError, ProgramError)
RUN_PATH_LENGTH = 240
RUN_ENVIRONMENT = {"LC_ALL": "C"}


@dataclass(frozen=True)
class ProgramRun:
    """One run of a program's build under callgrind: the instructions it executed and what it printed."""

    instructions: int
    stdout: bytes


def require_valgrind(hint: str) -> None:
    """Refuse, before anything is compiled, to count instructions without valgrind (`hint`: how to do without)."""
    if shutil.which("valgrind") is None:
        raise MlgoError(
            f"counting a program's instructions needs valgrind, which is not installed: apt-get install valgrind "
            f"(scripts/bootstrap.sh does), or {hint}"
        )


def compile_drivers(toolchain: Toolchain, program: Program, folder: Path, *, timeout: float = 600.0) -> list[Path]:
    """`program`'s driver sources compiled at `-O2` into `folder` (`driver<i>.o`)."""
    return [
        compile_c(toolchain, source, folder / f"driver{index}.o", name=program.name, timeout=timeout)
        for index, source in enumerate(program.sources)
    ]


def link_program(
    toolchain: Toolchain,
    program: Program,
    objects: Sequence[Path],
    output: Path,
    *,
    name: str = "",
    timeout: float = 600.0,
) -> Path:
    """`objects` (drivers and library) linked into the program `output` with its link flags (and the C++ runtime
    when a driver is C++); `name` names the build in errors (default: the program's)."""
    flags = [*program.link_flags, *(["-lstdc++"] if program.cxx else [])]
    return link_executable(toolchain, objects, output, flags, name=name or program.name, timeout=timeout)


def prepare_folder(program: Program, parent: Path) -> Path:
    """A fresh folder in the new folder `parent` holding copies of `program`'s data files, for it to run in; its
    path is `RUN_PATH_LENGTH` characters long (see the module docstring)."""
    parent.mkdir()
    parent = parent.resolve()
    pad = RUN_PATH_LENGTH - len(str(parent)) - 1
    if pad < 1:
        raise ProgramError(
            f"{program.name}: the temporary folder {parent} has a path too long to run programs in repeatably "
            f"(over {RUN_PATH_LENGTH - 2} characters); set TMPDIR to a shorter one"
        )
    folder = parent / ("r" * pad)
    folder.mkdir()
    for path in program.data:
        shutil.copy(path, folder / path.name)
    return folder


def count_instructions(binary: Path, program: Program, workdir: Path, *, timeout: float = 600.0) -> ProgramRun:
    """Run `binary` (in `workdir`, from `prepare_folder`) with `program`'s arguments there under callgrind: its
    instruction count and output."""
    if binary.parent.resolve() != workdir.resolve():
        raise ProgramError(f"{program.name}: the binary {binary} must be in the folder it runs in, {workdir}")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise ProgramError(f"{program.name}: valgrind is not installed")
    out = workdir / "callgrind.out"
    result = run_tool(
        [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", f"./{binary.name}", *program.args],
        f"{program.name}: running under callgrind",
        ProgramError,
        cwd=workdir,
        env=RUN_ENVIRONMENT,
        timeout=timeout,
    )
    found = _COLLECTED.search(result.stderr)
    if found is None:
        raise ProgramError(f"{program.name}: callgrind printed no instruction count")
    return ProgramRun(int(found.group(1)), result.stdout)


def run_program(
    toolchain: Toolchain, program: Program, objects: Sequence[Path], *, name: str = "", timeout: float = 600.0
) -> ProgramRun:
    """Build `program` from its library's `objects` in a temporary folder and count its instructions."""
    with tempfile.TemporaryDirectory(prefix="mlgo-program-") as tmp:
        folder = Path(tmp)
        drivers = compile_drivers(toolchain, program, folder, timeout=timeout)
        workdir = prepare_folder(program, folder / "run")
        binary = link_program(toolchain, program, [*drivers, *objects], workdir / "program", name=name, timeout=timeout)
        return count_instructions(binary, program, workdir, timeout=timeout)


def driver_inputs_digest(toolchain: Toolchain, program: Program, *, timeout: float = 120.0) -> str:
    """sha256 over the content of every file `program`'s build reads from outside the system: its driver
    sources, the headers they include (as `clang -MM` lists them), its data files; for cache keys."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for source in program.sources:
        listed = run_tool(
            [str(toolchain.clang), "-MM", str(source)],
            f"{program.name}: listing {source.name}'s headers",
            LinkError,
            cwd=source.parent,
            timeout=timeout,
        )
        text = listed.stdout.decode().replace("\\\n", " ")
        files.extend(source.parent / word for word in text.partition(":")[2].split())
    for path in [*files, *program.data]:
        digest.update(f"\0{path.name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def run_conditions() -> dict:
    """What besides the program decides its count here: valgrind's and the C library's versions, the fixed
    environment and run-folder path length (for cache keys)."""
    valgrind = shutil.which("valgrind")
    version = b"" if valgrind is None else run_tool([valgrind, "--version"], "valgrind --version", MlgoError).stdout
    return {
        "valgrind": version.decode().strip(),
        "libc": " ".join(platform.libc_ver()),
        "environment": RUN_ENVIRONMENT,
        "path_length": RUN_PATH_LENGTH,
    }

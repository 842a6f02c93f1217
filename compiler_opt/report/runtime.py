"""Runtime benchmarks: the corpus's runnable programs, built from objects compiled under each side, run and counted.

Costs in remarks are a proxy for speed. A corpus may name programs in its
`corpus_description.json` (the sample corpus does, `corpus_tools/sample_programs.json`):

    "programs": [{"name": "lz4-roundtrip", "library": "lz4", "sources": ["programs/lz4_roundtrip.c"],
                  "args": ["256", "2"], "link_flags": [], "data": []}]

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

A corpus is untrusted input: source and data paths must stay inside the
corpus folder, and link flags are limited to `-pthread` and `-l<name>`, so a
description cannot make the linker load a plugin or write elsewhere.
"""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.link import LinkError, compile_c, link_executable
from compiler_opt.tool_run import run_tool

if TYPE_CHECKING:
    from compiler_opt.corpus.loading import Corpus

__all__ = ["Program", "ProgramError", "load_programs", "measure_program", "check_runtime_tools"]

_LINK_FLAG = re.compile(r"^(-pthread|-l[A-Za-z0-9_+.-]+)$")
_COLLECTED = re.compile(rb"Collected\s*:\s*(\d+)")


class ProgramError(MlgoError):
    """A runtime program that could not be described, built or run; the message names it."""


@dataclass(frozen=True)
class Program:
    """One runnable benchmark program of a corpus (see the module docstring)."""

    name: str
    library: str
    sources: tuple[Path, ...]
    args: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    data: tuple[Path, ...] = ()


def _inside(root: Path, relative: Any, where: str) -> Path:
    if not isinstance(relative, str) or not relative:
        raise ProgramError(f"{where}: paths must be non-empty strings, got {relative!r}")
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ProgramError(f"{where}: {relative!r} is outside the corpus folder")
    if not path.is_file():
        raise ProgramError(f"{where}: {relative!r} does not exist in the corpus folder")
    return path


def _strings(entry: Mapping, key: str, where: str) -> list:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProgramError(f"{where}: \"{key}\" must be a list of strings")
    return value


def load_programs(corpus: "Corpus", names: Sequence[str] = ()) -> list[Program]:
    """The programs `corpus`'s description names (only `names`, if given), checked (see the module docstring)."""
    root, entries, libraries = corpus.root, corpus.programs, corpus.libraries
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ProgramError(f"{root}: \"programs\" in corpus_description.json must be a list")
    programs = []
    for index, entry in enumerate(entries):
        where = f"{root}: programs[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ProgramError(f"{where}: a program must be an object with a string \"name\"")
        where = f"{where} ({entry['name']})"
        library = entry.get("library")
        if library not in libraries:
            raise ProgramError(f"{where}: its library {library!r} is not one of the corpus's libraries")
        flags = _strings(entry, "link_flags", where)
        bad = [flag for flag in flags if not _LINK_FLAG.match(flag)]
        if bad:
            raise ProgramError(f"{where}: link flags may only be -pthread and -l<name>, not {' '.join(bad)}")
        sources = tuple(_inside(root, s, where) for s in _strings(entry, "sources", where))
        if not sources:
            raise ProgramError(f"{where}: a program needs at least one driver source")
        programs.append(Program(entry["name"], library, sources, tuple(_strings(entry, "args", where)),
                                tuple(flags), tuple(_inside(root, d, where) for d in _strings(entry, "data", where))))
    unknown = sorted(set(names) - {p.name for p in programs})
    if unknown:
        raise ProgramError(f"{root}: no program {', '.join(unknown)}; the corpus has: "
                           f"{', '.join(p.name for p in programs) or 'none'}")
    return [p for p in programs if p.name in names] if names else programs


def check_runtime_tools() -> None:
    """Refuse, before anything is compiled, to run without valgrind."""
    if shutil.which("valgrind") is None:
        raise MlgoError("--runtime counts instructions with valgrind, which is not installed: "
                        "apt-get install valgrind (scripts/bootstrap.sh does), or leave out --runtime")


def _instructions(binary: Path, program: Program, workdir: Path, timeout: float) -> tuple[int, bytes]:
    out = workdir / "callgrind.out"
    result = run_tool(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary), *program.args],
                      f"{program.name}: running under callgrind", ProgramError, cwd=workdir, timeout=timeout)
    found = _COLLECTED.search(result.stderr)
    if found is None:
        raise ProgramError(f"{program.name}: callgrind printed no instruction count")
    return int(found.group(1)), result.stdout


def _median_seconds(builds: Mapping[str, tuple[Path, Path]], program: Program, runs: int,
                    timeout: float) -> dict[str, float]:
    """Per side, the median wall time of `runs` runs; the sides alternate (after one untimed warm-up run each),
    so neither gains from running second (a warm page cache, a settled clock)."""
    seconds: dict[str, list[float]] = {side: [] for side in builds}
    for index in range(runs + 1):
        for side, (binary, workdir) in builds.items():
            started = time.perf_counter()
            run_tool([str(binary), *program.args], f"{program.name}: running", ProgramError, cwd=workdir,
                     timeout=timeout)
            if index:
                seconds[side].append(time.perf_counter() - started)
    return {side: statistics.median(values) for side, values in seconds.items()}


def measure_program(toolchain, program: Program, objects: Mapping[str, Sequence[Path]], *, runs: int = 5,
                    timeout: float = 600.0) -> dict:
    """Build `program` from each side's library objects (`{"default": [...], "policy": [...]}`), run and count.

    Returns the evaluation's runtime entry: `{"program", "library", "default": {"instructions", "seconds"},
    "policy": {...}, "ok", "error"}`; a failure of either side is the entry's `error`, never an exception.
    """
    entry: dict = {"program": program.name, "library": program.library, "ok": False, "error": None}
    try:
        with tempfile.TemporaryDirectory(prefix="mlgo-runtime-") as tmp:
            folder = Path(tmp)
            drivers = [compile_c(toolchain, source, folder / f"driver{index}.o", name=program.name, timeout=timeout)
                       for index, source in enumerate(program.sources)]
            outputs, builds = {}, {}
            for side in ("default", "policy"):
                workdir = folder / side
                workdir.mkdir()
                for path in program.data:
                    shutil.copy(path, workdir / path.name)
                binary = link_executable(toolchain, [*drivers, *objects[side]], folder / f"{side}.bin",
                                         program.link_flags, name=f"{program.name} ({side})", timeout=timeout)
                builds[side] = binary, workdir
                instructions, outputs[side] = _instructions(binary, program, workdir, timeout)
                entry[side] = {"instructions": instructions}
            if outputs["default"] != outputs["policy"]:
                raise ProgramError(f"{program.name}: the policy's build printed other output than the default's "
                                   "(a miscompile, or a program whose output is not deterministic)")
            for side, median in _median_seconds(builds, program, runs, timeout).items():
                entry[side]["seconds"] = median
    except (ProgramError, LinkError) as error:
        entry["error"] = str(error)
        return entry
    entry["ok"] = True
    return entry

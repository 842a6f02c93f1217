"""Measured block frequencies for a corpus's modules: its programs profiled, and the profiles kept on disk.

Without a profile the compiler guesses how often each block runs, and the
register allocator's remark costs are weighted by those guesses. With one,
they are weighted by counts measured on the corpus's own workloads
(`compiler_opt.corpus.programs`). `collect_profiles` does, per library that
a program runs:

1. compile each of the library's modules with its own cc1 command plus
   IR instrumentation (`compiler_opt.llvm.profdata.INSTRUMENT_CC1`), compile
   each program's driver sources at `-O2` (not instrumented: they are not
   corpus modules), link with the profile runtime;
2. run each of the library's programs with its `args` in a fresh folder
   holding copies of its `data` (as `compiler_opt.report.runtime` does),
   writing raw profiles; a program that fails is a `ProfileError` naming it;
3. merge them all into one `.profdata`, and find which modules it covers: a
   module has a profile when the workload ran at least one of its functions.

`ProfileSet.profiles` maps each covered module to its library's `.profdata`;
`ProfileSet.missing` names every other module with why (no program runs its
library; the workload never ran any of its functions; it has no functions).
`ProfileSet.apply` gives a corpus whose modules compile with their profiles
(`ModuleSpec.profile`, passed to cc1 as `-fprofile-instrument-use-path=`).

Profiles are cached like baselines (`compiler_opt.collect.baseline`), in
`cache_dir() / "profiles"` unless told otherwise: one entry per library,
`<folder>/<key[:2]>/<key>/` holding `profile.profdata` and `profile.json`
(written last: an entry without it is incomplete and is rebuilt), keyed by a
sha256 over the compiler's identity, every module of the library (name,
content and command line with placeholders for paths), and every program
of it (driver sources' and data files' contents, args and link flags).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.corpus.loading import Corpus, ModuleSpec
from compiler_opt.corpus.programs import Program, load_programs
from compiler_opt.llvm.link import compile_c, link_executable
from compiler_opt.llvm.profdata import (
    INSTRUMENT_CC1,
    PROFILE_RUNTIME_LINK_FLAG,
    ProfileError,
    function_counts,
    instrumented_functions,
    merge_profiles,
)
from compiler_opt.llvm.run import run_tool
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.paths import cache_dir, write_atomically

__all__ = ["ProfileError", "ProfileSet", "collect_profiles", "profile_key"]

FORMAT_VERSION = 1
_PROFILE, _SUMMARY = "profile.profdata", "profile.json"
_CHUNK = 1 << 20


@dataclass
class ProfileSet:
    """What `collect_profiles` found (see the module docstring); `built`/`reused` list libraries."""

    profiles: dict[str, Path] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    built: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    def apply(self, corpus: Corpus) -> Corpus:
        """`corpus` with each profiled module compiling with its profile (the others unchanged)."""
        modules = tuple(dataclasses.replace(spec, profile=self.profiles.get(spec.name)) for spec in corpus.modules)
        return dataclasses.replace(corpus, modules=modules)

    def describe(self) -> str:
        """A short account: how many modules have a profile, and each one without, with why."""
        lines = [f"profiles: {len(self.profiles)} modules profiled, {len(self.missing)} without a profile"]
        lines += [f"  {name}: {why}" for name, why in sorted(self.missing.items())]
        return "\n".join(lines)


def collect_profiles(
    toolchain: Toolchain,
    corpus: Corpus,
    programs: Sequence[Program] | None = None,
    *,
    folder: Path | None = None,
    timeout: float = 600.0,
) -> ProfileSet:
    """Profiles of `corpus`'s modules from `programs` (default: all the corpus's), cached in `folder`."""
    folder = cache_dir() / "profiles" if folder is None else Path(folder)
    programs = load_programs(corpus) if programs is None else programs
    by_library: dict[str, list[Program]] = {}
    for program in programs:
        by_library.setdefault(program.library, []).append(program)
    found = ProfileSet()
    for library, members in corpus.libraries.items():
        if library not in by_library:
            for name in members:
                found.missing[name] = f"none of the programs profiled runs its library {library}"
            continue
        specs = [corpus.module(name) for name in members]
        entry = folder / (key := profile_key(toolchain, specs, by_library[library]))[:2] / key
        summary = _read_summary(entry, key)
        if summary is None:
            summary = _build(toolchain, specs, by_library[library], entry, key, timeout)
            found.built.append(library)
        else:
            found.reused.append(library)
        for name in members:
            functions, ran = summary["modules"].get(name, (0, 0))
            if not functions:
                found.missing[name] = "it has no functions to profile"
            elif not ran:
                names = ", ".join(p.name for p in by_library[library])
                found.missing[name] = f"the workload ({names}) ran none of its {functions} functions"
            else:
                found.profiles[name] = entry / _PROFILE
    return found


def profile_key(toolchain: Toolchain, specs: Iterable[ModuleSpec], programs: Iterable[Program]) -> str:
    """The cache key of a library's profile: its modules and programs under `toolchain` (module docstring)."""
    modules = []
    for spec in sorted(specs, key=lambda s: s.name):
        command = dataclasses.replace(
            spec.command("<clang>"),
            bitcode="<module.bc>",
            thinlto_index=None if spec.thinlto_index is None else "<module.thinlto.bc>",
            profile=None,
        )
        contents = [_file_hash(path) for path in (spec.bitcode, spec.thinlto_index) if path is not None]
        modules.append([spec.name, contents, command.argv(Path("<output.o>"), INSTRUMENT_CC1)])
    material = {
        "format": FORMAT_VERSION,
        "compiler": toolchain.identity,
        "modules": modules,
        "programs": [
            [
                [_file_hash(s) for s in p.sources],
                [s.suffix for s in p.sources],
                list(p.args),
                list(p.link_flags),
                [[d.name, _file_hash(d)] for d in p.data],
            ]
            for p in sorted(programs, key=lambda p: p.name)
        ],
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _build(
    toolchain: Toolchain, specs: list[ModuleSpec], programs: list[Program], entry: Path, key: str, timeout: float
) -> dict:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mlgo-profile-") as tmp:
        work = Path(tmp)
        objects, functions = [], {}
        for index, spec in enumerate(specs):
            obj = work / f"module{index}.o"
            command = dataclasses.replace(spec.command(toolchain.clang), profile=None)
            run_tool(
                command.argv(obj, INSTRUMENT_CC1),
                f"{spec.name}: compiling instrumented for {', '.join(p.name for p in programs)}",
                ProfileError,
                timeout=timeout,
            )
            objects.append(obj)
            functions[spec.name] = instrumented_functions(toolchain, obj, timeout=timeout)
        raw = work / "raw"
        raw.mkdir()
        for index, program in enumerate(programs):
            _run_instrumented(toolchain, program, objects, work / f"program{index}", raw / f"{index}-%p", timeout)
        raws = sorted(raw.glob("*.profraw"))
        if not raws:
            raise ProfileError(f"{', '.join(p.name for p in programs)}: the instrumented runs wrote no profile")
        profile = merge_profiles(toolchain, raws, work / _PROFILE, timeout=timeout)
        counts = function_counts(toolchain, profile, timeout=timeout)
        entry.mkdir(parents=True, exist_ok=True)
        write_atomically(entry / _PROFILE, profile.read_bytes())
    summary = {
        "format": FORMAT_VERSION,
        "key": key,
        "compiler": toolchain.identity,
        "programs": [p.name for p in programs],
        # Per module: its instrumented functions, and how many of them the workload ran.
        "modules": {
            name: (len(names), sum(1 for f in names if counts.get(f, 0) > 0)) for name, names in functions.items()
        },
        "seconds": round(time.monotonic() - started, 3),
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_atomically(entry / _SUMMARY, json.dumps(summary).encode())
    return summary


def _run_instrumented(
    toolchain: Toolchain, program: Program, objects: list[Path], folder: Path, raw: Path, timeout: float
) -> None:
    """Build `program` from the instrumented `objects` in `folder` and run it there, its raw profile written to
    `raw.profraw` (a name of ours: a program's name comes from the corpus)."""
    folder.mkdir()
    drivers = [
        compile_c(toolchain, source, folder / f"driver{index}.o", name=program.name, timeout=timeout)
        for index, source in enumerate(program.sources)
    ]
    flags = [*program.link_flags, *(["-lstdc++"] if program.cxx else []), PROFILE_RUNTIME_LINK_FLAG]
    binary = link_executable(
        toolchain,
        [*drivers, *objects],
        folder / "program.bin",
        flags,
        name=f"{program.name} (instrumented)",
        timeout=timeout,
    )
    workdir = folder / "run"
    workdir.mkdir()
    for path in program.data:
        shutil.copy(path, workdir / path.name)
    run_tool(
        [str(binary), *program.args],
        f"{program.name}: running instrumented",
        ProfileError,
        cwd=workdir,
        env={**os.environ, "LLVM_PROFILE_FILE": f"{raw}.profraw"},
        timeout=timeout,
    )


def _read_summary(entry: Path, key: str) -> dict | None:
    try:
        summary = json.loads((entry / _SUMMARY).read_text())
        if summary["key"] != key or summary["format"] != FORMAT_VERSION or not (entry / _PROFILE).is_file():
            return None
        summary["modules"] = {name: (int(n), int(ran)) for name, (n, ran) in summary["modules"].items()}
        return summary
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _file_hash(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()

"""The corpus's runnable benchmark programs: their description in `corpus_description.json`, checked.

A corpus may name programs (the sample corpus does, from
`corpus_tools/sample_programs.json`):

    "programs": [{"name": "lz4-roundtrip", "library": "lz4", "sources": ["programs/lz4_roundtrip.c"],
                  "args": ["256", "2"], "link_flags": [], "data": [], "held_out": false}]

A program is its library's modules linked with its driver `sources` (C
files, or C++ ones named `.cc`, `.cpp` or `.cxx`, in the corpus folder); it
runs with `args` in a folder holding copies of `data`
(`compiler_opt.report.runtime` builds, runs and measures it). A program
`held_out` keeps its library out of training: `held_out_libraries` lists
those libraries, and splitting the corpus always puts them on the validation
side (`compiler_opt.corpus.splitting.split_by_library`).

A corpus is untrusted input: source and data paths must stay inside the
corpus folder, and link flags are limited to `-pthread` and `-l<name>`, so a
description cannot make the linker load a plugin or write elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler_opt.corpus.layout import PROGRAMS_KEY, read_description, write_description
from compiler_opt.errors import MlgoError

if TYPE_CHECKING:
    from compiler_opt.corpus.loading import Corpus

__all__ = ["CXX_SUFFIXES", "Program", "ProgramError", "held_out_libraries", "load_programs", "write_programs"]

_LINK_FLAG = re.compile(r"^(-pthread|-l[A-Za-z0-9_+.-]+)$")
CXX_SUFFIXES = (".cc", ".cpp", ".cxx")
_SUFFIXES = (".c", *CXX_SUFFIXES)


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
    held_out: bool = False

    @property
    def cxx(self) -> bool:
        """Whether a driver source is C++ (the program then links the C++ runtime, as clang++ would)."""
        return any(source.suffix in CXX_SUFFIXES for source in self.sources)


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
        raise ProgramError(f'{where}: "{key}" must be a list of strings')
    return value


def load_programs(corpus: Corpus, names: Sequence[str] = ()) -> list[Program]:
    """The programs `corpus`'s description names (only `names`, if given), checked (see the module docstring)."""
    root, entries, libraries = corpus.root, corpus.programs, corpus.libraries
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ProgramError(f'{root}: "{PROGRAMS_KEY}" in corpus_description.json must be a list')
    programs = []
    for index, entry in enumerate(entries):
        where = f"{root}: {PROGRAMS_KEY}[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ProgramError(f'{where}: a program must be an object with a string "name"')
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
        odd = [source.name for source in sources if source.suffix not in _SUFFIXES]
        if odd:
            raise ProgramError(
                f"{where}: driver sources must be C or C++ ({', '.join(_SUFFIXES)}), not {', '.join(odd)}"
            )
        if not isinstance(entry.get("held_out", False), bool):
            raise ProgramError(f'{where}: "held_out" must be true or false')
        programs.append(
            Program(
                entry["name"],
                library,
                sources,
                tuple(_strings(entry, "args", where)),
                tuple(flags),
                tuple(_inside(root, d, where) for d in _strings(entry, "data", where)),
                entry.get("held_out", False),
            )
        )
    unknown = sorted(set(names) - {p.name for p in programs})
    if unknown:
        raise ProgramError(
            f"{root}: no program {', '.join(unknown)}; the corpus has: {', '.join(p.name for p in programs) or 'none'}"
        )
    return [p for p in programs if p.name in names] if names else programs


def held_out_libraries(entries: Any) -> set[str]:
    """The libraries of the held-out programs among a corpus's program `entries` (its `programs`; None: none).

    Read leniently (an entry that is not a held-out program with a string
    library is skipped), since splitting needs no more than this and the
    programs are checked when they are built (`load_programs`).
    """
    if not isinstance(entries, list):
        return set()
    return {
        entry["library"]
        for entry in entries
        if isinstance(entry, Mapping) and entry.get("held_out") is True and isinstance(entry.get("library"), str)
    }


def write_programs(root: Path, entries: list[dict]) -> None:
    """Make `entries` (as in the module docstring) the programs of the corpus in `root`; no write when they are."""
    description = read_description(root)
    if description.extra.get(PROGRAMS_KEY) != entries:
        description.extra[PROGRAMS_KEY] = entries
        write_description(root, description)

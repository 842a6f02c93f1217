"""Linked size as a module's value: how its object changes its library's linked `.text`.

Per-object size overstates some inlining gains: a `linkonce_odr` function
inlined into every caller of one object disappears from that object, but the
linker would have kept one copy for the whole library anyway. For a corpus
that records how its modules link (corpus_description.json's "libraries"),
`LinkedScorer` values a module's compile as

    linked value = v(-Oz object) + T(library, candidate) - T(library, -Oz)

where `v` is the problem's per-object value (Berkeley text) and `T` the
`.text` bytes of the library linked as `compiler_opt.llvm.link` links it
(`-shared -Wl,--gc-sections`), `T(library, candidate)` with this module's
object replaced by the candidate and every other member keeping its `-Oz`
object. So the `-Oz` object is worth exactly its per-object value, and the
figure adds up and compares with per-object values in the same reward
(`compiler_opt.collect.reward.relative_reward`). It costs one link of the
library per compile valued (a candidate whose bytes equal the `-Oz` object
costs nothing).

`LinkedBaselines` is the scorer's source: for the libraries of the modules
asked for, it compiles every member's `-Oz` object and links the library
from them, on the pool, once (`compiler_opt.collect.linked_cache`), then
gives a `LinkedScorer` that reads those objects by path: it pickles small
and values compiles inside pool workers that share the cache's file system.

A module in no library, or in a library that cannot be linked (a member
missing from the corpus, failing to compile, or a failing link), is valued
per object; each such case is warned about once, naming the modules or the
library and why.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.collect.linked_cache import LinkedCache, ObjectEntry, sha256_bytes
from compiler_opt.corpus.loading import Corpus, ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.cmdline import CompileCommand
from compiler_opt.llvm.link import LinkError, link_shared
from compiler_opt.llvm.measure import MeasurementError, ObjectSize, object_sizes
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.pool.base import Job, WorkerPool
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import Problem
from compiler_opt.problems.measurements import Score

__all__ = ["LinkedBaselines", "LinkedScorer", "link_library"]

_LOG = logging.getLogger(__name__)
LINK_TIMEOUT = 600.0
_WARNED: set[str] = set()  # this process's warnings about candidate links that failed, by library


def link_library(toolchain: Toolchain, objects: Sequence[Path], output: Path, *, name: str = "") -> ObjectSize:
    """Link `objects` into the shared library `output` (`llvm.link.link_shared`) and measure it."""
    link_shared(toolchain, objects, output, name=name, timeout=LINK_TIMEOUT)
    return object_sizes(toolchain, [output])[0]


def compile_oz_object(
    toolchain: Toolchain, problem: str, command: CompileCommand, timeout: float
) -> tuple[Score, bytes]:
    """A job: the module's plain compile (advisor off, as its baseline), its score and object bytes."""
    from compiler_opt.collect.actor import ADVISOR_OFF, act

    acted = act(toolchain, get_problem(problem), command, ADVISOR_OFF, timeout=timeout, keep_object=True)
    assert acted.object is not None  # kept as asked
    return acted.measured_score, acted.object


def link_oz_library(toolchain: Toolchain, library: str, objects: Sequence[Path]) -> ObjectSize:
    """A job: the sizes of `library` linked from its members' `-Oz` objects."""
    with tempfile.TemporaryDirectory(prefix="mlgo-link-") as tmp:
        return link_library(toolchain, objects, Path(tmp) / "library.so", name=f"library {library} (-Oz)")


@dataclass(frozen=True)
class _Library:
    objects: tuple[Path, ...]  # every member's -Oz object, in the corpus's member order
    text_section: int  # .text of the library linked from them


@dataclass(frozen=True)
class _Member:
    library: str
    index: int  # its place in the library's objects
    value: float  # the problem's value of its -Oz object
    sha256: str  # of its -Oz object


@dataclass(frozen=True)
class LinkedScorer:
    """Values compiles by linked size (module docstring); a `compiler_opt.collect.scoring.ModuleScorer`."""

    toolchain: Toolchain
    problem: str
    libraries: Mapping[str, _Library] = field(default_factory=dict)
    members: Mapping[str, _Member] = field(default_factory=dict)
    name: str = "linked"
    needs_object: bool = True

    def value(self, module: str, score: Score, obj: bytes | None) -> float:
        member = self.members.get(module)
        if obj is None or member is None:
            return self._object_value(score)
        if sha256_bytes(obj) == member.sha256:
            return member.value
        try:
            linked = self.linked_text(module, obj)
        except (LinkError, MeasurementError) as error:
            if member.library not in _WARNED:
                _WARNED.add(member.library)
                _LOG.warning("library %s: a candidate link failed, valued per object (%s)", member.library, error)
            return self._object_value(score)
        return member.value + (linked - self.libraries[member.library].text_section)

    def linked_text(self, module: str, obj: bytes) -> int:
        """The `.text` bytes of `module`'s library linked with `obj` as its object, the other members at `-Oz`."""
        member = self.members[module]
        library = self.libraries[member.library]
        with tempfile.TemporaryDirectory(prefix="mlgo-link-") as tmp:
            candidate = Path(tmp) / "candidate.o"
            candidate.write_bytes(obj)
            objects = list(library.objects)
            objects[member.index] = candidate
            name = f"library {member.library} with {module}'s candidate object"
            return link_library(self.toolchain, objects, Path(tmp) / "library.so", name=name).text_section

    def _object_value(self, score: Score) -> float:
        return get_problem(self.problem).measurement.rescore(score).value


class LinkedBaselines:
    """Gives `LinkedScorer`s, preparing (once, on the pool, cached in `folder`) the libraries they need."""

    name = "linked"
    needs_object = True

    def __init__(self, folder: str | os.PathLike, toolchain: Toolchain, problem: Problem, corpus: Corpus) -> None:
        if problem.measurement.unit != "bytes":
            raise MlgoError(
                f"linked size values a module by bytes of linked code; problem {problem.name} measures "
                f"{problem.measurement.name}: use reward size 'object'"
            )
        self.cache = LinkedCache(folder, toolchain, problem)
        self.toolchain, self.problem, self.corpus = toolchain, problem, corpus
        self.library_of = {m: library for library, members in corpus.libraries.items() for m in members}
        self.counts = {"objects_computed": 0, "objects_reused": 0, "links_computed": 0, "links_reused": 0}
        self._specs = {spec.name: spec for spec in corpus.modules}
        self._objects: dict[str, ObjectEntry] = {}  # module -> its -Oz object
        self._libraries: dict[str, _Library] = {}
        self._unusable: dict[str, str] = {}  # library -> why it is valued per object
        self._orphans: set[str] = set()

    def scorer(self, modules: Sequence[ModuleSpec], pool: WorkerPool, *, timeout: float = 600.0) -> LinkedScorer:
        """The scorer of `modules`: their libraries' `-Oz` objects and links prepared (see the module docstring)."""
        orphans = sorted({m.name for m in modules if m.name not in self.library_of} - self._orphans)
        if orphans:
            self._orphans.update(orphans)
            shown = ", ".join(orphans[:5]) + (f" and {len(orphans) - 5} more" if len(orphans) > 5 else "")
            self._warn(f"{len(orphans)} modules are in no library of {self.corpus.root}, valued per object: {shown}")
        wanted = sorted({self.library_of[m.name] for m in modules if m.name in self.library_of})
        for library in wanted:
            missing = [m for m in self.corpus.libraries[library] if m not in self._specs]
            if missing and library not in self._unusable:
                self._set_unusable(library, f"{len(missing)} of its members are not in the corpus ({missing[0]}, ...)")
        wanted = [library for library in wanted if library not in self._unusable]
        self._prepare_objects(wanted, pool, timeout)
        self._prepare_links([lib for lib in wanted if lib not in self._unusable], pool)
        libraries = {lib: self._libraries[lib] for lib in wanted if lib in self._libraries}
        members = {
            name: _Member(library, index, self._value(self._objects[name].score), self._objects[name].sha256)
            for library in libraries
            for index, name in enumerate(self.corpus.libraries[library])
        }
        return LinkedScorer(self.toolchain, self.problem.name, libraries, members)

    def _prepare_objects(self, libraries: Sequence[str], pool: WorkerPool, timeout: float) -> None:
        keys, owner, jobs = {}, {}, []
        for library in libraries:
            for name in self.corpus.libraries[library]:
                if name in self._objects:
                    continue
                command = self._specs[name].command(self.toolchain.clang)
                key = keys[name] = self.cache.object_key(command)
                owner[name] = library
                entry = self.cache.read_object(key)
                if entry is not None:
                    self._objects[name] = entry
                    self.counts["objects_reused"] += 1
                    continue
                args = (self.toolchain, self.problem.name, command, timeout)
                jobs.append(Job(name, compile_oz_object, args, timeout=timeout + 60.0, files=command.files))
        for result in pool.run(jobs, desc="linked-size objects"):
            if result.ok:
                score, data = result.value
                self._objects[result.key] = self.cache.write_object(keys[result.key], result.key, data, score)
                self.counts["objects_computed"] += 1
            elif owner[result.key] not in self._unusable:
                self._set_unusable(owner[result.key], f"member {result.key} failed to compile ({result.error})")

    def _prepare_links(self, libraries: Sequence[str], pool: WorkerPool) -> None:
        keys, jobs = {}, []
        for library in libraries:
            if library in self._libraries:
                continue
            members = self.corpus.libraries[library]
            entries = [self._objects[name] for name in members]
            key = keys[library] = self.cache.link_key(members, [entry.sha256 for entry in entries])
            size = self.cache.read_link(key)
            objects = tuple(entry.path for entry in entries)
            if size is not None:
                self._libraries[library] = _Library(objects, size.text_section)
                self.counts["links_reused"] += 1
                continue
            jobs.append(Job(library, link_oz_library, (self.toolchain, library, objects), timeout=LINK_TIMEOUT + 60))
        for result in pool.run(jobs, desc="linked-size libraries"):
            library = result.key
            if not result.ok:
                self._set_unusable(library, f"its -Oz link failed ({result.error})")
                continue
            members = self.corpus.libraries[library]
            self.cache.write_link(keys[library], library, members, result.value)
            objects = tuple(self._objects[name].path for name in members)
            self._libraries[library] = _Library(objects, result.value.text_section)
            self.counts["links_computed"] += 1

    def _value(self, score: Score) -> float:
        return self.problem.measurement.rescore(score).value

    def _set_unusable(self, library: str, why: str) -> None:
        self._unusable[library] = why
        self._warn(f"library {library} cannot be linked, its modules are valued per object: {why}")

    @staticmethod
    def _warn(message: str) -> None:
        _LOG.warning("linked size: %s", message)

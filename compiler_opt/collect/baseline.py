"""The default heuristic's score for each module, computed once and kept on disk.

Rewards compare a policy's compile with the compiler's own heuristic on the
same module. That baseline does not change between iterations, so it is
computed once per module on the pool and kept in a folder the caller names
(the run folder, or `cache_dir() / "baselines"` to share it between runs).

An entry's key is a sha256 over everything that decides the result:
- the module's content: sha256 of its `.bc`, and of its `.thinlto.bc` if any
  (not its path: a moved corpus keeps its baselines);
- the compiler's identity (`Toolchain.identity`: version text, binary path,
  size and mtime), so an upgraded or rebuilt clang recomputes everything;
- the full compile command line as the job runs it (with the clang, module
  and output paths replaced by placeholders), including the options the
  measurement adds;
- the problem's and the measurement's names, and how the baseline is made.
Nothing stale can match: any change gives a new key, and old entries are
simply never read again (delete the folder to reclaim the space).

Each entry is one small JSON file, `<folder>/<key[:2]>/<key>.json`, written
to a temporary name, fsynced and renamed into place as soon as its job
finishes: a run killed mid-way keeps every entry already written, and a
reader sees whole entries or none. An entry that does not parse, or whose
recorded key does not match its name, is treated as missing and recomputed.
Failed compiles are not cached (a timeout may not repeat); the caller gets
them in `Baselines.failures`.

How the baseline is computed (`compute_baseline`): a plain compile with the
problem's advisor switched off, not the `default` built-in policy replayed
through the channel. Both give clang's own `-Oz` object (replaying the
default reproduces it byte for byte on all but 1 of 632 real modules
measured, see FACTS.md, and `tests/mlgo/test_trace.py` checks equality on
the test modules), but the plain compile has no Python in the loop (the
channel costs ~14% wall time over a corpus, up to +70% on a module with
34k decisions), works for the regalloc advisors, which cannot replay their
default, and is exactly what evaluation compares against.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from compiler_opt.llvm.cmdline import CompileCommand
from compiler_opt.pool.base import Job, WorkerPool
from compiler_opt.problems.measurements import Score

if TYPE_CHECKING:
    from compiler_opt.corpus.loading import ModuleSpec
    from compiler_opt.llvm.toolchain import Toolchain
    from compiler_opt.problems.base import Problem

__all__ = ["BaselineCache", "Baselines", "compute_baseline", "module_content_hash"]

FORMAT_VERSION = 1
BASELINE_METHOD = "plain compile, advisor off"
_HASH_CHUNK = 1 << 20


def compute_baseline(toolchain: Toolchain, problem_name: str, command: CompileCommand, timeout: float = 600.0) -> Score:
    """One module's baseline score: a plain compile (no advisor), measured by the problem.

    A job function (picklable, runs in a worker); raises `CompilerFailure` on a failed compile.
    """
    from compiler_opt.collect.actor import ADVISOR_OFF, act
    from compiler_opt.problems import get_problem

    return act(toolchain, get_problem(problem_name), command, ADVISOR_OFF, timeout=timeout).measured_score


Compute = Callable[["Toolchain", str, CompileCommand, float], Score]


@dataclass
class Baselines:
    """What `BaselineCache.get_many` found: scores by module, failures by module, and counts."""

    scores: dict[str, Score] = field(default_factory=dict)
    failures: dict[str, BaseException] = field(default_factory=dict)
    computed: int = 0
    reused: int = 0


def module_content_hash(command: CompileCommand) -> str:
    """sha256 of the module's bitcode, and of its ThinLTO index when it has one."""
    digest = hashlib.sha256()
    for label, path in (("bitcode", command.bitcode), ("thinlto", command.thinlto_index)):
        if path is None:
            continue
        digest.update(f"\0{label}\0".encode())
        with open(path, "rb") as stream:
            while chunk := stream.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


class BaselineCache:
    """Baseline scores of `problem` under `toolchain`, kept in `folder`; see the module docstring."""

    def __init__(self, folder: str | os.PathLike, toolchain: Toolchain, problem: Problem) -> None:
        self.folder = Path(folder)
        self.toolchain = toolchain
        self.problem = problem
        self._content_hashes: dict[tuple, str] = {}

    @staticmethod
    def shared_folder() -> Path:
        """The per-user folder for baselines shared between runs: `cache_dir() / "baselines"`."""
        from compiler_opt.paths import cache_dir

        return cache_dir() / "baselines"

    @staticmethod
    def commands(toolchain: Toolchain, modules: Iterable[ModuleSpec]) -> dict[str, CompileCommand]:
        """The compile commands of corpus modules (their cc1 arguments are already sanitized)."""
        return {spec.name: spec.command(toolchain.clang) for spec in modules}

    def key(self, command: CompileCommand) -> str:
        """The entry key of `command`'s module under this cache's compiler and problem."""
        neutral = dataclasses.replace(
            command,
            clang="<clang>",
            bitcode="<module.bc>",
            thinlto_index=None if command.thinlto_index is None else "<module.thinlto.bc>",
        )
        options = self.problem.measurement.compile_options(Path("<workdir>"), command.cc1)
        material = {
            "format": FORMAT_VERSION,
            "module": self._content_hash(command),
            "compiler": self.toolchain.identity,
            "argv": neutral.argv(Path("<output.o>"), options),
            "problem": self.problem.name,
            "measurement": self.problem.measurement.name,
            "method": BASELINE_METHOD,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, command: CompileCommand) -> Score | None:
        """The stored score for `command`'s module, or None (missing or unreadable entry)."""
        return self._read(self.key(command))

    def put(self, name: str, command: CompileCommand, score: Score, seconds: float = 0.0) -> None:
        """Store `score` as the baseline of `command`'s module (atomically)."""
        self._write(self.key(command), name, score, seconds)

    def get_many(
        self,
        modules: Mapping[str, CompileCommand],
        pool: WorkerPool,
        *,
        compute: Compute = compute_baseline,
        timeout: float = 600.0,
        desc: str = "baselines",
    ) -> Baselines:
        """Baselines of `modules` (name -> command): stored ones read, the others computed on `pool`.

        `compute(toolchain, problem_name, command, timeout)` runs in a worker;
        each score is stored as soon as it arrives.
        """
        found = Baselines()
        keys: dict[str, str] = {}
        jobs = []
        for name, command in modules.items():
            key = keys[name] = self.key(command)
            score = self._read(key)
            if score is not None:
                found.scores[name] = score
                found.reused += 1
            else:
                # The pool's limit is a backstop; the compile's own limit gives the typed failure.
                jobs.append(
                    Job(
                        name,
                        compute,
                        (self.toolchain, self.problem.name, command, timeout),
                        timeout=timeout + 60.0,
                        files=command.files,
                    )
                )
        for result in pool.run(jobs, desc=desc):
            if result.ok:
                self._write(keys[result.key], result.key, result.value, result.seconds)
                found.scores[result.key] = result.value
                found.computed += 1
            else:
                assert result.error is not None  # a JobResult that is not ok carries its error
                found.failures[result.key] = result.error
        return found

    def _content_hash(self, command: CompileCommand) -> str:
        stamp = tuple(_stamp(p) for p in (command.bitcode, command.thinlto_index) if p is not None)
        memo = (command.bitcode, command.thinlto_index, stamp)
        if memo not in self._content_hashes:
            self._content_hashes[memo] = module_content_hash(command)
        return self._content_hashes[memo]

    def _read(self, key: str) -> Score | None:
        try:
            entry = json.loads(self.path(key).read_text())
            if entry["key"] != key or entry["format"] != FORMAT_VERSION:
                return None
            score = entry["score"]
            return Score(
                float(score["value"]),
                {k: float(v) for k, v in score["figures"].items()},
                {k: float(v) for k, v in score.get("per_function", {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _write(self, key: str, name: str, score: Score, seconds: float) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "format": FORMAT_VERSION,
            "key": key,
            "module": name,
            "score": {"value": score.value, "figures": dict(score.figures), "per_function": dict(score.per_function)},
            "compiler": self.toolchain.identity,
            "problem": self.problem.name,
            "measurement": self.problem.measurement.name,
            "method": BASELINE_METHOD,
            "seconds": round(seconds, 3),
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "w") as stream:
                json.dump(entry, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


def _stamp(path: str) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns

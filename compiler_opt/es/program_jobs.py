"""The ES program job: a program built from its library compiled under one policy, run under callgrind.

`run_program_task` is a pool job (a pure function of picklable arguments,
like `compiler_opt.collect.compile_job.run_compile_task`): it compiles every
module of the program's library greedily under one side of one antithetic
pair (or the unperturbed policy, sign 0; or a built-in policy by name, e.g.
`BASELINE_POLICY` for the default build), keeps the objects, links them with
the program's drivers and counts the run's instructions
(`compiler_opt.collect.program_runs`). A compile, link or run that fails
raises, naming the program; the pool reports it as the job's failure.

`DefaultRuns` keeps the default build's count and output on disk, beside the
baselines (`<baseline folder>/programs`): its key is a sha256 over the
compiler's identity, valgrind's and the C library's versions and the run's
fixed environment (`program_runs.run_conditions`), each library module's
baseline key (the module's content, its full compile command line, the
problem and measurement: see `compiler_opt.collect.baseline`), and the
program's description (name, arguments, link flags, and the content of its
driver sources, the headers they include and its data files). An entry is written atomically; one that
does not parse or whose recorded key differs from its name is missing.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import CompileTask, run_compile_task
from compiler_opt.collect.program_runs import ProgramRun, driver_inputs_digest, run_conditions, run_program
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.corpus.programs import Program
from compiler_opt.es.evaluation import perturbed_policy
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from compiler_opt.paths import write_atomically
from compiler_opt.policy.fast import FastPolicy

__all__ = ["DefaultRuns", "ProgramSide", "ProgramTask", "run_program_task"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ProgramTask:
    """One program to build under one policy (picklable): the program, its library's modules in order, the
    problem, the clang, and the limit in seconds of each compile, link and run."""

    program: Program
    modules: tuple[ModuleSpec, ...]
    problem: str
    clang: str
    timeout: float

    @property
    def files(self) -> tuple[Path, ...]:
        """What the job reads: the modules' files, the driver sources and the data."""
        return (*(f for m in self.modules for f in m.files), *self.program.sources, *self.program.data)

    @property
    def steps(self) -> int:
        """How many timed steps the job takes (each module's compile, the drivers' compile, the link, the run)."""
        return len(self.modules) + len(self.program.sources) + 2


@dataclass(frozen=True)
class ProgramSide:
    """What one build gave: its run, the policy's decisions over the library, and where the time went
    (`compile`: the compiles' wall time, `policy`: the Python policy's share of it, `run`: build and run)."""

    run: ProgramRun
    decisions: int
    seconds: dict[str, float]


def run_program_task(
    task: ProgramTask, base: FastPolicy | str, seed: int, sign: int, noise_scale: float
) -> ProgramSide:
    """The pool job: `task.program` built from its library compiled under the perturbed `base` (a built-in
    policy name is used as it is) and run under callgrind."""
    policy = base if isinstance(base, str) else perturbed_policy(base, seed, sign, noise_scale)
    seconds = {"compile": 0.0, "policy": 0.0, "run": 0.0}
    decisions = 0
    with tempfile.TemporaryDirectory(prefix="mlgo-es-program-") as tmp:
        objects = []
        for index, module in enumerate(task.modules):
            compile_task = CompileTask(
                module,
                task.problem,
                task.clang,
                None,
                explore=False,
                record=False,
                timeout=task.timeout,
                keep_object=True,
            )
            compiled = run_compile_task(compile_task, policy)
            assert compiled.object is not None  # a task that keeps its object gets it back
            objects.append(Path(tmp) / f"{index}.o")
            objects[-1].write_bytes(compiled.object)
            decisions += compiled.decisions
            seconds["compile"] += compiled.seconds.get("compile", 0.0)
            seconds["policy"] += compiled.seconds.get("policy", 0.0)
        started = time.monotonic()
        run = run_program(find_toolchain(task.clang), task.program, objects, timeout=task.timeout)
        seconds["run"] = time.monotonic() - started
    return ProgramSide(run, decisions, seconds)


class DefaultRuns:
    """The default builds' runs of programs under `baselines`' compiler and problem, kept in `folder`."""

    def __init__(self, folder: Path, toolchain: Toolchain, baselines: BaselineCache) -> None:
        self.folder, self.toolchain, self.baselines = Path(folder), toolchain, baselines

    def key(self, task: ProgramTask) -> str:
        """The entry key of `task`'s default build (see the module docstring)."""
        program = task.program
        material = {
            "format": FORMAT_VERSION,
            "kind": "program default build",
            "compiler": self.toolchain.identity,
            "run": run_conditions(),
            "modules": [self.baselines.key(m.command(self.toolchain.clang)) for m in task.modules],
            "program": {
                "name": program.name,
                "args": list(program.args),
                "link_flags": list(program.link_flags),
                "cxx": program.cxx,
                "inputs": driver_inputs_digest(self.toolchain, program),
            },
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def read(self, key: str) -> ProgramRun | None:
        """The stored run of `key`, or None (missing or unreadable)."""
        try:
            entry = json.loads(self.path(key).read_text())
            if entry["key"] != key or entry["format"] != FORMAT_VERSION:
                return None
            return ProgramRun(int(entry["instructions"]), base64.b64decode(entry["stdout"], validate=True))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, key: str, program: str, run: ProgramRun) -> None:
        """Store `run` as the default build's of `program` under `key` (atomically)."""
        entry = {
            "format": FORMAT_VERSION,
            "key": key,
            "program": program,
            "instructions": run.instructions,
            "stdout": base64.b64encode(run.stdout).decode(),
            "compiler": self.toolchain.identity,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        write_atomically(self.path(key), json.dumps(entry).encode())

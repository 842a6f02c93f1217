"""ES fitness on whole programs: each side's builds of the corpus's programs, their instructions counted.

With `es.es_config.fitness = 'programs'` a step scores each side of each
antithetic pair (and the unperturbed policy, with `evaluate_center`) by
the corpus's programs instead of sampled modules: one pool job per (side,
program) compiles every module of the program's library greedily under the
side's policy, links it with the program's drivers and runs it under
callgrind (`compiler_opt.es.program_jobs`). The side's reward for the
program is `1 - instructions / default_instructions`, against the program
built from its library compiled by the compiler's own heuristic (the
default build, run once per run and kept on disk beside the baselines,
`DefaultRuns`, so a rerun or a resumed run reads it back). A side's score
is its mean reward over the programs that succeeded on both sides of its
pair. A build whose output differs from the default build's is a failure
(a miscompile, or a program that is not deterministic), counted and named
in the step's log, never a score; so is a build that fails. A program whose
default build fails is left out of the step (named in its log).

The programs (`training_programs`): those `es.es_config.fitness_programs`
names, or every program of the corpus whose library lies wholly in the
training split; a held-out program, or one whose library has modules on
the validation side, is refused: training on it would leak into the
measurement of the policy.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

from compiler_opt.collect.actor import BASELINE_POLICY
from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import POOL_TIMEOUT_MARGIN
from compiler_opt.collect.program_runs import ProgramRun
from compiler_opt.collect.rollouts import (
    CollectFigures,
    RolloutSettings,
    compile_and_policy_seconds,
    deadline_policy,
    describe,
)
from compiler_opt.corpus.loading import Corpus
from compiler_opt.corpus.programs import Program, load_programs
from compiler_opt.errors import MlgoError
from compiler_opt.es.evaluation import CENTER, SIGN_NAMES, StepEvaluation, pair_scores
from compiler_opt.es.program_jobs import DefaultRuns, ProgramSide, ProgramTask, run_program_task
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.base import Job, WorkerPool
from compiler_opt.problems.base import Problem

__all__ = ["ProgramFitness", "training_programs"]

OUTPUT_DIFFERS = "its output differs from the default build's"


def training_programs(training: Corpus, validation: Corpus, names: Sequence[str] = ()) -> list[Program]:
    """The programs ES may train on: `names` (each checked), or every program whose library is wholly in
    `training` and that is not held out; raises `MlgoError` when a named one may not be used, or none may."""
    libraries = {
        lib: training.libraries.get(lib, ()) + validation.libraries.get(lib, ())
        for lib in {*training.libraries, *validation.libraries}
    }
    programs = load_programs(dataclasses.replace(training, libraries=libraries), names)

    def refusal(program: Program) -> str | None:
        if program.held_out:
            return f"{program.name} is held out (its library {program.library} is kept for validation)"
        if validation.libraries.get(program.library):
            return f"the library of {program.name}, {program.library}, has modules on the validation side"
        if not training.libraries.get(program.library):
            return f"the library of {program.name}, {program.library}, has no training module"
        return None

    if names:
        refused = [reason for reason in map(refusal, programs) if reason is not None]
        if refused:
            raise MlgoError(
                f"es_config.fitness_programs: {'; '.join(refused)}; ES trains only on programs whose library is "
                "wholly in the training split (lower --validation-fraction, or name other programs)"
            )
        return programs
    usable = [program for program in programs if refusal(program) is None]
    if not usable:
        raise MlgoError(
            f"es_config.fitness = 'programs': the corpus {training.root} has no program whose library is wholly in "
            f"the training split and that is not held out (programs: {', '.join(p.name for p in programs) or 'none'})"
        )
    return usable


@dataclass(frozen=True)
class _Side:
    pair: int
    sign: int
    program: str


class ProgramFitness:
    """Scores an ES step's sides by `programs` built and run (see the module docstring)."""

    def __init__(
        self,
        programs: Sequence[Program],
        training: Corpus,
        problem: Problem,
        toolchain: Toolchain,
        baselines: BaselineCache,
        timeout: float,
    ) -> None:
        self.toolchain = toolchain
        self.tasks = {
            p.name: ProgramTask(
                p,
                tuple(training.module(name) for name in training.libraries[p.library]),
                problem.name,
                str(toolchain.clang),
                timeout,
            )
            for p in programs
        }
        self.cache = DefaultRuns(baselines.folder / "programs", toolchain, baselines)
        self.defaults: dict[str, ProgramRun] | None = None
        self.default_failures: dict[str, str] = {}

    def _limit(self, task: ProgramTask) -> float:
        return task.timeout * task.steps + POOL_TIMEOUT_MARGIN

    def default_runs(self, pool: WorkerPool) -> dict[str, ProgramRun]:
        """Each program's default build's run: read from the cache, else built on `pool` (once per run)."""
        if self.defaults is not None:
            return self.defaults
        found: dict[str, ProgramRun] = {}
        keys = {name: self.cache.key(task) for name, task in self.tasks.items()}
        jobs = []
        for name, task in self.tasks.items():
            stored = self.cache.read(keys[name])
            if stored is not None:
                found[name] = stored
            else:
                args = (task, BASELINE_POLICY, 0, CENTER, 0.0)
                jobs.append(Job(name, run_program_task, args, timeout=self._limit(task), files=task.files))
        for result in pool.run(jobs, desc="program default builds"):
            if result.ok:
                side: ProgramSide = result.value
                self.cache.write(keys[result.key], result.key, side.run)
                found[result.key] = side.run
            else:
                self.default_failures[result.key] = describe(result.error)
        if not found:
            raise MlgoError(
                "es_config.fitness = 'programs': no program's default build ran: "
                + "; ".join(f"{name}: {error}" for name, error in sorted(self.default_failures.items()))
            )
        self.defaults = found
        return found

    def evaluate_step(
        self,
        pool: WorkerPool,
        base: FastPolicy,
        seeds: Sequence[int],
        noise_scale: float,
        *,
        iteration: int,
        settings: RolloutSettings,
        evaluate_center: bool,
    ) -> StepEvaluation:
        """Build and run every program under both sides of each pair (`seeds[i]` is pair i's direction), score
        the pairs; the figures count builds as jobs and programs as modules."""
        started = time.monotonic()
        scores = StepEvaluation(CollectFigures())
        figures = scores.figures
        defaults = self.default_runs(pool)
        figures.seconds_baselines = time.monotonic() - started
        figures.modules = len(self.tasks)
        figures.failures.update({name: f"default build: {error}" for name, error in self.default_failures.items()})
        variants = [(pair, seed, sign) for pair, seed in enumerate(seeds) for sign in (1, -1)]
        if evaluate_center:
            variants.append((0, 0, CENTER))
        sides: dict[str, _Side] = {}
        ref = pool.share(base)
        batch = []
        for name, task in self.tasks.items():
            if name not in defaults:
                continue
            for pair, seed, sign in variants:
                key = f"{pair}{SIGN_NAMES[sign]}:{name}"
                sides[key] = _Side(pair, sign, name)
                args = (task, ref, seed, sign, noise_scale)
                batch.append(Job(key, run_program_task, args, timeout=self._limit(task), files=task.files))
        figures.jobs = len(batch)
        deadline = deadline_policy(settings)
        rewards: dict[tuple[int, int], dict[str, float]] = {}
        ratios: dict[str, float] = {}
        differs: list[str] = []
        try:
            for result in pool.run(batch, deadline=deadline, desc=f"es step {iteration} (programs)"):
                side = sides[result.key]
                if figures.note_unusable(result, side.program):
                    continue
                built: ProgramSide = result.value
                figures.decisions += built.decisions
                compile_seconds, policy_seconds = compile_and_policy_seconds(built.seconds)
                figures.seconds_compile += compile_seconds
                figures.seconds_policy += policy_seconds
                figures.seconds_score += built.seconds["run"]
                default = defaults[side.program]
                if built.run.stdout != default.stdout:
                    # A miscompile's count must never read as a win: the side fails, its count is dropped.
                    figures.jobs_failed += 1
                    differs.append(result.key)
                    figures.failures.setdefault(side.program, f"{result.key}: {OUTPUT_DIFFERS}")
                    continue
                figures.jobs_ok += 1
                ratio = built.run.instructions / default.instructions
                if side.sign == CENTER:
                    ratios[side.program] = ratio
                    figures.modules_ok += 1
                    figures.raw_rewards.append(1.0 - ratio)
                    figures.policy_total += built.run.instructions
                    figures.baseline_total += default.instructions
                else:
                    rewards.setdefault((side.pair, side.sign), {})[side.program] = 1.0 - ratio
        finally:
            pool.release(ref)
        figures.modules_failed = len(figures.failures)
        scores.pair_scores, scores.pairs_dropped = pair_scores(rewards, len(seeds))
        figures.seconds_collect = time.monotonic() - started
        scores.extra = {
            "programs": sorted(self.tasks),
            "program_ratios": dict(sorted(ratios.items())),
            "program_failures": dict(sorted(figures.failures.items())),
            "output_differs": sorted(differs),
        }
        scores.summary = _summary(ratios, figures.failures, differs)
        return scores


def _summary(ratios: dict[str, float], failures: dict[str, str], differs: Sequence[str]) -> str:
    """The log line's part on programs: the center's instruction ratios, the programs that failed."""
    parts = [
        "programs "
        + (", ".join(f"{name} {ratio:.4f}" for name, ratio in sorted(ratios.items())) or "(no center build)")
        + " (instructions / default's)"
    ]
    if differs:
        parts.append(f"output differs from the default build's: {', '.join(differs)}")
    failed = sorted(name for name, error in failures.items() if not error.endswith(OUTPUT_DIFFERS))
    if failed:
        parts.append(f"failed: {', '.join(failed)}")
    return "; ".join(parts)

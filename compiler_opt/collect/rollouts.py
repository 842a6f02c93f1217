"""Collecting under a policy: compile modules on the pool against their cached baselines, count what came back.

`rollouts` is the one collection loop of every learner that compiles under
its own policy (policy gradient, evolution strategies): it gets the modules'
baselines (`BaselineCache`), shares the policy with the pool once, runs the
jobs the caller makes for each module (one sampling compile, or one compile
per perturbation), and yields every compile that came back with the
value of it and of its baseline as the run's scorer says
(`compiler_opt.collect.scoring`: per object, or by linked size, which the
job computes in the worker from the object it keeps, so no object crosses
back to the driver). Stragglers past the collection's
deadline are cancelled (not failures); a module whose compiles fail
`max_failures` times over the run is set aside (`ModuleBook`) with its last
error. `CollectFigures` counts all of it, for the log.

`collect_iteration` is the policy-gradient collection on top of it: each
module compiles once under the policy (sampling, seeded), is rewarded
against its baseline (`compiler_opt.collect.reward`) and its trajectory is
appended at once to the iteration's TFRecord shards, so no more than one
module's trajectory is held in memory; a module that offers no decision at
all is set aside too (no policy can change it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from compiler_opt.collect.baseline import BaselineCache, Baselines
from compiler_opt.collect.compile_job import CompileResult, CompileTask, compile_jobs
from compiler_opt.collect.reward import RewardTracker
from compiler_opt.collect.scoring import ModuleScorer, ObjectScorer, ScorerSource
from compiler_opt.collect.trajectory_files import TrajectoryWriter
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.base import DeadlinePolicy, Job, JobResult, JobStatus, SharedRef, WorkerPool
from compiler_opt.problems.base import Problem
from compiler_opt.problems.measurements import Score

ERROR_CHARS = 2000
SCORE_TIMEOUT_MARGIN = 600.0  # a job that values its compile by linked size also links its library


class RolloutSettings(Protocol):
    """What a collection reads of the run's settings (`compiler_opt.training.config.TrainerConfig` has them)."""

    @property
    def compile_timeout(self) -> float: ...
    @property
    def deadline_quorum(self) -> float: ...
    @property
    def deadline_grace_seconds(self) -> float | None: ...
    @property
    def deadline_median_factor(self) -> float | None: ...
    @property
    def max_failures(self) -> int: ...
    @property
    def reward_per_function(self) -> bool: ...


def deadline_policy(settings: RolloutSettings) -> DeadlinePolicy:
    """When a collection stops waiting for stragglers, as the run's settings say."""
    return DeadlinePolicy(settings.deadline_quorum, settings.deadline_grace_seconds, settings.deadline_median_factor)


def compile_and_policy_seconds(seconds: Mapping[str, float]) -> tuple[float, float]:
    """A job's (compiler seconds, Python policy seconds) from its `seconds` ("compile": the compiles' wall time,
    "policy": the Python policy's share of it): the compile's wall time minus the policy's share, and it."""
    policy = seconds.get("policy", 0.0)
    return max(seconds.get("compile", 0.0) - policy, 0.0), policy


def describe(error: BaseException | None) -> str:
    """A failure as one bounded string: its type and message (which names the module and the compiler's stderr)."""
    if error is None:
        return "unknown error"
    return f"{type(error).__name__}: {error}"[:ERROR_CHARS]


@dataclass
class ModuleBook:
    """What the run has learned about modules: failure counts, modules set aside and why."""

    failures: dict[str, int] = field(default_factory=dict)
    set_aside: dict[str, dict] = field(default_factory=dict)
    no_decisions: set[str] = field(default_factory=set)

    def eligible(self, modules: Iterable[ModuleSpec]) -> list[ModuleSpec]:
        return [m for m in modules if m.name not in self.set_aside and m.name not in self.no_decisions]

    def fail(self, name: str, error: str, iteration: int, max_failures: int) -> bool:
        """Count a failure of `name`; True when this one sets it aside."""
        count = self.failures.get(name, 0) + 1
        self.failures[name] = count
        if count >= max_failures and name not in self.set_aside:
            self.set_aside[name] = {"error": error, "failures": count, "iteration": iteration}
            return True
        return False

    def to_json(self) -> dict:
        return {
            "failures": dict(self.failures),
            "set_aside": dict(self.set_aside),
            "no_decisions": sorted(self.no_decisions),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> ModuleBook:
        return cls(dict(data.get("failures", {})), dict(data.get("set_aside", {})), set(data.get("no_decisions", ())))


def mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


@dataclass
class CollectFigures:
    """What one collection gave (an iteration's compiles, an ES step's, BC's labels): jobs and modules counted,
    sizes, rewards, decisions, and where the time went."""

    modules: int = 0
    modules_ok: int = 0  # modules whose compile counted (PPO: written; ES: the unperturbed policy's; BC: labeled)
    modules_failed: int = 0
    modules_without_decisions: int = 0
    jobs: int = 0
    jobs_ok: int = 0
    jobs_failed: int = 0
    modules_cancelled: int = 0  # compiles cancelled at the deadline (the log's name; ES counts each side's)
    decisions: int = 0
    steps: int = 0  # steps written to trajectory files
    policy_total: float = 0.0
    baseline_total: float = 0.0
    raw_rewards: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    seconds_compile: float = 0.0  # summed over jobs, the compiler's share (compile wall time minus policy time)
    seconds_policy: float = 0.0  # summed over jobs, host time inside the Python policy
    seconds_measure: float = 0.0  # summed over jobs, measuring objects
    seconds_score: float = 0.0  # summed over jobs, valuing objects beyond measuring them (linking)
    seconds_baselines: float = 0.0  # wall time getting baselines (cached ones are free)
    seconds_collect: float = 0.0  # wall time of the whole collection, baselines included
    failures: dict[str, str] = field(default_factory=dict)  # module -> its error in this collection
    set_aside: list[str] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)

    def note_seconds(self, result: CompileResult) -> None:
        compile_seconds, policy_seconds = compile_and_policy_seconds(result.seconds)
        self.seconds_compile += compile_seconds
        self.seconds_policy += policy_seconds
        self.seconds_measure += result.seconds.get("measure", 0.0)
        self.seconds_score += result.seconds.get("score", 0.0)

    def note_unusable(self, result: JobResult, name: str) -> bool:
        """Whether `result` gave nothing to use: a job cancelled at the deadline, or one that failed (its error
        kept as `name`'s first); counted either way."""
        if result.status is JobStatus.CANCELLED:
            self.modules_cancelled += 1
            return True
        if not result.ok:
            self.jobs_failed += 1
            self.failures.setdefault(name, describe(result.error))
            return True
        return False

    def note_baseline_failures(self, found: Baselines) -> None:
        """Count the modules whose baseline failed (they are not compiled under the policy)."""
        for name, failure in found.failures.items():
            self.failures[name] = f"baseline: {describe(failure)}"

    def settle_failures(self, book: ModuleBook, iteration: int, max_failures: int) -> None:
        """Once the jobs are done: each module that failed counted in `book`, set aside after `max_failures`."""
        for name, error in sorted(self.failures.items()):
            self.modules_failed += 1
            if book.fail(name, error, iteration, max_failures):
                self.set_aside.append(name)

    def per_second(self, count: float) -> float | None:
        """`count` per second of collecting (baselines excluded)."""
        wall = self.seconds_collect - self.seconds_baselines
        return count / wall if wall > 0 else None

    def record(self, workers: int) -> dict:
        """The log figures every collection has."""
        per_second = self.per_second(self.decisions)
        return {
            "modules": self.modules,
            "modules_ok": self.modules_ok,
            "modules_failed": self.modules_failed,
            "modules_cancelled": self.modules_cancelled,
            "mean_reward": mean(self.raw_rewards),
            "total_ratio": self.policy_total / self.baseline_total if self.baseline_total else None,
            "policy_total": self.policy_total,
            "baseline_total": self.baseline_total,
            "decisions": self.decisions,
            "seconds_collect": self.seconds_collect,
            "seconds_baselines": self.seconds_baselines,
            "seconds_compile": self.seconds_compile,
            "seconds_policy": self.seconds_policy,
            "seconds_score": self.seconds_score,
            "decisions_per_second_per_worker": None if per_second is None else per_second / workers,
            "set_aside": list(self.set_aside),
        }


@dataclass(frozen=True)
class Rollout:
    """One compile that came back: its job's key, its module, the result and the values it is judged by."""

    key: str
    module: str
    compiled: CompileResult
    default: Score  # the baseline's score (its per-function figures too)
    value: float  # the scorer's value of the compile (lower is better)
    baseline: float  # the scorer's value of the baseline


def rollouts(
    pool: WorkerPool,
    policy: FastPolicy,
    modules: Sequence[ModuleSpec],
    jobs: Callable[[ModuleSpec, SharedRef], Iterable[Job]],
    problem: Problem,
    toolchain: Toolchain,
    baselines: BaselineCache,
    book: ModuleBook,
    figures: CollectFigures,
    *,
    iteration: int,
    settings: RolloutSettings,
    desc: str,
    scoring: ScorerSource | None = None,
) -> Iterator[Rollout]:
    """Compile `modules` (their baselines first) with the jobs `jobs(module, shared policy)` makes; yield each
    compile that came back, valued by `scoring`'s scorer (default: per object; one that needs objects needs
    jobs whose tasks keep them, `CompileTask.keep_object`). `figures` counts jobs, failures and time; once the
    jobs are done, each module that failed is counted in `book` (and set aside after `max_failures`)."""
    started = time.monotonic()
    figures.modules = len(modules)
    found = baselines.get_many(
        BaselineCache.commands(toolchain, modules),
        pool,
        timeout=settings.compile_timeout,
        desc=f"baselines {iteration}",
    )
    figures.note_baseline_failures(found)
    scorer: ModuleScorer = (scoring or ObjectScorer(problem.name)).scorer(
        [m for m in modules if m.name in found.scores], pool, timeout=settings.compile_timeout
    )
    figures.seconds_baselines = time.monotonic() - started
    ref = pool.share(policy)
    scorer_ref = pool.share(scorer) if scorer.needs_object else None
    owner: dict[str, str] = {}
    try:
        batch = []
        for module in modules:
            if module.name in found.scores:
                for job in jobs(module, ref):
                    owner[job.key] = module.name
                    batch.append(job if scorer_ref is None else _scoring_job(job, scorer_ref, module.name))
        figures.jobs = len(batch)
        deadline = deadline_policy(settings)
        for result in pool.run(batch, deadline=deadline, desc=desc):
            name = owner[result.key]
            if figures.note_unusable(result, name):
                continue
            if scorer_ref is None:
                compiled = result.value
                value = scorer.value(name, compiled.score, compiled.object)
            else:
                scored: ScoredCompile = result.value
                compiled, value = scored.compiled, scored.value
            figures.jobs_ok += 1
            figures.note_seconds(compiled)
            default = found.scores[name]
            yield Rollout(result.key, name, compiled, default, value, scorer.value(name, default, None))
    finally:
        pool.release(ref)
        if scorer_ref is not None:
            pool.release(scorer_ref)
    figures.settle_failures(book, iteration, settings.max_failures)
    figures.seconds_collect = time.monotonic() - started


@dataclass(frozen=True)
class ScoredCompile:
    """A compile valued in its worker: the result (its object dropped) and the scorer's value of it."""

    compiled: CompileResult
    value: float


def score_compile(scorer: ModuleScorer, module: str, fn: Callable[..., CompileResult], *args: Any, **kwargs: Any):
    """A job: `fn(*args, **kwargs)`'s compile of `module`, valued by `scorer` here, in the worker."""
    compiled = fn(*args, **kwargs)
    if compiled.object is None:
        raise MlgoError(f"{module}: the compile kept no object, which {scorer.name} size needs (keep_object)")
    before = time.monotonic()
    value = scorer.value(module, compiled.score, compiled.object)
    compiled.seconds["score"] = time.monotonic() - before
    compiled.object = None
    return ScoredCompile(compiled, value)


def _scoring_job(job: Job, scorer: SharedRef, module: str) -> Job:
    """`job`, its compile valued in the worker by the shared scorer (`score_compile`)."""
    limit = None if job.timeout is None else job.timeout + SCORE_TIMEOUT_MARGIN
    return Job(job.key, score_compile, (scorer, module, job.fn, *job.args), job.kwargs, limit, job.files)


def collect_iteration(
    pool: WorkerPool,
    modules: Sequence[ModuleSpec],
    problem: Problem,
    toolchain: Toolchain,
    policy: FastPolicy,
    baselines: BaselineCache,
    tracker: RewardTracker,
    book: ModuleBook,
    folder: Path,
    *,
    iteration: int,
    seed: int,
    settings: RolloutSettings,
    scoring: ScorerSource | None = None,
) -> CollectFigures:
    """Compile `modules` under `policy` (sampling), reward them (values by `scoring`, default per object) and
    write their trajectories into `folder`."""
    figures = CollectFigures()
    keep_object = scoring is not None and scoring.needs_object
    tasks = {
        m.name: CompileTask(
            m,
            problem.name,
            str(toolchain.clang),
            None,
            explore=True,
            seed=seed,
            record=True,
            timeout=settings.compile_timeout,
            keep_object=keep_object,
        )
        for m in modules
    }
    writer: TrajectoryWriter | None = None
    try:
        for rollout in rollouts(
            pool,
            policy,
            modules,
            lambda module, ref: compile_jobs([tasks[module.name]], ref),
            problem,
            toolchain,
            baselines,
            book,
            figures,
            iteration=iteration,
            settings=settings,
            desc=f"iteration {iteration}",
            scoring=scoring,
        ):
            compiled, trajectory = rollout.compiled, rollout.compiled.trajectory
            if compiled.decisions == 0 or trajectory is None or not len(trajectory):
                figures.modules_without_decisions += 1
                book.no_decisions.add(rollout.module)
                continue
            reward = tracker.reward(rollout.module, rollout.value, rollout.baseline)
            if writer is None:
                assert compiled.trajectory_spec is not None  # a recorded compile has one
                writer = TrajectoryWriter(folder, compiled.trajectory_spec, prefix="trajectories")
            logged = {"raw_reward": reward.raw, "reward_average": reward.average, "baseline": rollout.baseline}
            if settings.reward_per_function and (rollout.default.per_function or compiled.score.per_function):
                assert trajectory.step_function is not None  # recorded with the functions it decided in
                steps = tracker.step_rewards(
                    rollout.module,
                    trajectory.functions,
                    trajectory.step_function,
                    compiled.score.per_function,
                    rollout.default.per_function,
                )
                writer.write(trajectory.with_step_rewards(steps, module_reward=reward.value, **logged))
            else:
                writer.write(trajectory.with_reward(reward.value, **logged))
            figures.modules_ok += 1
            figures.decisions += compiled.decisions
            figures.steps += len(trajectory)
            figures.policy_total += rollout.value
            figures.baseline_total += rollout.baseline
            figures.raw_rewards.append(reward.raw)
            figures.rewards.append(reward.value)
    finally:
        if writer is not None:
            figures.shards = [str(p) for p in writer.close()]
    return figures

"""The actor side of a training iteration: compile modules on the pool, score them, write their trajectories.

`collect_iteration` runs one PPO iteration's compiles: the current policy is
shared with the pool once, each module compiles under it (sampling, seeded)
through `compile_jobs`, results stream back as they finish and each is, at
once, rewarded against its cached baseline (`compiler_opt.rl.reward`) and
appended to the iteration's TFRecord shards, so no more than one module's
trajectory is held in memory. Stragglers past the iteration's deadline are
cancelled (not failures); a module whose compile fails `max_failures` times
is set aside with its last error; a module that offers no decision at all is
set aside too (no policy can change it).

`collect_labels` compiles modules once each with the default heuristic's
decisions as labels (`default_label_trajectory`), for behavioral cloning,
and splits them by name between a training and a hold-out folder.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import CompileResult, CompileTask, compile_jobs, default_label_trajectory
from compiler_opt.pool.base import DeadlinePolicy, Job, JobResult, JobStatus, WorkerPool
from compiler_opt.collect.trajectories import TrajectorySpec, TrajectoryWriter
from compiler_opt.collect.vocab_traces import ObservationSample
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.problems.base import Problem
from compiler_opt.rl.config import TrainerConfig
from compiler_opt.rl.reward import RewardTracker

ERROR_CHARS = 2000


def compile_and_policy_seconds(result: CompileResult) -> tuple[float, float]:
    """A job's (compiler seconds, Python policy seconds): the compile's wall time minus the policy's share, and it."""
    policy = result.seconds.get("policy", 0.0)
    return max(result.seconds.get("compile", 0.0) - policy, 0.0), policy


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
        return {"failures": dict(self.failures), "set_aside": dict(self.set_aside),
                "no_decisions": sorted(self.no_decisions)}

    @classmethod
    def from_json(cls, data: Mapping) -> "ModuleBook":
        return cls(dict(data.get("failures", {})), dict(data.get("set_aside", {})), set(data.get("no_decisions", ())))


@dataclass
class IterationFigures:
    """What one collection gave: module counts, sizes, rewards, decisions and where the time went."""

    modules: int = 0
    modules_ok: int = 0
    modules_failed: int = 0
    modules_cancelled: int = 0
    modules_without_decisions: int = 0
    decisions: int = 0
    policy_total: float = 0.0
    baseline_total: float = 0.0
    raw_rewards: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    seconds_compile: float = 0.0  # summed over jobs, the compiler's share (compile wall time minus policy time)
    seconds_policy: float = 0.0  # summed over jobs, host time inside the Python policy
    seconds_measure: float = 0.0  # summed over jobs, measuring objects
    seconds_baselines: float = 0.0  # wall time getting baselines (cached ones are free)
    seconds_collect: float = 0.0  # wall time of the whole collection, baselines included
    set_aside: list[str] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)
    steps: int = 0  # steps written to the shards

    def note_seconds(self, result: CompileResult) -> None:
        compile_seconds, policy_seconds = compile_and_policy_seconds(result)
        self.seconds_compile += compile_seconds
        self.seconds_policy += policy_seconds
        self.seconds_measure += result.seconds.get("measure", 0.0)

    def record(self, workers: int) -> dict:
        """The log figures of this collection."""
        wall = self.seconds_collect - self.seconds_baselines
        return {
            "modules": self.modules,
            "modules_ok": self.modules_ok,
            "modules_failed": self.modules_failed,
            "modules_cancelled": self.modules_cancelled,
            "modules_without_decisions": self.modules_without_decisions,
            "mean_reward": _mean(self.raw_rewards),
            "mean_centered_reward": _mean(self.rewards),
            "total_ratio": self.policy_total / self.baseline_total if self.baseline_total else None,
            "policy_total": self.policy_total,
            "baseline_total": self.baseline_total,
            "decisions": self.decisions,
            "seconds_collect": self.seconds_collect,
            "seconds_baselines": self.seconds_baselines,
            "seconds_compile": self.seconds_compile,
            "seconds_policy": self.seconds_policy,
            "seconds_measure": self.seconds_measure,
            "modules_per_second": self.modules_ok / wall if wall > 0 else None,
            "decisions_per_second": self.decisions / wall if wall > 0 else None,
            "decisions_per_second_per_worker": self.decisions / wall / workers if wall > 0 else None,
            "set_aside": list(self.set_aside),
        }


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _failed(result: JobResult) -> bool:
    return result.status in (JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.LOST)


def collect_iteration(pool: WorkerPool, modules: Sequence[ModuleSpec], problem: Problem, toolchain: Toolchain,
                      policy: FastPolicy, baselines: BaselineCache, tracker: RewardTracker, book: ModuleBook,
                      folder: Path, *, iteration: int, seed: int, config: TrainerConfig) -> IterationFigures:
    """Compile `modules` under `policy` (sampling), reward them and write their trajectories into `folder`."""
    figures = IterationFigures(modules=len(modules))
    started = time.monotonic()
    found = baselines.get_many(BaselineCache.commands(toolchain, modules), pool, timeout=config.compile_timeout,
                               desc=f"baselines {iteration}")
    figures.seconds_baselines = time.monotonic() - started
    for name, error in found.failures.items():
        figures.modules_failed += 1
        if book.fail(name, f"baseline: {describe(error)}", iteration, config.max_failures):
            figures.set_aside.append(name)
    tasks = [CompileTask(m, problem.name, str(toolchain.clang), None, explore=True, seed=seed, record=True,
                         timeout=config.compile_timeout) for m in modules if m.name in found.scores]
    deadline = DeadlinePolicy(config.deadline_quorum, config.deadline_grace_seconds, config.deadline_median_factor)
    writer: TrajectoryWriter | None = None
    ref = pool.share(policy)
    try:
        for result in pool.run(compile_jobs(tasks, ref), deadline=deadline, desc=f"iteration {iteration}"):
            if result.status is JobStatus.CANCELLED:
                figures.modules_cancelled += 1
                continue
            if _failed(result):
                figures.modules_failed += 1
                if book.fail(result.key, describe(result.error), iteration, config.max_failures):
                    figures.set_aside.append(result.key)
                continue
            compiled: CompileResult = result.value
            figures.note_seconds(compiled)
            if compiled.decisions == 0 or compiled.trajectory is None or not len(compiled.trajectory):
                figures.modules_without_decisions += 1
                book.no_decisions.add(result.key)
                continue
            default = found.scores[result.key]
            baseline = problem.measurement.rescore(default).value
            value = problem.measurement.rescore(compiled.score).value
            reward = tracker.reward(result.key, value, baseline)
            if writer is None:
                writer = TrajectoryWriter(folder, compiled.trajectory_spec, prefix="trajectories")
            trajectory = compiled.trajectory
            logged = {"raw_reward": reward.raw, "reward_average": reward.average, "baseline": baseline}
            if config.reward_per_function and (default.per_function or compiled.score.per_function):
                steps = tracker.step_rewards(result.key, trajectory.functions, trajectory.step_function,
                                             compiled.score.per_function, default.per_function)
                writer.write(trajectory.with_step_rewards(steps, module_reward=reward.value, **logged))
            else:
                writer.write(trajectory.with_reward(reward.value, **logged))
            figures.modules_ok += 1
            figures.decisions += compiled.decisions
            figures.steps += len(compiled.trajectory)
            figures.policy_total += value
            figures.baseline_total += baseline
            figures.raw_rewards.append(reward.raw)
            figures.rewards.append(reward.value)
    finally:
        pool.release(ref)
        if writer is not None:
            figures.shards = [str(p) for p in writer.close()]
    figures.seconds_collect = time.monotonic() - started
    return figures


@dataclass
class LabelFigures:
    """What default-label collection gave: modules, steps per side, failures and timings."""

    modules: int = 0
    modules_ok: int = 0
    modules_failed: int = 0
    modules_without_decisions: int = 0
    fit_steps: int = 0
    holdout_steps: int = 0
    fit_modules: int = 0
    holdout_modules: int = 0
    seconds: float = 0.0
    seconds_compile: float = 0.0
    seconds_policy: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def holdout_side(name: str, fraction: float) -> bool:
    """Whether module `name` is held out of BC training (a fixed hash of the name, independent of the corpus split)."""
    digest = hashlib.sha256(f"bc-holdout\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def collect_labels(pool: WorkerPool, modules: Sequence[ModuleSpec], problem: Problem, toolchain: Toolchain,
                   fit_folder: Path, holdout_folder: Path, *, holdout_fraction: float, timeout: float,
                   sample: ObservationSample | None = None) -> LabelFigures:
    """Default-label trajectories of `modules`, written to `fit_folder` or `holdout_folder` (by name).

    Every trajectory is also offered to `sample` (for a vocabulary) when given.
    """
    figures = LabelFigures(modules=len(modules))
    started = time.monotonic()
    jobs = [Job(m.name, default_label_trajectory, (m, problem.name, str(toolchain.clang)), {"timeout": timeout},
                timeout=2 * timeout + 60.0) for m in modules]
    writers: dict[bool, TrajectoryWriter] = {}
    try:
        for result in pool.run(jobs, desc="default labels"):
            if not result.ok:
                figures.modules_failed += 1
                figures.failures[result.key] = describe(result.error)
                continue
            labeled: CompileResult = result.value
            compile_seconds, policy_seconds = compile_and_policy_seconds(labeled)
            figures.seconds_compile += compile_seconds
            figures.seconds_policy += policy_seconds
            trajectory = labeled.trajectory
            if trajectory is None or not len(trajectory):
                figures.modules_without_decisions += 1
                continue
            held = holdout_side(result.key, holdout_fraction)
            if held not in writers:
                spec: TrajectorySpec = labeled.trajectory_spec
                writers[held] = TrajectoryWriter(holdout_folder if held else fit_folder, spec, prefix="labels")
            writers[held].write(trajectory.with_reward(0.0))
            if sample is not None:
                sample.add(trajectory)
            figures.modules_ok += 1
            if held:
                figures.holdout_steps += len(trajectory)
                figures.holdout_modules += 1
            else:
                figures.fit_steps += len(trajectory)
                figures.fit_modules += 1
    finally:
        for writer in writers.values():
            writer.close()
    figures.seconds = time.monotonic() - started
    return figures

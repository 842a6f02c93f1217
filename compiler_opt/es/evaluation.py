"""One ES step's compiles: every perturbed policy on the step's modules, on the worker pool, scored.

The current policy (numpy fast form) goes to the pool once per step
(`pool.share`); a job carries only its perturbation's seed and sign and
rebuilds the perturbed weights itself (`perturbed_policy`), so a perturbation
costs the job a vector draw and no TensorFlow work. Each job compiles one
module greedily under one side of one antithetic pair (or the unperturbed
policy, sign 0) and is scored against the module's cached baseline with the
raw relative reward `1 - (size + d) / (baseline + d)` (no moving average:
antithetic differences already cancel what a module contributes alike).

A side's score is its mean reward over the modules that compiled under both
sides of its pair, so a failure or a straggler cancelled at the step's
deadline drops that module from its pair only; a pair with no such module
is dropped from the step. The figures say how many were dropped and why.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import (
    POOL_TIMEOUT_MARGIN,
    CompileResult,
    CompileTask,
    run_compile_task,
)
from compiler_opt.pool.base import DeadlinePolicy, Job, JobStatus, WorkerPool
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.es.blackbox import perturbation
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.problems.base import Problem
from compiler_opt.rl.collection import ModuleBook, compile_and_policy_seconds, describe
from compiler_opt.rl.config import TrainerConfig
from compiler_opt.rl.reward import relative_reward

CENTER = 0  # the sign of the unperturbed policy's jobs
_SIGN_NAMES = {1: "+", -1: "-", CENTER: "0"}


def perturbed_policy(base: FastPolicy, seed: int, sign: int, noise_scale: float) -> FastPolicy:
    """`base` moved by `sign * noise_scale` along the direction of `seed` (sign 0: `base` itself)."""
    if sign == CENTER:
        return base
    flat = base.flat_weights()
    return base.with_flat_weights(flat + sign * noise_scale * perturbation(seed, flat.size))


def run_perturbed_task(task: CompileTask, base: FastPolicy, seed: int, sign: int, noise_scale: float) -> CompileResult:
    """The pool job: compile `task.module` under the perturbed policy."""
    return run_compile_task(task, perturbed_policy(base, seed, sign, noise_scale))


@dataclass(frozen=True)
class _Side:
    pair: int
    sign: int
    module: str


@dataclass
class StepScores:
    """What one step's compiles gave: per pair the two sides' mean rewards, and the step's figures."""

    pair_scores: dict[int, tuple[float, float]] = field(default_factory=dict)
    jobs: int = 0
    jobs_ok: int = 0
    jobs_failed: int = 0
    jobs_cancelled: int = 0
    modules_failed: int = 0
    pairs_dropped: int = 0
    decisions: int = 0
    center_rewards: list[float] = field(default_factory=list)
    center_policy_total: float = 0.0
    center_baseline_total: float = 0.0
    seconds_compile: float = 0.0
    seconds_policy: float = 0.0
    seconds_baselines: float = 0.0
    seconds_collect: float = 0.0
    set_aside: list[str] = field(default_factory=list)

    def record(self, workers: int, modules: int) -> dict:
        """The log figures of this step (`total_ratio` and `mean_reward` are the unperturbed policy's)."""
        wall = self.seconds_collect - self.seconds_baselines
        sides = [score for pair in self.pair_scores.values() for score in pair]
        return {
            "modules": modules,
            "modules_ok": len(self.center_rewards),
            "modules_failed": self.modules_failed,
            "jobs": self.jobs,
            "jobs_ok": self.jobs_ok,
            "jobs_failed": self.jobs_failed,
            "modules_cancelled": self.jobs_cancelled,
            "pairs_used": len(self.pair_scores),
            "pairs_dropped": self.pairs_dropped,
            "mean_reward": math.fsum(self.center_rewards) / len(self.center_rewards) if self.center_rewards else None,
            "mean_perturbed_reward": math.fsum(sides) / len(sides) if sides else None,
            "best_perturbed_reward": max(sides) if sides else None,
            "total_ratio": (self.center_policy_total / self.center_baseline_total
                            if self.center_baseline_total else None),
            "policy_total": self.center_policy_total,
            "baseline_total": self.center_baseline_total,
            "decisions": self.decisions,
            "seconds_collect": self.seconds_collect,
            "seconds_baselines": self.seconds_baselines,
            "seconds_compile": self.seconds_compile,
            "seconds_policy": self.seconds_policy,
            "modules_per_second": self.jobs_ok / wall if wall > 0 else None,
            "decisions_per_second_per_worker": self.decisions / wall / workers if wall > 0 else None,
            "set_aside": list(self.set_aside),
        }


def evaluate_step(pool: WorkerPool, base: FastPolicy, seeds: Sequence[int], noise_scale: float,
                  modules: Sequence[ModuleSpec], problem: Problem, toolchain: Toolchain, baselines: BaselineCache,
                  book: ModuleBook, *, iteration: int, config: TrainerConfig, evaluate_center: bool) -> StepScores:
    """Compile `modules` under both sides of each pair (`seeds[i]` is pair i's direction), score the pairs."""
    scores = StepScores()
    started = time.monotonic()
    found = baselines.get_many(BaselineCache.commands(toolchain, modules), pool, timeout=config.compile_timeout,
                               desc=f"baselines {iteration}")
    scores.seconds_baselines = time.monotonic() - started
    failed_modules = {name: f"baseline: {describe(error)}" for name, error in found.failures.items()}
    ref = pool.share(base)
    sides = {}
    jobs = []
    # (pair, seed, sign) of every compile of one module: both sides of each pair, and the policy itself.
    variants = [(pair, seed, sign) for pair, seed in enumerate(seeds) for sign in (1, -1)]
    if evaluate_center:
        variants.append((0, 0, CENTER))
    limit = config.compile_timeout + POOL_TIMEOUT_MARGIN
    for module in modules:
        if module.name not in found.scores:
            continue
        task = CompileTask(module, problem.name, str(toolchain.clang), None, explore=False, record=False,
                           timeout=config.compile_timeout)
        for pair, seed, sign in variants:
            key = f"{pair}{_SIGN_NAMES[sign]}:{module.name}"
            sides[key] = _Side(pair, sign, module.name)
            jobs.append(Job(key, run_perturbed_task, (task, ref, seed, sign, noise_scale), timeout=limit))
    scores.jobs = len(jobs)
    rewards: dict[tuple[int, int], dict[str, float]] = {}
    deadline = DeadlinePolicy(config.deadline_quorum, config.deadline_grace_seconds, config.deadline_median_factor)
    try:
        for result in pool.run(jobs, deadline=deadline, desc=f"es step {iteration}"):
            side = sides[result.key]
            if result.status is JobStatus.CANCELLED:
                scores.jobs_cancelled += 1
                continue
            if not result.ok:
                scores.jobs_failed += 1
                failed_modules.setdefault(side.module, describe(result.error))
                continue
            compiled: CompileResult = result.value
            scores.jobs_ok += 1
            if compiled.decisions == 0:
                book.no_decisions.add(side.module)  # no policy can change it: not sampled again
            scores.decisions += compiled.decisions
            compile_seconds, policy_seconds = compile_and_policy_seconds(compiled)
            scores.seconds_compile += compile_seconds
            scores.seconds_policy += policy_seconds
            baseline = problem.measurement.rescore(found.scores[side.module]).value
            value = problem.measurement.rescore(compiled.score).value
            reward = relative_reward(value, baseline, config.reward_delta)
            if side.sign == CENTER:
                scores.center_rewards.append(reward)
                scores.center_policy_total += value
                scores.center_baseline_total += baseline
            else:
                rewards.setdefault((side.pair, side.sign), {})[side.module] = reward
    finally:
        pool.release(ref)
    for name, error in sorted(failed_modules.items()):
        scores.modules_failed += 1
        if book.fail(name, error, iteration, config.max_failures):
            scores.set_aside.append(name)
    for pair in range(len(seeds)):
        plus, minus = rewards.get((pair, 1), {}), rewards.get((pair, -1), {})
        common = sorted(set(plus) & set(minus))
        if not common:
            scores.pairs_dropped += 1
            continue
        scores.pair_scores[pair] = (math.fsum(plus[m] for m in common) / len(common),
                                    math.fsum(minus[m] for m in common) / len(common))
    scores.seconds_collect = time.monotonic() - started
    return scores

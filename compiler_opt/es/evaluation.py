"""One ES step's compiles: every perturbed policy on the step's modules, on the worker pool, scored.

The current policy (numpy fast form) goes to the pool once per step
(`pool.share`); a job carries only its perturbation's seed and sign and
rebuilds the perturbed weights itself (`perturbed_policy`), so a perturbation
costs the job a vector draw and no TensorFlow work. Each job compiles one
module greedily under one side of one antithetic pair (or the unperturbed
policy, sign 0) and is scored against the module's cached baseline with the
raw relative reward `1 - (size + d) / (baseline + d)` (no moving average:
antithetic differences already cancel what a module contributes alike), the
sizes valued as the run's scorer says (per object, or linked:
`compiler_opt.collect.scoring`).

A side's score is its mean reward over the modules that compiled under both
sides of its pair, so a failure or a straggler cancelled at the step's
deadline drops that module from its pair only; a pair with no such module
is dropped from the step. The figures say how many were dropped and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.compile_job import POOL_TIMEOUT_MARGIN, CompileResult, CompileTask, run_compile_task
from compiler_opt.collect.reward import relative_reward
from compiler_opt.collect.rollouts import CollectFigures, ModuleBook, RolloutSettings, mean, rollouts
from compiler_opt.collect.scoring import ScorerSource
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.es.blackbox import perturbation
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.base import Job, SharedRef, WorkerPool
from compiler_opt.problems.base import Problem

CENTER = 0  # the sign of the unperturbed policy's jobs
SIGN_NAMES = {1: "+", -1: "-", CENTER: "0"}


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


@dataclass
class StepEvaluation:
    """One step's compiles: per pair the two sides' mean rewards, and what the collection gave (`figures`: the
    unperturbed policy's rewards and totals, every compile's counts and time)."""

    figures: CollectFigures
    pair_scores: dict[int, tuple[float, float]] = field(default_factory=dict)
    pairs_dropped: int = 0
    extra: dict = field(default_factory=dict)  # more log figures (the program fitness's)
    summary: str = ""  # more for the log line

    def record(self, workers: int) -> dict:
        """The log figures of this step (`total_ratio` and `mean_reward` are the unperturbed policy's)."""
        figures = self.figures
        sides = [score for pair in self.pair_scores.values() for score in pair]
        return {
            **figures.record(workers),
            "jobs": figures.jobs,
            "jobs_ok": figures.jobs_ok,
            "jobs_failed": figures.jobs_failed,
            "pairs_used": len(self.pair_scores),
            "pairs_dropped": self.pairs_dropped,
            "mean_perturbed_reward": mean(sides),
            "best_perturbed_reward": max(sides) if sides else None,
            "modules_per_second": figures.per_second(figures.jobs_ok),
            **self.extra,
        }


def pair_scores(
    rewards: dict[tuple[int, int], dict[str, float]], pairs: int
) -> tuple[dict[int, tuple[float, float]], int]:
    """Each pair's two sides' mean rewards (`rewards[(pair, sign)]`: by module or program) over what scored on
    both sides, and how many pairs had nothing in common (dropped)."""
    scores, dropped = {}, 0
    for pair in range(pairs):
        plus, minus = rewards.get((pair, 1), {}), rewards.get((pair, -1), {})
        common = sorted(set(plus) & set(minus))
        if not common:
            dropped += 1
            continue
        scores[pair] = (
            math.fsum(plus[m] for m in common) / len(common),
            math.fsum(minus[m] for m in common) / len(common),
        )
    return scores, dropped


def evaluate_step(
    pool: WorkerPool,
    base: FastPolicy,
    seeds: Sequence[int],
    noise_scale: float,
    modules: Sequence[ModuleSpec],
    problem: Problem,
    toolchain: Toolchain,
    baselines: BaselineCache,
    book: ModuleBook,
    *,
    iteration: int,
    settings: RolloutSettings,
    reward_delta: float,
    evaluate_center: bool,
    scoring: ScorerSource | None = None,
) -> StepEvaluation:
    """Compile `modules` under both sides of each pair (`seeds[i]` is pair i's direction), score the pairs
    (each compile valued by `scoring`'s scorer; default: per object)."""
    scores = StepEvaluation(CollectFigures())
    figures = scores.figures
    # (pair, seed, sign) of every compile of one module: both sides of each pair, and the policy itself.
    variants = [(pair, seed, sign) for pair, seed in enumerate(seeds) for sign in (1, -1)]
    if evaluate_center:
        variants.append((0, 0, CENTER))
    limit = settings.compile_timeout + POOL_TIMEOUT_MARGIN
    sides: dict[str, _Side] = {}

    def jobs(module: ModuleSpec, ref: SharedRef) -> list[Job]:
        task = CompileTask(
            module,
            problem.name,
            str(toolchain.clang),
            None,
            explore=False,
            record=False,
            timeout=settings.compile_timeout,
            keep_object=scoring is not None and scoring.needs_object,
        )
        made = []
        for pair, seed, sign in variants:
            key = f"{pair}{SIGN_NAMES[sign]}:{module.name}"
            sides[key] = _Side(pair, sign)
            made.append(
                Job(key, run_perturbed_task, (task, ref, seed, sign, noise_scale), timeout=limit, files=module.files)
            )
        return made

    rewards: dict[tuple[int, int], dict[str, float]] = {}
    for rollout in rollouts(
        pool,
        base,
        modules,
        jobs,
        problem,
        toolchain,
        baselines,
        book,
        figures,
        iteration=iteration,
        settings=settings,
        desc=f"es step {iteration}",
        scoring=scoring,
    ):
        side = sides[rollout.key]
        if rollout.compiled.decisions == 0:
            book.no_decisions.add(rollout.module)  # no policy can change it: not sampled again
        figures.decisions += rollout.compiled.decisions
        reward = relative_reward(rollout.value, rollout.baseline, reward_delta)
        if side.sign == CENTER:
            figures.modules_ok += 1
            figures.raw_rewards.append(reward)
            figures.policy_total += rollout.value
            figures.baseline_total += rollout.baseline
        else:
            rewards.setdefault((side.pair, side.sign), {})[rollout.module] = reward
    scores.pair_scores, scores.pairs_dropped = pair_scores(rewards, len(seeds))
    return scores

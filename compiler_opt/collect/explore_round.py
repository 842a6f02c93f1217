"""One round of exploration: modules explored around a policy on the pool, the best of each offered to the store.

`explore_round` gets the modules' baselines (`BaselineCache`), shares the
policy and the scorer (`compiler_opt.collect.scoring`) with the pool once, runs one exploration job per module
(`compiler_opt.collect.explore`), and offers each module's best compile to
the best-trajectory store (`compiler_opt.collect.best_store`), which keeps it
if it beats what the store had. Stragglers past the round's deadline are
cancelled (not failures); a module whose explorations fail `max_failures`
times over the run is set aside (`ModuleBook`), one that offers no decision
is noted and skipped from then on. `ExploreFigures` counts it all: the
policy's own (greedy) total, the round's best, the store's best on the same
modules, the baseline's, and where the time went.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.best_store import BestTrajectoryStore
from compiler_opt.collect.compile_job import POOL_TIMEOUT_MARGIN
from compiler_opt.collect.explore import Exploration, ExploreTask, run_explore_task
from compiler_opt.collect.rollouts import CollectFigures, ModuleBook, RolloutSettings, deadline_policy
from compiler_opt.collect.scoring import ModuleScorer, ObjectScorer
from compiler_opt.corpus.loading import ModuleSpec
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.base import Job, WorkerPool
from compiler_opt.problems.base import Problem

__all__ = ["ExploreFigures", "ExploreSettings", "explore_round"]


@dataclass(frozen=True)
class ExploreSettings:
    """How each module is explored: see `compiler_opt.collect.explore.ExploreTask`."""

    flips: int = 2
    depth: int = 1
    references: tuple[str, ...] = ()
    prefer_references: bool = False


@dataclass
class ExploreFigures(CollectFigures):
    """A round's figures: `CollectFigures` (its `policy_total` is the policy's greedy compiles') and the bests."""

    compiles: int = 0
    best_total: float = 0.0  # the best compile of this round, per module
    store_total: float = 0.0  # the store's best after the round, on the same modules
    improved: int = 0  # modules whose store entry this round improved
    best_kinds: Counter = field(default_factory=Counter)  # which kind of compile was each module's best

    def note_exploration(self, exploration: Exploration) -> None:
        self.compiles += len(exploration.candidates)
        policy = exploration.seconds.get("policy", 0.0)
        self.seconds_compile += max(exploration.seconds.get("compile", 0.0) - policy, 0.0)
        self.seconds_policy += policy
        self.seconds_measure += exploration.seconds.get("measure", 0.0)

    def record(self, workers: int) -> dict:
        record = super().record(workers)
        baseline = self.baseline_total
        record.update(
            {
                "compiles": self.compiles,
                "best_total": self.best_total,
                "store_total": self.store_total,
                "best_ratio": self.best_total / baseline if baseline else None,
                "store_ratio": self.store_total / baseline if baseline else None,
                "improved": self.improved,
                **{f"best_from_{kind}": count for kind, count in sorted(self.best_kinds.items())},
            }
        )
        return record


def explore_round(
    pool: WorkerPool,
    policy: FastPolicy,
    modules: Sequence[ModuleSpec],
    problem: Problem,
    toolchain: Toolchain,
    baselines: BaselineCache,
    store: BestTrajectoryStore,
    book: ModuleBook,
    *,
    round: int,
    settings: RolloutSettings,
    explore: ExploreSettings,
    found: Mapping,
    scorer: ModuleScorer | None = None,
) -> ExploreFigures:
    """Explore `modules` around `policy` and offer each one's best to `store` (`found` says what found it); each
    compile and baseline valued by `scorer` (default: per object; the store's scorer must be the same)."""
    scorer = scorer or ObjectScorer(problem.name)
    if scorer.name != store.scorer:
        raise ValueError(f"the store keeps {store.scorer} values, the round scores by {scorer.name}")
    started = time.monotonic()
    figures = ExploreFigures(modules=len(modules))
    scores = baselines.get_many(
        BaselineCache.commands(toolchain, modules), pool, timeout=settings.compile_timeout, desc=f"baselines {round}"
    )
    figures.seconds_baselines = time.monotonic() - started
    figures.note_baseline_failures(scores)
    by_name = {module.name: module for module in modules}
    ref, scorer_ref = pool.share(policy), pool.share(scorer)
    try:
        jobs = []
        for module in modules:
            if module.name not in scores.scores:
                continue
            task = ExploreTask(
                module,
                problem.name,
                str(toolchain.clang),
                explore.flips,
                explore.depth,
                explore.references,
                settings.compile_timeout,
                explore.prefer_references,
            )
            limit = settings.compile_timeout * task.compiles + POOL_TIMEOUT_MARGIN
            jobs.append(Job(module.name, run_explore_task, (task, ref, scorer_ref), timeout=limit, files=module.files))
        figures.jobs = len(jobs)
        deadline = deadline_policy(settings)
        for result in pool.run(jobs, deadline=deadline, desc=f"explore {round}"):
            if figures.note_unusable(result, result.key):
                continue
            figures.jobs_ok += 1
            baseline = scorer.value(result.key, scores.scores[result.key], None)
            _keep(result.value, by_name[result.key], baseline, store, book, figures, found)
    finally:
        pool.release(ref)
        pool.release(scorer_ref)
    figures.settle_failures(book, round, settings.max_failures)
    figures.seconds_collect = time.monotonic() - started
    return figures


def _keep(
    exploration: Exploration,
    module: ModuleSpec,
    baseline: float,
    store: BestTrajectoryStore,
    book: ModuleBook,
    figures: ExploreFigures,
    found: Mapping,
) -> None:
    """Count one module's exploration and offer its best to the store."""
    figures.note_exploration(exploration)
    greedy, best = exploration.greedy, exploration.best_candidate
    if greedy.decisions == 0:
        figures.modules_without_decisions += 1
        book.no_decisions.add(module.name)
        return
    if store.offer(module, best, baseline, found):
        figures.improved += 1
    entry = store.get(module)
    figures.modules_ok += 1
    figures.decisions += greedy.decisions
    figures.policy_total += greedy.value
    figures.baseline_total += baseline
    figures.best_total += best.value
    figures.store_total += best.value if entry is None else min(entry.value, best.value)
    figures.best_kinds[best.kind.split(":", 1)[0]] += 1  # a built-in's name without its parameters

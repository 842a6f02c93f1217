"""Imitation learning as the training loop's `Learner`: explore around the policy, keep the best, clone it.

Each round (DAgger-style: each round's policy explores the next):

1. collect: a seeded sample of training modules is explored around the
   current policy (`compiler_opt.collect.explore_round`): its greedy compile
   and its least-certain decisions flipped; the first round compiles all
   training modules (or `first_round_modules`) and adds the built-in
   `references` (the compiler's heuristic replayed, the hand rule) as
   candidates, and does not flip when the run has no warm start. Each
   module's best compile is offered to the best-trajectory store, which
   keeps it if it beats what it had (`compiler_opt.collect.best_store`).
2. update: the store's best trajectories of every training module (those
   no worse than the compiler's heuristic: a module explored only around a
   policy that does worse teaches nothing yet) are
   written to the round's trajectory files, each step weighted
   (`compiler_opt.rl.imitation.step_weights`), and the policy is cloned on
   them for `epochs` passes (`first_epochs` in the first round, at least
   `min_batches` batches; weighted cross-entropy, `compiler_opt.rl.bc`),
   in one pass over a repeating dataset.

Compiles are valued as `trainer_config.reward_size` says (per object, or
by linked size: `compiler_opt.collect.scoring`), and so is the store. The
state between rounds: the modules' failure counts; the store lives on
disk (in the run folder unless `imitation_config.store` names a shared one)
and the policy in the checkpoint, so `--resume` goes on where a kill left it.
The result is a warm start for evolution strategies (`--warmstart`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compiler_opt.collect.actor import trajectory_spec
from compiler_opt.collect.best_store import BestTrajectoryStore
from compiler_opt.collect.explore_round import ExploreFigures, ExploreSettings, explore_round
from compiler_opt.collect.rollouts import ModuleBook
from compiler_opt.collect.trajectory_files import TrajectoryWriter
from compiler_opt.errors import MlgoError
from compiler_opt.rl.bc import BCLearner, EpochStats
from compiler_opt.rl.imitation import ImitationConfig, step_weights
from compiler_opt.training.learner import IterationFigures, ModelDelegate, fmt
from compiler_opt.training.setup import Run

STORE_FOLDER = "best_trajectories"


class ImitationTraining(ModelDelegate):
    """The imitation learner of `mlgo train --algorithm imitation` (implements `training.learner.Learner`)."""

    unit = "round"
    first_iteration_apart = True  # the first round compiles every training module with the references

    def __init__(self, run: Run, config: ImitationConfig) -> None:
        self.run, self.config = run, config
        self.book = ModuleBook()
        folder = Path(config.store) if config.store else run.folder.root / STORE_FOLDER
        self.store = BestTrajectoryStore(folder, run.toolchain, run.problem, scorer=run.config.reward_size)
        self.scoring = run.scoring()
        # Named with every parameter (gin may have set them): workers read no gin.
        self.references = tuple(
            run.problem.policy(name).name for name in config.references if run.problem.is_builtin(name)
        )
        self.learner: BCLearner | None = None

    def prepare(self, run: Run, state: Mapping | None) -> None:
        if run.problem.default_replay() is None:
            raise MlgoError(
                f"problem {run.problem.name} cannot replay the compiler's own decisions through the channel, "
                "so its explorations cannot be recorded with honest features; train it with --algorithm ppo or es"
            )
        if state is not None:
            self.book = ModuleBook.from_json(state.get("modules", {}))

    def build(self, actor: Any | None) -> None:
        run = self.run
        assert run.vocab is not None
        self.learner = BCLearner(run.spec, run.vocab, run.network, actor=actor, config=self.config.bc)

    def _model(self) -> BCLearner:
        assert self.learner is not None, "build() first"
        return self.learner

    def collect(self, iteration: int) -> ExploreFigures:
        run, config = self.run, self.config
        first = iteration == 1
        if first:
            count = config.first_round_modules or len(run.training)
        else:
            count = run.config.modules_per_iteration
        modules = run.sample_training(self.book, count, run.iteration_seed(iteration))
        untrained = first and run.warmstart is None
        explore = ExploreSettings(
            0 if untrained else config.flips,
            0 if untrained else config.depth,
            self.references if first else (),
            prefer_references=untrained,
        )
        figures = explore_round(
            run.pool,
            self._model().fast_policy(),
            modules,
            run.problem,
            run.toolchain,
            run.baselines,
            self.store,
            self.book,
            round=iteration,
            settings=run.config,
            explore=explore,
            found={"round": iteration, "run": str(run.folder.root), "seed": run.seed},
            scorer=self.scoring.scorer(modules, run.pool, timeout=run.config.compile_timeout),
        )
        if figures.set_aside:
            run.folder.write_failed_modules(self.book.set_aside)
        return figures

    def _write_best(self, folder: Path) -> tuple[list[str], int, int, float, float]:
        """The store's best trajectories of the training modules, weighted, as trajectory files; with the steps,
        modules, best total and baseline total they hold."""
        run = self.run
        steps = modules = 0
        best = baseline = 0.0
        writer = TrajectoryWriter(folder, trajectory_spec(run.spec, policy_info=False), prefix="best")
        try:
            for entry in self.store.entries(self.book.eligible(run.training.modules)).values():
                if entry.value > entry.baseline:  # worse than the compiler's heuristic: nothing to imitate
                    continue
                trajectory = self.store.trajectory(entry)
                if trajectory is None or not len(trajectory):
                    continue
                flips = entry.found.get("flips", [])
                weights = step_weights(len(trajectory), entry.value, entry.baseline, flips, self.config)
                writer.write(trajectory.with_step_rewards(weights, baseline=entry.baseline))
                steps += len(trajectory)
                modules += 1
                best += entry.value
                baseline += entry.baseline
        finally:
            shards = [str(path) for path in writer.close()]
        return shards, steps, modules, best, baseline

    def update(self, iteration: int, collected: ExploreFigures) -> IterationFigures:
        run, config, figures = self.run, self.config, collected
        began = time.monotonic()
        shards, steps, modules, best, baseline = self._write_best(run.folder.iteration_trajectories(iteration))
        stats: EpochStats | None = None
        if steps:
            epochs = config.first_epochs if iteration == 1 else config.epochs
            batch = config.bc.batch_size * config.bc.sequence_length
            total = max(epochs * steps, config.min_batches * batch)
            stats = self._model().train_epoch(shards, total, seed=run.iteration_seed(iteration), weighted=True)
        record = {
            "iteration": iteration,
            "algorithm": "imitation",
            **figures.record(run.pool.workers),
            "modules_without_decisions": figures.modules_without_decisions,
            "store_modules": modules,
            "store_steps": steps,
            "store_training_ratio": best / baseline if baseline else None,
            "loss": None if stats is None else stats.loss,
            "accuracy": None if stats is None else stats.accuracy,
            "epochs": stats.steps / steps if stats is not None else 0.0,
            "train_steps": 0 if stats is None else stats.steps,
            "train_batches": 0 if stats is None else stats.batches,
            "seconds_train": time.monotonic() - began,
        }
        line = (
            f"round {iteration}/{run.config.iterations}: explored {figures.modules_ok}/{figures.modules} modules "
            f"({figures.compiles:,} compiles, {figures.modules_failed} failed, {figures.modules_cancelled} "
            f"cancelled), policy {fmt(record['total_ratio'], '.4f')}, round best {fmt(record['best_ratio'], '.4f')} "
            f"of -Oz ({figures.improved} improved); store {fmt(record['store_training_ratio'], '.4f')} on "
            f"{modules} training modules; collect {figures.seconds_collect:.1f} s (jobs: compile "
            f"{figures.seconds_compile:.1f} s, policy {figures.seconds_policy:.1f} s), clone {record['epochs']:.1f} epochs "
            f"{record['seconds_train']:.1f} s: loss {fmt(record['loss'], '.4f')}, accuracy "
            f"{fmt(record['accuracy'], '.4f')}"
        )
        return IterationFigures(record, line)

    def state(self) -> dict:
        return {"modules": self.book.to_json(), "store": str(self.store.folder)}

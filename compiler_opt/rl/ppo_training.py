"""PPO as the training loop's `Learner`: collect with the current policy, reward, train the agent on it.

Per iteration: a seeded, size-stratified sample of the training modules
(minus those set aside) compiles under the current policy's numpy form,
sampling (`compiler_opt.collect.rollouts.collect_iteration`); each is
rewarded against its cached baseline and its trajectory written to the
iteration's TFRecord shards; the tf-agents PPO agent (`compiler_opt.rl.ppo`)
trains on them. The state between iterations: the modules' failure counts
and the per-module reward averages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compiler_opt.collect.reward import RewardTracker
from compiler_opt.collect.rollouts import CollectFigures, ModuleBook, collect_iteration, mean
from compiler_opt.rl.ppo import PPOConfig, PPOLearner
from compiler_opt.training.learner import IterationFigures, ModelDelegate, fmt
from compiler_opt.training.setup import Run


class PPOTraining(ModelDelegate):
    """The PPO learner of `mlgo train --algorithm ppo` (implements `compiler_opt.training.learner.Learner`)."""

    unit = "iteration"

    def __init__(self, run: Run, config: PPOConfig) -> None:
        self.run, self.config = run, config
        self.book = ModuleBook()
        self.tracker = RewardTracker(run.config.reward_delta, run.config.reward_decay)
        self.agent: PPOLearner | None = None
        self.scoring = run.scoring()

    def prepare(self, run: Run, state: Mapping | None) -> None:
        if state is not None:
            self.book = ModuleBook.from_json(state.get("modules", {}))
            if "rewards" in state:
                self.tracker = RewardTracker.from_json(state["rewards"])

    def build(self, actor: Any | None) -> None:
        run = self.run
        assert run.vocab is not None
        self.agent = PPOLearner(run.spec, run.vocab, run.network, actor=actor, config=self.config)

    def _model(self) -> PPOLearner:
        assert self.agent is not None, "build() first"
        return self.agent

    def collect(self, iteration: int) -> CollectFigures:
        run = self.run
        seed = run.iteration_seed(iteration)
        modules = run.sample_training(self.book, run.config.modules_per_iteration, seed)
        figures = collect_iteration(
            run.pool,
            modules,
            run.problem,
            run.toolchain,
            self._model().fast_policy(),
            run.baselines,
            self.tracker,
            self.book,
            run.folder.iteration_trajectories(iteration),
            iteration=iteration,
            seed=seed,
            settings=run.config,
            scoring=self.scoring,
        )
        if figures.set_aside:
            run.folder.write_failed_modules(self.book.set_aside)
        return figures

    def update(self, iteration: int, collected: CollectFigures) -> IterationFigures:
        run, figures = self.run, collected
        record = {
            "iteration": iteration,
            "algorithm": "ppo",
            **figures.record(run.pool.workers),
            "modules_without_decisions": figures.modules_without_decisions,
            "mean_centered_reward": mean(figures.rewards),
            "seconds_measure": figures.seconds_measure,
            "modules_per_second": figures.per_second(figures.modules_ok),
            "decisions_per_second": figures.per_second(figures.decisions),
        }
        if figures.steps:
            stats = self._model().train(figures.shards, figures.steps, seed=run.iteration_seed(iteration))
            record.update(stats.losses)
            record.update({"seconds_train": stats.seconds, "train_batches": stats.batches, "train_steps": stats.steps})
        else:
            record.update({"loss": None, "seconds_train": 0.0, "train_batches": 0, "train_steps": 0})
        line = (
            f"iteration {iteration}/{run.config.iterations}: {figures.modules_ok}/{figures.modules} ok, "
            f"{figures.modules_failed} failed, {figures.modules_cancelled} cancelled, "
            f"reward {fmt(record['mean_reward'], '+.4f')}, ratio {fmt(record['total_ratio'], '.4f')}, "
            f"{figures.decisions:,} decisions, collect {figures.seconds_collect:.1f} s "
            f"(jobs: compile {figures.seconds_compile:.1f} s, policy {figures.seconds_policy:.1f} s), "
            f"train {record['seconds_train']:.1f} s, "
            f"{fmt(record['decisions_per_second_per_worker'], '.0f')} decisions/s/worker"
        )
        return IterationFigures(record, line)

    def state(self) -> dict:
        return {"modules": self.book.to_json(), "rewards": self.tracker.to_json()}

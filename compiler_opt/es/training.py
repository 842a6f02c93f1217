"""Evolution strategies as the training loop's `Learner`: score antithetic perturbations, step along the estimate.

Per step: a seeded sample of training modules compiles under both sides of a
seeded set of antithetic perturbations of the current policy's weights (and
under the policy itself, for the log); each side is scored by its mean reward
against the baselines (`compiler_opt.es.evaluation`), or, with
`es_config.fitness = 'programs'`, by the corpus's training programs built
under it and run (`compiler_opt.es.program_fitness`); the optimizer takes
one step along the estimated gradient (`compiler_opt.es.learner`). The state
between steps: the modules' failure counts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from compiler_opt.collect.program_runs import require_valgrind
from compiler_opt.collect.rollouts import ModuleBook
from compiler_opt.es.config import ESConfig
from compiler_opt.es.evaluation import StepEvaluation, evaluate_step
from compiler_opt.es.learner import ESLearner, step_seeds
from compiler_opt.es.program_fitness import ProgramFitness, training_programs
from compiler_opt.training.learner import IterationFigures, ModelDelegate, fmt
from compiler_opt.training.setup import Run


class ESTraining(ModelDelegate):
    """The ES learner of `mlgo train --algorithm es` (implements `compiler_opt.training.learner.Learner`)."""

    unit = "step"

    def __init__(self, run: Run, config: ESConfig) -> None:
        self.run, self.config = run, config
        self.book = ModuleBook()
        self.learner: ESLearner | None = None
        self.scoring = run.scoring()
        self.programs: ProgramFitness | None = None
        if config.fitness == "programs":
            # Checked now, before the run folder is written.
            require_valgrind("use es.es_config.fitness = 'modules'")
            self.programs = ProgramFitness(
                training_programs(run.training, run.validation, config.fitness_programs),
                run.training,
                run.problem,
                run.toolchain,
                run.baselines,
                run.config.compile_timeout,
            )

    def prepare(self, run: Run, state: Mapping | None) -> None:
        if state is not None:
            self.book = ModuleBook.from_json(state.get("modules", {}))

    def build(self, actor: Any | None) -> None:
        run = self.run
        assert run.vocab is not None
        self.learner = ESLearner(run.spec, run.vocab, run.network, self.config, actor=actor)

    def _model(self) -> ESLearner:
        assert self.learner is not None, "build() first"
        return self.learner

    def collect(self, iteration: int) -> tuple[list[int], str, StepEvaluation]:
        """The step's direction seeds, what it scored on ("8 modules", "2 programs"), and its pairs' scores."""
        run, es = self.run, self.config
        seeds = step_seeds(run.seed, iteration, es.perturbations)
        if self.programs is not None:
            scores = self.programs.evaluate_step(
                run.pool,
                self._model().fast_policy(),
                seeds,
                es.noise_scale,
                iteration=iteration,
                settings=run.config,
                evaluate_center=es.evaluate_center,
            )
            return seeds, f"{len(self.programs.tasks)} programs", scores
        modules = run.sample_training(self.book, es.modules_per_perturbation, run.iteration_seed(iteration))
        scores = evaluate_step(
            run.pool,
            self._model().fast_policy(),
            seeds,
            es.noise_scale,
            modules,
            run.problem,
            run.toolchain,
            run.baselines,
            self.book,
            iteration=iteration,
            settings=run.config,
            reward_delta=run.config.reward_delta,
            evaluate_center=es.evaluate_center,
            scoring=self.scoring,
        )
        if scores.figures.set_aside:
            run.folder.write_failed_modules(self.book.set_aside)
        return seeds, f"{len(modules)} modules", scores

    def update(self, iteration: int, collected: tuple[list[int], str, StepEvaluation]) -> IterationFigures:
        run, es = self.run, self.config
        seeds, scored_on, scores = collected
        figures = scores.figures
        record = {"iteration": iteration, "algorithm": "es", **scores.record(run.pool.workers)}
        began = time.monotonic()
        if scores.pair_scores:
            record.update(self._model().update(seeds, scores.pair_scores))
        else:
            record.update({"gradient_norm": None, "update_norm": 0.0, "pairs_in_update": 0})
        record["seconds_train"] = time.monotonic() - began
        line = (
            f"step {iteration}/{run.config.iterations}: {record['pairs_used']}/{es.perturbations} pairs "
            f"({figures.jobs_ok}/{figures.jobs} {'builds' if self.programs else 'compiles'} ok, "
            f"{figures.jobs_failed} failed, {figures.modules_cancelled} cancelled) on {scored_on}, "
            f"reward {fmt(record['mean_reward'], '+.4f')} (perturbed best "
            f"{fmt(record['best_perturbed_reward'], '+.4f')}), ratio {fmt(record['total_ratio'], '.4f')}, "
            f"collect {figures.seconds_collect:.1f} s (jobs: compile {figures.seconds_compile:.1f} s, "
            f"policy {figures.seconds_policy:.1f} s), update {record['seconds_train']:.2f} s"
            + (f"; {scores.summary}" if scores.summary else "")
        )
        return IterationFigures(record, line)

    def state(self) -> dict:
        return {"modules": self.book.to_json()}

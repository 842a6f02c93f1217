"""Behavioral cloning as the training loop's `Learner`: labels once, then one epoch of cloning per iteration.

A new run collects a built-in policy's decisions (the default heuristic's, or
`trainer_config.label_policy`'s) as labels for the training modules once
(`compiler_opt.rl.labels`, split by name into training and hold-out labels;
the vocabulary comes from them when the run has none). Each iteration is one
epoch of cross-entropy over the training labels (`compiler_opt.rl.bc`), at the
learning rate `bc_config.final_learning_rate`'s schedule gives that iteration
(so a resumed run continues it), logged with the agreement of the policy's
greedy decisions with the hold-out labels, and the problem's figures of both
sides' decisions (`Problem.decision_figures`: the inliner's inline fraction).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

from compiler_opt.collect.rollouts import ModuleBook
from compiler_opt.collect.vocab_traces import ObservationSample
from compiler_opt.errors import MlgoError
from compiler_opt.policy.vocab import DEFAULT_SAMPLE_SIZE, compute_vocab
from compiler_opt.rl.bc import BCConfig, BCLearner, agreement
from compiler_opt.rl.labels import collect_labels
from compiler_opt.training.learner import IterationFigures, ModelDelegate, fmt
from compiler_opt.training.setup import Run


class BCTraining(ModelDelegate):
    """The BC learner of `mlgo train --algorithm bc` (implements `compiler_opt.training.learner.Learner`)."""

    unit = "epoch"

    def __init__(self, run: Run, config: BCConfig) -> None:
        self.run, self.config = run, config
        self.labels: dict = {}
        self.learner: BCLearner | None = None
        labels = run.folder.trajectories / "labels"
        self.fit, self.holdout = labels / "fit", labels / "holdout"

    def prepare(self, run: Run, state: Mapping | None) -> None:
        if run.problem.default_replay() is None:
            raise MlgoError(
                f"problem {run.problem.name} cannot replay the compiler's own decisions through the "
                "channel, so there are no labels to clone; train it with --algorithm ppo"
            )
        self.labels = dict(state["labels"]) if state is not None else self._collect_labels()

    def _collect_labels(self) -> dict:
        """Default labels of the training modules (and the run's vocabulary from them when it has none)."""
        run, config = self.run, self.run.config
        shutil.rmtree(self.fit.parent, ignore_errors=True)
        modules = list(run.training.modules)
        if config.label_modules is not None and config.label_modules < len(modules):
            modules = run.training.sample(config.label_modules, run.seed)
        sample = ObservationSample(run.spec, DEFAULT_SAMPLE_SIZE, run.seed) if run.vocab is None else None
        labels = collect_labels(
            run.pool,
            modules,
            run.problem,
            run.toolchain,
            self.fit,
            self.holdout,
            holdout_fraction=config.holdout_fraction,
            timeout=config.compile_timeout,
            sample=sample,
            teacher=None if config.label_policy == "default" else run.problem.policy(config.label_policy).name,
        )
        if labels["failures"]:
            book = ModuleBook(
                set_aside={
                    name: {"error": error, "failures": 1, "iteration": 0} for name, error in labels["failures"].items()
                }
            )
            run.folder.write_failed_modules(book.set_aside)
        if not labels["fit_steps"]:
            raise MlgoError(
                f"none of the {len(modules)} training modules gave default labels "
                f"({labels['modules_failed']} failed, {labels['modules_without_decisions']} made no "
                f"decision); see {run.folder.failed_modules}"
            )
        if sample is not None:
            observations = sample.observations()
            run.vocab = compute_vocab(observations, run.spec, sample_size=len(observations), seed=run.seed)
        return labels

    def build(self, actor: Any | None) -> None:
        run = self.run
        assert run.vocab is not None
        self.learner = BCLearner(run.spec, run.vocab, run.network, actor=actor, config=self.config)

    def _model(self) -> BCLearner:
        assert self.learner is not None, "build() first"
        return self.learner

    def collect(self, iteration: int) -> list[str]:
        """Nothing new: the training label files collected when the run started."""
        return [str(p) for p in sorted(self.fit.glob("*.tfrecord"))]

    def update(self, iteration: int, collected: list[str]) -> IterationFigures:
        run, labels, learner = self.run, self.labels, self._model()
        learning_rate = self.config.learning_rate_at(iteration, run.config.iterations)
        stats = learner.train_epoch(
            collected, labels["fit_steps"], seed=run.iteration_seed(iteration), learning_rate=learning_rate
        )
        first = iteration == 1
        record = {
            "iteration": iteration,
            "algorithm": "bc",
            "modules_ok": labels["modules_ok"],
            "modules_failed": labels["modules_failed"],
            "mean_reward": None,
            "total_ratio": None,
            "policy_total": None,
            "baseline_total": None,
            "seconds_collect": labels["seconds"] if first else 0.0,
            "seconds_compile": labels["seconds_compile"] if first else 0.0,
            "seconds_policy": labels["seconds_policy"] if first else 0.0,
            "seconds_train": stats.seconds,
            "decisions": labels["fit_steps"],
            "loss": stats.loss,
            "accuracy": stats.accuracy,
            "learning_rate": learning_rate,
            "train_batches": stats.batches,
            "train_steps": stats.steps,
        }
        holdout = [str(p) for p in sorted(self.holdout.glob("*.tfrecord"))]
        if holdout:
            agree = agreement(learner.fast_policy(), holdout)
            record.update({"holdout_accuracy": agree.accuracy, "holdout_steps": agree.steps})
            for side, counts in (("label", agree.labels), ("policy", agree.decisions)):
                record.update(
                    {f"holdout_{side}_{name}": value for name, value in run.problem.decision_figures(counts).items()}
                )
        line = (
            f"iteration {iteration}/{run.config.iterations}: loss {stats.loss:.4f}, accuracy "
            f"{stats.accuracy:.4f}, hold-out accuracy {fmt(record.get('holdout_accuracy'), '.4f')} "
            f"({labels['fit_steps']:,} training and {labels['holdout_steps']:,} hold-out decisions), "
            f"train {stats.seconds:.1f} s"
        )
        return IterationFigures(record, line)

    def state(self) -> dict:
        return {"labels": self.labels}

"""Behavioral cloning: train the actor to answer as the compiler's own heuristic does.

The data are default-label trajectories (`compiler_opt.collect.compile_job.
default_label_trajectory`): the features the policy will see in training,
each step labeled with the decision clang's `-Oz` heuristic made there.
`BCLearner` minimizes the cross-entropy between the actor's logits and those
labels over windows read from the trajectory files; the result is the warm
start of policy gradient and evolution strategies (a policy that starts at
`-Oz` rather than at random, which on its own makes objects much larger).

`agreement` measures how often a policy's greedy decision matches the label,
on recorded trajectories, with the numpy fast form (what the compile jobs
run), so it also covers the path from the trained weights to collection.

Hyper-parameters: `bc_config` (gin, `bc.bc_config.<name>`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gin
import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.vocab import Vocab
from compiler_opt.tf_runtime import import_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf
else:
    tf = import_tensorflow()

from compiler_opt.collect.trajectory_dataset import read_trajectories, trajectory_dataset
from compiler_opt.policy import networks


@dataclass(frozen=True)
class BCConfig:
    """Learning rate, batch shape (`batch_size` windows of `sequence_length` steps) and L2 weight decay.

    `final_learning_rate`: where a cosine schedule over the run's epochs takes the learning rate by the last one
    (None: it stays at `learning_rate`). Without it the last epoch's weights are one noisy Adam step among many:
    hold-out agreement jumps by up to 1% between neighbouring late epochs, and the run keeps the last.
    """

    learning_rate: float = 1e-3
    batch_size: int = 64
    sequence_length: int = 16
    l2: float = 0.0
    final_learning_rate: float | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.sequence_length < 1:
            raise MlgoError(
                f"bc_config.batch_size and sequence_length must be at least 1, got "
                f"{self.batch_size} and {self.sequence_length}"
            )
        for name in ("learning_rate", "final_learning_rate"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise MlgoError(f"bc_config.{name} must be positive, got {value}")

    def learning_rate_at(self, epoch: int, epochs: int) -> float:
        """The learning rate of epoch `epoch` (1-based) of `epochs`: cosine from `learning_rate` at the first to
        `final_learning_rate` at the last (and after it)."""
        if self.final_learning_rate is None or epochs <= 1:
            return self.learning_rate
        progress = min(max(epoch - 1, 0) / (epochs - 1), 1.0)
        return self.final_learning_rate + (self.learning_rate - self.final_learning_rate) * 0.5 * (
            1 + math.cos(math.pi * progress)
        )


@gin.configurable(module="bc")
def bc_config(
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    sequence_length: int = 16,
    l2: float = 0.0,
    final_learning_rate: float | None = None,
) -> BCConfig:
    """The behavioral-cloning hyper-parameters from gin bindings."""
    final = None if final_learning_rate is None else float(final_learning_rate)
    return BCConfig(float(learning_rate), int(batch_size), int(sequence_length), float(l2), final)


@dataclass(frozen=True)
class EpochStats:
    """One pass over the labels: mean cross-entropy, agreement with the labels during the pass, steps, seconds."""

    loss: float
    accuracy: float
    batches: int
    steps: int
    seconds: float


@dataclass(frozen=True)
class Agreement:
    """How a policy's greedy decisions compare with the labels: counts per label and per decision."""

    steps: int
    agree: int
    labels: dict[int, int]
    decisions: dict[int, int]

    @property
    def accuracy(self) -> float:
        return self.agree / self.steps if self.steps else math.nan


class BCLearner:
    """An actor trained by cross-entropy against default labels; `fast_policy` gives its numpy form."""

    def __init__(
        self,
        spec: FeatureSpec,
        vocab: Vocab,
        network_config: NetworkConfig,
        *,
        actor: tf.Module | None = None,
        config: BCConfig | None = None,
    ) -> None:
        self.spec = spec
        self.vocab = vocab
        self.network_config = network_config
        self.config = config or bc_config()
        self.actor = actor if actor is not None else networks.actor_network(spec, vocab, network_config)
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=self.config.learning_rate)
        self.step = tf.Variable(0, dtype=tf.int64, name="train_step")
        self._names = spec.names
        self._action = spec.advice.name
        self._train_step = tf.function(self._step)

    def checkpoint(self) -> tf.train.Checkpoint:
        return tf.train.Checkpoint(actor=self.actor, optimizer=self.optimizer, step=self.step)

    def fast_policy(self) -> FastPolicy:
        return FastPolicy(self.spec, self.vocab, self.network_config, networks.actor_weights(self.actor))

    def _step(self, observation, labels, weights):
        with tf.GradientTape() as tape:
            distribution, _ = self.actor(observation, step_type=None, network_state=(), training=True)
            logits = distribution.logits_parameter()
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            loss = tf.reduce_sum(weights * losses) / tf.maximum(tf.reduce_sum(weights), 1e-6)
            if self.config.l2:
                loss += self.config.l2 * tf.add_n(
                    [tf.nn.l2_loss(v) for v in self.actor.trainable_variables if "kernel" in v.name]
                )
        variables = self.actor.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.step.assign_add(1)
        agree = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=labels.dtype), labels), tf.int64))
        return loss, agree

    def train_epoch(
        self,
        files: Sequence[str],
        steps: int,
        *,
        seed: int = 0,
        weighted: bool = False,
        learning_rate: float | None = None,
    ) -> EpochStats:
        """About `steps` decisions, in same-shape shuffled batches, from the label shards `files` (repeating: one
        pass when `steps` is their total, more when it is larger).

        `weighted`: each step's cross-entropy is weighted by its stored reward (imitation's per-step weights);
        otherwise every step counts alike. `learning_rate`: this epoch's (and later ones' until set again;
        None: unchanged).
        """
        started = time.monotonic()
        if learning_rate is not None:
            self.optimizer.learning_rate.assign(learning_rate)
        batch_size, sequence_length = self.config.batch_size, self.config.sequence_length
        per_batch = batch_size * sequence_length
        batches = max(1, math.ceil(steps / per_batch))
        dataset = trajectory_dataset(
            files,
            None,
            batch_size=batch_size,
            sequence_length=sequence_length,
            seed=seed,
            repeat=True,
            policy_info="none",
            drop_remainder=True,
        ).take(batches)
        loss_sum, agree_sum, count = 0.0, 0, 0
        for experience in dataset:
            observation = {name: tf.reshape(experience.observation[name], [per_batch]) for name in self._names}
            labels = tf.reshape(experience.action, [per_batch])
            weights = tf.reshape(experience.reward, [per_batch]) if weighted else tf.ones([per_batch], tf.float32)
            loss, agree = self._train_step(observation, labels, weights)
            loss_sum += float(loss)
            agree_sum += int(agree)
            count += 1
        seen = count * per_batch
        return EpochStats(
            loss_sum / max(count, 1), agree_sum / seen if seen else math.nan, count, seen, time.monotonic() - started
        )


def agreement(policy: FastPolicy, files: Iterable[str] | str) -> Agreement:
    """How often `policy`'s greedy decision equals the recorded action, over the trajectories in `files`."""
    steps = agree = 0
    labels: dict[int, int] = {}
    decisions: dict[int, int] = {}
    for trajectory in read_trajectories(files):
        if not len(trajectory):
            continue
        chosen = np.argmax(policy.logits_batch(trajectory.features), axis=-1)
        actual = trajectory.actions.reshape(-1)
        steps += len(actual)
        agree += int(np.sum(chosen == actual))
        for counts, values in ((labels, actual), (decisions, chosen)):
            for value, number in zip(*np.unique(values, return_counts=True)):
                counts[int(value)] = counts.get(int(value), 0) + int(number)
    return Agreement(steps, agree, labels, decisions)

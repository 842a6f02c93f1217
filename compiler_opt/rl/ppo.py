"""Policy gradient with tf-agents: PPO with a clipped objective on module-level rewards, no discounting.

`PPOLearner` wraps a tf-agents `PPOClipAgent` around the problem's actor
network (`compiler_opt.policy.networks`): it trains on the trajectory files
of one iteration (`compiler_opt.collect.trajectory_dataset.trajectory_dataset`,
with the batch shape of `ppo_config`) and hands back the
actor's numpy fast form for the next collection.

MLGO's choices for inlining, kept here (`ppo_config`, gin):
- `discount_factor = 0`: every step already carries its module's reward
  (`compiler_opt.collect.reward`), so a step's return is that reward; nothing
  leaks between steps or modules;
- a constant (zero) value network by default: the reward is already
  centered by a per-module moving average, and the agent normalizes
  advantages per batch, so the advantage is the (normalized) reward; set
  `value_network = "learned"` (with a `value_pred_loss_coef`) to learn one;
- importance-ratio clipping 0.2 against the behaviour policy's logits,
  which the compile job logs with every decision, so data collected by the
  numpy policy is trained on exactly as tf-agents expects;
- a little entropy regularization and L2 on the policy.
The learning rate is higher than MLGO's 3e-5 because a run here makes
hundreds, not hundreds of thousands, of gradient steps.

Every batch has the same shape (the dataset repeats and a fixed number of
batches is taken), so the train step is traced once per process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gin

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
from tf_agents.agents.ppo import ppo_clip_agent
from tf_agents.networks import network
from tf_agents.utils import common, nest_utils

from compiler_opt.collect.trajectory_dataset import trajectory_dataset
from compiler_opt.policy import networks

VALUE_NETWORKS = ("constant", "learned")


@dataclass(frozen=True)
class PPOConfig:
    """The PPO agent's hyper-parameters (see the module docstring); `epochs` passes over each iteration's data."""

    learning_rate: float = 3e-4
    adam_epsilon: float = 3.125e-4
    importance_ratio_clipping: float = 0.2
    entropy_regularization: float = 0.003
    policy_l2_reg: float = 1e-6
    value_network: str = "constant"
    value_pred_loss_coef: float = 0.0
    gradient_clipping: float | None = None
    epochs: int = 1
    batch_size: int = 64
    sequence_length: int = 16

    def __post_init__(self) -> None:
        if self.value_network not in VALUE_NETWORKS:
            raise MlgoError(
                f"unknown PPO value network {self.value_network!r}; choose one of: {', '.join(VALUE_NETWORKS)}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise MlgoError(
                f"ppo_config.epochs and batch_size must be at least 1, got {self.epochs} and {self.batch_size}"
            )
        if self.sequence_length < 2:
            raise MlgoError(
                f"ppo_config.sequence_length must be at least 2 (the last step of each window only "
                f"bootstraps), got {self.sequence_length}"
            )


@gin.configurable(module="ppo")
def ppo_config(
    learning_rate: float = 3e-4,
    adam_epsilon: float = 3.125e-4,
    importance_ratio_clipping: float = 0.2,
    entropy_regularization: float = 0.003,
    policy_l2_reg: float = 1e-6,
    value_network: str = "constant",
    value_pred_loss_coef: float = 0.0,
    gradient_clipping: float | None = None,
    epochs: int = 1,
    batch_size: int = 64,
    sequence_length: int = 16,
) -> PPOConfig:
    """The PPO hyper-parameters from gin bindings (`ppo.ppo_config.<name> = ...`)."""
    return PPOConfig(
        float(learning_rate),
        float(adam_epsilon),
        float(importance_ratio_clipping),
        float(entropy_regularization),
        float(policy_l2_reg),
        str(value_network),
        float(value_pred_loss_coef),
        None if gradient_clipping is None else float(gradient_clipping),
        int(epochs),
        int(batch_size),
        int(sequence_length),
    )


class ConstantValueNetwork(network.Network):
    """A value network that predicts `value` for every observation (no variables)."""

    def __init__(self, input_tensor_spec, value: float = 0.0, name: str = "ConstantValueNetwork") -> None:
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(), name=name)
        self._value = float(value)

    def call(self, observation, step_type=None, network_state=(), training=False):
        del step_type, training
        outer = nest_utils.get_outer_shape(observation, self.input_tensor_spec)
        return tf.fill(outer, tf.constant(self._value, tf.float32)), network_state


@dataclass(frozen=True)
class TrainStats:
    """What one call of `train` did: losses averaged over its batches, batches, steps and seconds."""

    losses: dict[str, float]
    batches: int
    steps: int
    seconds: float


class PPOLearner:
    """A PPO agent over the problem's actor; `train` on trajectory files, `fast_policy` for collection."""

    def __init__(
        self,
        spec: FeatureSpec,
        vocab: Vocab,
        network_config: NetworkConfig,
        *,
        actor: tf.Module | None = None,
        config: PPOConfig | None = None,
    ) -> None:
        self.spec = spec
        self.vocab = vocab
        self.network_config = network_config
        self.config = config or ppo_config()
        self.actor = actor if actor is not None else networks.actor_network(spec, vocab, network_config)
        if self.config.value_network == "constant":
            self.value = ConstantValueNetwork(networks.observation_spec(spec))
        else:
            self.value = networks.value_network(spec, vocab)
        self.optimizer = tf.keras.optimizers.Adam(
            learning_rate=self.config.learning_rate, epsilon=self.config.adam_epsilon
        )
        self.step = tf.Variable(0, dtype=tf.int64, name="train_step")
        self.agent = ppo_clip_agent.PPOClipAgent(
            networks.time_step_spec(spec),
            networks.action_spec(spec),
            optimizer=self.optimizer,
            actor_net=self.actor,
            value_net=self.value,
            importance_ratio_clipping=self.config.importance_ratio_clipping,
            lambda_value=0.0,
            discount_factor=0.0,
            entropy_regularization=self.config.entropy_regularization,
            policy_l2_reg=self.config.policy_l2_reg,
            value_pred_loss_coef=self.config.value_pred_loss_coef,
            num_epochs=1,
            use_gae=False,
            use_td_lambda_return=False,
            normalize_rewards=False,
            normalize_observations=False,
            gradient_clipping=self.config.gradient_clipping,
            compute_value_and_advantage_in_train=True,
            update_normalizers_in_train=False,
            train_step_counter=self.step,
        )
        self.agent.initialize()
        self._train_step = common.function(self.agent.train)

    def checkpoint(self) -> tf.train.Checkpoint:
        """Everything training changes: the actor, the value network, the optimizer and the step counter."""
        return tf.train.Checkpoint(actor=self.actor, value=self.value, optimizer=self.optimizer, step=self.step)

    def fast_policy(self) -> FastPolicy:
        """The actor's current weights in the numpy form the compile jobs run."""
        return FastPolicy(self.spec, self.vocab, self.network_config, networks.actor_weights(self.actor))

    def train(self, files: Sequence[str], steps: int, *, seed: int = 0) -> TrainStats:
        """Train on the trajectory shards `files` holding `steps` decisions in all: `epochs` passes, same-shape batches.

        Every batch is `[batch_size, sequence_length]`; the dataset repeats, and `epochs * ceil(windows /
        batch_size)` batches are taken, so each window is seen about `epochs` times. Shuffling and windowing
        follow gin's `trajectory_dataset.*`.
        """
        started = time.monotonic()
        batch_size, sequence_length = self.config.batch_size, self.config.sequence_length
        dataset = trajectory_dataset(
            files,
            None,
            batch_size=batch_size,
            sequence_length=sequence_length,
            seed=seed,
            repeat=True,
            policy_info="logged",
            drop_remainder=True,
        )
        windows = max(1, steps // sequence_length)
        batches = self.config.epochs * max(1, math.ceil(windows / batch_size))
        dataset = dataset.map(_behaviour_logits).take(batches)
        totals: dict[str, float] = {}
        count = 0
        for experience in dataset:
            info = self._train_step(experience)
            for name, value in _loss_figures(info).items():
                totals[name] = totals.get(name, 0.0) + value
            count += 1
        losses = {name: value / max(count, 1) for name, value in totals.items()}
        return TrainStats(losses, count, count * batch_size * sequence_length, time.monotonic() - started)


def _behaviour_logits(experience):
    """Keep only what the PPO agent's collect spec has in `policy_info`: the behaviour policy's logits."""
    return experience._replace(policy_info={"dist_params": experience.policy_info["dist_params"]})


def _loss_figures(info) -> dict[str, float]:
    extra = info.extra
    return {
        "loss": float(info.loss),
        "policy_gradient_loss": float(extra.policy_gradient_loss),
        "value_estimation_loss": float(extra.value_estimation_loss),
        "entropy_regularization_loss": float(extra.entropy_regularization_loss),
        "l2_regularization_loss": float(extra.l2_regularization_loss),
        "clip_fraction": float(extra.clip_fraction),
    }

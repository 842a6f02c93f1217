"""The ES learner: the actor's weights as one vector, its optimizer and step counter, checkpointable like PPO's.

The state lives in TensorFlow variables (the flat parameters in float64, the
optimizer's moments, the step), so the trainer writes and restores it with
the same `tf.train.Checkpoint` calls as for the other learners, and a resumed
run continues with exactly the parameters and moments it stopped with. The
arithmetic is `compiler_opt.es.blackbox`'s numpy; `actor` is the tf-agents
network with the current parameters loaded, for the saved policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from compiler_opt.es.blackbox import Optimizer, estimate_gradient, perturbation
from compiler_opt.es.config import ESConfig
from compiler_opt.policy import networks
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.vocab import Vocab
from compiler_opt.tf_runtime import import_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf
else:
    tf = import_tensorflow()


def step_seeds(run_seed: int, iteration: int, count: int) -> list[int]:
    """The direction seeds of one step's `count` pairs: a pure function of the run's seed and the iteration."""
    return [int(s) for s in np.random.default_rng([run_seed, iteration]).integers(0, 2**62, size=count)]


class ESLearner:
    """Flat parameters of the actor, updated by antithetic ES gradient estimates."""

    def __init__(
        self,
        spec: FeatureSpec,
        vocab: Vocab,
        network_config: NetworkConfig,
        config: ESConfig,
        *,
        actor: tf.Module | None = None,
    ) -> None:
        self.spec, self.vocab, self.network_config, self.config = spec, vocab, network_config, config
        self._actor = actor if actor is not None else networks.actor_network(spec, vocab, network_config)
        self._template = FastPolicy(spec, vocab, network_config, networks.actor_weights(self._actor))
        theta = self._template.flat_weights()
        self._optimizer = Optimizer(
            config.optimizer, theta.size, config.step_size, momentum=config.momentum, l2=config.l2
        )
        self._theta = tf.Variable(theta, dtype=tf.float64, name="es_theta")
        self._slots = {name: tf.Variable(value, name=f"es_{name}") for name, value in self._optimizer.state.items()}
        self.step = tf.Variable(0, dtype=tf.int64, name="train_step")

    @property
    def size(self) -> int:
        """How many parameters the policy has."""
        return int(self._theta.shape[0])

    @property
    def actor(self) -> tf.Module:
        """The tf-agents actor network holding the current parameters."""
        networks.set_actor_weights(self._actor, self.fast_policy().weights)
        return self._actor

    def checkpoint(self) -> tf.train.Checkpoint:
        """Everything an update changes: the parameters, the optimizer's state and the step counter."""
        return tf.train.Checkpoint(theta=self._theta, step=self.step, **self._slots)

    def fast_policy(self) -> FastPolicy:
        """The current parameters in the numpy form the compile jobs run."""
        return self._template.with_flat_weights(self._theta.numpy())

    def update(self, seeds: Sequence[int], pair_scores: Mapping[int, tuple[float, float]]) -> dict:
        """One optimizer step from the scores of the pairs that came back (pair index -> (score +, score -))."""
        config = self.config
        used = sorted(pair_scores)
        directions = [perturbation(seeds[pair], self.size) for pair in used]
        top_k = None if config.top_k is None else min(config.top_k, len(used))
        estimate = estimate_gradient(
            directions,
            [pair_scores[p][0] for p in used],
            [pair_scores[p][1] for p in used],
            config.noise_scale,
            rank_shaping=config.rank_shaping,
            top_k=top_k,
        )
        theta = self._theta.numpy()
        self._optimizer.load_state({name: slot.numpy() for name, slot in self._slots.items()})
        updated = self._optimizer.step(theta, estimate.gradient)
        self._theta.assign(updated)
        for name, slot in self._slots.items():
            slot.assign(self._optimizer.state[name])
        self.step.assign_add(1)
        return {
            "gradient_norm": float(np.linalg.norm(estimate.gradient)),
            "update_norm": float(np.linalg.norm(updated - theta)),
            "parameter_norm": float(np.linalg.norm(updated)),
            "pairs_in_update": estimate.pairs_used,
        }

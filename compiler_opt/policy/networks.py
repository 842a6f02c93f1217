"""The policy's tf-agents networks, built from a feature spec and a vocabulary by gin-configurable factories.

    spec = build_feature_spec(header, exclude=problem_excludes, num_actions=2)
    actor = actor_network(spec, vocab)          # a tf-agents DistributionNetwork giving a Categorical
    value = value_network(spec, vocab)          # ValueNetwork, for PPO

Both start with the same `ObservationPreprocessing` layer (the combiner of
tf-agents' encoder) followed by fully connected layers. Everything that
decides the actor's shape is one `NetworkConfig` (`compiler_opt.policy.config`,
gin: `network_config.*`), saved with a policy so the network and the numpy
fast form can be rebuilt from files.

Heads: `NetworkConfig.head` names how the inputs become an action
distribution; callers never see it. "categorical" (one choice among
`spec.num_actions`, the inliner's 0/1) is tf-agents' ActorDistributionNetwork.
"masked_candidates" (regalloc eviction) is `MaskedCandidateNetwork`: one
shared scorer over each candidate's columns of the preprocessed input
(`compiler_opt.policy.candidates`), the masked-out candidates' logits set to
`MASKED_LOGIT`; its numpy twin is in `fast.py`. Both heads expose their Dense
layers in forward order (`dense_layers`), which is all the fast form, ES and
export need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import gin
import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.policy.candidates import MASKED_LOGIT, CandidateLayout, candidate_layout
from compiler_opt.policy.config import NetworkConfig, network_config
from compiler_opt.policy.features import FeatureSpec, policy_shape
from compiler_opt.policy.layers import ObservationPreprocessing
from compiler_opt.policy.preprocessing import feature_transforms
from compiler_opt.policy.vocab import Vocab
from compiler_opt.tf_runtime import import_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf
else:
    tf = import_tensorflow()
import tensorflow_probability as tfp
from tf_agents.networks import actor_distribution_network, categorical_projection_network, network
from tf_agents.networks import utils as network_utils
from tf_agents.networks import value_network as tfa_value_network
from tf_agents.specs import distribution_spec, tensor_spec
from tf_agents.trajectories import time_step as ts
from tf_agents.utils import nest_utils


def observation_spec(spec: FeatureSpec) -> dict[str, tf.TensorSpec]:
    """tf-agents observation spec: one TensorSpec per feature, per-step shape, named as the compiler names it."""
    return {f.name: tf.TensorSpec(policy_shape(f), tf.as_dtype(f.dtype), name=f.name) for f in spec.features}


def action_spec(spec: FeatureSpec) -> tensor_spec.BoundedTensorSpec:
    """tf-agents action spec: the advice, named as the compiler names it, in [0, num_actions)."""
    if not spec.num_actions:
        raise MlgoError(f"the feature spec does not say how many values {spec.advice.name!r} can take")
    return tensor_spec.BoundedTensorSpec(
        policy_shape(spec.action),
        tf.as_dtype(spec.action.dtype),
        minimum=0,
        maximum=spec.num_actions - 1,
        name=spec.advice.name,
    )


def time_step_spec(spec: FeatureSpec) -> ts.TimeStep:
    return ts.time_step_spec(observation_spec(spec))


def preprocessing_layer(spec: FeatureSpec, vocab: Vocab, config: NetworkConfig) -> ObservationPreprocessing:
    return ObservationPreprocessing(
        feature_transforms(spec, vocab, config.identity, config.differences), name="preprocessing"
    )


def _tf_activation(name: str) -> Callable | None:
    return {"relu": tf.keras.activations.relu, "tanh": tf.keras.activations.tanh, "linear": None}[name]


def _categorical_head(spec: FeatureSpec, vocab: Vocab, config: NetworkConfig) -> tf.Module:
    return actor_distribution_network.ActorDistributionNetwork(
        observation_spec(spec),
        action_spec(spec),
        preprocessing_combiner=preprocessing_layer(spec, vocab, config),
        fc_layer_params=config.fc_layer_params,
        activation_fn=_tf_activation(config.activation),
        discrete_projection_net=categorical_projection_network.CategoricalProjectionNetwork,
        name="ActorDistributionNetwork",
    )


class MaskedCandidateNetwork(network.DistributionNetwork):
    """Scores every candidate with one shared MLP; a Categorical over the candidates the mask marks valid."""

    def __init__(
        self, spec: FeatureSpec, vocab: Vocab, config: NetworkConfig, name: str = "MaskedCandidateNetwork"
    ) -> None:
        actions = action_spec(spec)
        self.layout: CandidateLayout = candidate_layout(
            feature_transforms(spec, vocab, config.identity, config.differences), config.mask
        )
        if self.layout.candidates != spec.num_actions:
            raise MlgoError(
                f"the mask {config.mask!r} has {self.layout.candidates} candidates but the advice "
                f"{spec.advice.name!r} takes {spec.num_actions} values"
            )
        logits_spec = tensor_spec.TensorSpec(
            actions.shape.concatenate([self.layout.candidates]), tf.float32, name=f"{name}_logits"
        )
        output_spec = distribution_spec.DistributionSpec(
            tfp.distributions.Categorical, {"logits": logits_spec}, sample_spec=actions, dtype=actions.dtype
        )
        super().__init__(input_tensor_spec=observation_spec(spec), state_spec=(), output_spec=output_spec, name=name)
        self._preprocessing = preprocessing_layer(spec, vocab, config)
        self._hidden = [
            tf.keras.layers.Dense(
                units,
                activation=_tf_activation(config.activation),
                name=f"candidate_dense_{index}",
                kernel_initializer=tf.keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal"),
            )
            for index, units in enumerate(config.fc_layer_params)
        ]
        self._score = tf.keras.layers.Dense(
            1, kernel_initializer=tf.keras.initializers.VarianceScaling(0.1), name="candidate_score"
        )
        self._columns = tf.constant(self.layout.columns)
        self._mask_columns = tf.constant(self.layout.mask_columns)
        self._action_dtype = actions.dtype

    def dense_layers(self) -> list[tf.keras.layers.Dense]:
        return [*self._hidden, self._score]

    def call(self, observations, step_type=None, network_state=(), training=False):
        del step_type
        outer_rank = nest_utils.get_outer_rank(observations, self.input_tensor_spec)
        squash = network_utils.BatchSquash(outer_rank)
        inputs = self._preprocessing(tf.nest.map_structure(squash.flatten, observations))
        hidden = tf.gather(inputs, self._columns, axis=1)  # [N, C, k]
        for layer in self._hidden:
            hidden = layer(hidden, training=training)
        scores = tf.squeeze(self._score(hidden, training=training), axis=-1)
        valid = tf.gather(inputs, self._mask_columns, axis=1) > 0
        logits = tf.where(valid, scores, tf.constant(MASKED_LOGIT, tf.float32))
        logits = squash.unflatten(logits)
        return tfp.distributions.Categorical(logits=logits, dtype=self._action_dtype), network_state


# One builder per `config.HEADS` entry.
_HEADS: dict[str, Callable[[FeatureSpec, Vocab, NetworkConfig], tf.Module]] = {
    "categorical": _categorical_head,
    "masked_candidates": MaskedCandidateNetwork,
}


def actor_network(spec: FeatureSpec, vocab: Vocab, config: NetworkConfig | None = None) -> tf.Module:
    """The actor for `spec` (built, so its weights exist); `config` defaults to gin's `network_config()`."""
    config = config or network_config()
    network = _HEADS[config.head](spec, vocab, config)
    network.create_variables()
    return network


@gin.configurable(module="policy")
def value_network(
    spec: FeatureSpec,
    vocab: Vocab,
    fc_layer_params: Sequence[int] = (40, 40, 20),
    activation: str = "relu",
    identity: Sequence[str] | None = None,
) -> tf.Module:
    """The PPO value network: the same preprocessing, its own fully connected layers, one scalar.

    `identity` defaults to the actor's (`network_config().identity`).
    """
    identity = network_config().identity if identity is None else identity
    config = NetworkConfig(tuple(fc_layer_params), activation, tuple(identity))
    network = tfa_value_network.ValueNetwork(
        observation_spec(spec),
        preprocessing_combiner=preprocessing_layer(spec, vocab, config),
        fc_layer_params=config.fc_layer_params,
        activation_fn=_tf_activation(config.activation),
        name="ValueNetwork",
    )
    network.create_variables()
    return network


def dense_layers(network: tf.Module) -> list[tf.keras.layers.Dense]:
    """The actor's Dense layers in forward order (hidden layers, then the logits projection or the scorer)."""
    if isinstance(network, MaskedCandidateNetwork):
        return network.dense_layers()
    encoder = network._encoder  # pylint: disable=protected-access
    hidden = [
        layer
        for layer in encoder._postprocessing_layers  # pylint: disable=protected-access
        if isinstance(layer, tf.keras.layers.Dense)
    ]
    unexpected = [
        layer
        for layer in encoder._postprocessing_layers  # pylint: disable=protected-access
        if not isinstance(layer, (tf.keras.layers.Dense, tf.keras.layers.Flatten))
    ]
    if unexpected:
        raise MlgoError(f"the fast form cannot run these actor layers: {[type(x).__name__ for x in unexpected]}")
    projection = network._projection_networks._projection_layer  # pylint: disable=protected-access
    return [*hidden, projection]


def actor_weights(network: tf.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) of each Dense layer of the actor, as numpy arrays."""
    return [(layer.kernel.numpy(), layer.bias.numpy()) for layer in dense_layers(network)]


def set_actor_weights(network: tf.Module, weights: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
    """Load (kernel, bias) pairs (as `actor_weights` gives them) into a network of the same shape."""
    layers = dense_layers(network)
    if len(layers) != len(weights):
        raise MlgoError(f"the weights have {len(weights)} layers, the network {len(layers)}")
    for layer, (kernel, bias) in zip(layers, weights):
        if tuple(layer.kernel.shape) != tuple(kernel.shape):
            raise MlgoError(
                f"layer {layer.name}: a kernel of shape {tuple(kernel.shape)} does not fit {tuple(layer.kernel.shape)}"
            )
        layer.kernel.assign(kernel)
        layer.bias.assign(bias)

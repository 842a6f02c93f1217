"""The policy's tf-agents networks, built from a feature spec and a vocabulary by gin-configurable factories.

    spec = build_feature_spec(header, exclude=problem_excludes, num_actions=2)
    actor = actor_network(spec, vocab)          # ActorDistributionNetwork, categorical logits
    value = value_network(spec, vocab)          # ValueNetwork, for PPO

Both start with the same `ObservationPreprocessing` layer (the combiner of
tf-agents' encoder) followed by fully connected layers. Everything that
decides the actor's shape is one `NetworkConfig` (`compiler_opt.policy.config`,
gin: `network_config.*`), saved with a policy so the network and the numpy
fast form can be rebuilt from files.

Heads: `NetworkConfig.head` names how the encoder's output becomes an action
distribution; callers never see it. "categorical" (one choice among
`spec.num_actions`, the inliner's 0/1) is the only one now. A masked
per-candidate head for regalloc eviction (a shared scorer over the 33
candidates' feature columns, masked softmax) goes into `_HEADS` under its own
name, with its numpy twin in `fast.py`; `actor_network`'s signature stays.
"""

from __future__ import annotations

from typing import Callable, Sequence

import gin
import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.policy.config import NetworkConfig, network_config
from compiler_opt.policy.features import FeatureSpec, policy_shape
from compiler_opt.policy.layers import ObservationPreprocessing
from compiler_opt.policy.preprocessing import feature_transforms
from compiler_opt.policy.vocab import Vocab

import tensorflow as tf  # noqa: E402  (after compiler_opt, which selects Keras 2)
from tf_agents.networks import actor_distribution_network, categorical_projection_network  # noqa: E402
from tf_agents.networks import value_network as tfa_value_network  # noqa: E402
from tf_agents.specs import tensor_spec  # noqa: E402
from tf_agents.trajectories import time_step as ts  # noqa: E402

def observation_spec(spec: FeatureSpec) -> dict[str, tf.TensorSpec]:
    """tf-agents observation spec: one TensorSpec per feature, per-step shape, named as the compiler names it."""
    return {f.name: tf.TensorSpec(policy_shape(f), tf.as_dtype(f.dtype), name=f.name) for f in spec.features}


def action_spec(spec: FeatureSpec) -> tensor_spec.BoundedTensorSpec:
    """tf-agents action spec: the advice, named as the compiler names it, in [0, num_actions)."""
    if not spec.num_actions:
        raise MlgoError(f"the feature spec does not say how many values {spec.advice.name!r} can take")
    return tensor_spec.BoundedTensorSpec(policy_shape(spec.advice), tf.as_dtype(spec.advice.dtype),
                                         minimum=0, maximum=spec.num_actions - 1, name=spec.advice.name)


def time_step_spec(spec: FeatureSpec) -> ts.TimeStep:
    return ts.time_step_spec(observation_spec(spec))


def preprocessing_layer(spec: FeatureSpec, vocab: Vocab, config: NetworkConfig) -> ObservationPreprocessing:
    return ObservationPreprocessing(feature_transforms(spec, vocab, config.identity), name="preprocessing")


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


# One builder per `config.HEADS` entry.
_HEADS: dict[str, Callable[[FeatureSpec, Vocab, NetworkConfig], tf.Module]] = {"categorical": _categorical_head}


def actor_network(spec: FeatureSpec, vocab: Vocab, config: NetworkConfig | None = None) -> tf.Module:
    """The actor for `spec` (built, so its weights exist); `config` defaults to gin's `network_config()`."""
    config = config or network_config()
    network = _HEADS[config.head](spec, vocab, config)
    network.create_variables()
    return network


@gin.configurable(module="policy")
def value_network(spec: FeatureSpec, vocab: Vocab, fc_layer_params: Sequence[int] = (40, 40, 20),
                  activation: str = "relu", identity: Sequence[str] | None = None) -> tf.Module:
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
    """The actor's Dense layers in forward order (hidden layers, then the logits projection)."""
    encoder = network._encoder  # pylint: disable=protected-access
    hidden = [layer for layer in encoder._postprocessing_layers  # pylint: disable=protected-access
              if isinstance(layer, tf.keras.layers.Dense)]
    unexpected = [layer for layer in encoder._postprocessing_layers  # pylint: disable=protected-access
                  if not isinstance(layer, (tf.keras.layers.Dense, tf.keras.layers.Flatten))]
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
            raise MlgoError(f"layer {layer.name}: a kernel of shape {tuple(kernel.shape)} does not fit "
                            f"{tuple(layer.kernel.shape)}")
        layer.kernel.assign(kernel)
        layer.bias.assign(bias)

"""The networks from gin, and a tf-agents PPO train step on real observations with them."""

from __future__ import annotations

from pathlib import Path

import gin
import numpy as np

import compiler_opt.policy
from tests.policy.conftest import batch_features

GIN_DIR = Path(compiler_opt.policy.__file__).parent / "gin"


def test_gin_configures_the_actor(inlining_spec, inlining_vocab):
    from compiler_opt.policy.networks import actor_network, actor_weights, value_network

    with gin.unlock_config():
        gin.clear_config()
        gin.parse_config_files_and_bindings(
            [str(GIN_DIR / "actor.gin")],
            ["policy.network_config.fc_layer_params = (16, 8)", "policy.value_network.fc_layer_params = (12,)"],
        )
    try:
        actor = actor_network(inlining_spec, inlining_vocab)
        assert [k.shape for k, _ in actor_weights(actor)] == [(3 * len(inlining_spec.names), 16), (16, 8), (8, 2)]
        value = value_network(inlining_spec, inlining_vocab)
        assert [v.shape.as_list() for v in value.trainable_variables if "kernel" in v.name][0][1] == 12
    finally:
        gin.clear_config()


def test_ppo_trains_a_step_on_recorded_observations(inlining_spec, inlining_vocab, inlining_default):
    import tensorflow as tf
    from tf_agents.agents.ppo import ppo_clip_agent
    from tf_agents.trajectories import trajectory

    from compiler_opt.policy.config import NetworkConfig
    from compiler_opt.policy.networks import action_spec, actor_network, actor_weights, time_step_spec, value_network

    actor = actor_network(inlining_spec, inlining_vocab, NetworkConfig((16,)))
    agent = ppo_clip_agent.PPOClipAgent(
        time_step_spec(inlining_spec),
        action_spec(inlining_spec),
        tf.keras.optimizers.Adam(1e-3),
        actor_net=actor,
        value_net=value_network(inlining_spec, inlining_vocab, (16,)),
        num_epochs=1,
        normalize_observations=False,
        normalize_rewards=False,
        compute_value_and_advantage_in_train=True,
    )
    agent.initialize()
    batch, steps = 4, 16
    observations = inlining_default[1][: batch * steps]
    features = {
        name: tf.constant(v.reshape(batch, steps)) for name, v in batch_features(observations, inlining_spec).items()
    }
    step_type = np.ones((batch, steps), np.int32)
    step_type[:, 0] = 0
    next_step_type = np.ones((batch, steps), np.int32)
    next_step_type[:, -1] = 2
    discount = np.ones((batch, steps), np.float32)
    discount[:, -1] = 0
    actions = np.random.default_rng(0).integers(0, 2, (batch, steps))
    experience = trajectory.Trajectory(
        step_type=tf.constant(step_type),
        observation=features,
        action=tf.constant(actions),
        policy_info={"dist_params": {"logits": tf.zeros((batch, steps, 2))}},
        next_step_type=tf.constant(next_step_type),
        reward=tf.constant(np.linspace(-1, 1, batch * steps, dtype=np.float32).reshape(batch, steps)),
        discount=tf.constant(discount),
    )
    before = [k.copy() for k, _ in actor_weights(actor)]
    loss = agent.train(experience).loss
    assert np.isfinite(loss.numpy())
    assert any(not np.array_equal(a, k) for a, (k, _) in zip(before, actor_weights(actor)))

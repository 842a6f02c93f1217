"""PPO on real trajectories: the reward's sign moves the policy the right way; checkpoints round-trip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.rl.ppo import PPOConfig, PPOLearner
from tests.rl.conftest import policy_trajectories, write_trajectories

CONFIG = PPOConfig(learning_rate=3e-3, entropy_regularization=0.0, epochs=4, batch_size=8, sequence_length=8)


def _with_actions(result, action: int):
    """The same compile with every recorded action replaced by `action` (the logged logits stay the behaviour's)."""
    trajectory = dataclasses.replace(result.trajectory, actions=np.full_like(result.trajectory.actions, action))
    return dataclasses.replace(result, trajectory=trajectory)


def _inline_probability(policy, results) -> float:
    logits = np.concatenate([policy.logits_batch(r.trajectory.features) for r in results]).astype(np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return float(probabilities[:, 1].mean())


@pytest.fixture(scope="module")
def collected(toolchain, rl_modules, rl_spec, rl_vocab, small_network):
    """Trajectories of the modules under a fresh actor's numpy form."""
    import tensorflow as tf

    tf.random.set_seed(3)
    learner = PPOLearner(rl_spec, rl_vocab, small_network, config=CONFIG)
    return policy_trajectories(toolchain, rl_modules, learner.fast_policy())


@pytest.mark.parametrize("rewarded", [1, 0])
def test_positive_reward_makes_its_action_more_likely(rewarded, collected, rl_spec, rl_vocab, small_network, tmp_path):
    """Per module, one copy answers 1 everywhere and one 0; only `rewarded`'s copy gets a positive reward."""
    import tensorflow as tf

    tf.random.set_seed(3)
    learner = PPOLearner(rl_spec, rl_vocab, small_network, config=CONFIG)
    before = learner.fast_policy()
    np.testing.assert_allclose(
        before.logits_batch(collected[0].trajectory.features), collected[0].trajectory.logits, rtol=1e-5, atol=1e-6
    )  # same seed, same actor as the one that collected
    results, rewards = [], []
    for result in collected:
        for action in (0, 1):
            results.append(_with_actions(result, action))
            rewards.append(1.0 if action == rewarded else -1.0)
    files = write_trajectories(tmp_path, results, rewards)
    steps = sum(len(r.trajectory) for r in results)
    stats = learner.train(files, steps, seed=0)
    assert stats.batches == CONFIG.epochs * -(-(steps // CONFIG.sequence_length) // CONFIG.batch_size)
    assert np.isfinite(stats.losses["loss"]) and 0.0 <= stats.losses["clip_fraction"] <= 1.0
    assert stats.losses["value_estimation_loss"] == 0.0  # the constant value network is not trained
    p_before = _inline_probability(before, collected)
    p_after = _inline_probability(learner.fast_policy(), collected)
    if rewarded == 1:
        assert p_after > p_before + 0.02
    else:
        assert p_after < p_before - 0.02


def test_checkpoint_restores_the_trained_actor(collected, rl_spec, rl_vocab, small_network, tmp_path):
    import tensorflow as tf

    learner = PPOLearner(rl_spec, rl_vocab, small_network, config=CONFIG)
    files = write_trajectories(tmp_path / "data", collected, [0.5, -0.5, 0.1])
    learner.train(files, sum(len(r.trajectory) for r in collected))
    path = learner.checkpoint().write(str(tmp_path / "ckpt" / "iteration-00001"))
    trained = learner.fast_policy()
    tf.random.set_seed(99)
    fresh = PPOLearner(rl_spec, rl_vocab, small_network, config=CONFIG)
    features = collected[0].trajectory.features
    assert not np.allclose(fresh.fast_policy().logits_batch(features), trained.logits_batch(features))
    fresh.checkpoint().read(path).expect_partial()
    np.testing.assert_array_equal(fresh.fast_policy().logits_batch(features), trained.logits_batch(features))
    assert int(fresh.step.numpy()) == int(learner.step.numpy()) > 0


def test_bad_settings_are_refused():
    with pytest.raises(MlgoError, match="sequence_length"):
        PPOConfig(sequence_length=1)
    with pytest.raises(MlgoError, match="value network"):
        PPOConfig(value_network="huge")

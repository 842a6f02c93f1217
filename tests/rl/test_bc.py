"""Behavioral cloning on real default labels: the actor learns to answer as clang's heuristic does."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.rl.bc import BCConfig, BCLearner, agreement
from tests.rl.conftest import write_trajectories


@pytest.fixture(scope="module")
def label_files(labels, tmp_path_factory) -> list[str]:
    return write_trajectories(tmp_path_factory.mktemp("labels"), labels, [0.0] * len(labels))


def test_cloning_learns_the_default_decisions(labels, label_files, rl_spec, rl_vocab, small_network):
    import tensorflow as tf

    tf.random.set_seed(1)
    learner = BCLearner(
        rl_spec, rl_vocab, small_network, config=BCConfig(learning_rate=1e-2, batch_size=8, sequence_length=8)
    )
    steps = sum(len(label.trajectory) for label in labels)
    actions = np.concatenate([label.actions for label in labels])
    majority = max(np.mean(actions == 0), np.mean(actions == 1))
    before = agreement(learner.fast_policy(), label_files)
    epochs = [learner.train_epoch(label_files, steps, seed=epoch) for epoch in range(12)]
    after = agreement(learner.fast_policy(), label_files)

    assert before.steps == after.steps == steps and after.labels == {
        0: int(np.sum(actions == 0)),
        1: int(np.sum(actions == 1)),
    }
    assert sum(after.decisions.values()) == steps
    assert all(e.batches == -(-steps // 64) and e.steps == e.batches * 64 for e in epochs)
    assert epochs[-1].loss < epochs[0].loss
    # Better than always answering the more common decision, and better than where it started.
    assert after.accuracy > majority and after.accuracy > before.accuracy
    assert int(learner.step.numpy()) == sum(e.batches for e in epochs)


def test_agreement_counts_a_constant_policy_exactly(labels, label_files, rl_spec, rl_vocab, small_network):
    """A policy whose last layer always prefers 'inline' agrees exactly on the steps the default inlined."""
    from compiler_opt.policy.fast import FastPolicy

    learner = BCLearner(rl_spec, rl_vocab, small_network)
    weights = [(k.copy(), b.copy()) for k, b in learner.fast_policy().weights]
    weights[-1][0][:] = 0.0
    weights[-1][1][:] = (0.0, 1.0)
    always = FastPolicy(rl_spec, rl_vocab, small_network, weights)
    result = agreement(always, label_files)
    inlined = sum(int(np.sum(label.actions == 1)) for label in labels)
    assert result.decisions == {1: result.steps} and result.agree == inlined


def test_bad_settings_are_refused():
    with pytest.raises(MlgoError, match="batch_size"):
        BCConfig(batch_size=0)
    with pytest.raises(MlgoError, match="final_learning_rate"):
        BCConfig(final_learning_rate=0.0)


def test_the_learning_rate_decays_from_the_first_epoch_to_the_last():
    constant = BCConfig(learning_rate=1e-3)
    assert {constant.learning_rate_at(epoch, 20) for epoch in range(1, 21)} == {1e-3}
    decayed = BCConfig(learning_rate=1e-3, final_learning_rate=1e-5)
    rates = [decayed.learning_rate_at(epoch, 20) for epoch in range(1, 21)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-5)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert rates[9] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + np.cos(np.pi * 9 / 19)))
    # Past the last epoch (a resumed run given more iterations than it planned) it stays at the end.
    assert decayed.learning_rate_at(25, 20) == pytest.approx(1e-5) and decayed.learning_rate_at(1, 1) == 1e-3


def test_an_epoch_trains_at_the_rate_it_is_given(label_files, rl_spec, rl_vocab, small_network):
    learner = BCLearner(rl_spec, rl_vocab, small_network, config=BCConfig(batch_size=8, sequence_length=8))
    before = [w.numpy().copy() for w in learner.actor.trainable_variables]
    learner.train_epoch(label_files, 64, learning_rate=0.0)
    assert float(learner.optimizer.learning_rate.numpy()) == 0.0
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, learner.actor.trainable_variables))
    learner.train_epoch(label_files, 64, learning_rate=1e-2)
    assert float(learner.optimizer.learning_rate.numpy()) == pytest.approx(1e-2)
    assert not all(np.array_equal(a, w.numpy()) for a, w in zip(before, learner.actor.trainable_variables))

"""The numpy fast form against the TF actor on real observations; sampling; pickling; no TensorFlow."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import build_feature_spec
from compiler_opt.policy.vocab import compute_vocab
from tests.policy.conftest import batch_features, record


def tf_distribution(actor, spec, observations):
    output, _ = actor(batch_features(observations, spec), step_type=None, network_state=())
    return output


@pytest.fixture(scope="module")
def fast(inlining_actor, inlining_spec, inlining_vocab, config) -> FastPolicy:
    from compiler_opt.policy.networks import actor_weights

    return FastPolicy(inlining_spec, inlining_vocab, config, actor_weights(inlining_actor))


def test_logits_and_greedy_actions_equal_tf(fast, inlining_actor, inlining_spec, inlining_observations):
    expected = tf_distribution(inlining_actor, inlining_spec, inlining_observations).logits.numpy()
    assert expected.shape == (len(inlining_observations), 2)
    one_by_one = np.stack([fast.observation_logits(o) for o in inlining_observations])
    np.testing.assert_allclose(one_by_one, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        fast.observations_logits(inlining_observations[:300]), expected[:300], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        fast.logits_batch(batch_features(inlining_observations, inlining_spec)), expected, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(fast.logits(inlining_observations[0].as_dict()), expected[0], rtol=1e-5, atol=1e-6)
    greedy = [fast.greedy(o) for o in inlining_observations]
    assert greedy == expected.argmax(axis=1).tolist()
    assert np.ptp(expected[:, 1] - expected[:, 0]) > 1e-3  # the inputs really move the logits


def test_seeded_sampling_is_reproducible_and_matches_tf_log_probabilities(
    fast, inlining_actor, inlining_spec, inlining_observations
):
    def run(seed):
        rng = np.random.default_rng(seed)
        return [fast.sample(o, rng) for o in inlining_observations]

    first, again, other = run(11), run(11), run(12)
    assert [d.action for d in first] == [d.action for d in again]
    assert [d.log_probability for d in first] == [d.log_probability for d in again]
    assert [d.action for d in first] != [d.action for d in other]
    actions = np.array([d.action for d in first])
    distribution = tf_distribution(inlining_actor, inlining_spec, inlining_observations)
    expected = distribution.log_prob(actions).numpy()
    np.testing.assert_allclose([d.log_probability for d in first], expected, rtol=1e-5, atol=1e-6)
    # Over many draws the frequencies follow the probabilities.
    probability = float(np.exp(distribution.log_prob(np.ones(1, np.int64)).numpy()[0]))
    rng = np.random.default_rng(0)
    draws = [fast.sample(inlining_observations[0], rng).action for _ in range(4000)]
    assert abs(np.mean(draws) - probability) < 0.03


def test_pickles_and_loads_in_another_process(fast, inlining_observations):
    copy = pickle.loads(pickle.dumps(fast))
    assert [copy.greedy(o) for o in inlining_observations] == [fast.greedy(o) for o in inlining_observations]


def test_importing_the_fast_form_does_not_import_tensorflow():
    code = (
        "import sys, compiler_opt.policy.fast, compiler_opt.policy.saved, compiler_opt.policy.vocab; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_agents', 'keras', 'tf_keras')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_regalloc_eviction_observations_take_the_general_path(toolchain, modules, tmp_path):
    """Real [1, 33] int64 and float features, a mask passed through as identity, 33 actions."""
    from compiler_opt.policy.networks import actor_network, actor_weights

    header, observations = record(toolchain, modules["pressure"], "regalloc-eviction", "random", tmp_path)
    assert len(observations) > 10
    spec = build_feature_spec(header, num_actions=33)
    assert {f.type for f in spec.features} >= {"int64_t", "float"}
    vocab = compute_vocab(observations, spec, quantiles=100)
    config = NetworkConfig(fc_layer_params=(30,), identity=("mask",))
    actor = actor_network(spec, vocab, config)
    fast = FastPolicy(spec, vocab, config, actor_weights(actor))
    expected = tf_distribution(actor, spec, observations).logits.numpy()
    assert expected.shape == (len(observations), 33)
    ours = np.stack([fast.observation_logits(o) for o in observations])
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.observations_logits(observations), expected, rtol=1e-5, atol=1e-6)
    assert [fast.greedy(o) for o in observations] == expected.argmax(axis=1).tolist()


def test_digest_changes_with_everything_that_decides(fast, inlining_spec, inlining_vocab, config):
    """Eval's --resume trusts the digest: equal policies share it, another vocabulary or weights do not."""
    from compiler_opt.policy.vocab import Vocab

    same = FastPolicy(inlining_spec, inlining_vocab, config, fast.weights)
    assert same.digest() == fast.digest()
    shifted = Vocab({name: values + 1 for name, values in inlining_vocab.boundaries.items()})
    assert FastPolicy(inlining_spec, shifted, config, fast.weights).digest() != fast.digest()
    weights = [(kernel, bias + 1) for kernel, bias in fast.weights]
    assert FastPolicy(inlining_spec, inlining_vocab, config, weights).digest() != fast.digest()

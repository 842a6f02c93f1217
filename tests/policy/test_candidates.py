"""The masked-candidate head (regalloc eviction) on real clang-19 observations: TF and numpy agree, and a
masked-out candidate is never chosen, greedy or sampled, in either form."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.policy.candidates import MASKED_LOGIT, candidate_layout
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import build_feature_spec
from compiler_opt.policy.preprocessing import BUCKETS, IDENTITY, FeatureTransform
from compiler_opt.policy.vocab import compute_vocab
from tests.policy.conftest import batch_features, record

CONFIG = NetworkConfig(fc_layer_params=(24, 12), identity=("mask",), head="masked_candidates", mask="mask")


@pytest.fixture(scope="module")
def eviction(toolchain, modules, tmp_path_factory):
    """Observations of a high-pressure module under the random built-in policy, its spec and vocabulary."""
    header, observations = record(
        toolchain, modules["pressure"], "regalloc-eviction", "random", tmp_path_factory.mktemp("evict")
    )
    assert len(observations) > 10
    spec = build_feature_spec(header, num_actions=33)
    return spec, compute_vocab(observations, spec, quantiles=100), observations


def _masks(spec, observations) -> np.ndarray:
    return batch_features(observations, spec)["mask"].reshape(len(observations), -1) > 0


def _actor(eviction, seed: int):
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network

    spec, vocab, _ = eviction
    tf.random.set_seed(seed)
    return actor_network(spec, vocab, CONFIG)


def test_layout_gathers_each_candidates_columns():
    transforms = [
        FeatureTransform("a", BUCKETS, 3, True, np.array([1, 2])),
        FeatureTransform("progress", BUCKETS, 1, False, np.array([0.5])),
        FeatureTransform("mask", IDENTITY, 3, True, np.zeros(0)),
    ]
    # Input layout: q = [a0 a1 a2 p], sqrt q at 4..7, q^2 at 8..11, identity mask at 12..14.
    layout = candidate_layout(transforms, "mask")
    assert layout.columns.tolist() == [[0, 3, 4, 7, 8, 11, 12], [1, 3, 5, 7, 9, 11, 13], [2, 3, 6, 7, 10, 11, 14]]
    assert layout.mask_columns.tolist() == [12, 13, 14]
    with pytest.raises(MlgoError, match="network_config.identity"):
        candidate_layout([FeatureTransform("mask", BUCKETS, 3, True, np.array([1]))], "mask")
    with pytest.raises(MlgoError, match="neither: b"):
        candidate_layout([*transforms, FeatureTransform("b", BUCKETS, 2, True, np.array([1]))], "mask")


def test_fast_form_equals_tf_and_masks_invalid_candidates(eviction):
    from compiler_opt.policy.networks import actor_weights

    spec, vocab, observations = eviction
    actor = _actor(eviction, 3)
    fast = FastPolicy(spec, vocab, CONFIG, actor_weights(actor))
    output, _ = actor(batch_features(observations, spec), step_type=None, network_state=())
    expected = output.logits.numpy()
    assert expected.shape == (len(observations), 33)
    masks = _masks(spec, observations)
    assert (~masks).any() and masks.any(axis=1).all()
    assert (expected[~masks] == np.float32(MASKED_LOGIT)).all()
    ours = np.stack([fast.observation_logits(o) for o in observations])
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast.observations_logits(observations), expected, rtol=1e-5, atol=1e-5)
    greedy = [fast.greedy(o) for o in observations]
    assert greedy == expected.argmax(axis=1).tolist()
    assert all(masks[i, action] for i, action in enumerate(greedy))


@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_sampling_never_picks_a_masked_candidate(eviction, scale):
    """Random weights, also blown up so a few logits dominate, sampled many times in numpy and in TF."""
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_weights, set_actor_weights

    spec, vocab, observations = eviction
    actor = _actor(eviction, 11)
    set_actor_weights(actor, [(k * scale, b + scale) for k, b in actor_weights(actor)])
    fast = FastPolicy(spec, vocab, CONFIG, actor_weights(actor))
    masks = _masks(spec, observations)
    rng = np.random.default_rng(5)
    chosen = np.zeros_like(masks)
    for _ in range(20):
        for index, observation in enumerate(observations):
            decision = fast.sample(observation, rng)
            assert masks[index, decision.action], (index, decision.action)
            assert np.isfinite(decision.log_probability)
            chosen[index, decision.action] = True
    output, _ = actor(batch_features(observations, spec), step_type=None, network_state=())
    samples = output.sample(50, seed=9).numpy()  # [50, N]
    assert masks[np.arange(len(observations))[None, :], samples].all()
    if scale == 1.0:  # a near-uniform policy explores: most decisions see more than one candidate chosen
        assert (chosen.sum(axis=1) > 1).mean() > 0.5
    assert np.isfinite(output.entropy().numpy()).all()
    assert tf.reduce_all(tf.math.is_finite(output.log_prob(samples[0]))).numpy()


def test_config_requires_a_mask_for_the_masked_head():
    with pytest.raises(MlgoError, match="mask"):
        NetworkConfig(head="masked_candidates")
    with pytest.raises(MlgoError, match="mask"):
        NetworkConfig(mask="mask")
    assert NetworkConfig.from_json(CONFIG.to_json()) == CONFIG

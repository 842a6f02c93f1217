"""Derived differences (`network_config.differences`): bucketed `a - b` on a fixed grid, alike in every form."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.policy.config import NetworkConfig, network_config
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.preprocessing import DIFFERENCE_BOUNDARIES, Preprocessor, feature_transforms
from tests.policy.conftest import batch_features
from tests.policy.test_fast import tf_distribution
from tests.policy.test_preprocessing import tf_preprocess

MARGIN = (("cost_estimate", "threshold"),)


def test_the_difference_is_bucketed_after_the_features(inlining_observations, inlining_spec, inlining_vocab):
    values = batch_features(inlining_observations, inlining_spec)
    plain = Preprocessor(feature_transforms(inlining_spec, inlining_vocab)).preprocess(values, batch=True)
    pre = Preprocessor(feature_transforms(inlining_spec, inlining_vocab, differences=MARGIN))
    ours = pre.preprocess(values, batch=True)
    features = len(inlining_spec.names)
    assert ours.shape == (len(inlining_observations), 3 * (features + 1))
    margin = (values["cost_estimate"] - values["threshold"]).reshape(-1)
    q = np.searchsorted(DIFFERENCE_BOUNDARIES, margin, side="right").astype(np.float32)
    q /= np.float32(len(DIFFERENCE_BOUNDARIES))
    for block in range(3):  # q, sqrt q, q^2: the features' columns unchanged, the difference's last
        np.testing.assert_array_equal(
            ours[:, block * (features + 1) : block * (features + 1) + features],
            plain[:, block * features : (block + 1) * features],
        )
    np.testing.assert_array_equal(ours[:, features], q)
    assert len(np.unique(q)) > 5  # real margins spread over several buckets
    assert np.array_equal(ours, tf_preprocess(inlining_spec, inlining_vocab, values, differences=MARGIN))


def test_the_fast_form_with_a_difference_equals_tf(inlining_spec, inlining_vocab, inlining_observations):
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network, actor_weights

    config = NetworkConfig(fc_layer_params=(16,), differences=MARGIN)
    tf.random.set_seed(3)
    actor = actor_network(inlining_spec, inlining_vocab, config)
    fast = FastPolicy(inlining_spec, inlining_vocab, config, actor_weights(actor))
    expected = tf_distribution(actor, inlining_spec, inlining_observations).logits.numpy()
    batched = fast.observations_logits(inlining_observations[:300])  # one header: the default's
    np.testing.assert_allclose(batched, expected[:300], rtol=1e-5, atol=1e-6)
    single = np.stack([fast.observation_logits(o) for o in inlining_observations])  # both headers
    np.testing.assert_allclose(single, expected, rtol=1e-5, atol=1e-6)
    plain = FastPolicy(inlining_spec, inlining_vocab, NetworkConfig(fc_layer_params=(16,)), _without_margin(fast))
    assert plain.digest() != fast.digest()


def _without_margin(fast: FastPolicy):
    """The same weights less the difference's three input rows (q, sqrt q, q^2 of the last bucketed element)."""
    (kernel, bias), *rest = fast.weights
    features = (kernel.shape[0] // 3) - 1
    keep = [i for i in range(kernel.shape[0]) if (i % (features + 1)) != features]
    return [(kernel[keep], bias), *rest]


def test_a_saved_config_keeps_its_differences_and_an_old_one_has_none():
    config = NetworkConfig(differences=MARGIN)
    assert NetworkConfig.from_json(config.to_json()) == config
    old = {key: value for key, value in config.to_json().items() if key != "differences"}
    assert NetworkConfig.from_json(old).differences == ()
    assert network_config(differences=[["cost_estimate", "threshold"]]).differences == MARGIN  # gin gives lists


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (("cost_estimate", "no_such_feature"), "'no_such_feature', which the compiler does not send"),
        (("cost_estimate",), "pairs of feature names"),
    ],
)
def test_a_bad_difference_is_refused_naming_it(inlining_spec, inlining_vocab, pair, message):
    with pytest.raises(MlgoError, match=message):
        feature_transforms(inlining_spec, inlining_vocab, differences=NetworkConfig(differences=(pair,)).differences)

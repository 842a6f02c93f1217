"""Preprocessing: numpy and the Keras layer give bit-identical network inputs, on real and extreme values."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_opt.llvm.log_format import LogHeader, TensorSpec
from compiler_opt.policy.features import build_feature_spec
from compiler_opt.policy.preprocessing import BUCKETS, CONSTANT, IDENTITY, Preprocessor, feature_transforms
from compiler_opt.policy.vocab import Vocab
from tests.policy.conftest import batch_features

BIG = np.iinfo(np.int64).max


def reference(values: dict, spec, vocab, identity=()) -> np.ndarray:
    """MLGO's definition, one feature at a time: q = searchsorted(right) / n; [q, sqrt q, q^2] + identity."""
    qs, ids = [], []
    for f in spec.features:
        v = np.asarray(values[f.name]).reshape(len(values[f.name]), -1)
        if f.name in identity:
            ids.append(v.astype(np.float32))
            continue
        b = vocab[f.name]
        if len(b):
            qs.append(np.searchsorted(b, v, side="right").astype(np.float32) / np.float32(len(b)))
    q = np.concatenate(qs, axis=-1)
    return np.concatenate([q, np.sqrt(q), q * q, *ids], axis=-1)


def tf_preprocess(spec, vocab, values, identity=(), differences=()):
    import tensorflow as tf

    from compiler_opt.policy.layers import ObservationPreprocessing

    layer = ObservationPreprocessing(feature_transforms(spec, vocab, identity, differences))
    copy = ObservationPreprocessing.from_config(layer.get_config())  # as tf-agents copies its layers
    return copy({name: tf.constant(v) for name, v in values.items()}).numpy()


def test_real_observations_numpy_equals_reference_and_tf(inlining_observations, inlining_spec, inlining_vocab):
    values = batch_features(inlining_observations, inlining_spec)
    pre = Preprocessor(feature_transforms(inlining_spec, inlining_vocab))
    assert pre._int_fused
    ours = pre.preprocess(values, batch=True)
    assert ours.dtype == np.float32 and ours.shape == (len(inlining_observations), 3 * len(inlining_spec.names))
    assert 0.0 <= ours.min() and ours.max() <= 1.0
    assert np.array_equal(ours, reference(values, inlining_spec, inlining_vocab))
    assert np.array_equal(ours, tf_preprocess(inlining_spec, inlining_vocab, values))
    single = np.stack([pre.preprocess({n: v[i] for n, v in values.items()}) for i in range(len(ours))])
    assert np.array_equal(single, ours)


def _extreme_case():
    header = LogHeader(
        [
            TensorSpec("small", (1,), "int64_t"),
            TensorSpec("huge", (1,), "int64_t"),
            TensorSpec("flag", (1,), "int64_t"),
            TensorSpec("never", (1,), "int64_t"),
            TensorSpec("i32", (1, 3), "int32_t"),
            TensorSpec("f32", (1, 3), "float"),
            TensorSpec("f64", (1,), "double"),
        ],
        advice=TensorSpec("choice", (1,), "int64_t"),
    )
    spec = build_feature_spec(header, num_actions=3)
    vocab = Vocab(
        {
            "small": np.array([-3, 0, 1, 2, 10]),
            # Neighbouring int64 values that float32 (TF's Bucketize) could not tell apart.
            "huge": np.array([2**62, 2**62 + 1, 2**62 + 3]),
            "flag": np.array([0, 1]),
            "never": np.array([], np.int64),
            "i32": np.array([-1.5, 0.5, 7.0]),  # float boundaries of an int feature round up
            # 0.7 is no float32 (the nearest is below it): rounded up to one, it keeps `v >= 0.7` for every
            # float32 v when TF compares in float32.
            "f32": np.array([-1.0, 0.0, 0.25, 0.7, 1e10]),
            "f64": np.array([0.1, 0.2]),
        }
    )
    rng = np.random.default_rng(0)
    n = 300
    values = {
        "small": rng.integers(-5, 12, n),
        "flag": rng.integers(0, 2, n),
        "huge": np.concatenate([[BIG, -BIG - 1, 2**62, 2**62 + 2], 2**62 + rng.integers(-3, 5, n - 4)]),
        "never": rng.integers(-100, 100, n),
        "i32": rng.integers(-3, 9, (n, 3)).astype(np.int32),
        "f32": np.concatenate(
            [
                [[0.0, -0.0, np.inf], [np.float32(0.7), np.nextafter(np.float32(0.7), np.float32(1)), -np.inf]],
                rng.normal(size=(n - 2, 3)),
            ]
        ).astype(np.float32),
        "f64": rng.random(n) * 0.3,
    }
    return spec, vocab, values


def test_extremes_mixed_types_identity_and_constant():
    spec, vocab, values = _extreme_case()
    transforms = feature_transforms(spec, vocab, identity=("flag",))
    kinds = {t.name: t.kind for t in transforms}
    assert kinds == {
        "small": BUCKETS,
        "huge": BUCKETS,
        "flag": IDENTITY,
        "never": CONSTANT,
        "i32": BUCKETS,
        "f32": BUCKETS,
        "f64": BUCKETS,
    }
    pre = Preprocessor(transforms)
    ours = pre.preprocess(values, batch=True)
    expected_vocab = Vocab({**vocab.boundaries, "i32": np.array([-1, 1, 7])})
    assert np.array_equal(ours, reference(values, spec, expected_vocab, identity=("flag",)))
    assert np.array_equal(ours, tf_preprocess(spec, vocab, values, identity=("flag",)))
    # float32(0.7) is below 0.7, the next float32 above it: buckets 3 and 4 of 5.
    start = sum(t.size for t in transforms[: [t.name for t in transforms].index("f32")] if t.kind == BUCKETS)
    f32 = ours[1, start : start + 2]
    assert f32.tolist() == [np.float32(3 / 5), np.float32(4 / 5)]
    # NaN is above no boundary, in numpy as in TF.
    nan = {**{name: v[:1] for name, v in values.items()}, "f32": np.array([[np.nan, 0.5, np.nan]], np.float32)}
    assert np.array_equal(pre.preprocess(nan, batch=True), tf_preprocess(spec, vocab, nan, identity=("flag",)))
    # The huge feature separates neighbouring int64 values exactly.
    huge = ours[:, 1]
    assert huge[0] == 1.0 and huge[1] == 0.0 and huge[2] == np.float32(1 / 3) and huge[3] == np.float32(2 / 3)


def test_unsafe_ranges_fall_back_to_per_feature_search():
    header = LogHeader(
        [TensorSpec("a", (1,), "int64_t"), TensorSpec("b", (1,), "int64_t")],
        advice=TensorSpec("choice", (1,), "int64_t"),
    )
    spec = build_feature_spec(header, num_actions=2)
    vocab = Vocab({"a": np.array([-BIG - 1, 0]), "b": np.array([0, BIG])})
    pre = Preprocessor(feature_transforms(spec, vocab))
    assert not pre._int_fused
    values = {"a": np.array([-BIG - 1, -1, 0, BIG]), "b": np.array([-BIG - 1, 0, BIG - 1, BIG])}
    ours = pre.preprocess(values, batch=True)
    assert ours[:, :2].tolist() == [[0.5, 0.0], [0.5, 0.5], [1.0, 0.5], [1.0, 1.0]]
    assert np.array_equal(ours, tf_preprocess(spec, vocab, values))


@pytest.mark.parametrize("kind", ["int", "float"])
def test_one_boundary_is_an_indicator(kind):
    header = LogHeader(
        [TensorSpec("x", (1,), "int64_t" if kind == "int" else "float")], advice=TensorSpec("choice", (1,), "int64_t")
    )
    spec = build_feature_spec(header, num_actions=2)
    pre = Preprocessor(feature_transforms(spec, Vocab({"x": np.array([4])})))
    values = {"x": np.array([3, 4, 5], dtype=spec.features[0].dtype)}
    assert pre.preprocess(values, batch=True)[:, 0].tolist() == [0.0, 1.0, 1.0]

"""Feature preprocessing as one Keras layer, the TF twin of `compiler_opt.policy.preprocessing.Preprocessor`.

The layer is the `preprocessing_combiner` of a tf-agents `EncodingNetwork`:
it takes the whole observation dict (each feature `[N, *policy_shape]`, the
outer dims already squashed by the network) and returns `[N, width]` float32
in the layout the numpy form uses, so both forms feed the same columns to
the same weights (per-feature preprocessing layers would be concatenated in
sorted-name order instead, and the fast form would need a permutation). The
boundaries are constants, not variables, and travel in the layer config, so
tf-agents can copy the layer and a SavedModel holds them.

Comparisons are `x >= b` summed over boundaries in int64 (integer features)
or the feature's own float type (float32 boundaries are float32 values), not
`tf.raw_ops.Bucketize`, whose float32 boundaries would round large int64
values differently from numpy. Nothing is float64 for the compiler's
features, which TFLite needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from compiler_opt.policy.preprocessing import BUCKETS, CONSTANT, IDENTITY, FeatureTransform
from compiler_opt.tf_runtime import import_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf
else:
    tf = import_tensorflow()


class ObservationPreprocessing(tf.keras.layers.Layer):
    """Observation dict -> normalized network inputs `[N, width]` (bucket q, sqrt q, q^2, identity)."""

    def __init__(self, transforms: Sequence[FeatureTransform | Mapping], **kwargs) -> None:
        super().__init__(**kwargs)
        self.transforms = [
            t if isinstance(t, FeatureTransform) else FeatureTransform.from_config(t) for t in transforms
        ]

    def get_config(self) -> dict:
        return {**super().get_config(), "transforms": [t.to_config() for t in self.transforms]}

    def call(self, observation: Mapping[str, tf.Tensor]) -> tf.Tensor:
        buckets, identity = [], []
        for transform in self.transforms:
            if transform.kind == CONSTANT:
                continue
            if transform.operands:  # a derived difference a - b, in int64 as the numpy form computes it
                a, b = (tf.cast(observation[name], tf.int64) for name in transform.operands)
                value = a - b
            else:
                value = observation[transform.name]
            value = tf.reshape(value, [tf.shape(value)[0], transform.size])
            if transform.kind == IDENTITY:
                identity.append(tf.cast(value, tf.float32))
                continue
            assert transform.kind == BUCKETS
            # Float32 features compare in float32 (their boundaries are float32 values, see preprocessing).
            compare = tf.int64 if transform.integer else (tf.float32 if value.dtype == tf.float32 else tf.float64)
            bounds = tf.constant(transform.boundaries, dtype=compare)
            above = tf.cast(value, compare)[..., tf.newaxis] >= bounds
            counts = tf.reduce_sum(tf.cast(above, tf.int32), axis=-1)
            buckets.append(tf.cast(counts, tf.float32) / tf.constant(len(transform.boundaries), tf.float32))
        parts = []
        if buckets:
            q = tf.concat(buckets, axis=-1)
            parts += [q, tf.sqrt(q), q * q]
        parts += identity
        return tf.concat(parts, axis=-1)

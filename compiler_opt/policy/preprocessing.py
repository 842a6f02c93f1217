"""Feature preprocessing (MLGO's idea), in numpy: bucket index in the vocabulary, normalized, plus transforms.

Each feature element `v` with vocabulary boundaries `b` (sorted, `n` of them)
becomes `q = #{b_i <= v} / n` in [0, 1] (TF's `Bucketize`, numpy's
`searchsorted(side="right")`), and the network sees `q`, `sqrt(q)` and
`q * q`. A feature with an empty vocabulary (never observed) is a constant
and contributes nothing; a feature the problem names as `identity` (flags,
masks) is passed through as float32. A difference of two scalar integer
features (`NetworkConfig.differences`, named `a-b`) is bucketed like a
feature, on a fixed grid (`DIFFERENCE_BOUNDARIES`: every integer from -16 to
16, then steps of about 19%), after every feature of the spec.

The network's input vector is laid out the same way here and in the Keras
layer (`compiler_opt.policy.layers`), so no column permutation sits between
the two forms:

    [q of every bucketed element, header order] [sqrt of those] [squares] [identity elements]

Exactness: integer features are compared as int64 against int64 boundaries
(float boundaries of an int feature are rounded up, which keeps `v >= b`
unchanged for integer `v`), float features as float64 here and in their own
type in the Keras layer (float32 boundaries are rounded up to float32 first,
which keeps `v >= b` unchanged for float32 `v`); counts become float32
and are divided by a float32 `n`, as in the Keras layer. So both forms give
bit-identical network inputs.

Speed: all integer elements are bucketized with one `searchsorted` over one
sorted array: each feature's boundaries are shifted into a range of their
own, and values are first clipped to one below/above that feature's
boundaries, which keeps every comparison and keeps each value inside its
feature's range. Float elements use one `searchsorted` per feature.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.policy.features import FeatureSpec, policy_shape
from compiler_opt.policy.vocab import Vocab

BUCKETS, IDENTITY, CONSTANT = "buckets", "identity", "constant"
_INT64 = np.iinfo(np.int64)


def _difference_grid() -> np.ndarray:
    """0, +-1 ... +-16 and then magnitudes growing by 2^(1/4) up to 2^24: fine where a margin decides, coarse far off."""
    magnitudes = sorted({*range(1, 17), *(round(2 ** (k / 4)) for k in range(16, 97))})
    return np.array([-m for m in reversed(magnitudes)] + [0] + magnitudes, np.int64)


DIFFERENCE_BOUNDARIES = _difference_grid()


def difference_name(pair: Sequence[str]) -> str:
    """The derived feature `a - b`'s name."""
    return f"{pair[0]}-{pair[1]}"


@dataclass(frozen=True)
class FeatureTransform:
    """How one feature becomes network inputs: `kind`, its element count and comparison boundaries."""

    name: str
    kind: str
    size: int
    integer: bool
    boundaries: np.ndarray
    operands: tuple[str, ...] = ()  # (a, b) for the derived difference a - b

    @property
    def width(self) -> int:
        """How many network inputs this feature contributes."""
        return {BUCKETS: 3, IDENTITY: 1, CONSTANT: 0}[self.kind] * self.size

    def to_config(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "size": self.size,
            "integer": self.integer,
            "boundaries": self.boundaries.tolist(),
            "operands": list(self.operands),
        }

    @classmethod
    def from_config(cls, config: Mapping) -> FeatureTransform:
        dtype = np.int64 if config["integer"] else np.float64
        return cls(
            config["name"],
            config["kind"],
            int(config["size"]),
            bool(config["integer"]),
            np.asarray(config["boundaries"], dtype=dtype).reshape(-1),
            tuple(config.get("operands", ())),
        )


def feature_transforms(
    spec: FeatureSpec,
    vocab: Vocab,
    identity: Collection[str] = (),
    differences: Sequence[Sequence[str]] = (),
) -> list[FeatureTransform]:
    """One transform per spec feature, in spec (header) order, then one per derived difference."""
    transforms = []
    for feature in spec.features:
        integer = feature.dtype.kind in "iub"
        size = int(np.prod(policy_shape(feature), dtype=np.int64))
        if feature.name in identity:
            transforms.append(FeatureTransform(feature.name, IDENTITY, size, integer, np.zeros(0)))
            continue
        bounds = vocab[feature.name]
        if integer:
            if bounds.dtype.kind == "f":
                bounds = np.unique(np.ceil(bounds).astype(np.int64))
            bounds = bounds.astype(np.int64)
        else:
            bounds = bounds.astype(np.float64)
            if feature.dtype == np.float32:
                bounds = _float32_ceiling(bounds)
        kind = BUCKETS if bounds.size else CONSTANT
        transforms.append(FeatureTransform(feature.name, kind, size, integer, bounds))
    for pair in differences:
        for name in pair:
            if name not in spec.names:
                raise MlgoError(f"network_config.differences names {name!r}, which the compiler does not send")
            feature = spec[name]
            if feature.dtype.kind not in "iu" or policy_shape(feature) not in ((), (1,)):
                raise MlgoError(f"network_config.differences takes scalar integer features; {name!r} is not one")
        transforms.append(FeatureTransform(difference_name(pair), BUCKETS, 1, True, DIFFERENCE_BOUNDARIES, tuple(pair)))
    return transforms


def _float32_ceiling(bounds: np.ndarray) -> np.ndarray:
    """Each boundary raised to the smallest float32 at or above it (deduplicated), as float64.

    For a float32 value `v`, `v >= b` holds exactly when `v >= ceiling(b)`, so
    comparing in float32 (the Keras layer; TFLite has no float64 comparison)
    and in float64 (numpy) gives the same counts.
    """
    rounded = bounds.astype(np.float32)
    low = rounded.astype(np.float64) < bounds
    rounded[low] = np.nextafter(rounded[low], np.float32(np.inf))
    return np.unique(rounded).astype(np.float64)


def input_width(transforms: Sequence[FeatureTransform]) -> int:
    return sum(t.width for t in transforms)


class Preprocessor:
    """The numpy form of the preprocessing: element vectors (or batches of them) -> network input vectors.

    `elements(values)` flattens per-feature arrays into the three element
    groups; `__call__(ints, floats, identity)` maps them to inputs.
    """

    def __init__(self, transforms: Sequence[FeatureTransform]) -> None:
        self.transforms = list(transforms)
        self.names = [t.name for t in self.transforms]
        int_bucket = [t for t in self.transforms if t.kind == BUCKETS and t.integer]
        float_bucket = [t for t in self.transforms if t.kind == BUCKETS and not t.integer]
        self.int_features = [t.name for t in int_bucket]
        self.float_features = [t.name for t in float_bucket]
        self.identity_features = [t.name for t in self.transforms if t.kind == IDENTITY]
        # Derived differences, last among the int elements: (name, a, b).
        self.differences = [(t.name, *t.operands) for t in self.transforms if t.operands]
        self._int_setup(int_bucket)
        self._float_setup(float_bucket)
        # Where int and float bucket elements go in the header-ordered q vector.
        self.mixed = bool(int_bucket and float_bucket)
        position = 0
        int_pos: list[int] = []
        float_pos: list[int] = []
        for t in self.transforms:
            if t.kind != BUCKETS:
                continue
            (int_pos if t.integer else float_pos).extend(range(position, position + t.size))
            position += t.size
        self._int_positions = np.array(int_pos, dtype=np.intp)
        self._float_positions = np.array(float_pos, dtype=np.intp)
        self.bucket_elements = position
        self.width = input_width(self.transforms)

    def _int_setup(self, transforms: list[FeatureTransform]) -> None:
        sizes = [t.size for t in transforms]
        lows, highs, shifts, starts, denominators, segments = [], [], [], [], [], []
        offset, start = 0, 0
        safe = True
        for t in transforms:
            lo, hi = int(t.boundaries[0]) - 1, int(t.boundaries[-1]) + 1
            shift = offset - lo
            if lo < _INT64.min or hi > _INT64.max or offset + (hi - lo) >= _INT64.max or shift > _INT64.max:
                safe = False
            segments.append(t.boundaries.astype(object) + shift)
            lows.append(lo)
            highs.append(hi)
            shifts.append(shift)
            starts.append(start)
            denominators.append(len(t.boundaries))
            offset += hi - lo + 1
            start += len(t.boundaries)
        self._int_fused = safe
        self._int_boundaries = [t.boundaries for t in transforms]
        self._int_sizes = sizes

        def per_element(values, dtype):
            return np.repeat(np.array(values, dtype=dtype), sizes) if values else np.zeros(0, dtype)

        self._int_denominator = per_element(denominators, np.float32)
        if safe:  # else int_counts falls back to one searchsorted per feature
            self._int_low = per_element(lows, np.int64)
            self._int_high = per_element(highs, np.int64)
            self._int_shift = per_element(shifts, np.int64)
            self._int_start = per_element(starts, np.int64)
            self._int_sorted = np.concatenate(segments).astype(np.int64) if segments else np.zeros(0, np.int64)

    def _float_setup(self, transforms: list[FeatureTransform]) -> None:
        sizes = [t.size for t in transforms]
        starts = np.cumsum([0, *sizes[:-1]]) if transforms else np.zeros(0, np.int64)
        self._float_segments = [
            (t.boundaries.astype(np.float64), int(start), t.size) for t, start in zip(transforms, starts)
        ]
        self._float_denominator = (
            np.repeat(np.array([len(t.boundaries) for t in transforms], np.float32), sizes)
            if transforms
            else np.zeros(0, np.float32)
        )

    def int_counts(self, values: np.ndarray) -> np.ndarray:
        """Bucket indices of int elements `[..., E]` (int64): one clip, one add, one searchsorted."""
        if self._int_fused:
            keys = np.minimum(np.maximum(values, self._int_low), self._int_high)
            keys += self._int_shift
            return np.searchsorted(self._int_sorted, keys, side="right") - self._int_start
        counts, position = np.empty(values.shape, np.int64), 0
        for bounds, size in zip(self._int_boundaries, self._int_sizes):
            part = values[..., position : position + size]
            counts[..., position : position + size] = np.searchsorted(bounds, part, side="right")
            position += size
        return counts

    def float_counts(self, values: np.ndarray) -> np.ndarray:
        """Bucket indices of float elements `[..., E]`: one searchsorted per feature (float64; NaN counts 0)."""
        values = values.astype(np.float64, copy=False)
        counts = np.empty(values.shape, np.int64)
        for bounds, start, size in self._float_segments:
            counts[..., start : start + size] = np.searchsorted(bounds, values[..., start : start + size], side="right")
        nan = np.isnan(values)
        if nan.any():  # `NaN >= b` is false for every boundary, as in the Keras layer
            counts[nan] = 0
        return counts

    def __call__(
        self, ints: np.ndarray | None, floats: np.ndarray | None = None, identity: np.ndarray | None = None
    ) -> np.ndarray:
        """Network inputs `[..., width]` (float32) from the element groups (each `[..., E]`)."""
        parts = []
        if self.int_features:
            assert ints is not None
            q_int = self.int_counts(ints).astype(np.float32) / self._int_denominator
        if self.float_features:
            assert floats is not None
            q_float = self.float_counts(floats).astype(np.float32) / self._float_denominator
        if self.mixed:
            q = np.empty(q_int.shape[:-1] + (self.bucket_elements,), np.float32)
            q[..., self._int_positions] = q_int
            q[..., self._float_positions] = q_float
        elif self.int_features:
            q = q_int
        elif self.float_features:
            q = q_float
        else:
            q = None
        if q is not None:
            parts += [q, np.sqrt(q), q * q]
        if self.identity_features:
            assert identity is not None
            parts.append(identity.astype(np.float32))
        return np.concatenate(parts, axis=-1)

    def elements(self, values: Mapping[str, np.ndarray], batch: bool = False):
        """The (ints, floats, identity) groups of per-feature arrays (`[B, ...]` when `batch`)."""

        def group(names, dtype):
            if not names:
                return None
            arrays = [np.asarray(values[name]) for name in names]
            if batch:
                arrays = [a.reshape(a.shape[0], -1) for a in arrays]
            else:
                arrays = [a.reshape(-1) for a in arrays]
            return np.concatenate(arrays, axis=-1).astype(dtype, copy=False)

        if self.differences:
            values = {**values}
            for name, a, b in self.differences:
                values[name] = np.asarray(values[a]).astype(np.int64) - np.asarray(values[b]).astype(np.int64)
        identity = _identity_group(values, self.identity_features, batch) if self.identity_features else None
        return group(self.int_features, np.int64), group(self.float_features, np.float64), identity

    def preprocess(self, values: Mapping[str, np.ndarray], batch: bool = False) -> np.ndarray:
        """Network inputs from a mapping of feature name to value (`[B, ...]` arrays when `batch`)."""
        return self(*self.elements(values, batch))


def _identity_group(values: Mapping[str, np.ndarray], names: list[str], batch: bool) -> np.ndarray:
    arrays = [np.asarray(values[name]) for name in names]
    arrays = [a.reshape(a.shape[0], -1) if batch else a.reshape(-1) for a in arrays]
    # Cast each feature to float32 directly from its own dtype, as the Keras layer does.
    return np.concatenate([a.astype(np.float32) for a in arrays], axis=-1)

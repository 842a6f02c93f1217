"""Trajectories on disk: the `tf.train.SequenceExample` encoding (in numpy) and the sharded TFRecord writer.

A trajectory is stored as one `tf.train.SequenceExample`, as MLGO does,
serialized by `to_sequence_example` in numpy (no TensorFlow, ~2 us per step
against ~100 us through the protobuf API, so a worker may serialize its own
trajectory):

    context        module (bytes), score (float), and any extra figures (float)
    feature_lists  <feature name>     one entry per step, for every compiler feature
                   <advice name>      the action taken (e.g. `inlining_decision`)
                   reward             the reward of each step (float)
                   action_log_probability   the behaviour policy's log-probability (if logged)
                   action_logits            its logits, one list per step (if logged)

Integers are stored as int64 lists and floats as float lists
(`stored_as_float`); the reader casts back to the spec's types.
`TrajectoryWriter` appends sequences to sharded TFRecord files and writes
`trajectory_spec.json` beside them; a shard is written under a temporary
name and renamed when complete, so readers (and a resumed run) never see
half a shard. The writer imports TensorFlow when made, not this module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compiler_opt.collect.trajectories import (
    LOG_PROBABILITY,
    LOGITS,
    REWARD,
    SHARD_SUFFIX,
    SPEC_FILE,
    ModuleTrajectory,
    TrajectoryError,
    TrajectorySpec,
)
from compiler_opt.llvm.log_format import TensorSpec
from compiler_opt.tf_runtime import import_tensorflow

__all__ = ["TrajectoryWriter", "shard_files", "stored_as_float", "to_sequence_example"]


# The SequenceExample wire format:
# SequenceExample {context: Features = 1; feature_lists: FeatureLists = 2}
# Features {map<string, Feature> feature = 1}; FeatureLists {map<string, FeatureList> feature_list = 1}
# FeatureList {repeated Feature feature = 1}
# Feature {oneof: BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3}
# BytesList / FloatList / Int64List {repeated value = 1 (packed for floats and ints)}
# Per step, a feature list holds one small Feature; building millions of them
# through the protobuf API costs ~100 us per step, so they are laid out here with
# vectorized varints instead (~1 us per step; checked against protobuf's parser in tests).

_SHIFTS = np.arange(10, dtype=np.uint64) * np.uint64(7)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + _varint(len(payload)) + payload


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Varint bytes of int64 `values` (two's complement, as protobuf does): `[n, w]` bytes and lengths.

    `w` is the longest varint among `values` (at most 10).
    """
    unsigned = np.ascontiguousarray(values, np.int64).view(np.uint64).reshape(-1, 1)
    top = int(unsigned.max()) if unsigned.size else 0
    shifts = _SHIFTS[: max(1, (top.bit_length() + 6) // 7)]
    shifted = unsigned >> shifts
    lengths = np.maximum((shifted != 0).sum(axis=1), 1)
    groups = (shifted & np.uint64(0x7F)).astype(np.uint8)
    if len(shifts) > 1:
        groups[np.arange(len(shifts)) < (lengths[:, None] - 1)] |= 0x80
    return groups, lengths


def _ragged(pieces: Sequence[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Concatenate, step by step, pieces given as (`[T, width]` bytes, `[T]` used lengths or a width mask)."""
    matrices, masks = [], []
    for matrix, used in pieces:
        matrices.append(matrix)
        masks.append(used if used.ndim == 2 else np.arange(matrix.shape[1]) < used[:, None])
    return np.concatenate(matrices, axis=1)[np.concatenate(masks, axis=1)].tobytes()


def _feature_list(array: np.ndarray, steps: int, is_float: bool) -> bytes:
    """The bytes of a FeatureList with one Feature per step (each step's values flattened)."""
    if steps == 0:
        return b""
    values = array.reshape(steps, -1)
    width = values.shape[1]
    if is_float:
        payload = np.ascontiguousarray(values, "<f4").view(np.uint8).reshape(steps, 4 * width)
        payload_length = np.full(steps, 4 * width, np.int64)
        payload_used = np.ones_like(payload, dtype=bool)
        kind = 0x12
    else:
        groups, lengths = _varints(values)
        longest = groups.shape[1]
        payload = groups.reshape(steps, longest * width)
        payload_used = (np.arange(longest) < lengths[:, None]).reshape(steps, longest * width)
        payload_length = lengths.reshape(steps, width).sum(axis=1)
        kind = 0x1A
    inner = 1 + _varints(payload_length)[1] + payload_length  # the Int64List / FloatList message
    feature = 1 + _varints(inner)[1] + inner  # the Feature message

    def tag(value: int):
        return np.full((steps, 1), value, np.uint8), np.ones(steps, np.int64)

    return _ragged(
        [
            tag(0x0A),
            _varints(feature),
            tag(kind),
            _varints(inner),
            tag(0x0A),
            _varints(payload_length),
            (payload, payload_used),
        ]
    )


def _context_feature(value: bytes | float) -> bytes:
    if isinstance(value, bytes):
        return _length_delimited(0x0A, _length_delimited(0x0A, value))
    return _length_delimited(0x12, _length_delimited(0x0A, np.float32(value).astype("<f4").tobytes()))


def _map_entry(key: str, value_message: bytes) -> bytes:
    return _length_delimited(0x0A, _length_delimited(0x0A, key.encode()) + _length_delimited(0x12, value_message))


def stored_as_float(spec: TensorSpec) -> bool:
    """Whether values of `spec` are stored as a float list (else an int64 list)."""
    return spec.dtype.kind == "f"


def to_sequence_example(trajectory: ModuleTrajectory, spec: TrajectorySpec) -> bytes:
    """The serialized `tf.train.SequenceExample` of `trajectory` (see the module docstring).

    Pure numpy: a worker can serialize its trajectory itself, without TensorFlow.
    """
    trajectory.check(spec)
    steps = len(trajectory)
    context: dict[str, bytes | float] = {
        "module": trajectory.module.encode(),
        "score": trajectory.score,
        **trajectory.context,
    }
    lists = [(feature.name, trajectory.features[feature.name], stored_as_float(feature)) for feature in spec.features]
    lists.append((spec.action.name, trajectory.actions, stored_as_float(spec.action)))
    # check() above raised unless the arrays the spec asks for are present
    assert trajectory.rewards is not None
    lists.append((REWARD, trajectory.rewards, True))
    if spec.log_probability:
        assert trajectory.log_probability is not None
        lists.append((LOG_PROBABILITY, trajectory.log_probability, True))
    if spec.logits is not None:
        assert trajectory.logits is not None
        lists.append((LOGITS, trajectory.logits, True))
    features = b"".join(_map_entry(name, _context_feature(value)) for name, value in context.items())
    feature_lists = b"".join(_map_entry(name, _feature_list(array, steps, is_float)) for name, array, is_float in lists)
    return _length_delimited(0x0A, features) + _length_delimited(0x12, feature_lists)


# ---- the files ---------------------------------------------------------------------------------


def _tf():
    return import_tensorflow()


class TrajectoryWriter:
    """Appends module trajectories to sharded TFRecord files in `folder`.

    Shards are `<prefix>-NNNNN.tfrecord`, each holding up to
    `records_per_shard` modules; a shard appears under its name only once it
    is complete (at roll-over or `close`). Use distinct prefixes for writers
    sharing a folder.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        spec: TrajectorySpec,
        *,
        prefix: str = "trajectories",
        records_per_shard: int = 512,
    ) -> None:
        self.folder = Path(folder)
        self.spec = spec
        self.prefix = prefix
        self.records_per_shard = records_per_shard
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_spec()
        self._tf = _tf()
        self._shard = 0
        self._in_shard = 0
        self._writer: Any | None = None  # a tf.io.TFRecordWriter while a shard is open
        self._temporary: Path | None = None
        self.shards: list[Path] = []
        self.records = 0

    def _write_spec(self) -> None:
        path = self.folder / SPEC_FILE
        data = self.spec.to_json()
        if path.exists():
            if TrajectorySpec.load(self.folder) != self.spec:
                raise TrajectoryError(f"{self.folder} already holds trajectories of another spec ({path})")
            return
        temporary = path.with_name(f".{SPEC_FILE}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, path)

    def _shard_path(self) -> Path:
        while True:
            path = self.folder / f"{self.prefix}-{self._shard:05d}{SHARD_SUFFIX}"
            if not path.exists():
                return path
            self._shard += 1

    def write(self, trajectory: ModuleTrajectory | bytes) -> None:
        """Append one module's trajectory (or its `to_sequence_example` bytes, made in a worker)."""
        record = trajectory if isinstance(trajectory, bytes) else to_sequence_example(trajectory, self.spec)
        if self._writer is None:
            final = self._shard_path()
            self._temporary = final.with_name(f".{final.name}.tmp")
            self._final = final
            self._writer = self._tf.io.TFRecordWriter(str(self._temporary))
        self._writer.write(record)
        self._in_shard += 1
        self.records += 1
        if self._in_shard >= self.records_per_shard:
            self._finish_shard()

    def _finish_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        assert self._temporary is not None  # write() sets it whenever it opens the writer
        os.replace(self._temporary, self._final)
        self.shards.append(self._final)
        self._writer = None
        self._in_shard = 0
        self._shard += 1

    def close(self) -> list[Path]:
        """Finish the current shard; the complete shards written."""
        self._finish_shard()
        return list(self.shards)

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def shard_files(source: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """The shard files of a folder (or folders), or the given files, sorted."""
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(str(p) for p in path.glob(f"*{SHARD_SUFFIX}"))
        else:
            files.append(str(path))
    return files

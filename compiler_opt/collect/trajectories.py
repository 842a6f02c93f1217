"""Module trajectories: numpy records in workers, TFRecord files on disk, tf-agents batches for learners.

A worker compiling one module under a policy records every decision with a
`TrajectoryRecorder` and returns a `ModuleTrajectory`: per-step feature arrays
(one per compiler feature, `[T, *shape]`), the actions taken, and what the
behaviour policy said (log-probability of the taken action and/or its logits).
That side is numpy only: importing this module does not import TensorFlow, so
workers never load it.

The learner's side (`TrajectoryWriter`, `trajectory_dataset`,
`read_trajectories`) imports TensorFlow when first called. A trajectory is
stored as one `tf.train.SequenceExample`, as MLGO does, serialized by
`to_sequence_example` in numpy (no TensorFlow, ~2 us per step against ~100
us through the protobuf API, so a worker may serialize its own trajectory):

    context        module (bytes), score (float), and any extra figures (float)
    feature_lists  <feature name>     one entry per step, for every compiler feature
                   <advice name>      the action taken (e.g. `inlining_decision`)
                   reward             the reward of each step (float)
                   action_log_probability   the behaviour policy's log-probability (if logged)
                   action_logits            its logits, one list per step (if logged)

Integers are stored as int64 lists and floats as float lists; the reader casts
back to the spec's types. `TrajectoryWriter` appends sequences to sharded
TFRecord files and writes `trajectory_spec.json` beside them; a shard is
written under a temporary name and renamed when complete, so readers (and a
resumed run) never see half a shard.

`trajectory_dataset` reads shards back as tf-agents `Trajectory` batches of
shape `[batch_size, sequence_length, ...]`. Each module is an episode:
`step_type` is FIRST at its first decision and MID after, `next_step_type` is
LAST after its last decision, and `discount` is 0 there and 1 elsewhere, so
returns never leak from one module into the next. Two ways to get a fixed
sequence length:
- "window" (MLGO's way): all steps are concatenated and cut into windows of
  `sequence_length`, which may span module boundaries (the step types mark
  them); only a final partial window is dropped.
- "pad": each module is cut into chunks of `sequence_length`, its last chunk
  padded with boundary steps (step_type LAST, next_step_type FIRST, reward
  and discount 0), which tf-agents' losses mask out via `is_boundary()`.
Its tuning arguments (`batch_size`, `sequence_length`, `mode`,
`shuffle_buffer`, ...) are gin-bindable as `trajectory_dataset.<name>`; the
files and the spec are always passed by code.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import gin
import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, Observation, TensorSpec
from compiler_opt.tf_runtime import import_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "LOG_PROBABILITY",
    "LOGITS",
    "REWARD",
    "ModuleTrajectory",
    "TrajectoryError",
    "TrajectoryRecorder",
    "TrajectorySpec",
    "TrajectoryWriter",
    "read_trajectories",
    "shard_files",
    "to_sequence_example",
    "trajectory_dataset",
]

REWARD = "reward"
LOG_PROBABILITY = "action_log_probability"
LOGITS = "action_logits"
SPEC_FILE = "trajectory_spec.json"
SHARD_SUFFIX = ".tfrecord"
_RESERVED = (REWARD, LOG_PROBABILITY, LOGITS)


class TrajectoryError(MlgoError):
    """A trajectory that does not match its spec, or trajectory files that cannot be read."""


@dataclass(frozen=True)
class TrajectorySpec:
    """What each step of a trajectory holds: the features, the action, and what the policy logged.

    `logits` is the number of logits per step when they are logged (None
    otherwise); `log_probability` says whether the taken action's
    log-probability is logged.
    """

    features: tuple[TensorSpec, ...]
    action: TensorSpec
    logits: int | None = None
    log_probability: bool = False

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.features] + [self.action.name]
        clashes = sorted({name for name in names if names.count(name) > 1 or name in _RESERVED})
        if clashes:
            raise TrajectoryError(f"trajectory names clash with each other or with {_RESERVED}: {clashes}")

    @classmethod
    def from_header(cls, header: LogHeader, *, logits: int | None = None, log_probability: bool = False,
                    squeeze: bool = True) -> "TrajectorySpec":
        """The spec of a compiler's log header (an advice logged as a feature, as in traces, is the action).

        `squeeze` turns the compiler's `[1]` shapes into scalars, as tf-agents specs usually have them.
        """
        if header.advice is None:
            raise TrajectoryError("the log header names no advice, so trajectories would have no action")

        def shaped(spec: TensorSpec) -> TensorSpec:
            return replace(spec, shape=()) if squeeze and spec.shape == (1,) else spec

        features = tuple(shaped(spec) for spec in header.features if spec.name != header.advice.name)
        return cls(features, shaped(header.advice), logits, log_probability)

    def to_json(self) -> dict:
        return {"features": [spec.to_json() for spec in self.features], "action": self.action.to_json(),
                "logits": self.logits, "log_probability": self.log_probability}

    @classmethod
    def from_json(cls, data: Mapping) -> "TrajectorySpec":
        try:
            return cls(tuple(TensorSpec.from_json(f) for f in data["features"]), TensorSpec.from_json(data["action"]),
                       data.get("logits"), bool(data.get("log_probability", False)))
        except (KeyError, TypeError) as error:
            raise TrajectoryError(f"malformed trajectory spec: {error}") from error

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "TrajectorySpec":
        path = Path(folder) / SPEC_FILE
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise TrajectoryError(f"cannot read the trajectory spec {path}: {error}") from error


@dataclass
class ModuleTrajectory:
    """One module's decisions under a policy, as numpy arrays with T steps.

    `features[name]` is `[T, *shape]`, `actions` is `[T, *action shape]`,
    `log_probability` `[T]` and `logits` `[T, A]` when the policy logged them,
    `rewards` `[T]` once the reward is known (see `with_reward`). `score` is
    the module's measured figure (e.g. its size); `context` holds any other
    module-level figures to keep with it (baseline, reward). `functions` names
    the functions the compiler decided in (its log's contexts) and
    `step_function` `[T]` indexes it per step; they stay in memory (for
    per-function rewards) and are not written to trajectory files.
    """

    module: str
    features: dict[str, np.ndarray]
    actions: np.ndarray
    log_probability: np.ndarray | None = None
    logits: np.ndarray | None = None
    rewards: np.ndarray | None = None
    score: float = math.nan
    context: dict[str, float] = field(default_factory=dict)
    functions: tuple[str, ...] = ()
    step_function: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    def with_reward(self, reward: float, **context: float) -> "ModuleTrajectory":
        """A copy in which every step gets the module's `reward` (extra `context` figures added)."""
        return replace(self, rewards=np.full(len(self), reward, np.float32),
                       context={**self.context, "reward": float(reward), **context})

    def with_step_rewards(self, rewards: np.ndarray, **context: float) -> "ModuleTrajectory":
        """A copy whose steps get `rewards` `[T]` (e.g. each its function's reward); `reward` logs their mean."""
        rewards = np.asarray(rewards, np.float32).reshape(len(self))
        return replace(self, rewards=rewards,
                       context={**self.context, "reward": float(rewards.mean()) if len(self) else 0.0, **context})

    def check(self, spec: TrajectorySpec) -> None:
        """Raise `TrajectoryError` unless this trajectory has every array the spec asks for, in shape."""
        steps = len(self)

        def expect(what: str, array: np.ndarray | None, shape: tuple[int, ...]) -> None:
            if array is None:
                raise TrajectoryError(f"{self.module}: trajectory has no {what}")
            if array.shape != (steps, *shape):
                raise TrajectoryError(f"{self.module}: {what} has shape {array.shape}, expected {(steps, *shape)}")

        for feature in spec.features:
            expect(f"feature {feature.name!r}", self.features.get(feature.name), feature.shape)
        expect("actions", self.actions, spec.action.shape)
        expect("rewards", self.rewards, ())
        if spec.log_probability:
            expect("log-probabilities", self.log_probability, ())
        if spec.logits is not None:
            expect("logits", self.logits, (spec.logits,))


class TrajectoryRecorder:
    """Collects a compile's decisions into a `ModuleTrajectory` (numpy only; use in workers).

    Observations are kept as their raw bytes and decoded once, at `finish`,
    through a structured dtype: a few microseconds per decision.
    """

    def __init__(self, header: LogHeader, spec: TrajectorySpec | None = None) -> None:
        self.header = header
        self.spec = spec or TrajectorySpec.from_header(header)
        self._raw: list[bytes] = []
        self._actions: list[Any] = []
        self._log_probability: list[float] = []
        self._logits: list[np.ndarray] = []
        self._functions: dict[str, int] = {}
        self._step_function: list[int] = []
        wanted = {spec.name for spec in self.spec.features}
        slots = [(name, slot) for name, slot in header.slots.items() if name in wanted]
        missing = wanted - {name for name, _ in slots}
        if missing:
            raise TrajectoryError(f"the compiler's header lacks features of the spec: {sorted(missing)}")
        self._dtype = np.dtype({
            "names": [name for name, _ in slots],
            "formats": [(slot.spec.dtype, slot.spec.shape) if slot.spec.shape else slot.spec.dtype
                        for _, slot in slots],
            "offsets": [slot.offset for _, slot in slots],
            "itemsize": header.observation_size,
        })

    def __len__(self) -> int:
        return len(self._actions)

    def record(self, observation: Observation, action, log_probability: float | None = None,
               logits: np.ndarray | None = None) -> None:
        """One decision: what the compiler showed, what was answered, what the policy said."""
        self._raw.append(observation.raw)
        self._actions.append(action)
        self._step_function.append(self._functions.setdefault(observation.context or "", len(self._functions)))
        if log_probability is not None:
            self._log_probability.append(log_probability)
        if logits is not None:
            self._logits.append(logits)

    def finish(self, module: str, score: float = math.nan, **context: float) -> ModuleTrajectory:
        steps = len(self._actions)
        table = np.frombuffer(b"".join(self._raw), self._dtype, steps)
        features = {spec.name: np.ascontiguousarray(table[spec.name]).reshape((steps, *spec.shape))
                    for spec in self.spec.features}
        actions = np.asarray(self._actions, self.spec.action.dtype).reshape((steps, *self.spec.action.shape))
        log_probability = logits = None
        if self.spec.log_probability:
            if len(self._log_probability) != steps:
                raise TrajectoryError(f"{module}: {len(self._log_probability)} log-probabilities for {steps} steps")
            log_probability = np.asarray(self._log_probability, np.float32)
        if self.spec.logits is not None:
            if len(self._logits) != steps:
                raise TrajectoryError(f"{module}: {len(self._logits)} logit vectors for {steps} steps")
            logits = np.asarray(self._logits, np.float32).reshape(steps, self.spec.logits)
        return ModuleTrajectory(module, features, actions, log_probability, logits, None, float(score),
                                {k: float(v) for k, v in context.items()}, tuple(self._functions),
                                np.asarray(self._step_function, np.int32))


# ---- the SequenceExample wire format, in numpy (no TensorFlow) -------------------------------
#
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

    return _ragged([tag(0x0A), _varints(feature), tag(kind), _varints(inner), tag(0x0A),
                    _varints(payload_length), (payload, payload_used)])


def _context_feature(value: bytes | float) -> bytes:
    if isinstance(value, bytes):
        return _length_delimited(0x0A, _length_delimited(0x0A, value))
    return _length_delimited(0x12, _length_delimited(0x0A, np.float32(value).astype("<f4").tobytes()))


def _map_entry(key: str, value_message: bytes) -> bytes:
    return _length_delimited(0x0A, _length_delimited(0x0A, key.encode()) + _length_delimited(0x12, value_message))


def _is_float(spec: TensorSpec) -> bool:
    return spec.dtype.kind == "f"


def to_sequence_example(trajectory: ModuleTrajectory, spec: TrajectorySpec) -> bytes:
    """The serialized `tf.train.SequenceExample` of `trajectory` (see the module docstring).

    Pure numpy: a worker can serialize its trajectory itself, without TensorFlow.
    """
    trajectory.check(spec)
    steps = len(trajectory)
    context = {"module": trajectory.module.encode(), "score": trajectory.score, **trajectory.context}
    lists = [(feature.name, trajectory.features[feature.name], _is_float(feature)) for feature in spec.features]
    lists.append((spec.action.name, trajectory.actions, _is_float(spec.action)))
    lists.append((REWARD, trajectory.rewards, True))
    if spec.log_probability:
        lists.append((LOG_PROBABILITY, trajectory.log_probability, True))
    if spec.logits is not None:
        lists.append((LOGITS, trajectory.logits, True))
    features = b"".join(_map_entry(name, _context_feature(value)) for name, value in context.items())
    feature_lists = b"".join(_map_entry(name, _feature_list(array, steps, is_float))
                             for name, array, is_float in lists)
    return _length_delimited(0x0A, features) + _length_delimited(0x12, feature_lists)


# ---- TensorFlow side: files and the input pipeline ------------------------------------------


def _tf():
    return import_tensorflow()


class TrajectoryWriter:
    """Appends module trajectories to sharded TFRecord files in `folder`.

    Shards are `<prefix>-NNNNN.tfrecord`, each holding up to
    `records_per_shard` modules; a shard appears under its name only once it
    is complete (at roll-over or `close`). Use distinct prefixes for writers
    sharing a folder.
    """

    def __init__(self, folder: str | os.PathLike, spec: TrajectorySpec, *, prefix: str = "trajectories",
                 records_per_shard: int = 512) -> None:
        self.folder = Path(folder)
        self.spec = spec
        self.prefix = prefix
        self.records_per_shard = records_per_shard
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_spec()
        self._tf = _tf()
        self._shard = 0
        self._in_shard = 0
        self._writer = None
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
        os.replace(self._temporary, self._final)
        self.shards.append(self._final)
        self._writer = None
        self._in_shard = 0
        self._shard += 1

    def close(self) -> list[Path]:
        """Finish the current shard; the complete shards written."""
        self._finish_shard()
        return list(self.shards)

    def __enter__(self) -> "TrajectoryWriter":
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


def _parser(spec: TrajectorySpec):
    tf = _tf()

    def stored(spec_: TensorSpec):
        return tf.float32 if _is_float(spec_) else tf.int64

    sequence_features = {f.name: tf.io.FixedLenSequenceFeature(f.shape, stored(f)) for f in spec.features}
    sequence_features[spec.action.name] = tf.io.FixedLenSequenceFeature(spec.action.shape, stored(spec.action))
    sequence_features[REWARD] = tf.io.FixedLenSequenceFeature((), tf.float32)
    if spec.log_probability:
        sequence_features[LOG_PROBABILITY] = tf.io.FixedLenSequenceFeature((), tf.float32)
    if spec.logits is not None:
        sequence_features[LOGITS] = tf.io.FixedLenSequenceFeature((spec.logits,), tf.float32)
    context_features = {"module": tf.io.FixedLenFeature((), tf.string),
                        "score": tf.io.FixedLenFeature((), tf.float32, default_value=math.nan)}
    dtypes = {f.name: tf.as_dtype(f.dtype) for f in (*spec.features, spec.action)}

    def parse(serialized):
        context, steps = tf.io.parse_single_sequence_example(serialized, context_features, sequence_features)
        for name, dtype in dtypes.items():
            steps[name] = tf.cast(steps[name], dtype)
        return context, steps

    return parse


def _episode_steps(context, steps):
    """Per-step tensors of one module, with its step types and discounts."""
    tf = _tf()
    from tf_agents.trajectories import time_step as ts

    length = tf.shape(steps[REWARD])[0]
    index = tf.range(length)
    first = tf.constant(ts.StepType.FIRST, tf.int32)
    mid = tf.constant(ts.StepType.MID, tf.int32)
    last = tf.constant(ts.StepType.LAST, tf.int32)
    steps = dict(steps)
    steps["step_type"] = tf.where(index == 0, first, mid)
    steps["next_step_type"] = tf.where(index == length - 1, last, mid)
    steps["discount"] = tf.where(index == length - 1, 0.0, 1.0)
    return steps


def _padded_chunks(sequence_length: int):
    tf = _tf()
    from tf_agents.trajectories import time_step as ts

    def chunk(steps):
        length = tf.shape(steps[REWARD])[0]
        padding = (-length) % sequence_length
        fills = {"step_type": ts.StepType.LAST, "next_step_type": ts.StepType.FIRST}
        out = {}
        for name, value in steps.items():
            pad = [[0, padding]] + [[0, 0]] * (len(value.shape) - 1)
            padded = tf.pad(value, pad, constant_values=tf.cast(fills.get(name, 0), value.dtype))
            out[name] = tf.reshape(padded, tf.concat([[-1, sequence_length], tf.shape(value)[1:]], 0))
        return tf.data.Dataset.from_tensor_slices(out)

    return chunk


def _to_trajectory(spec: TrajectorySpec, policy_info: str):
    from tf_agents.trajectories import trajectory

    def build(steps):
        info: Any = {}
        if policy_info == "logged":
            if spec.logits is not None:
                info["dist_params"] = {"logits": steps[LOGITS]}
            if spec.log_probability:
                info["log_probability"] = steps[LOG_PROBABILITY]
        return trajectory.Trajectory(
            step_type=steps["step_type"],
            observation={f.name: steps[f.name] for f in spec.features},
            action=steps[spec.action.name],
            policy_info=info or (),
            next_step_type=steps["next_step_type"],
            reward=steps[REWARD],
            discount=steps["discount"],
        )

    return build


@gin.configurable("trajectory_dataset", denylist=["files", "spec"])
def trajectory_dataset(
    files: str | os.PathLike | Iterable[str | os.PathLike],
    spec: TrajectorySpec | None = None,
    *,
    batch_size: int = 64,
    sequence_length: int = 16,
    mode: str = "window",
    shuffle_buffer: int = 1024,
    seed: int | None = None,
    repeat: bool = False,
    policy_info: str = "logged",
    drop_remainder: bool = True,
) -> "tf.data.Dataset":
    """tf-agents `Trajectory` batches, `[batch_size, sequence_length, ...]`, from trajectory shards.

    `files`: shard files, or folders of them (whose `trajectory_spec.json`
    gives the spec when `spec` is None). `mode`: "window" or "pad" (see the
    module docstring). `shuffle_buffer` 0 keeps file order (modules and
    windows); `seed` makes shuffling repeatable. `repeat` cycles forever.
    `policy_info`: "logged" gives `{"dist_params": {"logits"}}` and/or
    `{"log_probability"}` as logged, "none" gives `()`.
    """
    tf = _tf()
    if mode not in ("window", "pad"):
        raise ValueError(f"mode must be 'window' or 'pad', got {mode!r}")
    if policy_info not in ("logged", "none"):
        raise ValueError(f"policy_info must be 'logged' or 'none', got {policy_info!r}")
    paths = shard_files(files)
    if spec is None:
        folders = {str(Path(p).parent) for p in paths} or {str(files)}
        specs = {TrajectorySpec.load(folder) for folder in sorted(folders)}
        if len(specs) != 1:
            raise TrajectoryError(f"the trajectory folders hold {len(specs)} different specs; pass one explicitly")
        spec = specs.pop()
    if not paths:
        raise TrajectoryError(f"no trajectory shards (*{SHARD_SUFFIX}) in {files}")
    shuffle = shuffle_buffer > 0
    dataset = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(paths), 4), block_length=1,
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None or not shuffle)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(_parser(spec), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.map(_episode_steps)
    if mode == "window":
        dataset = dataset.unbatch().batch(sequence_length, drop_remainder=True)
    else:
        dataset = dataset.flat_map(_padded_chunks(sequence_length))
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(_to_trajectory(spec, policy_info))
    return dataset.prefetch(tf.data.AUTOTUNE)


def read_trajectories(files: str | os.PathLike | Iterable[str | os.PathLike],
                      spec: TrajectorySpec | None = None) -> Iterator[ModuleTrajectory]:
    """The module trajectories stored in shard files or folders, in file order, as numpy records."""
    tf = _tf()
    paths = shard_files(files)
    if spec is None:
        spec = TrajectorySpec.load(Path(paths[0]).parent if paths else Path(files))
    parse = _parser(spec)
    for serialized in tf.data.TFRecordDataset(paths):
        context, steps = parse(serialized)
        extra = {name: float(value) for name, value in _context_extras(serialized).items()}
        yield ModuleTrajectory(
            module=context["module"].numpy().decode(),
            features={f.name: steps[f.name].numpy() for f in spec.features},
            actions=steps[spec.action.name].numpy(),
            log_probability=steps[LOG_PROBABILITY].numpy() if spec.log_probability else None,
            logits=steps[LOGITS].numpy() if spec.logits is not None else None,
            rewards=steps[REWARD].numpy(),
            score=float(context["score"].numpy()),
            context=extra,
        )


def _context_extras(serialized) -> dict[str, float]:
    tf = _tf()
    example = tf.train.SequenceExample.FromString(serialized.numpy())
    return {name: feature.float_list.value[0] for name, feature in example.context.feature.items()
            if name not in ("module", "score") and feature.float_list.value}

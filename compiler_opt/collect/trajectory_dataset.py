"""Reading trajectory files back: tf-agents `Trajectory` batches for a learner, or `ModuleTrajectory` records.

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
files and the spec are always passed by code. `read_trajectories` yields
the stored records one module at a time. TensorFlow is imported when one of
them is called, not with this module.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gin

from compiler_opt.collect.trajectories import (
    LOG_PROBABILITY,
    LOGITS,
    REWARD,
    SHARD_SUFFIX,
    ModuleTrajectory,
    TrajectoryError,
    TrajectorySpec,
)
from compiler_opt.collect.trajectory_files import shard_files, stored_as_float
from compiler_opt.llvm.log_format import TensorSpec
from compiler_opt.tf_runtime import import_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["read_trajectories", "trajectory_dataset"]


def _tf():
    return import_tensorflow()


def _parser(spec: TrajectorySpec):
    tf = _tf()

    def stored(spec_: TensorSpec):
        return tf.float32 if stored_as_float(spec_) else tf.int64

    sequence_features = {f.name: tf.io.FixedLenSequenceFeature(f.shape, stored(f)) for f in spec.features}
    sequence_features[spec.action.name] = tf.io.FixedLenSequenceFeature(spec.action.shape, stored(spec.action))
    sequence_features[REWARD] = tf.io.FixedLenSequenceFeature((), tf.float32)
    if spec.log_probability:
        sequence_features[LOG_PROBABILITY] = tf.io.FixedLenSequenceFeature((), tf.float32)
    if spec.logits is not None:
        sequence_features[LOGITS] = tf.io.FixedLenSequenceFeature((spec.logits,), tf.float32)
    context_features = {
        "module": tf.io.FixedLenFeature((), tf.string),
        "score": tf.io.FixedLenFeature((), tf.float32, default_value=math.nan),
    }
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

    def build(steps: dict[str, Any]) -> trajectory.Trajectory:
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
) -> tf.data.Dataset:
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
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(paths), 4),
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=seed is not None or not shuffle,
    )
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


def read_trajectories(
    files: str | os.PathLike | Iterable[str | os.PathLike], spec: TrajectorySpec | None = None
) -> Iterator[ModuleTrajectory]:
    """The module trajectories stored in shard files or folders, in file order, as numpy records."""
    tf = _tf()
    paths = shard_files(files)
    if spec is None:
        if paths:
            folder = Path(paths[0]).parent
        elif isinstance(files, (str, os.PathLike)):
            folder = Path(files)
        else:  # no files in the given folders, so no folder to read the spec from
            raise TypeError(f"no shard files to read a trajectory spec beside: {files!r}")
        spec = TrajectorySpec.load(folder)
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
    return {
        name: feature.float_list.value[0]
        for name, feature in example.context.feature.items()
        if name not in ("module", "score") and feature.float_list.value
    }

"""Module trajectories as workers record them: numpy records, their spec, and the recorder.

A worker compiling one module under a policy records every decision with a
`TrajectoryRecorder` and returns a `ModuleTrajectory`: per-step feature arrays
(one per compiler feature, `[T, *shape]`), the actions taken, and what the
behaviour policy said (log-probability of the taken action and/or its logits).
A `TrajectorySpec` names and shapes what each step holds; it is stored beside
trajectory files as `trajectory_spec.json`.

This side is numpy only: importing this module does not import TensorFlow,
so workers never load it. Files are `compiler_opt.collect.trajectory_files`'
job (the SequenceExample encoding and the TFRecord writer), and reading them
back for a learner `compiler_opt.collect.trajectory_dataset`'s.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, Observation, TensorSpec

__all__ = [
    "LOG_PROBABILITY",
    "LOGITS",
    "REWARD",
    "SHARD_SUFFIX",
    "SPEC_FILE",
    "ModuleTrajectory",
    "TrajectoryError",
    "TrajectoryRecorder",
    "TrajectorySpec",
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
    def from_header(
        cls, header: LogHeader, *, logits: int | None = None, log_probability: bool = False, squeeze: bool = True
    ) -> TrajectorySpec:
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
        return {
            "features": [spec.to_json() for spec in self.features],
            "action": self.action.to_json(),
            "logits": self.logits,
            "log_probability": self.log_probability,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> TrajectorySpec:
        try:
            return cls(
                tuple(TensorSpec.from_json(f) for f in data["features"]),
                TensorSpec.from_json(data["action"]),
                data.get("logits"),
                bool(data.get("log_probability", False)),
            )
        except (KeyError, TypeError) as error:
            raise TrajectoryError(f"malformed trajectory spec: {error}") from error

    @classmethod
    def load(cls, folder: str | os.PathLike) -> TrajectorySpec:
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

    def with_reward(self, reward: float, **context: float) -> ModuleTrajectory:
        """A copy in which every step gets the module's `reward` (extra `context` figures added)."""
        return replace(
            self,
            rewards=np.full(len(self), reward, np.float32),
            context={**self.context, "reward": float(reward), **context},
        )

    def with_step_rewards(self, rewards: np.ndarray, **context: float) -> ModuleTrajectory:
        """A copy whose steps get `rewards` `[T]` (e.g. each its function's reward); `reward` logs their mean."""
        rewards = np.asarray(rewards, np.float32).reshape(len(self))
        return replace(
            self,
            rewards=rewards,
            context={**self.context, "reward": float(rewards.mean()) if len(self) else 0.0, **context},
        )

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
        self._dtype = np.dtype(
            {
                "names": [name for name, _ in slots],
                "formats": [
                    (slot.spec.dtype, slot.spec.shape) if slot.spec.shape else slot.spec.dtype for _, slot in slots
                ],
                "offsets": [slot.offset for _, slot in slots],
                "itemsize": header.observation_size,
            }
        )

    def __len__(self) -> int:
        return len(self._actions)

    def record(
        self, observation: Observation, action, log_probability: float | None = None, logits: np.ndarray | None = None
    ) -> None:
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
        features = {
            spec.name: np.ascontiguousarray(table[spec.name]).reshape((steps, *spec.shape))
            for spec in self.spec.features
        }
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
        return ModuleTrajectory(
            module,
            features,
            actions,
            log_probability,
            logits,
            None,
            float(score),
            {k: float(v) for k, v in context.items()},
            tuple(self._functions),
            np.asarray(self._step_function, np.int32),
        )

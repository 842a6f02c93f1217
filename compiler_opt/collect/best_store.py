"""The best-trajectory store: per module, the best decision sequence found so far, kept on disk.

Imitation learning clones the best trajectories its explorations found
(`compiler_opt.collect.explore`); this store keeps them between rounds and
runs. Per module it holds the best candidate's actions, its value (lower is
better) and score figures, the baseline's value, what found it (policy
digest, round, kind, flipped steps and their gains) and its trajectory
(features and actions, an `.npz` of plain arrays, never pickles).

Keys are the baseline cache's (`BaselineCache.key`: the module's content, the
compile command line, the compiler's identity, the problem and its
measurement) plus the scorer that valued it, so a changed module, compiler
or measure never matches an old entry. An entry is replaced only by a
strictly better one (`offer`: a lower value, or an equal value and a smaller
object, as `Candidate.rank` orders them), so the store only ever improves; each write is
atomic (the trajectory file first, under a name carrying its digest, then
the JSON entry that names it, each written to a temporary file, fsynced and
renamed), so a run killed mid-round keeps every entry already written and
a reader sees whole entries only. Replaying an entry's actions reproduces
its score exactly (the compiler is deterministic given its decisions).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.trajectories import ModuleTrajectory
from compiler_opt.paths import write_atomically

if TYPE_CHECKING:
    from compiler_opt.collect.explore import Candidate
    from compiler_opt.corpus.loading import ModuleSpec
    from compiler_opt.llvm.toolchain import Toolchain
    from compiler_opt.problems.base import Problem

__all__ = ["BestEntry", "BestTrajectoryStore"]

FORMAT_VERSION = 1
_FEATURE = "feature:"


@dataclass(frozen=True)
class BestEntry:
    """One module's best trajectory found so far (see the module docstring)."""

    key: str
    module: str
    value: float
    baseline: float
    figures: dict[str, float]
    actions: np.ndarray
    found: dict
    trajectory_file: str | None
    object_value: float | None = None  # the object's own measurement (None in entries written before it was kept)

    @property
    def rank(self) -> tuple[float, float]:
        """The entry's place in `Candidate.rank`'s order (an entry without its object's value never loses a tie)."""
        return self.value, -math.inf if self.object_value is None else self.object_value

    @property
    def ratio(self) -> float:
        """The best value over the baseline's (1.0: no better than the compiler's heuristic)."""
        return self.value / self.baseline if self.baseline else 1.0


class BestTrajectoryStore:
    """Best trajectories of `problem`'s modules under `toolchain`, valued by `scorer`, in `folder`."""

    def __init__(self, folder: str | os.PathLike, toolchain: Toolchain, problem: Problem, scorer: str = "object"):
        self.folder = Path(folder)
        self.scorer = scorer
        self._keys = BaselineCache(self.folder, toolchain, problem)

    def key(self, module: ModuleSpec) -> str:
        command = module.command(self._keys.toolchain.clang)
        material = f"best-trajectory\0{FORMAT_VERSION}\0{self.scorer}\0{self._keys.key(command)}"
        return hashlib.sha256(material.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, module: ModuleSpec) -> BestEntry | None:
        """The module's entry, or None (none yet, or unreadable: treated as missing)."""
        return self._read(self.key(module))

    def entries(self, modules: Iterable[ModuleSpec]) -> dict[str, BestEntry]:
        """The entries of those of `modules` that have one, by module name."""
        found = {}
        for module in modules:
            entry = self.get(module)
            if entry is not None:
                found[module.name] = entry
        return found

    def offer(self, module: ModuleSpec, candidate: Candidate, baseline: float, found: Mapping) -> bool:
        """Keep `candidate` as `module`'s best if it ranks strictly before the stored one; whether it was kept.

        `found` says what found it (policy, round, ...); the candidate's kind,
        flips and gains are added. A candidate without a trajectory is kept
        only as actions (it replays, but teaches no features).
        """
        key = self.key(module)
        stored = self._read(key)
        if stored is not None and candidate.rank >= stored.rank:
            return False
        trajectory_file = None
        if candidate.trajectory is not None:
            data = _trajectory_bytes(candidate.trajectory)
            trajectory_file = f"{key}.{hashlib.sha256(data).hexdigest()[:16]}.npz"
            write_atomically(self._path(key).with_name(trajectory_file), data)
        entry = {
            "format": FORMAT_VERSION,
            "key": key,
            "module": module.name,
            "scorer": self.scorer,
            "value": candidate.value,
            "object_value": candidate.score.value,
            "baseline": baseline,
            "figures": dict(candidate.score.figures),
            "actions": np.asarray(candidate.actions).reshape(-1).tolist(),
            "found": {
                **found,
                "kind": candidate.kind,
                "flips": list(candidate.flips),
                "gains": list(candidate.gains),
            },
            "trajectory": trajectory_file,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        write_atomically(self._path(key), json.dumps(entry).encode())
        if stored is not None and stored.trajectory_file not in (None, trajectory_file):
            self._path(key).with_name(stored.trajectory_file).unlink(missing_ok=True)
        return True

    def trajectory(self, entry: BestEntry) -> ModuleTrajectory | None:
        """The entry's recorded features and actions (None when it kept actions only or the file is gone)."""
        if entry.trajectory_file is None:
            return None
        try:
            with np.load(self._path(entry.key).with_name(entry.trajectory_file), allow_pickle=False) as arrays:
                features = {name[len(_FEATURE) :]: arrays[name] for name in arrays.files if name.startswith(_FEATURE)}
                actions = arrays["actions"]
        except (OSError, ValueError, KeyError):
            return None
        return ModuleTrajectory(entry.module, features, actions, score=entry.value)

    def _read(self, key: str) -> BestEntry | None:
        try:
            data = json.loads(self._path(key).read_text())
            if data["key"] != key or data["format"] != FORMAT_VERSION:
                return None
            return BestEntry(
                key,
                str(data["module"]),
                float(data["value"]),
                float(data["baseline"]),
                {str(k): float(v) for k, v in data["figures"].items()},
                np.asarray(data["actions"], np.int64),
                dict(data["found"]),
                data["trajectory"],
                None if data.get("object_value") is None else float(data["object_value"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


def _trajectory_bytes(trajectory: ModuleTrajectory) -> bytes:
    buffer = io.BytesIO()
    arrays = {f"{_FEATURE}{name}": value for name, value in trajectory.features.items()}
    np.savez(buffer, actions=trajectory.actions, **arrays)
    return buffer.getvalue()

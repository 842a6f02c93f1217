"""A training run's folder: what is in it, and writing each part so that a kill never leaves it inconsistent.

    RUN_DIR/config.json          what the run is (problem, algorithm, corpus, compiler, gin text, seed, ...)
    RUN_DIR/log.jsonl            one JSON object per complete iteration
    RUN_DIR/train.log            the same, one human line per iteration
    RUN_DIR/state.json           the last complete iteration and what resuming needs (checkpoint, reward averages,
                                 failure counts, modules set aside)
    RUN_DIR/checkpoints/         `iteration-NNNNN.*`: tf.train.Checkpoint files of the learner
    RUN_DIR/policy/              the latest saved policy (replaced atomically by `save_policy`)
    RUN_DIR/failed_modules.json  modules set aside after failing too often, with their last error
    RUN_DIR/feature_spec.json    the features the run's policy reads
    RUN_DIR/vocab/               the vocabulary the run's policy normalizes with
    RUN_DIR/trajectories/        the recent iterations' trajectory shards (TFRecord)
    RUN_DIR/tensorboard/         tf.summary scalars

An iteration is complete once `state.json` names it: it is written (to a
temporary file, fsynced, renamed) after the iteration's checkpoint, policy
and log line. So after a kill, `state.json` is the last complete iteration,
and anything newer (a log line, a checkpoint, trajectory shards) belongs to
the iteration in flight and is dropped when the run resumes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

from compiler_opt.errors import MlgoError

ITERATION_WIDTH = 5


class RunFolderError(MlgoError):
    """A run folder that cannot be started, resumed or read as asked."""


def write_json_atomically(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path` through a temporary file that is fsynced and renamed into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w") as stream:
            json.dump(data, stream, indent=1)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class RunFolder:
    """The paths of a run folder, and its atomic readers and writers (see the module docstring)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.log = self.root / "log.jsonl"
        self.human_log = self.root / "train.log"
        self.state = self.root / "state.json"
        self.checkpoints = self.root / "checkpoints"
        self.policy = self.root / "policy"
        self.failed_modules = self.root / "failed_modules.json"
        self.vocab = self.root / "vocab"
        self.trajectories = self.root / "trajectories"
        self.tensorboard = self.root / "tensorboard"

    def started(self) -> bool:
        """Whether a run was started here (its config is written)."""
        return self.config.exists()

    def create(self, config: Mapping[str, Any]) -> None:
        """Start a new run: refuse a folder that already holds one, write `config.json`."""
        if self.started():
            raise RunFolderError(f"{self.root} already holds a training run; pass --resume to continue it, "
                                 "or choose another --output")
        self.root.mkdir(parents=True, exist_ok=True)
        for path in (self.log, self.human_log, self.state, self.failed_modules):
            path.unlink(missing_ok=True)
        write_json_atomically(self.config, dict(config))

    def read_config(self) -> dict:
        try:
            return json.loads(self.config.read_text())
        except (OSError, ValueError) as error:
            raise RunFolderError(f"cannot read the run's config {self.config}: {error}; is {self.root} a run "
                                 "folder written by `mlgo train`?") from error

    # ---- state: the last complete iteration ---------------------------------------------------------
    def read_state(self) -> dict | None:
        """The state of the last complete iteration, or None before the first."""
        if not self.state.exists():
            return None
        try:
            return json.loads(self.state.read_text())
        except (OSError, ValueError) as error:
            raise RunFolderError(f"cannot read {self.state}: {error}") from error

    def write_state(self, state: Mapping[str, Any]) -> None:
        write_json_atomically(self.state, dict(state))

    # ---- the iteration logs -------------------------------------------------------------------------
    def append_log(self, record: Mapping[str, Any], line: str) -> None:
        """Append one iteration's JSON record to log.jsonl and its human line to train.log."""
        with open(self.log, "a") as stream:
            stream.write(json.dumps(dict(record)) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        with open(self.human_log, "a") as stream:
            stream.write(line + "\n")

    def read_log(self) -> list[dict]:
        """The records of log.jsonl (a torn last line, from a kill mid-write, is skipped)."""
        if not self.log.exists():
            return []
        records = []
        for line in self.log.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def trim_logs(self, last_iteration: int) -> None:
        """Drop log records (and human lines) of iterations after `last_iteration` (the one in flight at a kill)."""
        kept = [r for r in self.read_log() if int(r.get("iteration", 0)) <= last_iteration]
        temporary = self.log.with_name(f".{self.log.name}.tmp")
        temporary.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(temporary, self.log)
        if self.human_log.exists():
            lines = [line for line in self.human_log.read_text().splitlines()
                     if _human_iteration(line) is None or _human_iteration(line) <= last_iteration]
            self.human_log.write_text("".join(line + "\n" for line in lines))

    # ---- checkpoints and trajectory folders -----------------------------------------------------------
    def checkpoint_prefix(self, iteration: int) -> Path:
        return self.checkpoints / f"iteration-{iteration:0{ITERATION_WIDTH}d}"

    def iteration_trajectories(self, iteration: int) -> Path:
        return self.trajectories / f"iteration-{iteration:0{ITERATION_WIDTH}d}"

    def prune(self, keep_checkpoints: Iterable[int], keep_trajectories: Iterable[int]) -> None:
        """Delete checkpoints and iteration trajectory folders other than those of the given iterations."""
        keep = {self.checkpoint_prefix(i).name for i in keep_checkpoints}
        if self.checkpoints.exists():
            for path in self.checkpoints.iterdir():
                if path.name.startswith("iteration-") and path.name.split(".", 1)[0] not in keep:
                    path.unlink(missing_ok=True)
        keep = {self.iteration_trajectories(i).name for i in keep_trajectories}
        if self.trajectories.exists():
            for path in self.trajectories.iterdir():
                if path.name.startswith("iteration-") and path.name not in keep:
                    shutil.rmtree(path, ignore_errors=True)

    # ---- modules set aside ---------------------------------------------------------------------------
    def write_failed_modules(self, failed: Mapping[str, Mapping[str, Any]]) -> None:
        entries = [{"module": name, **details} for name, details in sorted(failed.items())]
        write_json_atomically(self.failed_modules, entries)


def _human_iteration(line: str) -> int | None:
    """The iteration number a train.log line starts with ("iteration N/M: ..."), if any."""
    if not line.startswith("iteration "):
        return None
    head = line[len("iteration "):].split(":", 1)[0].split("/", 1)[0]
    return int(head) if head.isdigit() else None

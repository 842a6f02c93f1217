"""A training run's folder: what is in it, and writing each part so that a kill never leaves it inconsistent.

    RUN_DIR/config.json          what the run is (problem, algorithm, corpus, compiler, gin text, seed, ...)
    RUN_DIR/log.jsonl            one JSON object per complete iteration
    RUN_DIR/train.log            the same, one human line per iteration
    RUN_DIR/state.json           the last complete iteration and what resuming needs (checkpoint, reward averages,
                                 failure counts, modules set aside), and that iteration's log record and line
    RUN_DIR/checkpoints/         `iteration-NNNNN.*`: tf.train.Checkpoint files of the learner
    RUN_DIR/policy/              the latest saved policy (from the first iteration on; replaced atomically by
                                 `save_policy`)
    RUN_DIR/failed_modules.json  modules set aside after failing too often, with their last error
    RUN_DIR/feature_spec.json    the features the run's policy reads
    RUN_DIR/vocab/               the vocabulary the run's policy normalizes with
    RUN_DIR/trajectories/        the recent iterations' trajectory shards (TFRecord)
    RUN_DIR/tensorboard/         tf.summary scalars

An iteration is complete once `state.json` names it: it is written (to a
temporary file, fsynced, renamed) after the iteration's checkpoint, policy
and log line. So after a kill, `state.json` is the last complete iteration,
and anything newer (a log line, a checkpoint, trajectory shards) belongs to
the iteration in flight and is dropped when the run resumes. A torn or
unreadable log line is reported when the run resumes (a warning naming
log.jsonl): the in-flight iteration's is dropped (that iteration is redone),
and the last complete iteration's record is restored from `state.json`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from compiler_opt.errors import MlgoError

ITERATION_WIDTH = 5
_LOG = logging.getLogger(__name__)


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
            raise RunFolderError(
                f"{self.root} already holds a training run; pass --resume to continue it, or choose another --output"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        for path in (self.log, self.human_log, self.state, self.failed_modules):
            path.unlink(missing_ok=True)
        write_json_atomically(self.config, dict(config))

    def read_config(self) -> dict:
        try:
            return json.loads(self.config.read_text())
        except (OSError, ValueError) as error:
            raise RunFolderError(
                f"cannot read the run's config {self.config}: {error}; is {self.root} a run "
                "folder written by `mlgo train`?"
            ) from error

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
        return self._read_log_lines()[0]

    def _read_log_lines(self) -> tuple[list[dict], list[int]]:
        """The records of log.jsonl, and the numbers of its lines that are not JSON objects (torn by a kill)."""
        if not self.log.exists():
            return [], []
        records, bad = [], []
        for number, line in enumerate(self.log.read_text(errors="replace").splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                records.append(record)
            else:
                bad.append(number)
        return records, bad

    def trim_logs(
        self, last_iteration: int, last_record: Mapping[str, Any] | None = None, last_line: str | None = None
    ) -> None:
        """Keep the logs of the complete iterations, up to `last_iteration`, and drop those of later ones (the one
        in flight at a kill). A torn line is reported; the record and human line of `last_iteration`, when its
        own are missing or torn, are restored from `last_record` and `last_line` (what state.json keeps)."""
        records, bad = self._read_log_lines()
        kept = [r for r in records if int(r.get("iteration", 0)) <= last_iteration]
        if bad:
            _LOG.warning(
                "%s: dropping line %s, torn or not JSON (a kill while it was written); the run goes on "
                "after iteration %d, the last complete one (%s)",
                self.log,
                ", ".join(map(str, bad)),
                last_iteration,
                self.state.name,
            )
        if last_iteration >= 1 and not any(int(r.get("iteration", 0)) == last_iteration for r in kept):
            if last_record is None:
                _LOG.warning(
                    "%s: the record of iteration %d (complete) is missing and state.json holds no copy; "
                    "that iteration's log record is lost",
                    self.log,
                    last_iteration,
                )
            else:
                _LOG.warning(
                    "%s: the record of iteration %d (complete) was missing; restored from %s",
                    self.log,
                    last_iteration,
                    self.state,
                )
                kept.append(dict(last_record))
        temporary = self.log.with_name(f".{self.log.name}.tmp")
        temporary.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(temporary, self.log)
        self._trim_human_log(last_iteration, last_line)

    def _trim_human_log(self, last_iteration: int, last_line: str | None) -> None:
        """Drop train.log's lines of iterations after `last_iteration`; restore that iteration's from `last_line`."""
        text = self.human_log.read_text(errors="replace") if self.human_log.exists() else ""
        lines = [
            line for line in text.splitlines() if (number := _human_iteration(line)) is None or number <= last_iteration
        ]
        if last_line is not None and not any(_human_iteration(line) == last_iteration for line in lines):
            lines.append(last_line)
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
    """The iteration number a train.log line starts with ("iteration N/M: ...", ES: "step N/M: ..."), if any."""
    word, _, rest = line.partition(" ")
    if word not in ("iteration", "step"):
        return None
    head = rest.split(":", 1)[0].split("/", 1)[0]
    return int(head) if head.isdigit() else None

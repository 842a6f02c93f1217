"""The training loop: drive a `Learner` iteration by iteration, save and log each, resumable after a kill.

Per iteration: the learner collects and updates (`compiler_opt.training.learner`),
then the loop writes the checkpoint, the saved policy (atomically; after the
first iteration, every `policy_every` iterations and after the last), one
log.jsonl record and train.log line, TensorBoard scalars, and last
`state.json`, which marks the iteration complete (`compiler_opt.training.run_folder`).
It stops after the configured iterations, or before an iteration that would
end past the time budget (estimated from this invocation's iterations, but
for a learner whose first iteration does other work than the rest, e.g.
imitation's first round over every training module, not from that one).

Before the first iteration (`compiler_opt.training.setup`) a run needs its
feature spec, a vocabulary (given, a warm-start policy's, the learner's, or
computed from default traces of training modules) and an actor (new, or a
warm-start policy's weights). `--resume` reads all that back from the run
folder, restores the learner from the last complete iteration's checkpoint
and goes on; the iteration in flight at the kill is redone.
"""

from __future__ import annotations

import datetime
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.pool.base import WorkerPool
from compiler_opt.progress import progress
from compiler_opt.tf_runtime import import_tensorflow
from compiler_opt.training.learner import IterationFigures, Learner
from compiler_opt.training.memory import PeakMemory, resident_bytes
from compiler_opt.training.run_folder import RunFolderError
from compiler_opt.training.setup import LoadGin, Run, RunRequest, open_run, prepare_policy


@dataclass
class TrainSummary:
    """How a training call ended: the run folder, the iterations complete, the last log record, the peak memory."""

    output: Path
    iterations: int
    stopped: str
    last: dict | None
    peak_rss_bytes: int
    records: list[dict] = field(default_factory=list)


def run_training(
    options: RunRequest, pool: WorkerPool, load_gin: LoadGin, make_learner: Callable[[Run], Learner]
) -> TrainSummary:
    """Run (or resume) the run `options` ask for with the learner `make_learner` makes (after gin is parsed, before
    anything is written), compile jobs on `pool`; see the module docstring."""
    return _Loop(options, pool).execute(load_gin, make_learner)


class _Loop:
    """One invocation: setup (fresh or resumed), the iterations, the bookkeeping between them."""

    def __init__(self, options: RunRequest, pool: WorkerPool) -> None:
        self.options = options
        self.pool = pool
        self.started = time.monotonic()
        self.memory = PeakMemory()
        self.records: list[dict] = []
        self.policy_iteration: int | None = None

    def execute(self, load_gin: LoadGin, make_learner: Callable[[Run], Learner]) -> TrainSummary:
        tf = import_tensorflow()
        self.memory.start()
        try:
            self.run = run = open_run(self.options, self.pool, load_gin)
            self.folder = run.folder
            learner = make_learner(run)
            state = run.folder.read_state() if self.options.resume else None
            tf.random.set_seed(run.seed)
            actor = prepare_policy(run, state)
            self.summaries = tf.summary.create_file_writer(str(run.folder.tensorboard))
            learner.prepare(run, state)
            if state is None:
                if run.vocab is None:
                    run.vocab = run.default_vocab()
                run.save_vocab()
                state = {"iteration": 0, "checkpoint": None}
                run.folder.write_state({**state, **learner.state()})
            learner.build(actor)
            done = self._restore(learner, state)
            return self._iterate(learner, done)
        finally:
            self.memory.stop()

    # ---- resuming --------------------------------------------------------------------------------------
    def _restore(self, learner: Learner, state: Mapping) -> int:
        """Restore `learner` from the state's checkpoint; drop what the iteration in flight left behind (and
        restore the last complete iteration's log record if a torn line lost it)."""
        done = int(state["iteration"])
        if done >= 1:
            self._read_checkpoint(learner, done, self.folder.root / state["checkpoint"])
        self.folder.trim_logs(done, state.get("record"), state.get("line"))
        self._prune(done)
        self.policy_iteration = None
        if done >= 1:
            self._save_policy(learner, done)
        self.records = self.folder.read_log()
        return done

    def _read_checkpoint(self, learner: Learner, done: int, prefix: Path) -> None:
        """Restore `learner` from the checkpoint at `prefix`; a missing or unreadable one is a RunFolderError."""
        import tensorflow as tf

        advice = (
            f"restore that checkpoint's files, or start a new run (another --output; --warmstart "
            f"{self.folder.policy} starts from the run's last saved policy)"
        )
        if not prefix.with_name(prefix.name + ".index").exists():
            raise RunFolderError(
                f"--resume: {self.folder.root} cannot go on: the checkpoint of iteration {done}, "
                f"the last complete one ({self.folder.state.name}), is missing ({prefix}.*); "
                f"{advice}"
            )
        try:
            learner.checkpoint().read(str(prefix)).expect_partial()
        except (tf.errors.OpError, ValueError, IndexError) as error:
            reason = (str(error).strip().splitlines() or [""])[0]
            raise RunFolderError(
                f"--resume: {self.folder.root} cannot go on: the checkpoint of iteration {done} "
                f"({prefix}.*) is unreadable ({type(error).__name__}: {reason}); {advice}"
            ) from error

    # ---- the iterations --------------------------------------------------------------------------------
    def _iterate(self, learner: Learner, done: int) -> TrainSummary:
        """Iterations after `done` until the configured iterations or the time budget end; a bar shows progress;
        the last complete iteration's policy is saved."""
        total = self.run.config.iterations
        durations: list[float] = []
        bar = progress(total=total, desc=f"train {self.options.algorithm}", unit=learner.unit)
        bar.update(min(done, total))
        stopped = "iterations"
        try:
            for iteration in range(done + 1, total + 1):
                if not self._budget_left(durations):
                    stopped = "time budget"
                    break
                began = time.monotonic()
                figures = learner.update(iteration, learner.collect(iteration))
                self._finish_iteration(learner, iteration, figures)
                if not (iteration == 1 and learner.first_iteration_apart):
                    durations.append(time.monotonic() - began)
                done = iteration
                bar.update(1)
        finally:
            bar.close()
        if done >= 1 and self.policy_iteration != done:  # the loop stopped between saves
            self._save_policy(learner, done)
        return TrainSummary(
            self.folder.root,
            done,
            stopped,
            self.records[-1] if self.records else None,
            self.memory.peak(),
            list(self.records),
        )

    def _budget_left(self, durations: list[float]) -> bool:
        if self.options.max_seconds is None:
            return True
        estimate = sum(durations) / len(durations) if durations else 0.0
        return time.monotonic() - self.started + estimate <= self.options.max_seconds

    def _finish_iteration(self, learner: Learner, iteration: int, figures: IterationFigures) -> None:
        """Checkpoint, policy (the first iteration's, then every `policy_every` iterations and the last), log line,
        TensorBoard, then the state that marks `iteration` complete (with the log record and line, should a torn
        log.jsonl lose them)."""
        import tensorflow as tf

        config, record = self.run.config, dict(figures.record)
        before = time.monotonic()
        self.folder.checkpoints.mkdir(parents=True, exist_ok=True)
        checkpoint = learner.checkpoint().write(str(self.folder.checkpoint_prefix(iteration)))
        if self.policy_iteration is None or iteration % config.policy_every == 0 or iteration == config.iterations:
            self._save_policy(learner, iteration)
        record["policy_saved"] = self.policy_iteration == iteration
        record["seconds_save"] = time.monotonic() - before
        record["train_step"] = learner.train_step
        record["peak_rss_bytes"] = self.memory.window_peak(reset=True)
        record["peak_rss_bytes_run"] = self.memory.peak()
        record["rss_bytes_trainer"] = resident_bytes([os.getpid()])
        record["elapsed"] = time.monotonic() - self.started
        record["time"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        line = figures.line + f", peak {record['peak_rss_bytes'] / 2**30:.2f} GiB"
        self.folder.append_log(record, line)
        with self.summaries.as_default():
            for name, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    tf.summary.scalar(name, value, step=iteration)
        self.summaries.flush()
        relative = str(Path(checkpoint).relative_to(self.folder.root))
        self.folder.write_state(
            {**learner.state(), "iteration": iteration, "checkpoint": relative, "record": record, "line": line}
        )
        self._prune(iteration)
        self.records.append(record)
        progress_write(line)

    # ---- the saved policy and old files ----------------------------------------------------------------
    def _save_policy(self, learner: Learner, iteration: int) -> None:
        from compiler_opt.policy.saved import save_policy

        run = self.run
        assert run.vocab is not None
        save_policy(self.folder.policy, learner.actor, run.spec, run.vocab, run.network)
        self.policy_iteration = iteration

    def _prune(self, done: int) -> None:
        config = self.run.config
        self.folder.prune(
            range(done - config.keep_checkpoints + 1, done + 1),
            range(done - config.keep_trajectory_iterations + 1, done + 1),
        )


def progress_write(line: str) -> None:
    """Print a line to stdout without breaking a progress bar on stderr."""
    from tqdm import tqdm

    tqdm.write(line)

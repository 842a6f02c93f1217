"""The `Learner` protocol: what the training loop asks of a learning algorithm (PPO, BC, ES, ...).

The loop (`compiler_opt.training.loop`) owns the run folder, resuming, the
time budget, checkpoints, the saved policy, the logs and progress; a learner
owns what it collects and how it learns from it:

    learner.prepare(run, state)      once: a new run's one-off collection (BC: its labels), or its state read back
    learner.build(actor)             make the model (from a warm-start actor's weights when given)
    collected = learner.collect(i)   what to collect for iteration i, collected on the run's pool
    figures = learner.update(i, collected)   learn from it; the iteration's log record and line
    learner.state()                  its JSON state for state.json (the tensors are in `checkpoint()`)

A learner that explores and then learns from the best of what it found
(imitation) collects its exploration rollouts in `collect` and clones in
`update`; one that collects once (BC) does it in `prepare` and collects
nothing per iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from compiler_opt.training.setup import Run


@dataclass(frozen=True)
class IterationFigures:
    """What an iteration gives the log: its record (log.jsonl, TensorBoard) and its human line (train.log)."""

    record: dict
    line: str


def fmt(value: float | None, spec: str) -> str:
    """A figure for an iteration's line: `value` formatted by `spec`, or "-" when there is none."""
    return "-" if value is None else format(value, spec)


class Learner(Protocol):
    """A learning algorithm the training loop drives (see the module docstring)."""

    # What one iteration is called on the progress bar ("iteration", "step", "epoch").
    unit: str
    # Whether iteration 1 does other work than the rest (the budget's estimate of an iteration leaves it out).
    first_iteration_apart: bool

    def prepare(self, run: Run, state: Mapping | None) -> None:
        """Before the loop: with `state` None (a run's first start), whatever the learner collects once, and the
        run's vocabulary if it can tell one (the loop computes one from default traces otherwise); else read its
        part of `state` back."""

    def build(self, actor: Any | None) -> None:
        """Make the model from the run's spec, vocabulary and network settings (`actor`'s weights when given)."""

    def collect(self, iteration: int) -> Any:
        """What iteration `iteration` learns from, collected (on the run's pool)."""

    def update(self, iteration: int, collected: Any) -> IterationFigures:
        """Learn from what `collect` gave; the iteration's figures."""

    def state(self) -> dict:
        """The learner's JSON state for state.json (what resuming needs besides the checkpoint)."""

    def checkpoint(self) -> Any:
        """A `tf.train.Checkpoint` of everything learning changes."""

    @property
    def actor(self) -> Any:
        """The actor network holding the current policy (what the saved policy is made of)."""

    @property
    def train_step(self) -> int:
        """How many training steps the learner has taken."""


class ModelDelegate:
    """A learner's `checkpoint`, `actor` and `train_step` when one model object holds them all (PPO's agent, BC's
    and ES's learners: `checkpoint()`, `actor` and a `step` variable); the learner gives `_model()`."""

    first_iteration_apart = False

    def _model(self) -> Any:
        raise NotImplementedError

    def checkpoint(self) -> Any:
        return self._model().checkpoint()

    @property
    def actor(self) -> Any:
        return self._model().actor

    @property
    def train_step(self) -> int:
        return int(self._model().step.numpy())

"""Imitation learning's settings and the weights it clones with.

Imitation (`compiler_opt.rl.imitation_training`) alternates exploration
around the current policy, which keeps per module the best decision sequence
found (`compiler_opt.collect.best_store`), and behavioral cloning of those
best sequences. Cloning weighs each step (`step_weights`):

- a module's steps weigh `1 + saving_weight * saving`, where `saving` is
  how much smaller than the compiler's heuristic its best trajectory is
  (a fraction, 0 when it is no smaller): sequences that saved more teach more;
- a decision the exploration flipped, and that saved over its sibling
  without the flip (the store keeps only improving flips), weighs
  `1 + flip_weight` times more: the size difference between the two
  compiles is that one decision's doing, so it gets the credit.

Hyper-parameters: `imitation_config` (gin, `imitation.imitation_config.<name>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gin
import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.rl.bc import BCConfig

DEFAULT_REFERENCES = ("default", "rule")


@dataclass(frozen=True)
class ImitationConfig:
    """How imitation explores and clones.

    - `flips`, `depth`: per module and round, the least-certain decisions tried and how often an improving
      flip becomes the base (`compiler_opt.collect.explore`); the first round of a run without a warm start
      does not flip (an untrained policy's doubts teach nothing);
    - `references`: built-in policies of the problem whose compiles are candidates in the first round (those
      the problem lacks are skipped), so the store starts at least as good as they are;
    - `first_round_modules`: training modules of the first round (None: all of them); later rounds explore
      `trainer_config.modules_per_iteration`;
    - `epochs`: cloning passes over the store's best trajectories per round; `first_epochs` in the first
      round, whose policy starts untrained (or from a warm start) and must first learn the store's decisions;
      at least `min_batches` batches either way (a small store's epoch is a few batches);
    - `saving_weight`, `flip_weight`: see the module docstring;
    - `store`: the best-trajectory store's folder (None: inside the run folder; a shared folder lets runs
      start from what earlier runs found);
    - `bc`: the cloning's learning rate, batch shape and L2 (`compiler_opt.rl.bc.BCConfig`).
    """

    flips: int = 2
    depth: int = 2
    references: tuple[str, ...] = DEFAULT_REFERENCES
    first_round_modules: int | None = None
    epochs: int = 5
    first_epochs: int = 30
    min_batches: int = 300
    saving_weight: float = 10.0
    flip_weight: float = 2.0
    store: str | None = None
    bc: BCConfig = BCConfig()

    def __post_init__(self) -> None:
        for name in ("flips", "depth"):
            if getattr(self, name) < 0:
                raise MlgoError(f"imitation_config.{name} must not be negative, got {getattr(self, name)}")
        for name in ("epochs", "first_epochs", "min_batches"):
            if getattr(self, name) < 1:
                raise MlgoError(f"imitation_config.{name} must be at least 1, got {getattr(self, name)}")
        if self.first_round_modules is not None and self.first_round_modules < 1:
            raise MlgoError(f"imitation_config.first_round_modules must be at least 1, got {self.first_round_modules}")
        if self.saving_weight < 0 or self.flip_weight < 0:
            raise MlgoError("imitation_config.saving_weight and flip_weight must not be negative")


@gin.configurable(module="imitation")
def imitation_config(
    flips: int = 2,
    depth: int = 2,
    references: Sequence[str] = DEFAULT_REFERENCES,
    first_round_modules: int | None = None,
    epochs: int = 5,
    first_epochs: int = 30,
    min_batches: int = 300,
    saving_weight: float = 10.0,
    flip_weight: float = 2.0,
    store: str | None = None,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    sequence_length: int = 16,
    l2: float = 0.0,
) -> ImitationConfig:
    """Imitation's settings from gin bindings (`imitation.imitation_config.flips = 3`)."""
    return ImitationConfig(
        int(flips),
        int(depth),
        tuple(str(name) for name in references),
        None if first_round_modules is None else int(first_round_modules),
        int(epochs),
        int(first_epochs),
        int(min_batches),
        float(saving_weight),
        float(flip_weight),
        None if store is None else str(store),
        BCConfig(float(learning_rate), int(batch_size), int(sequence_length), float(l2)),
    )


def step_weights(
    steps: int, value: float, baseline: float, flips: Sequence[int], config: ImitationConfig
) -> np.ndarray:
    """The cloning weight of each of a best trajectory's `steps` (see the module docstring)."""
    saving = max(0.0, 1.0 - value / baseline) if baseline > 0 else 0.0
    weights = np.full(steps, 1.0 + config.saving_weight * saving, np.float32)
    flipped = [step for step in flips if 0 <= step < steps]
    weights[flipped] *= 1.0 + config.flip_weight
    return weights

"""The reward of one compile: relative size against the compiler's heuristic, minus a per-module moving average.

For a module compiled under the policy (score `p`, e.g. its text bytes) whose
baseline (the default heuristic's score, `BaselineCache`) is `b`:

    raw reward   r = 1 - (p + d) / (b + d)
    reward       r - m_module        (m_module: moving average of that module's past raw rewards)

and every decision of the module's trajectory gets the module's reward
(MLGO's setting: one reward per module, no discounting; the PPO agent runs
with discount 0, so each step's return is that reward).

Why this form:
- relative, not absolute bytes: modules range from a few hundred bytes to
  hundreds of kilobytes; a relative figure weighs a 1% gain on a small module
  like a 1% gain on a large one, so a few large modules do not drown the
  signal. `r` is 0 when the policy ties the heuristic, positive when it is
  smaller (MLGO's sign: higher is better).
- `d` (a few bytes) keeps the ratio finite for modules whose text is empty and
  damps the noise of tiny modules, where one instruction is several percent.
- the moving average is a per-module baseline in the policy-gradient sense:
  what matters for a module is whether this compile did better or worse than
  the policy usually does on it, not whether the module happens to be one
  where any policy beats `-Oz` (an always-positive reward would push up every
  action of that module alike). It starts at 0 (the heuristic's own reward),
  so the first visit of a module is judged against `-Oz`; after each visit it
  moves toward the new raw reward by `1 - decay`. MLGO keeps the same kind of
  per-module moving average (of sizes, initialized to the `-Oz` size).

Per function (`trainer_config.reward_per_function`, the regalloc problems'
choice): when the score has per-function figures (regalloc costs from the
remarks), each decision gets the reward of the function it was made in,
`1 - (p_f + d) / (b_f + d)` minus that function's own moving average. An
eviction choice only changes its own function's spills and copies, so the
reward of the other functions of the module would be noise for it; MLGO's
regalloc training scores per function too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_DELTA = 10.0
DEFAULT_DECAY = 0.8


def relative_reward(policy: float, baseline: float, delta: float = DEFAULT_DELTA) -> float:
    """`1 - (policy + delta) / (baseline + delta)`: positive when the policy's score is lower (better)."""
    if baseline + delta <= 0:
        raise ValueError(f"baseline {baseline} plus delta {delta} must be positive")
    if not (math.isfinite(policy) and math.isfinite(baseline)):
        raise ValueError(f"scores must be finite (policy {policy}, baseline {baseline})")
    return 1.0 - (policy + delta) / (baseline + delta)


@dataclass(frozen=True)
class ModuleReward:
    """One compile's reward: the raw relative reward, the moving average it was judged against, and the result."""

    raw: float
    average: float

    @property
    def value(self) -> float:
        """What every step of the module's trajectory gets."""
        return self.raw - self.average


class RewardTracker:
    """Per-module moving averages of raw rewards, and the rewards they give (state saved with checkpoints)."""

    def __init__(
        self, delta: float = DEFAULT_DELTA, decay: float = DEFAULT_DECAY, averages: Mapping[str, float] | None = None
    ) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"the moving-average decay must be in [0, 1), got {decay}")
        self.delta = float(delta)
        self.decay = float(decay)
        self.averages: dict[str, float] = dict(averages or {})

    def reward(self, module: str, policy: float, baseline: float) -> ModuleReward:
        """The reward of `module`'s compile scored `policy` against `baseline`; then updates its average."""
        raw = relative_reward(policy, baseline, self.delta)
        average = self.averages.get(module, 0.0)
        self.averages[module] = self.decay * average + (1.0 - self.decay) * raw
        return ModuleReward(raw, average)

    def step_rewards(
        self,
        module: str,
        functions: Sequence[str],
        step_function: np.ndarray,
        policy: Mapping[str, float],
        baseline: Mapping[str, float],
    ) -> np.ndarray:
        """Per step, the reward of the function it was decided in (its own moving average, keyed `module:fn`).

        A function absent from a score's per-function figures scores 0 there
        (regalloc remarks list only functions with a cost).
        """
        per_function = np.array(
            [
                self.reward(f"{module}:{name}", policy.get(name, 0.0), baseline.get(name, 0.0)).value
                for name in functions
            ],
            np.float32,
        )
        return per_function[step_function] if len(step_function) else np.zeros(0, np.float32)

    def to_json(self) -> dict:
        return {"delta": self.delta, "decay": self.decay, "averages": dict(self.averages)}

    @classmethod
    def from_json(cls, data: Mapping) -> RewardTracker:
        return cls(float(data["delta"]), float(data["decay"]), {str(k): float(v) for k, v in data["averages"].items()})

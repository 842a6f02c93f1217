"""The training loop's own settings (gin: `train.trainer_config.<name>`), kept apart from the learners'."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import gin

from compiler_opt.collect.scoring import REWARD_SIZES
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.source_language import LANGUAGES


@dataclass(frozen=True)
class TrainerConfig:
    """How many iterations of how many modules, and how collection treats slow and failing modules.

    - `iterations`: PPO iterations, or BC epochs over the labels;
    - `modules_per_iteration`: PPO modules compiled per iteration (a seeded, size-stratified sample);
    - `compile_timeout`: wall seconds one compile may take;
    - `deadline_*`: once `deadline_quorum` of an iteration's jobs are in, the rest get the larger of
      `deadline_grace_seconds` and `deadline_median_factor` x the median job time, then are cancelled;
    - `max_failures`: a module that fails this many times is set aside (failed_modules.json);
    - `keep_trajectory_iterations`, `keep_checkpoints`: how many recent iterations keep their files;
    - `policy_every`: save the policy folder after the first iteration, then every this many iterations
      and after the last one; a checkpoint is written every iteration regardless;
    - `vocab_modules`: modules traced for the vocabulary when a run has none;
    - `reward_delta`, `reward_decay`, `reward_per_function`: see `compiler_opt.collect.reward` (per function:
      each PPO step gets its function's reward, where the score has per-function figures);
    - `reward_size`: how PPO and ES value a compile: "object" (the problem's per-object measurement) or
      "linked" (its library's linked `.text`, for a corpus that records its libraries; see
      `compiler_opt.collect.linked_size`);
    - `label_modules`: BC labels this many training modules (None: all); `holdout_fraction` of them
      (by name) are kept out of training to measure agreement with the labels;
    - `label_policy`: the built-in policy whose decisions BC clones: "default" (the compiler's own
      heuristic) or another of the problem's (the inliner's hand rule, `rule`, with its parameters);
    - `languages`: train on the training split's modules of these languages only (`c`, `c++`, `other`;
      empty: all), for one member of a policy per language (`compiler_opt.policy.by_language`); the split
      itself is the whole corpus's, so validation stays the same libraries.
    """

    iterations: int = 100
    modules_per_iteration: int = 64
    compile_timeout: float = 300.0
    deadline_quorum: float = 0.9
    deadline_grace_seconds: float | None = 30.0
    deadline_median_factor: float | None = None
    max_failures: int = 2
    keep_trajectory_iterations: int = 1
    keep_checkpoints: int = 2
    policy_every: int = 1
    vocab_modules: int = 200
    reward_delta: float = 10.0
    reward_decay: float = 0.8
    reward_per_function: bool = False
    label_modules: int | None = None
    holdout_fraction: float = 0.1
    reward_size: str = "object"
    label_policy: str = "default"
    languages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (
            "iterations",
            "modules_per_iteration",
            "max_failures",
            "keep_checkpoints",
            "policy_every",
            "vocab_modules",
        ):
            if getattr(self, name) < 1:
                raise MlgoError(f"trainer_config.{name} must be at least 1, got {getattr(self, name)}")
        if self.keep_trajectory_iterations < 0:
            raise MlgoError("trainer_config.keep_trajectory_iterations must not be negative")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise MlgoError(f"trainer_config.holdout_fraction must be in [0, 1), got {self.holdout_fraction}")
        if self.compile_timeout <= 0:
            raise MlgoError(f"trainer_config.compile_timeout must be positive, got {self.compile_timeout}")
        if self.reward_size not in REWARD_SIZES:
            raise MlgoError(
                f"trainer_config.reward_size must be one of {', '.join(map(repr, REWARD_SIZES))}, "
                f"got {self.reward_size!r}"
            )
        unknown = sorted(set(self.languages) - set(LANGUAGES))
        if unknown:
            raise MlgoError(
                f"trainer_config.languages: {', '.join(map(repr, unknown))} is not a language; "
                f"use {', '.join(map(repr, LANGUAGES))}"
            )

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def with_overrides(self, **values) -> TrainerConfig:
        """A copy with the given fields replaced (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in values.items() if v is not None})


@gin.configurable(module="train")
def trainer_config(
    iterations: int = 100,
    modules_per_iteration: int = 64,
    compile_timeout: float = 300.0,
    deadline_quorum: float = 0.9,
    deadline_grace_seconds: float | None = 30.0,
    deadline_median_factor: float | None = None,
    max_failures: int = 2,
    keep_trajectory_iterations: int = 1,
    keep_checkpoints: int = 2,
    policy_every: int = 1,
    vocab_modules: int = 200,
    reward_delta: float = 10.0,
    reward_decay: float = 0.8,
    reward_per_function: bool = False,
    label_modules: int | None = None,
    holdout_fraction: float = 0.1,
    reward_size: str = "object",
    label_policy: str = "default",
    languages: tuple[str, ...] | list[str] = (),
) -> TrainerConfig:
    """The loop's settings from gin bindings (`train.trainer_config.iterations = 50`)."""
    return TrainerConfig(
        int(iterations),
        int(modules_per_iteration),
        float(compile_timeout),
        float(deadline_quorum),
        None if deadline_grace_seconds is None else float(deadline_grace_seconds),
        None if deadline_median_factor is None else float(deadline_median_factor),
        int(max_failures),
        int(keep_trajectory_iterations),
        int(keep_checkpoints),
        int(policy_every),
        int(vocab_modules),
        float(reward_delta),
        float(reward_decay),
        bool(reward_per_function),
        None if label_modules is None else int(label_modules),
        float(holdout_fraction),
        str(reward_size),
        str(label_policy),
        tuple(str(language) for language in languages),
    )

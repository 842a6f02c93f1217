"""What a demo is asked for (`DemoOptions`), its stages and budget shares, and its `stages.json` (`DemoState`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.collect.scoring import REWARD_SIZES
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.source_language import LANGUAGES
from compiler_opt.llvm.toolchain import Toolchain

PROBLEM = "inlining"
STAGES = ("corpus", "warmstart", "train", "select", "eval", "reference", "export", "report")
# What starts the policy (from nothing) and what trains it further from there ("none": nothing).
# The training algorithm of each warm start, and the built-in policy BC clones (absent: clang's own decisions).
# `pretrained` trains nothing first: the packaged `PRETRAINED_WARMSTART` (the rule's clone, clang 19) is the warm start.
WARMSTART_ALGORITHM = {"imitation": "imitation", "bc": "bc", "bc-rule": "bc"}
WARMSTART_TEACHER = {"bc-rule": "rule"}
PRETRAINED = "pretrained"
PRETRAINED_WARMSTART = "pretrained:inlining-oz"
WARMSTARTS = (*WARMSTART_ALGORITHM, PRETRAINED)
ALGORITHMS = ("es", "imitation", "ppo", "none")
SELECTION_MODULES = 64
STATE_FILE = "stages.json"
# The warm start's share of the training budget; the training stage gets what is left, never less than its floor.
WARMSTART_SHARE = 0.5
# Imitation's first round compiles this many training modules with the references (a seeded, size-stratified
# sample), so that it fits the budget on the full sample corpus; later rounds explore trainer_config's count.
FIRST_ROUND_MODULES = 400
TRAIN_FLOOR_SHARE = 0.25
# Imitation for a policy per language: the looser rule as a third reference, and a first round over every training
# module of those languages (its deadline stops it within the budget); benchmarks/README.md, "A policy per language".
LANGUAGE_REFERENCES = ("default", "rule", "rule:callee_users=2,margin=120")

SampleCorpusBuilder = Callable[[Toolchain, str], Path]
"""Builds (or finds cached) the sample corpus of a size (`DemoOptions.corpus_size`) with a toolchain; returns its
folder. The command line passes one (`corpus_tools` builds it); the library never imports the tools."""


@dataclass(frozen=True)
class DemoOptions:
    """What `mlgo demo` was asked for.

    `languages`: train for these source languages only and ship a policy per language
    (`compiler_opt.policy.by_language`), the others keeping the compiler's own heuristic; empty: one policy for
    every language.
    """

    output: Path
    budget_minutes: float = 30.0
    corpus: Path | None = None
    corpus_size: str = "full"
    validation_fraction: float = 0.2
    workers: int | None = None
    seed: int = 0
    clang: str | None = None
    verify: int = 200
    aot: bool = True
    max_eval_modules: int | None = None
    modules_per_iteration: int | None = None
    warmstart: str = "bc-rule"
    algorithm: str = "es"
    reward_size: str = "linked"
    languages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.warmstart not in WARMSTARTS:
            raise MlgoError(f"the demo's warm start is one of {', '.join(WARMSTARTS)}, not {self.warmstart!r}")
        if self.reward_size not in REWARD_SIZES:
            raise MlgoError(f"the demo's reward size is one of {', '.join(REWARD_SIZES)}, not {self.reward_size!r}")
        if self.algorithm not in ALGORITHMS:
            raise MlgoError(f"the demo's training algorithm is one of {', '.join(ALGORITHMS)}, not {self.algorithm!r}")
        unknown = sorted(set(self.languages) - set(LANGUAGES))
        if unknown:
            raise MlgoError(f"the demo's languages are among {', '.join(LANGUAGES)}, not {', '.join(unknown)}")
        if WARMSTART_ALGORITHM.get(self.warmstart) == self.algorithm:
            raise MlgoError(
                f"the demo's warm start ({self.warmstart}) and its training stage ({self.algorithm}) are the same "
                "algorithm; give another --warmstart-algorithm or --algorithm"
            )

    def settings(self) -> dict:
        """What must not change when a demo folder is resumed."""
        return {
            "budget_minutes": self.budget_minutes,
            "seed": self.seed,
            "warmstart": self.warmstart,
            "algorithm": self.algorithm,
            "reward_size": self.reward_size,
            **({"languages": list(self.languages)} if self.languages else {}),
            "validation_fraction": self.validation_fraction,
            "corpus": str(self.corpus) if self.corpus else f"sample:{self.corpus_size}",
        }


class DemoState:
    """`stages.json`: what each finished stage produced (its figures), written after each stage."""

    def __init__(self, output: Path, options: DemoOptions) -> None:
        self.path = output / STATE_FILE
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {}
        settings = options.settings()
        if self.data.get("settings") not in (None, settings):
            raise MlgoError(
                f"{output} holds a demo run with other settings ({self.data['settings']}); "
                f"name another --output, or delete {self.path} to start over"
            )
        self.data["settings"] = settings
        self.data.setdefault("stages", {})

    def done(self, stage: str) -> dict | None:
        return self.data["stages"].get(stage)

    def finish(self, stage: str, figures: dict) -> None:
        self.data["stages"][stage] = figures
        staging = self.path.with_suffix(".tmp")
        staging.write_text(json.dumps(self.data, indent=1) + "\n")
        staging.replace(self.path)

"""Training a policy: the algorithms there are, and `train`, which runs the chosen one's learner in the loop.

    options = TrainOptions(problem="inlining", algorithm="ppo", corpus=..., output=RUN_DIR)
    with make_pool("local", workers=2) as pool:
        summary = train(options, pool)

The loop (run folder, resume, budget, saved policy, logs) is
`compiler_opt.training`; each algorithm is a `Learner` (`compiler_opt.rl.ppo_training`,
`compiler_opt.rl.bc_training`, `compiler_opt.rl.imitation_training`,
`compiler_opt.es.training`), registered in
`ALGORITHMS` with its gin settings. Importing this module imports no learner
(the command line lists the algorithms without loading TensorFlow).

Configuration: gin (`compiler_opt/problems/gin/<problem>/<algorithm>.gin`,
then the user's files and bindings), stored as text in config.json so a
resumed run uses exactly what it started with; the command line's explicit
values (iterations, modules per iteration) override gin.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler_opt.errors import MlgoError

if TYPE_CHECKING:
    from compiler_opt.pool.base import WorkerPool
    from compiler_opt.training.loop import TrainSummary
    from compiler_opt.training.setup import Run


@dataclass(frozen=True)
class Algorithm:
    """A learner the loop can drive: `learner` ("module:Class", made from the run and the settings) and its
    settings (`config`, "module:function", read from gin)."""

    learner: str
    config: str


ALGORITHMS = {
    "ppo": Algorithm("compiler_opt.rl.ppo_training:PPOTraining", "compiler_opt.rl.ppo:ppo_config"),
    "bc": Algorithm("compiler_opt.rl.bc_training:BCTraining", "compiler_opt.rl.bc:bc_config"),
    "es": Algorithm("compiler_opt.es.training:ESTraining", "compiler_opt.es.config:es_config"),
    "imitation": Algorithm(
        "compiler_opt.rl.imitation_training:ImitationTraining", "compiler_opt.rl.imitation:imitation_config"
    ),
}
# The modules whose gin configurables a run's files may bind (imported before parsing), and those configurables,
# whose bindings' values are checked against the parameters' types.
GIN_MODULES = (
    "compiler_opt.collect.trajectory_dataset",
    "compiler_opt.es.config",
    "compiler_opt.policy.networks",
    "compiler_opt.problems.measurements",
    "compiler_opt.rl.bc",
    "compiler_opt.rl.imitation",
    "compiler_opt.rl.ppo",
    "compiler_opt.training.config",
)
GIN_CONFIGURABLES = (
    "train.trainer_config",
    "ppo.ppo_config",
    "bc.bc_config",
    "es.es_config",
    "imitation.imitation_config",
    "policy.network_config",
    "policy.value_network",
    "regalloc.cost_weights",
    "trajectory_dataset",
)


@dataclass(frozen=True)
class TrainOptions:
    """What `mlgo train` was asked for (paths and explicit overrides; everything else comes from gin).

    `iterations`, `modules_per_iteration` and `max_modules` (BC: how many training modules to label)
    override gin's `trainer_config` when given. `max_seconds` stops before an iteration that would end past
    the budget (estimated from this invocation's iterations). `baseline_cache` defaults to the per-user
    shared folder. `profiles`: every compile of the run (training and validation modules, their baselines)
    uses the corpus's measured profiles (`compiler_opt.corpus.profiles`); a resumed run must ask as it started.
    """

    problem: str
    algorithm: str
    corpus: Path
    output: Path
    clang: str | None = None
    warmstart: Path | None = None
    vocab: Path | None = None
    iterations: int | None = None
    modules_per_iteration: int | None = None
    max_modules: int | None = None
    seed: int = 0
    validation_fraction: float = 0.2
    resume: bool = False
    max_seconds: float | None = None
    gin_files: tuple[Path, ...] = ()
    gin_bindings: tuple[str, ...] = ()
    baseline_cache: Path | None = None
    profiles: bool = False


def _attribute(path: str) -> Any:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _load_gin(files: Sequence[Path], bindings: Sequence[str], text: str | None = None) -> str:
    """Reset gin, parse the configuration (files and bindings, or saved text); the operative text to store."""
    from compiler_opt.training.gin_config import load_gin

    for module in GIN_MODULES:
        importlib.import_module(module)
    return load_gin(files, bindings, text, GIN_CONFIGURABLES)


def _learner_config(algorithm: str) -> Any:
    """The algorithm's learner settings from the parsed gin configuration (validated by their dataclass)."""
    return _attribute(ALGORITHMS[algorithm].config)()


def train(options: TrainOptions, pool: WorkerPool) -> TrainSummary:
    """Run (or resume) training as `options` say, with compile jobs on `pool`."""
    from compiler_opt.training.loop import run_training

    if options.algorithm not in ALGORITHMS:
        raise MlgoError(f"unknown algorithm {options.algorithm!r}; choose one of: {', '.join(ALGORITHMS)}")
    algorithm = ALGORITHMS[options.algorithm]

    def make_learner(run: Run) -> Any:
        # The learner's gin settings are read (and checked) now, before the run folder is written.
        return _attribute(algorithm.learner)(run, _learner_config(options.algorithm))

    return run_training(options, pool, _load_gin, make_learner)

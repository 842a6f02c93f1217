"""Evolution strategies' hyper-parameters (gin: `es.es_config.<name>`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import gin

from compiler_opt.errors import MlgoError
from compiler_opt.es.blackbox import OPTIMIZERS

FITNESSES = ("modules", "programs")


@dataclass(frozen=True)
class ESConfig:
    """One ES step: `perturbations` antithetic pairs, each side compiled on the same `modules_per_perturbation`
    modules (a seeded sample per step), so pairs differ only by their direction.

    - `noise_scale`: sigma, the perturbation's standard deviation in parameter space;
    - `step_size`: the optimizer's learning rate; `optimizer`: `adam` or `sgd` (with `momentum`); `l2`:
      weight decay toward 0;
    - `rank_shaping`: weigh directions by centered ranks of the scores instead of their raw differences;
    - `top_k`: use only the k pairs whose better side scored best (None: all);
    - `evaluate_center`: also compile the step's modules under the unperturbed policy, for the log's
      `total_ratio` and reward of the current policy (not used by the update);
    - `fitness`: what scores a side: `modules` (each sampled module's size or cost against its baseline) or
      `programs` (the corpus's programs built from their library compiled under the side and run under
      callgrind: `1 - instructions / default instructions`, `compiler_opt.es.program_fitness`);
      `fitness_programs`: the programs by name (empty: every training program; never a held-out one).
    """

    perturbations: int = 8
    modules_per_perturbation: int = 8
    noise_scale: float = 0.02
    step_size: float = 0.01
    optimizer: str = "adam"
    momentum: float = 0.9
    l2: float = 0.0
    rank_shaping: bool = True
    top_k: int | None = None
    evaluate_center: bool = True
    fitness: str = "modules"
    fitness_programs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("perturbations", "modules_per_perturbation"):
            if getattr(self, name) < 1:
                raise MlgoError(f"es_config.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("noise_scale", "step_size"):
            if getattr(self, name) <= 0:
                raise MlgoError(f"es_config.{name} must be positive, got {getattr(self, name)}")
        if self.optimizer not in OPTIMIZERS:
            raise MlgoError(f"es_config.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.top_k is not None and not 1 <= self.top_k <= self.perturbations:
            raise MlgoError(
                f"es_config.top_k must be between 1 and perturbations ({self.perturbations}), got {self.top_k}"
            )
        if self.fitness not in FITNESSES:
            raise MlgoError(f"es_config.fitness must be one of {', '.join(FITNESSES)}, got {self.fitness!r}")
        if self.fitness_programs and self.fitness != "programs":
            raise MlgoError("es_config.fitness_programs names programs, which only es_config.fitness = 'programs' runs")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@gin.configurable(module="es")
def es_config(
    perturbations: int = 8,
    modules_per_perturbation: int = 8,
    noise_scale: float = 0.02,
    step_size: float = 0.01,
    optimizer: str = "adam",
    momentum: float = 0.9,
    l2: float = 0.0,
    rank_shaping: bool = True,
    top_k: int | None = None,
    evaluate_center: bool = True,
    fitness: str = "modules",
    fitness_programs: Sequence[str] = (),
) -> ESConfig:
    """The ES settings from gin bindings (`es.es_config.noise_scale = 0.05`)."""
    return ESConfig(
        int(perturbations),
        int(modules_per_perturbation),
        float(noise_scale),
        float(step_size),
        str(optimizer),
        float(momentum),
        float(l2),
        bool(rank_shaping),
        None if top_k is None else int(top_k),
        bool(evaluate_center),
        str(fitness),
        tuple(str(name) for name in fitness_programs),
    )

"""How a compile is scored: object size, or register-allocation cost from remarks.

A measurement adds the options its compile needs (a remarks file) and turns
the compile's outputs into named figures plus one `score` (lower is better).
`rescore` weighs a score's figures again as the driver's gin configuration
says (the workers that measure do not read gin): the regalloc cost's four
terms are weighted by `regalloc.cost_weights` (all 1 by default: the
remarks' costs are already weighted by block frequency).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import gin

from compiler_opt.llvm import measure

if TYPE_CHECKING:
    from compiler_opt.llvm.toolchain import Toolchain


@dataclass(frozen=True)
class Score:
    """The figures of one compile: `value` is what the problem minimizes."""

    value: float
    figures: Mapping[str, float]
    per_function: Mapping[str, float] = field(default_factory=dict)


class Measurement:
    """Base: what a compile must also write, and how its result is scored."""

    key = "measurement"  # short machine name, as evaluation reports write it
    name = "measurement"
    unit = ""

    def compile_options(self, workdir: Path, cc1: bool) -> list[str]:
        return []

    def measure(self, toolchain: Toolchain, object_path: Path, workdir: Path) -> Score:
        raise NotImplementedError

    def rescore(self, score: Score) -> Score:
        """`score` as the driver's configuration weighs it (unchanged unless the measurement has weights)."""
        return score


class TextSize(Measurement):
    """Code size: the Berkeley `text` figure of the object (what MLGO's size reward uses)."""

    key = "text_size"
    name = "text size"
    unit = "bytes"

    def measure(self, toolchain: Toolchain, object_path: Path, workdir: Path) -> Score:
        size = measure.object_size(toolchain, object_path)
        return Score(float(size.text), {"text": size.text, "text_section": size.text_section})


COST_TERMS = ("spills_cost", "reloads_cost", "folded_reloads_cost", "copies_cost")


@gin.configurable(module="regalloc")
def cost_weights(
    spills_cost: float = 1.0, reloads_cost: float = 1.0, folded_reloads_cost: float = 1.0, copies_cost: float = 1.0
) -> dict[str, float]:
    """The weights of the remarks' four frequency-weighted cost terms (`regalloc.cost_weights.<term> = w`)."""
    return {
        "spills_cost": float(spills_cost),
        "reloads_cost": float(reloads_cost),
        "folded_reloads_cost": float(folded_reloads_cost),
        "copies_cost": float(copies_cost),
    }


class RegallocCostMeasurement(Measurement):
    """Frequency-weighted spill, reload and copy cost from the allocator's remarks.

    `cost` (the score) is `TotalSpillsCost + TotalReloadsCost +
    TotalFoldedReloadsCost + TotalCopiesCost` summed over the module's
    functions, each term times its weight; the figures keep the four terms,
    so `rescore` can weigh them again, and the counts; `per_function` has
    each function's cost with this measurement's weights.
    """

    key = "regalloc_cost"
    name = "weighted regalloc cost"
    unit = "cost"

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = dict(weights or {})

    def compile_options(self, workdir: Path, cc1: bool) -> list[str]:
        return measure.remark_options(workdir / "regalloc-remarks.yaml", cc1)

    def measure(self, toolchain: Toolchain, object_path: Path, workdir: Path) -> Score:
        costs = measure.read_regalloc_remarks(workdir / "regalloc-remarks.yaml")
        total = sum(costs.values(), measure.RegallocCost())
        size = measure.object_size(toolchain, object_path)
        figures = {
            "cost": total.weighted(self.weights),
            "spills": total.spills,
            "reloads": total.reloads + total.folded_reloads,
            "copies": total.copies,
            **{term: getattr(total, term) for term in COST_TERMS},
            "text": size.text,
        }
        per_function = {name: cost.weighted(self.weights) for name, cost in costs.items()}
        return Score(figures["cost"], figures, per_function)

    def rescore(self, score: Score) -> Score:
        if not all(term in score.figures for term in COST_TERMS):
            return score
        weights = cost_weights()
        value = sum(score.figures[term] * weights[term] for term in COST_TERMS)
        return Score(value, {**score.figures, "cost": value}, score.per_function)

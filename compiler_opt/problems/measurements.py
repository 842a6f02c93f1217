"""How a compile is scored: object size, or register-allocation cost from remarks.

A measurement adds the options its compile needs (a remarks file) and turns
the compile's outputs into named figures plus one `score` (lower is better).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

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

    def measure(self, toolchain: "Toolchain", object_path: Path, workdir: Path) -> Score:
        raise NotImplementedError


class TextSize(Measurement):
    """Code size: the Berkeley `text` figure of the object (what MLGO's size reward uses)."""

    key = "text_size"
    name = "text size"
    unit = "bytes"

    def measure(self, toolchain: "Toolchain", object_path: Path, workdir: Path) -> Score:
        size = measure.object_size(toolchain, object_path)
        return Score(float(size.text), {"text": size.text, "text_section": size.text_section})


class RegallocCostMeasurement(Measurement):
    """Frequency-weighted spill, reload and copy cost from the allocator's remarks."""

    key = "regalloc_cost"
    name = "weighted regalloc cost"
    unit = "cost"

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = dict(weights or {})

    def compile_options(self, workdir: Path, cc1: bool) -> list[str]:
        return measure.remark_options(workdir / "regalloc-remarks.yaml", cc1)

    def measure(self, toolchain: "Toolchain", object_path: Path, workdir: Path) -> Score:
        costs = measure.read_regalloc_remarks(workdir / "regalloc-remarks.yaml")
        total = sum(costs.values(), measure.RegallocCost())
        size = measure.object_size(toolchain, object_path)
        figures = {
            "cost": total.weighted(self.weights),
            "spills": total.spills,
            "reloads": total.reloads + total.folded_reloads,
            "copies": total.copies,
            "text": size.text,
        }
        per_function = {name: cost.weighted(self.weights) for name, cost in costs.items()}
        return Score(figures["cost"], figures, per_function)

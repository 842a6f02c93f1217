"""Measurements of a compile: object size, and register-allocation costs from remarks.

Size is what `llvm-size` reports: the Berkeley `text` figure (code plus
read-only data, what MLGO's inlining-for-size reward uses) and the `.text`
sections alone (`.text` and `.text.*`, so `-ffunction-sections` objects count
whole). Register-allocation costs come from the greedy allocator's
`SpillReloadCopies` optimization remarks, one per function, whose costs are
weighted by block frequency (`-opt-record-passes regalloc`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.run import run_tool

if TYPE_CHECKING:
    from compiler_opt.llvm.toolchain import Toolchain

REGALLOC_REMARK_PASS = "regalloc"


class MeasurementError(MlgoError):
    """An object or remark file that cannot be measured."""


@dataclass(frozen=True)
class ObjectSize:
    """Sizes of one object file in bytes."""

    text: int
    text_section: int


@dataclass(frozen=True)
class RegallocCost:
    """One function's spill/reload/copy counts and block-frequency-weighted costs."""

    spills: int = 0
    spills_cost: float = 0.0
    reloads: int = 0
    reloads_cost: float = 0.0
    folded_reloads: int = 0
    folded_reloads_cost: float = 0.0
    copies: int = 0
    copies_cost: float = 0.0

    def weighted(self, weights: Mapping[str, float] | None = None) -> float:
        """The total cost: a weighted sum of the four cost figures (all weights 1 by default)."""
        weights = weights or {}
        return sum(
            getattr(self, name) * weights.get(name, 1.0)
            for name in ("spills_cost", "reloads_cost", "folded_reloads_cost", "copies_cost")
        )

    def __add__(self, other: RegallocCost) -> RegallocCost:
        return RegallocCost(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


_REMARK_ARGS = {
    "NumSpills": "spills",
    "TotalSpillsCost": "spills_cost",
    "NumReloads": "reloads",
    "TotalReloadsCost": "reloads_cost",
    "NumFoldedReloads": "folded_reloads",
    "TotalFoldedReloadsCost": "folded_reloads_cost",
    "NumVRCopies": "copies",
    "TotalCopiesCost": "copies_cost",
}
_ARG_LINE = re.compile(r"^\s*-\s*(\w+):\s*'?([^']*)'?\s*$")
_KEY_LINE = re.compile(r"^(\w+):\s*(.*?)\s*$")


def object_sizes(toolchain: Toolchain, objects: Iterable[Path]) -> list[ObjectSize]:
    """The sizes of several objects, with two `llvm-size` runs in all."""
    paths = [str(p) for p in objects]
    if not paths:
        return []
    berkeley = _run_size(toolchain, ["--format=berkeley", *paths]).splitlines()[1:]
    sysv = _run_size(toolchain, ["--format=sysv", *paths])
    text_sections = [
        sum(int(m[1]) for m in re.finditer(r"^\.text(?:\.\S*)?\s+(\d+)", block, flags=re.MULTILINE))
        for block in re.split(r"\n\s*\n", sysv.strip())
    ]
    if len(berkeley) != len(paths) or len(text_sections) != len(paths):
        raise MeasurementError(f"llvm-size printed an unexpected table for {paths[:3]}...")
    return [ObjectSize(int(row.split()[0]), section) for row, section in zip(berkeley, text_sections)]


def object_size(toolchain: Toolchain, path: Path) -> ObjectSize:
    """The sizes of one object file."""
    return object_sizes(toolchain, [path])[0]


def _run_size(toolchain: Toolchain, args: list[str]) -> str:
    result = run_tool([str(toolchain.tool("llvm-size")), *args], "llvm-size", MeasurementError, timeout=120)
    return result.stdout.decode("utf-8", "replace")


def remark_options(path: Path, cc1: bool) -> list[str]:
    """Options writing the register allocator's remarks to `path` (cc1 or driver spelling)."""
    if cc1:
        return ["-opt-record-file", str(path), "-opt-record-passes", REGALLOC_REMARK_PASS]
    return [
        "-fsave-optimization-record",
        f"-foptimization-record-file={path}",
        f"-foptimization-record-passes={REGALLOC_REMARK_PASS}",
    ]


def parse_regalloc_remarks(text: str) -> dict[str, RegallocCost]:
    """Per-function costs from a YAML remarks file (the `SpillReloadCopies` remarks)."""
    costs: dict[str, RegallocCost] = {}
    for document in text.split("\n--- "):
        name = function = None
        values: dict[str, float] = {}
        for line in document.splitlines():
            arg = _ARG_LINE.match(line)
            if arg:
                if arg[1] in _REMARK_ARGS:
                    values[_REMARK_ARGS[arg[1]]] = float(arg[2])
                continue
            key = _KEY_LINE.match(line)
            if key and key[1] == "Name":
                name = key[2]
            elif key and key[1] == "Function":
                function = key[2].strip("'\"")
        if name != "SpillReloadCopies" or function is None:
            continue
        counts: dict[str, Any] = {k: (int(v) if not k.endswith("_cost") else v) for k, v in values.items()}
        cost = RegallocCost(**counts)
        costs[function] = costs.get(function, RegallocCost()) + cost
    return costs


def read_regalloc_remarks(path: Path) -> dict[str, RegallocCost]:
    """Per-function costs from the remarks file at `path` (empty when no function spilled)."""
    try:
        return parse_regalloc_remarks(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise MeasurementError(f"{path}: unreadable register-allocation remarks ({error})") from error

"""Register-allocation priority: the order in which the greedy allocator takes live ranges.

Each decision shows one live range (`li_size`, `stage`, `weight`); the advice
is its priority (a float). Scored like eviction, by weighted spill/reload/copy
cost. `default` compiles with the default allocator and logs nothing.
"""

from __future__ import annotations

from compiler_opt.llvm.advisors import REGALLOC_PRIORITY
from compiler_opt.problems.base import BuiltinPolicy, Decide, PolicyContext, Problem
from compiler_opt.problems.measurements import RegallocCostMeasurement


def _weight(context: PolicyContext) -> Decide:
    read_weight = context.header.scalar_reader("weight")
    return lambda observation: read_weight(observation.raw)


PROBLEM = Problem(
    name="regalloc-priority",
    description="prioritize live ranges for allocation, minimizing weighted spill/reload/copy cost",
    advisor=REGALLOC_PRIORITY,
    measurement=RegallocCostMeasurement(),
    vocab_policy="weight",
    policies={
        "default": BuiltinPolicy("default", "the greedy allocator's own priorities (no decisions logged)", None),
        "weight": BuiltinPolicy("weight", "the live range's spill weight as its priority", _weight),
    },
)

"""Register-allocation priority: the order in which the greedy allocator takes live ranges.

Each decision shows one live range (`li_size`, `stage`, `weight`); the advice
is its priority (a float: the greedy allocator takes the live range of the
highest priority first). A trained policy picks one of `PRIORITY_LEVELS`
priority levels (0, 1, ...) with a categorical head, so PPO, ES and the
saved and exported forms work as for inlining; live ranges of one level keep
the allocator's queue order among themselves. Scored like eviction, by
weighted spill/reload/copy cost. `default` compiles with the default
allocator and logs nothing; LLVM embeds no ahead-of-time priority model, so
there is no AOT export (the SavedModel and TFLite forms are written).
"""

from __future__ import annotations

from compiler_opt.llvm.advisors import REGALLOC_PRIORITY
from compiler_opt.problems.base import BuiltinPolicy, Decide, PolicyContext, Problem
from compiler_opt.problems.measurements import RegallocCostMeasurement

PRIORITY_LEVELS = 32


def _weight(context: PolicyContext) -> Decide:
    read_weight = context.header.scalar_reader("weight")
    return lambda observation: read_weight(observation.raw)


PROBLEM = Problem(
    name="regalloc-priority",
    description="prioritize live ranges for allocation, minimizing weighted spill/reload/copy cost",
    advisor=REGALLOC_PRIORITY,
    measurement=RegallocCostMeasurement(),
    advice="priority",
    num_actions=PRIORITY_LEVELS,
    vocab_policy="weight",
    policies={
        "default": BuiltinPolicy("default", "the greedy allocator's own priorities (no decisions logged)", None),
        "weight": BuiltinPolicy("weight", "the live range's spill weight as its priority", _weight),
    },
)

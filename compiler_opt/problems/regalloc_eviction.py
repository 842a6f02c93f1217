"""Register-allocation eviction for speed: pick which interfering live range to evict.

Each decision shows up to 33 candidates (`[1, 33]` feature tensors with a
`mask` of the valid ones); the advice is the index of the candidate to evict,
which the trained policy picks with the masked-candidate head (gin:
`compiler_opt/problems/gin/regalloc-eviction/network.gin`). The score is the
frequency-weighted spill/reload/copy cost from remarks.
LLVM 19 cannot replay its default decisions through the channel, so
`default` compiles with the default allocator and logs nothing.
"""

from __future__ import annotations

import numpy as np

from compiler_opt.llvm.advisors import REGALLOC_EVICTION
from compiler_opt.problems.base import BuiltinPolicy, Decide, EmbeddedModel, PolicyContext, Problem
from compiler_opt.problems.measurements import RegallocCostMeasurement

# LLVM's eviction advisor offers this many candidates per decision (`[1, 33]` features; the last slot is the
# live range being allocated).
CANDIDATES = 33


def _first(context: PolicyContext) -> Decide:
    return lambda observation: int(np.argmax(observation["mask"].reshape(-1)))


def _random(context: PolicyContext) -> Decide:
    rng = np.random.default_rng(context.seed)
    return lambda observation: int(rng.choice(np.flatnonzero(observation["mask"].reshape(-1))))


PROBLEM = Problem(
    name="regalloc-eviction",
    description="choose the live range to evict, minimizing weighted spill/reload/copy cost",
    advisor=REGALLOC_EVICTION,
    measurement=RegallocCostMeasurement(),
    advice="index_to_evict",
    num_actions=CANDIDATES,
    vocab_policy="random",
    embedded_model=EmbeddedModel(
        "llvm::RegAllocEvictModel", "RegAllocEvictModel", "LLVM_RAEVICT_MODEL_PATH", "index_to_evict"
    ),
    policies={
        "default": BuiltinPolicy("default", "the greedy allocator's own heuristic (no decisions logged)", None),
        "first": BuiltinPolicy("first", "evict the first valid candidate", _first),
        "random": BuiltinPolicy("random", "evict a valid candidate at random (seeded)", _random),
    },
)

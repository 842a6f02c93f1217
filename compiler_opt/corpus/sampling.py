"""Choosing modules of a corpus: seeded samples that keep small and large modules in proportion.

`stratified_sample` sorts the modules by size, cuts them into `n` strata of
equal count and draws one module from each with the seed, so a sample of any
seed holds small and large modules alike. `sample_modules` is what the
evaluating verbs (`mlgo eval`, `search`, `vocab`) work on: all modules, or such
a sample, in name order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar


class SizedModule(Protocol):
    """What sampling needs of a module (a `ModuleSpec`): its name and its size."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...


M = TypeVar("M", bound=SizedModule)

__all__ = ["SizedModule", "sample_modules", "stratified_sample"]


def stratified_sample(modules: Sequence[M], n: int, seed: int) -> list[M]:
    """`n` of `modules` drawn with `seed`, one from each of `n` equal-count size strata.

    With `n` at least the number of modules, every module comes back (in a
    seeded order); with `n` of 0 or less, none.
    """
    if n <= 0:
        return []
    rng = random.Random(seed)
    if n >= len(modules):
        chosen = list(modules)
        rng.shuffle(chosen)
        return chosen
    by_size = sorted(modules, key=lambda spec: (spec.size, spec.name))
    picks = []
    for stratum in range(n):
        start = stratum * len(by_size) // n
        stop = (stratum + 1) * len(by_size) // n
        picks.append(by_size[rng.randrange(start, stop)])
    return picks


def sample_modules(modules: Sequence[M], max_modules: int | None, seed: int) -> list[M]:
    """All `modules`, or a seeded size-stratified sample of `max_modules`, in name order."""
    chosen = stratified_sample(modules, max_modules, seed) if max_modules else list(modules)
    return sorted(chosen, key=lambda spec: spec.name)

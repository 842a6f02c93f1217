"""How a compiled module is valued: one interface for per-object and linked size (lower is better).

A `ModuleScorer` turns one compile of a module into the number rewards and
comparisons use. Two exist:

- `ObjectScorer` ("object"): the problem's measurement of the object itself
  (its `Score`, weighed again by the driver's configuration), what rewards
  used before linked size existed;
- `compiler_opt.collect.linked_size.LinkedScorer` ("linked"): the module's
  `-Oz` object value plus the change its object makes to its library's linked
  `.text` (see that module), which needs the candidate object's bytes.

Every scorer values a module's baseline the same way: `value(module,
baseline_score, None)` is the baseline's own value (a linked scorer's value
of the baseline's object is exactly that, by construction), so a caller
without the baseline's object still compares like with like.

A `ScorerSource` gives the scorer for a set of modules, preparing on the pool
what it needs first (a linked scorer: the libraries' `-Oz` objects and
links, cached on disk); `scorer_source` makes the one a run's
`trainer_config.reward_size` names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from compiler_opt.errors import MlgoError
from compiler_opt.problems import get_problem
from compiler_opt.problems.measurements import Score

if TYPE_CHECKING:
    from compiler_opt.corpus.loading import Corpus, ModuleSpec
    from compiler_opt.llvm.toolchain import Toolchain
    from compiler_opt.pool.base import WorkerPool

__all__ = ["REWARD_SIZES", "ModuleScorer", "ObjectScorer", "ScorerSource", "scorer_source"]

REWARD_SIZES = ("object", "linked")


class ModuleScorer(Protocol):
    """Values one compile of a module (lower is better); picklable, usable in a pool worker."""

    @property
    def name(self) -> str:
        """The scorer's name: "object" or "linked"."""
        ...

    @property
    def needs_object(self) -> bool:
        """Whether value() needs the candidate object's bytes."""
        ...

    def value(self, module: str, score: Score, obj: bytes | None) -> float:
        """The value of `module` compiled to `obj` (its bytes) and scored `score`; with `obj` None, `score`'s own."""
        ...


class ScorerSource(Protocol):
    """Gives the scorer of some modules, first preparing what it needs on the pool."""

    @property
    def name(self) -> str:
        """The name of the scorers it gives."""
        ...

    @property
    def needs_object(self) -> bool:
        """Whether the scorers it gives need the candidate objects' bytes."""
        ...

    def scorer(self, modules: Sequence[ModuleSpec], pool: WorkerPool, *, timeout: float = 600.0) -> ModuleScorer:
        """A scorer valuing `modules` (it may value others per object)."""
        ...


@dataclass(frozen=True)
class ObjectScorer:
    """The problem's value of the object's own score (`Measurement.rescore`); needs no object."""

    problem: str
    name: str = "object"
    needs_object: bool = False

    def value(self, module: str, score: Score, obj: bytes | None = None) -> float:
        return get_problem(self.problem).measurement.rescore(score).value

    def scorer(self, modules: Sequence[ModuleSpec], pool: WorkerPool, *, timeout: float = 600.0) -> ObjectScorer:
        """Itself: valuing an object needs nothing prepared (so it is its own `ScorerSource`)."""
        return self


def scorer_source(
    kind: str,
    problem: str,
    *,
    corpus: Corpus | str | os.PathLike | None = None,
    toolchain: Toolchain | None = None,
    baselines: str | os.PathLike | None = None,
) -> ScorerSource:
    """The scorer source of `trainer_config.reward_size` `kind`: "object", or "linked", which needs the whole
    `corpus` or its folder (it records how its modules link), the `toolchain`, and the baseline cache's folder
    `baselines` (its cache goes in the `linked` folder there)."""
    if kind == "object":
        return ObjectScorer(problem)
    if kind != "linked":
        raise MlgoError(f"reward size {kind!r} is not one of {', '.join(REWARD_SIZES)}")
    if corpus is None or toolchain is None or baselines is None:
        raise MlgoError("a linked scorer needs the corpus, the toolchain and the baselines' folder")
    from compiler_opt.collect.linked_size import LinkedBaselines
    from compiler_opt.corpus.loading import Corpus, load_corpus

    whole = corpus if isinstance(corpus, Corpus) else load_corpus(Path(corpus))
    return LinkedBaselines(Path(baselines) / "linked", toolchain, get_problem(problem), whole)

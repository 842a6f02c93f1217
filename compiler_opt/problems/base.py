"""What a problem plug-in provides: the advisor it drives, its built-in policies, its measurement.

Generic code (tracing, collection, learners, export, reports) only talks to
this interface and never tests a problem's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.advisors import Advisor
from compiler_opt.problems.measurements import Measurement

if TYPE_CHECKING:
    from compiler_opt.llvm.log_format import LogHeader, Observation
    from compiler_opt.llvm.toolchain import Toolchain

Decide = Callable[["Observation"], object]


@dataclass(frozen=True)
class PolicyContext:
    """What a built-in policy may look at when it is made for one compile."""

    toolchain: "Toolchain"
    header: "LogHeader"
    seed: int = 0


@dataclass(frozen=True)
class BuiltinPolicy:
    """A hand-written policy: `make` turns a compile's context into a decision function.

    `replays_default` policies answer with the compiler's own decision, sent
    along with each observation (`include_default`); `make is None` means the
    compiler runs without the advisor at all (its heuristic decides, nothing is logged).
    """

    name: str
    description: str
    make: Callable[[PolicyContext], Decide] | None
    include_default: bool = False


@dataclass(frozen=True)
class Problem:
    """A decision the compiler delegates, and how a compile under it is judged."""

    name: str
    description: str
    advisor: Advisor
    policies: Mapping[str, BuiltinPolicy]
    measurement: Measurement

    def policy(self, name: str) -> BuiltinPolicy:
        try:
            return self.policies[name]
        except KeyError:
            raise MlgoError(
                f"problem {self.name} has no built-in policy {name!r}; choose one of: {', '.join(self.policies)}"
            ) from None

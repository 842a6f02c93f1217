"""Inlining for size: the ML inliner decides each call site; the reward is object size.

Built-in policies: `default` replays clang's own `-Oz` decision (sent with
each observation; which feature slot carries it is probed per compiler, see
`compiler_opt.llvm.probes`), `always` and `never`.
"""

from __future__ import annotations

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.advisors import INLINING
from compiler_opt.problems.base import BuiltinPolicy, Decide, PolicyContext, Problem
from compiler_opt.problems.measurements import TextSize


def _replay_default(context: PolicyContext) -> Decide:
    slot = context.toolchain.probe().facts.get("inlining_default_feature")
    if slot is None:
        raise MlgoError(
            f"{context.toolchain.clang} does not send a usable default inlining decision "
            "(-inliner-interactive-include-default); the `default` policy needs it"
        )
    read_decision = context.header.scalar_reader(slot)
    return lambda observation: read_decision(observation.raw)


PROBLEM = Problem(
    name="inlining",
    description="inline call sites to minimize object size (clang -Oz baseline)",
    advisor=INLINING,
    measurement=TextSize(),
    policies={
        "default": BuiltinPolicy("default", "clang's own -Oz decision, replayed through the channel",
                                 _replay_default, include_default=True),
        "always": BuiltinPolicy("always", "inline every call site the inliner offers", lambda _: lambda _o: 1),
        "never": BuiltinPolicy("never", "inline nothing", lambda _: lambda _o: 0),
    },
)

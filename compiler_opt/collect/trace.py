"""`mlgo trace`'s library half: one module under a built-in policy, every decision logged in LLVM's format.

The log is what LLVM's development mode writes (`decision_log`). A built-in
policy that switches the advisor off (the compiler's heuristic where the
advisor cannot replay its default) compiles plainly and logs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compiler_opt.collect.actor import act, builtin_decider
from compiler_opt.llvm.cmdline import CompileCommand
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.problems.base import Problem
from compiler_opt.problems.measurements import Score

__all__ = ["TraceResult", "trace_module"]


@dataclass(frozen=True)
class TraceResult:
    """What `trace_module` reports."""

    module: str
    problem: str
    policy: str
    decisions: int
    seconds: float
    score: Score
    logged: bool


def trace_module(
    toolchain: Toolchain,
    problem: Problem,
    policy_name: str,
    command: CompileCommand,
    *,
    log_path: Path | None = None,
    object_path: Path | None = None,
    seed: int = 0,
    timeout: float = 600.0,
) -> TraceResult:
    """Compile `command` with `problem`'s advisor answered by the built-in policy `policy_name`."""
    builtin = problem.policy(policy_name)
    make_decide = builtin_decider(toolchain, builtin, seed)
    acted = act(
        toolchain,
        problem,
        command,
        make_decide,
        include_default=builtin.include_default,
        log_path=log_path,
        object_path=object_path,
        timeout=timeout,
    )
    return TraceResult(
        command.bitcode,
        problem.name,
        policy_name,
        acted.decisions,
        acted.seconds["compile"],
        acted.measured_score,
        make_decide is not None,
    )

"""Replaying decisions into a compile, and the default labels that need it.

`replayer` answers a compile with a given list of actions in order (and,
optionally, the compiler's own heuristic past their end); a compile that asks
for more or fewer decisions than were given is a `ReplayMismatch`.

Default labels (behavioral cloning): the compiler can send its own decision
with each observation (include-default), but LLVM 19 writes it over a real
feature's slot (`callee_basic_block_count`). When the problem's probed
default-decision slot is one of the policy's features
(`default_overwrites_feature`), `label_by_replay` compiles twice: once with
include-default, answering with the default, to read the decisions; once
without it, replaying them, so the features recorded are the real ones. The
two compiles must make the same number of decisions and produce objects of
the same size, else `ReplayMismatch`. Where the slot is a feature the policy
excludes (newer LLVM), one compile does. The compile job
(`compiler_opt.collect.compile_job`) takes this path whenever it records a
built-in policy that replays the default, so no recorded trajectory ever
carries the overwritten slot.
"""

from __future__ import annotations

from collections.abc import Callable

from compiler_opt.collect.actor import Acted, MakeDecide, act, builtin_decider
from compiler_opt.llvm.cmdline import CompileCommand
from compiler_opt.llvm.failures import CompilerFailure
from compiler_opt.llvm.log_format import LogHeader, Observation
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.problems.base import BuiltinPolicy, Problem

__all__ = ["ReplayMismatch", "default_overwrites_feature", "label_by_replay", "replayer"]


class ReplayMismatch(CompilerFailure):
    """Replayed decisions did not reproduce a compile (decision count or object size differ)."""


def replayer(toolchain: Toolchain, name: str, actions: list, default: BuiltinPolicy | None) -> MakeDecide:
    """Answer with `actions` in order, then with `default`'s decisions (None: more decisions raise)."""
    make_tail = None if default is None else builtin_decider(toolchain, default)

    def make(header: LogHeader) -> Callable[[Observation], object]:
        tail = None if make_tail is None else make_tail(header)
        steps = iter(actions)

        def decide(observation: Observation) -> object:
            action = next(steps, _END)
            if action is _END:
                if tail is None:
                    raise ReplayMismatch(name, f"replaying {len(actions)} decisions, the compiler asked for more")
                action = tail(observation)
            return action

        return decide

    return make


_END = object()


def default_overwrites_feature(toolchain: Toolchain, problem: Problem) -> bool:
    """Whether the default decision, when included, lands in a feature the policy reads (LLVM 19)."""
    if problem.default_decision_feature is None:
        return False
    slot = problem.default_decision_feature(toolchain)
    return slot is not None and slot not in problem.excluded_features


def label_by_replay(
    toolchain: Toolchain,
    problem: Problem,
    builtin: BuiltinPolicy,
    command: CompileCommand,
    name: str,
    timeout: float,
    keep_object: bool,
    seed: int,
) -> Acted:
    """The replaying compile of `builtin`'s decisions, recorded; its seconds are both compiles' together."""
    first = act(
        toolchain,
        problem,
        command,
        builtin_decider(toolchain, builtin, seed),
        name=name,
        include_default=True,
        timeout=timeout,
    )
    second = act(
        toolchain,
        problem,
        command,
        replayer(toolchain, name, first.actions, None),
        name=name,
        record=True,
        timeout=timeout,
        keep_object=keep_object,
    )
    if second.decisions != first.decisions:
        raise ReplayMismatch(
            name,
            f"the default compile made {first.decisions} decisions, replaying them "
            f"without the default decision made {second.decisions}",
        )
    if second.measured_score.value != first.measured_score.value:
        raise ReplayMismatch(
            name,
            f"replaying the default decisions gave {second.measured_score.value:g} "
            f"{problem.measurement.unit}, the default compile {first.measured_score.value:g}",
        )
    second.seconds = {key: first.seconds.get(key, 0.0) + value for key, value in second.seconds.items()}
    return second

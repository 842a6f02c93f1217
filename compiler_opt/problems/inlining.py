"""Inlining for size: the ML inliner decides each call site; the reward is object size.

Built-in policies: `default` replays clang's own `-Oz` decision (sent with
each observation; which feature slot carries it is probed per compiler, see
`compiler_opt.llvm.probes`), `always`, `never`, and `rule`: the hand rule a
learned policy must beat, clang's decision and also inline where
`callee_users == callee_users` and `cost_estimate - threshold <= margin`
(defaults 2 and 45). Gin sets the defaults (`inlining.rule.callee_users = 3`,
`inlining.rule.margin = 60`: `mlgo eval`/`mlgo trace --gin-binding`), and the
policy's name sets them over those (`rule:callee_users=3,margin=60`); the
resolved name carries both, so workers, which read no gin, run the same rule.
`callee_users` counts calls plus one for a non-local function, so 2 mostly
means "a non-local function called once" (in C++ usually a `linkonce_odr`
helper). `rule` is the problem's reference: the policy a learned one must beat.

A policy never reads `inlining_default` (it would hand it the answer), and
its vocabulary comes from compiles under clang's own decisions (`default`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import gin

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.advisors import INLINING
from compiler_opt.llvm.probes import DEFAULT_DECISION_FEATURE
from compiler_opt.problems.base import BuiltinPolicy, Decide, EmbeddedModel, PolicyContext, Problem
from compiler_opt.problems.measurements import TextSize

if TYPE_CHECKING:
    from compiler_opt.llvm.log_format import Observation
    from compiler_opt.llvm.toolchain import Toolchain


def _default_decision_feature(toolchain: Toolchain) -> str | None:
    """The header feature that carries clang's decision under include-default (probed; LLVM 19 misplaces it)."""
    return toolchain.probe().facts.get("inlining_default_feature")


def _replay_default(context: PolicyContext) -> Decide:
    slot = _default_decision_feature(context.toolchain)
    if slot is None:
        raise MlgoError(
            f"{context.toolchain.clang} does not send a usable default inlining decision "
            "(-inliner-interactive-include-default); the `default` policy needs it"
        )
    read_decision = context.header.scalar_reader(slot)
    return lambda observation: read_decision(observation.raw)


RULE_FEATURES = ("callee_users", "cost_estimate", "threshold")
RULE_DEFAULTS = {"callee_users": 2.0, "margin": 45.0}


@gin.configurable(module="inlining")
def rule(
    callee_users: float = RULE_DEFAULTS["callee_users"], margin: float = RULE_DEFAULTS["margin"]
) -> dict[str, float]:
    """The hand rule's thresholds as configured (`inlining.rule.callee_users`, `inlining.rule.margin`): the
    defaults that a policy name's parameters (`rule:margin=60`) override."""
    return {"callee_users": callee_users, "margin": margin}


def _rule(context: PolicyContext) -> Decide:
    default = _replay_default(context)
    missing = [name for name in RULE_FEATURES if name not in context.header.slots]
    if missing:
        raise MlgoError(f"{context.toolchain.clang} sends no {', '.join(missing)}: the `rule` policy needs them")
    users, cost, threshold = (context.header.scalar_reader(name) for name in RULE_FEATURES)
    wanted_users, margin = context.parameters["callee_users"], context.parameters["margin"]

    def decide(observation: Observation) -> int:
        raw = observation.raw
        if default(observation):
            return 1
        return int(users(raw) == wanted_users and cost(raw) - threshold(raw) <= margin)

    return decide


class InliningProblem(Problem):
    """The inlining problem: its decisions' figure is the fraction of call sites inlined."""

    def decision_figures(self, counts: Mapping[int, int]) -> dict[str, float]:
        """`inline_fraction`: the share of decisions that inline (action 1)."""
        return {"inline_fraction": counts.get(1, 0) / max(sum(counts.values()), 1)}


PROBLEM = InliningProblem(
    name="inlining",
    description="inline call sites to minimize object size (clang -Oz baseline)",
    advisor=INLINING,
    measurement=TextSize(),
    advice="inlining_decision",
    excluded_features=(DEFAULT_DECISION_FEATURE,),
    num_actions=2,
    vocab_policy="default",
    default_decision_feature=_default_decision_feature,
    embedded_model=EmbeddedModel(
        "llvm::InlinerSizeModel", "InlinerSizeModel", "LLVM_INLINER_MODEL_PATH", "inlining_decision"
    ),
    policies={
        "default": BuiltinPolicy(
            "default", "clang's own -Oz decision, replayed through the channel", _replay_default, include_default=True
        ),
        "always": BuiltinPolicy("always", "inline every call site the inliner offers", lambda _: lambda _o: 1),
        "never": BuiltinPolicy("never", "inline nothing", lambda _: lambda _o: 0),
        "rule": BuiltinPolicy(
            "rule",
            "the hand rule: clang's -Oz decision, and also inline where callee_users == callee_users and "
            "cost_estimate - threshold <= margin (defaults 2 and 45, or gin's inlining.rule.*; the name sets "
            "them: rule:callee_users=N,margin=M)",
            _rule,
            include_default=True,
            parameters=RULE_DEFAULTS,
            configured=rule,
        ),
    },
    reference_policies=("rule",),
)

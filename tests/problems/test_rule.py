"""The inlining hand rule (`rule`): clang's decision, plus inlining where the rule fires; its parameters."""

from __future__ import annotations

import pytest

from compiler_opt.collect.actor import act, builtin_decider
from compiler_opt.errors import MlgoError
from compiler_opt.problems import get_problem
from compiler_opt.problems.inlining import RULE_FEATURES

INLINING = get_problem("inlining")


def test_rule_parameters_default_and_are_set_by_name():
    assert dict(INLINING.policy("rule").parameters) == {"callee_users": 2, "margin": 45}
    tuned = INLINING.policy("rule:margin=60")
    assert tuned.name == "rule:callee_users=2,margin=60" and dict(tuned.parameters) == {"callee_users": 2, "margin": 60}
    assert INLINING.is_builtin("rule:margin=60") and not INLINING.is_builtin("rules")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rule:depth=3", r"cannot set 'depth'; its parameters \(defaults\): callee_users=2, margin=45"),
        ("rule:margin=wide", "margin must be a number, got 'wide'"),
        ("rule:margin=inf", "margin must be finite"),
        ("default:margin=3", r"cannot set 'margin'; its parameters \(defaults\): none"),
        ("ruled", "no built-in policy 'ruled'"),
    ],
)
def test_bad_rule_parameters_are_refused_naming_what_is_known(name, message):
    with pytest.raises(MlgoError, match=message):
        INLINING.policy(name)


def _decisions(toolchain, module, policy: str) -> list[tuple[dict, int, bool]]:
    """Per decision of a compile under `policy`: (rule features, decision, clang's own decision)."""
    builtin = INLINING.policy(policy)
    make = builtin_decider(toolchain, builtin)
    slot = INLINING.default_decision_feature(toolchain)
    seen = []

    def recording(header):
        decide = make(header)
        readers = {name: header.scalar_reader(name) for name in (*RULE_FEATURES, slot)}

        def answer(observation):
            action = int(decide(observation))
            values = {name: read(observation.raw) for name, read in readers.items()}
            seen.append((values, action, bool(values[slot])))
            return action

        return answer

    act(toolchain, INLINING, module.command(toolchain), recording, include_default=True)
    return seen


@pytest.mark.parametrize("policy", ["rule", "rule:margin=100000"])
def test_rule_decides_as_clang_except_where_the_rule_fires(toolchain, modules, policy):
    parameters = INLINING.policy(policy).parameters
    decisions = _decisions(toolchain, modules["calls"], policy)
    fired = 0
    for values, action, default in decisions:
        fires = (
            values["callee_users"] == parameters["callee_users"]
            and values["cost_estimate"] - values["threshold"] <= parameters["margin"]
        )
        assert action == int(default or fires)
        fired += fires and not default
    assert len(decisions) > 50
    if policy != "rule":  # the loose variant must fire on this module, or the check above tests nothing new
        assert fired > 0

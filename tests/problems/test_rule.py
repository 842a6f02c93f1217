"""The inlining hand rule (`rule`): clang's decision, plus inlining where the rule fires; its parameters, from
its name and from gin."""

from __future__ import annotations

import json

import gin
import pytest

from compiler_opt.collect.actor import act, builtin_decider
from compiler_opt.errors import MlgoError
from compiler_opt.problems import get_problem, problem_names
from compiler_opt.problems.inlining import RULE_FEATURES
from tests.tiny_runs import mlgo

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


@pytest.fixture
def configured():
    """gin's global configuration, cleared after the test."""
    yield gin
    gin.clear_config()


def test_gin_sets_the_defaults_and_the_name_sets_them_over_gin(configured):
    configured.parse_config("inlining.rule.margin = 60\ninlining.rule.callee_users = 3")
    assert INLINING.policy("rule").name == "rule:callee_users=3,margin=60"
    assert INLINING.policy("rule:margin=10").name == "rule:callee_users=3,margin=10"
    assert dict(INLINING.policy("rule:margin=10").parameters) == {"callee_users": 3, "margin": 10}
    with pytest.raises(MlgoError, match=r"its parameters \(defaults\): callee_users=3, margin=60"):
        INLINING.policy("rule:depth=1")
    configured.clear_config()
    assert INLINING.policy("rule").name == "rule:callee_users=2,margin=45"  # the built-in defaults again


def test_a_bad_gin_threshold_is_refused_naming_it(configured):
    configured.parse_config("inlining.rule.margin = 'wide'")
    with pytest.raises(MlgoError, match="rule: its configured margin must be a finite number, got 'wide'"):
        INLINING.policy("rule")


def test_every_reference_policy_is_a_built_in_of_its_problem():
    assert INLINING.reference_policies == ("rule",)
    for name in problem_names():
        problem = get_problem(name)
        assert all(problem.is_builtin(reference) for reference in problem.reference_policies), name


def test_trace_and_eval_take_the_thresholds_from_gin(modules, small_sample, tmp_path):
    bitcode, cmd = modules["calls"].bitcode, modules["calls"].cmd
    trace = ("trace", "--problem", "inlining", "--bitcode", bitcode, "--cmd", cmd, "--json")
    by_gin = json.loads(mlgo(*trace, "--policy", "rule", "--gin-binding", "inlining.rule.margin = 100000").stdout)
    by_name = json.loads(mlgo(*trace, "--policy", "rule:margin=100000").stdout)
    plain = json.loads(mlgo(*trace, "--policy", "rule").stdout)
    assert by_gin["policy"] == by_name["policy"] == "rule:callee_users=2,margin=100000"
    assert by_gin["score"] == by_name["score"] != plain["score"]  # the loose rule fires on this module
    gin_file = tmp_path / "rule.gin"
    gin_file.write_text("inlining.rule.callee_users = 3\n")
    output = tmp_path / "rule.json"
    mlgo(
        "eval", "--problem", "inlining", "--policy", "rule:margin=60", "--gin-file", gin_file,
        "--corpus", small_sample, "--max-modules", 2, "--output", output, "--baselines", tmp_path / "baselines",
    )  # fmt: skip
    assert json.loads(output.read_text())["policy"] == "rule:callee_users=3,margin=60"
    refused = mlgo(*trace, "--policy", "rule", "--gin-binding", "inlining.rul.margin = 1", check=False)
    assert refused.returncode != 0 and "bad gin configuration" in refused.stderr and "Traceback" not in refused.stderr

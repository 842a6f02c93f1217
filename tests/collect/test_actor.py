"""The actor with the real clang: one compile under a decide callable, measured or run as a plain command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from compiler_opt.collect.actor import ADVISOR_OFF, act, builtin_decider
from compiler_opt.errors import MlgoError
from compiler_opt.problems import get_problem

REPO = Path(__file__).resolve().parents[2]
INLINING = get_problem("inlining")


def _opens_interactive_compile(path: Path) -> bool:
    return any(
        isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "InteractiveCompile"
        for node in ast.walk(ast.parse(path.read_text()))
    )


def test_only_llvm_compile_opens_an_interactive_compile():
    openers = sorted(
        str(path.relative_to(REPO))
        for folder in ("compiler_opt", "corpus_tools", "mlgo", "benchmarks")
        for path in (REPO / folder).rglob("*.py")
        if _opens_interactive_compile(path)
    )
    assert openers == ["compiler_opt/llvm/compile.py"]


def test_a_command_line_compiles_as_the_module_command_but_is_not_measured(toolchain, modules, tmp_path):
    command = modules["calls"].command(toolchain)
    decide = builtin_decider(toolchain, INLINING.policy("always"))
    measured = act(toolchain, INLINING, command, decide, record=True)
    plain = act(toolchain, INLINING, command.argv(tmp_path / "calls.o"), decide, name="calls")
    assert measured.decisions == plain.decisions == len(measured.actions) == len(plain.actions) > 10
    assert measured.score is not None and measured.trajectory is not None
    assert len(measured.trajectory) == measured.decisions
    assert plain.score is None and plain.trajectory is None and (tmp_path / "calls.o").stat().st_size > 0
    with pytest.raises(MlgoError, match="not measured"):
        _ = plain.measured_score


def test_a_pipeline_without_the_advisor_asks_nothing(toolchain, modules, tmp_path):
    """A command line at -O0 (a drop-in compile) never starts the inliner: no header, no decisions, no error."""
    argv = [str(toolchain.clang), "-O0", "-c", "-x", "ir", str(modules["calls"].bitcode), "-o", str(tmp_path / "o.o")]
    acted = act(toolchain, INLINING, argv, builtin_decider(toolchain, INLINING.policy("never")))
    assert acted.header is None and acted.decisions == 0 and acted.actions == []


def test_the_advisor_off_makes_no_decision_and_keeps_the_object(toolchain, modules):
    acted = act(toolchain, INLINING, modules["calls"].command(toolchain), ADVISOR_OFF, keep_object=True)
    assert acted.decisions == 0 and acted.header is None and acted.seconds["policy"] == 0.0
    assert acted.object and acted.measured_score.value > 0

"""`mlgo` as a command line: verbs load only when chosen, and every flag keeps one meaning, old spellings noted."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compiler_opt.problems import problem_names
from mlgo.cli import VERBS, build_parser
from mlgo.flags import positive_int, verify_count
from tests.mlgo.tiny_policy import save_tiny_policy

ROOT = Path(__file__).resolve().parents[2]
# What start-up must not pay for: TensorFlow (and what it brings), the report's plotting and numpy-heavy figures.
HEAVY = re.compile(r"^(tensorflow|tf_agents|keras|tf_keras|matplotlib|compiler_opt\.report)(\.|$)")


def modules_after(code: str, *, env: dict | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules a fresh interpreter holds after running `code` (which may exit), and the finished process."""
    wrapped = (
        f"import atexit, json, sys\n"
        f"atexit.register(lambda: print('MODULES=' + json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
        f"{code}\n"
    )
    result = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, cwd=ROOT, env=env)
    line = next(line for line in result.stderr.splitlines() if line.startswith("MODULES="))
    return set(json.loads(line[len("MODULES=") :])), result


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if HEAVY.match(m))


def test_building_the_parser_imports_no_verb():
    modules, _ = modules_after("from mlgo.cli import build_parser; build_parser()")
    assert not heavy(modules) and "numpy" not in modules
    assert not [m for m in modules if m.startswith("mlgo.") and m not in ("mlgo.cli",)]


def test_mlgo_help_lists_every_verb_without_importing_them():
    modules, result = modules_after("from mlgo.cli import main; main(['--help'])")
    assert result.returncode == 0
    for name, verb in VERBS.items():
        assert re.search(rf"^\s+{name}\s+{re.escape(verb.help[:30])}", result.stdout, re.M), name
    assert not heavy(modules) and "numpy" not in modules
    assert not [m for m in modules if m.startswith("mlgo.") and m != "mlgo.cli"]


def test_parsing_a_verb_imports_that_verb_only():
    modules, _ = modules_after(
        "from mlgo.cli import build_parser; build_parser().parse_args(['cc', '--policy', 'p', '--', '--version'])"
    )
    assert {m for m in modules if m.startswith("mlgo.")} == {"mlgo.cli", "mlgo.cc", "mlgo.flags"}
    assert not heavy(modules) and "numpy" not in modules


def test_listing_the_problems_imports_no_tensorflow():
    modules, _ = modules_after("from compiler_opt.problems import problem_names; print(problem_names())")
    assert not heavy(modules)


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory) -> Path:
    return save_tiny_policy(tmp_path_factory.mktemp("policy") / "policy")


@pytest.mark.parametrize(
    "code",
    [
        "import os; from mlgo.cli import main; sys.exit(main(['cc', '--policy', os.environ['MLGO_POLICY'], '--', "
        "'--version']))",
        "sys.argv = ['mlgo-clang', '--version']; from mlgo.cc import clang_main; sys.exit(clang_main())",
        "import os; del os.environ['MLGO_POLICY']; from mlgo.cli import main; sys.exit(main(['cc', '--version']))",
    ],
    ids=["mlgo cc -- --version", "mlgo-clang --version", "mlgo cc --version (no policy)"],
)
def test_the_drop_in_compiler_starts_without_tensorflow_or_the_report(tiny_policy, toolchain, code):
    env = {**os.environ, "MLGO_POLICY": str(tiny_policy), "MLGO_CLANG": str(toolchain.clang)}
    modules, result = modules_after(code, env=env)
    assert result.returncode == 0, result.stderr
    assert "clang version" in result.stdout
    assert not heavy(modules)
    assert not [m for m in modules if m.startswith("mlgo.") and m not in ("mlgo.cli", "mlgo.cc", "mlgo.flags")]


# --- one meaning per flag -------------------------------------------------------------------------------------------
def verb_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every verb's parser, corpus sub-verbs as `corpus SUBVERB`."""
    parsers = {}
    choices = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in VERBS:
        parser = choices[name]
        sub = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if sub:
            parsers.update({f"{name} {subname}": subparser for subname, subparser in sub[0].choices.items()})
        else:
            parsers[name] = parser
    return parsers


def visible_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        option: action
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    }


def flags_table() -> dict[str, set[str]]:
    """docs/architecture.md's flag table: each flag spelling -> the verbs it lists."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = {}
    for row in re.findall(r"^\| (`--.*?) \| .*? \| (.*?) \| .*? \|$", text, re.M):
        verbs = {verb.strip() for verb in row[1].replace("`", "").split(",")}
        for flag in re.findall(r"`(--[a-z-]+)", row[0]):
            table[flag] = verbs
    return table


def test_every_verb_follows_the_flag_table():
    table = flags_table()
    assert {
        "--output",
        "--workers",
        "--problem",
        "--json",
        "--budget-minutes",
        "--gin-file",
        "--gin-binding",
        "--verify",
        "--clang",
        "--corpus",
        "--timeout",
        "--backend",
    } <= set(table)
    for verb, parser in verb_parsers().items():
        options = visible_options(parser)
        for flag, verbs in table.items():
            assert (flag in options) == (verb in verbs), f"mlgo {verb} {flag}: docs/architecture.md says otherwise"


def test_shared_flags_mean_the_same_everywhere():
    for verb, parser in verb_parsers().items():
        options = visible_options(parser)
        if "--output" in options:
            assert options["--output"] is options.get("-o"), f"mlgo {verb}: --output without -o"
        if "--problem" in options:
            assert list(options["--problem"].choices) == problem_names(), verb
        if "--workers" in options:
            assert options["--workers"].type is positive_int, verb
        if "--json" in options:
            assert options["--json"].nargs in (0, "?") and options["--json"].const is True, verb
        for old in ("--jobs", "-j", "--max-seconds", "--gin_file", "--gin_bindings", "--gin-bindings"):
            assert old not in options, f"mlgo {verb} shows the old spelling {old}"
    decisions = next(a for a in verb_parsers()["corpus stats"]._actions if a.dest == "decisions")
    assert list(decisions.choices) == problem_names()


TRAIN = ["train", "--problem", "inlining", "--algorithm", "es", "--corpus", "c", "--output", "run"]


@pytest.mark.parametrize(
    "old, new",
    [
        (["corpus", "stats", "c", "--jobs", "3"], ["corpus", "stats", "c", "--workers", "3"]),
        (["corpus", "sample", "-j", "2"], ["corpus", "sample", "--workers", "2"]),
        (["corpus", "stats", "c", "--json", "figures.json"], ["corpus", "stats", "c", "--output", "figures.json"]),
        ([*TRAIN, "--max-seconds", "90"], [*TRAIN, "--budget-minutes", "1.5"]),
        ([*TRAIN, "--gin_file", "x.gin"], [*TRAIN, "--gin-file", "x.gin"]),
        ([*TRAIN, "--gin_bindings", "a.b = 1"], [*TRAIN, "--gin-binding", "a.b = 1"]),
        ([*TRAIN, "--gin-bindings", "a.b = 1"], [*TRAIN, "--gin-binding", "a.b = 1"]),
    ],
)
def test_an_old_spelling_works_with_one_line_naming_the_new_one(capsys, old, new):
    old_args = build_parser().parse_args(old)
    note = capsys.readouterr().err
    assert build_parser().parse_args(new) == old_args
    assert capsys.readouterr().err == ""
    assert len(note.splitlines()) == 1 and "deprecated" in note
    assert new[-2] in note  # the new spelling
    assert note.startswith("mlgo corpus " + new[1] if new[0] == "corpus" else "mlgo train")


def test_the_old_spellings_still_refuse_bad_values_naming_themselves(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*TRAIN, "--max-seconds", "0"])
    assert "argument --max-seconds: must be a finite number above 0, got 0" in capsys.readouterr().err


def test_json_is_a_switch_that_prints_json(capsys):
    args = build_parser().parse_args(["corpus", "stats", "c", "--json"])
    assert args.json is True and args.output is None
    assert capsys.readouterr().err == ""


def test_the_budget_is_minutes_in_demo_and_train():
    assert build_parser().parse_args([*TRAIN, "--budget-minutes", "2"]).max_seconds == 120
    assert build_parser().parse_args(["demo", "--budget-minutes", "2"]).max_seconds == 120
    assert build_parser().parse_args(["demo"]).max_seconds == 30 * 60
    assert build_parser().parse_args(TRAIN).max_seconds is None


def test_verify_defaults_to_200_wherever_there_is_a_corpus():
    assert build_parser().parse_args(["demo"]).verify == 200
    export = ["export", "--policy", "p", "--output", "out"]
    assert verify_count(build_parser().parse_args([*export, "--corpus", "c"])) == 200
    assert verify_count(build_parser().parse_args(export)) == 0  # no corpus: nothing to record observations from
    assert verify_count(build_parser().parse_args([*export, "--verify", "7"])) == 7

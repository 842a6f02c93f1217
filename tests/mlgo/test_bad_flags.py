"""Bad flags and settings are refused up front with a message naming them: never accepted, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gin
import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.train import _load_gin
from compiler_opt.training.gin_config import default_gin_file
from mlgo.cli import build_parser
from tests.rl.conftest import sub_corpus


def mlgo(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def parse_error(capsys, *argv) -> str:
    """What `mlgo ARGV` prints when its parser refuses it (exit status 2); parsing only, so nothing ever runs."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([str(arg) for arg in argv])
    assert exit_.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ("trace", "--timeout", "-5"),
        ("trace", "--timeout", "0"),
        ("eval", "--timeout", "0"),
        ("search", "--timeout", "-1"),
        ("vocab", "--timeout", "nan"),
        ("eval", "--max-modules", "0"),
        ("search", "--max-modules", "-1"),
        ("vocab", "--max-modules", "0"),
        ("train", "--max-modules", "-1"),
        ("train", "--max-seconds", "-10"),
        ("train", "--max-seconds", "0"),
        ("train", "--iterations", "0"),
        ("train", "--modules-per-iteration", "-3"),
        ("demo", "--max-eval-modules", "0"),
        ("demo", "--modules-per-iteration", "0"),
        ("demo", "--budget-minutes", "-1"),
        ("train", "--max-modules", "2.5"),
        ("vocab", "--quantiles", "0"),
        ("vocab", "--sample-size", "0"),
        ("search", "--max-flips", "0"),
        ("corpus", "stats", "--jobs", "0"),
        ("export", "--verify", "-1"),
        ("demo", "--verify", "-5"),
        ("corpus", "stats", "--workers", "0"),
        ("corpus", "sample", "--workers", "0"),
        ("eval", "--workers", "0"),
        ("demo", "--workers", "0"),
        ("train", "--budget-minutes", "0"),
        ("train", "--budget-minutes", "-1"),
    ],
)
def test_a_count_or_limit_below_one_is_refused_naming_the_flag(capsys, argv):
    *verb, flag, value = argv
    message = parse_error(capsys, *verb, flag, value)
    assert f"argument {flag}" in message and f"got {value}" in message.replace("'", "")


@pytest.mark.parametrize(
    "argv",
    [
        ("train", "--output", "{file}"),
        ("train", "--output", "{file}/run"),
        ("vocab", "--output", "{file}"),
        ("report", "--output", "{file}"),
        ("export", "--output", "{file}"),
        ("demo", "--output", "{file}"),
        ("corpus", "make", "--output", "{file}"),
        ("corpus", "extract", "--output", "{file}"),
        ("corpus", "sample", "--output", "{file}"),
        ("search", "--output", "{folder}"),
        ("trace", "--output", "{folder}"),
        ("trace", "--object", "{folder}"),
        ("search", "--output", "{file}/search.json"),
    ],
)
def test_an_output_of_the_wrong_kind_is_refused_naming_the_flag(capsys, tmp_path, argv):
    (tmp_path / "a-file").write_text("")
    *verb, flag, value = argv
    message = parse_error(capsys, *verb, flag, value.format(file=tmp_path / "a-file", folder=tmp_path))
    assert f"argument {flag}" in message
    assert ("is a folder" if value == "{folder}" else "is a file, not a folder") in message


def test_the_flag_types_accept_good_values(tmp_path):
    args = build_parser().parse_args(
        [
            "train",
            "--problem",
            "inlining",
            "--algorithm",
            "es",
            "--corpus",
            "c",
            "--output",
            str(tmp_path / "new" / "run"),
            "--max-seconds",
            "0.5",
            "--max-modules",
            "1",
            "--iterations",
            "3",
        ]
    )
    assert (args.max_seconds, args.max_modules, args.iterations) == (0.5, 1, 3)
    assert args.output == tmp_path / "new" / "run"


@pytest.mark.parametrize(
    "binding, says",
    [
        ('train.trainer_config.iterations = "two"', "train.trainer_config.iterations = 'two': expected int"),
        ("policy.network_config.fc_layer_params = ('a',)", "policy.network_config.fc_layer_params"),
        ("es.es_config.top_k = 1.5", "es.es_config.top_k = 1.5: expected int | None"),
        ("train.trainer_config.reward_per_function = 1", "reward_per_function = 1: expected bool"),
        ("regalloc.cost_weights.copies_cost = 'x'", "regalloc.cost_weights.copies_cost = 'x': expected float"),
    ],
)
def test_a_gin_value_of_the_wrong_type_is_refused_naming_the_binding(binding, says):
    with pytest.raises(MlgoError, match="gin binding") as error:
        _load_gin([default_gin_file("regalloc-eviction", "es")], [binding])
    assert says in str(error.value)


def test_gin_values_of_the_right_type_pass():
    _load_gin(
        [default_gin_file("inlining", "ppo")],
        [
            "train.trainer_config.deadline_grace_seconds = None",
            "train.trainer_config.compile_timeout = 30",
            "es.es_config.top_k = 2",
            "policy.network_config.fc_layer_params = [8, 4]",
            "ppo.ppo_config.gradient_clipping = 0.5",
        ],
    )
    assert gin.query_parameter("train.trainer_config.compile_timeout") == 30


def test_a_gin_type_error_on_the_command_line_is_one_clear_line(small_sample, tmp_path):
    result = mlgo(
        "train",
        "--problem",
        "inlining",
        "--algorithm",
        "ppo",
        "--corpus",
        small_sample,
        "--output",
        tmp_path / "run",
        "--gin_bindings",
        'train.trainer_config.iterations = "two"',
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "train.trainer_config.iterations = 'two': expected int" in result.stderr
    assert not (tmp_path / "run").exists()


def test_an_eviction_policy_given_to_inlining_eval_names_the_wrong_problem(eviction_run, small_sample, tmp_path):
    run, _ = eviction_run
    result = mlgo(
        "eval",
        "--problem",
        "inlining",
        "--policy",
        run / "policy",
        "--corpus",
        small_sample,
        "--output",
        tmp_path / "eval.json",
        "--baselines",
        tmp_path / "baselines",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "this policy is for problem regalloc-eviction" in result.stderr and "not for inlining" in result.stderr
    assert "Retrain" not in result.stderr
    assert not (tmp_path / "baselines").exists()  # refused before any compile


def test_an_eviction_policy_is_not_exported_as_an_inlining_one(eviction_run, tmp_path):
    run, _ = eviction_run
    result = mlgo("export", "--policy", run / "policy", "--output", tmp_path / "out", "--problem", "inlining")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "this policy is for problem regalloc-eviction" in result.stderr and "not for inlining" in result.stderr
    assert "--problem regalloc-eviction" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_eviction_policy_is_no_warm_start_for_inlining(eviction_run, small_sample, tmp_path):
    run, _ = eviction_run
    result = mlgo(
        "train",
        "--problem",
        "inlining",
        "--algorithm",
        "es",
        "--corpus",
        small_sample,
        "--output",
        tmp_path / "run",
        "--warmstart",
        run / "policy",
        "--baselines",
        tmp_path / "baselines",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "this policy is for problem regalloc-eviction" in result.stderr and "not for inlining" in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.fixture
def huge_command_line(small_sample, tmp_path) -> Path:
    """A two-module corpus where xxhash's .cmd holds an argument past Linux's 128 KiB limit for one argument."""
    corpus = sub_corpus(small_sample, ("xxhash/xxhash", "libyaml/api"), tmp_path / "corpus")
    cmd = corpus / "xxhash" / "xxhash.cmd"
    cmd.write_bytes(cmd.read_bytes().rstrip(b"\0") + b"\0-main-file-name\0" + b"x" * 200_000 + b"\0")
    return corpus


def test_a_command_line_too_long_to_start_names_the_module_in_trace(huge_command_line):
    module = huge_command_line / "xxhash" / "xxhash"
    result = mlgo("trace", "--problem", "inlining", "--bitcode", f"{module}.bc", "--cmd", f"{module}.cmd")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{module}.bc: cannot start the compiler: its command line is too long" in result.stderr


def test_a_command_line_too_long_to_start_fails_only_its_module_in_eval(huge_command_line, tmp_path):
    result = mlgo(
        "eval",
        "--problem",
        "inlining",
        "--policy",
        "always",
        "--corpus",
        huge_command_line,
        "--output",
        tmp_path / "eval.json",
        "--workers",
        1,
        "--baselines",
        tmp_path / "baselines",
    )
    assert result.returncode == 0, result.stderr
    modules = {m["name"]: m for m in json.loads((tmp_path / "eval.json").read_text())["modules"]}
    assert modules["libyaml/api"]["ok"] and not modules["xxhash/xxhash"]["ok"]
    for side in modules["xxhash/xxhash"]["error"].splitlines():
        assert "xxhash/xxhash" in side and "CompilerFailure" in side and "command line is too long" in side

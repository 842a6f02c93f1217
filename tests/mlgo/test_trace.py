"""`mlgo trace` end to end, for every advisor of the installed clang."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from compiler_opt.llvm.log_format import LogReader


def mlgo(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True, check=check
    )


@pytest.mark.parametrize(
    "problem, policy, module, advice",
    [
        ("inlining", "default", "calls", "inlining_decision"),
        ("inlining", "always", "calls", "inlining_decision"),
        ("inlining", "never", "calls", "inlining_decision"),
        ("regalloc-eviction", "first", "pressure", "index_to_evict"),
        ("regalloc-eviction", "random", "pressure", "index_to_evict"),
        ("regalloc-priority", "weight", "pressure", "priority"),
    ],
)
def test_trace_logs_every_decision(modules, tmp_path, problem, policy, module, advice):
    built = modules[module]
    log, obj = tmp_path / "trace.log", tmp_path / "m.o"
    result = mlgo(
        "trace",
        "--problem",
        problem,
        "--policy",
        policy,
        "--bitcode",
        built.bitcode,
        "--cmd",
        built.cmd,
        "--output",
        log,
        "--object",
        obj,
        "--json",
    )
    report = json.loads(result.stdout)
    with open(log, "rb") as stream:
        reader = LogReader(stream)
        records = list(reader)
    assert reader.header.features[-1].name == advice
    assert report["decisions"] == len(records) > 0
    assert obj.stat().st_size > 0
    if problem == "regalloc-eviction":
        for record in records:
            chosen = int(record.observation[advice][0])
            assert record.observation["mask"].reshape(-1)[chosen] == 1
    figures = report["score"]["figures"]
    assert figures["text"] > 0
    if problem.startswith("regalloc"):
        assert {"cost", "spills", "reloads", "copies"} <= set(figures)


def test_default_replay_equals_plain_compile(toolchain, modules, tmp_path):
    for built in modules.values():
        obj = tmp_path / f"{built.name}.o"
        mlgo(
            "trace",
            "--problem",
            "inlining",
            "--policy",
            "default",
            "--bitcode",
            built.bitcode,
            "--cmd",
            built.cmd,
            "--object",
            obj,
        )
        plain = tmp_path / f"{built.name}.plain.o"
        subprocess.run(built.command(toolchain).argv(plain), check=True)
        assert obj.read_bytes() == plain.read_bytes(), built.name


@pytest.mark.parametrize("problem", ["regalloc-eviction", "regalloc-priority"])
def test_regalloc_default_says_nothing_was_logged(modules, tmp_path, problem):
    built = modules["pressure"]
    result = mlgo(
        "trace", "--problem", problem, "--bitcode", built.bitcode, "--cmd", built.cmd, "--output", tmp_path / "t.log"
    )
    assert "none logged" in result.stdout
    assert "cost:" in result.stdout
    assert not (tmp_path / "t.log").exists()


def test_without_cmd_compiles_at_oz(toolchain, modules, tmp_path):
    built = modules["calls"]
    mlgo("trace", "--problem", "inlining", "--bitcode", built.bitcode, "--object", tmp_path / "m.o")
    subprocess.run(
        [str(toolchain.clang), "-Oz", "-c", "-x", "ir", str(built.bitcode), "-o", str(tmp_path / "p.o")], check=True
    )
    assert (tmp_path / "m.o").read_bytes() == (tmp_path / "p.o").read_bytes()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--problem", "inlining", "--policy", "sometimes"], "no built-in policy 'sometimes'"),
        (["--problem", "regalloc-eviction", "--policy", "always"], "choose one of: default, first, random"),
    ],
)
def test_bad_policy_is_one_clear_line(modules, args, words):
    result = mlgo("trace", *args, "--bitcode", modules["calls"].bitcode, check=False)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_hostile_cmd_is_refused_before_compiling(modules, tmp_path):
    cmd = tmp_path / "evil.cmd"
    cmd.write_bytes(modules["calls"].cmd.read_bytes() + b"-load\0/tmp/evil.so\0")
    result = mlgo("trace", "--problem", "inlining", "--bitcode", modules["calls"].bitcode, "--cmd", cmd, check=False)
    assert result.returncode == 2
    assert "evil.cmd: refusing '-load'" in result.stderr


def test_corrupt_bitcode_names_the_module(tmp_path):
    bad = tmp_path / "broken.bc"
    bad.write_bytes(b"BC\xc0\xde" + bytes(40))
    result = mlgo("trace", "--problem", "inlining", "--bitcode", bad, check=False)
    assert result.returncode == 2
    assert f"{bad}: exited before sending the log header" in result.stderr


def test_every_flag_has_help():
    text = mlgo("trace", "--help").stdout
    for flag in (
        "--problem",
        "--policy",
        "--bitcode",
        "--cmd",
        "--output",
        "--object",
        "--clang",
        "--seed",
        "--timeout",
        "--json",
    ):
        assert flag in text

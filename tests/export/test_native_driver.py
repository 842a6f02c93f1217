"""The native `mlgo-clang`: the Python drop-in's objects, clang's behaviour elsewhere, clean failures."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler_opt.export.aot import compile_aot
from compiler_opt.export.dropin import compile_with_policy
from compiler_opt.export.native_driver import build_native_driver
from compiler_opt.export.saved_model import write_saved_model
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.problems import get_problem
from tests.export.policies import PROBLEM

MODULES = 5  # real corpus modules compared with the Python drop-in


@dataclasses.dataclass(frozen=True)
class Built:
    root: Path
    aot: Path
    spec: FeatureSpec
    bin_dir: Path

    @property
    def clang(self) -> Path:
        return self.bin_dir / "mlgo-clang"


@pytest.fixture(scope="module")
def native(policy_dir, toolchain, tmp_path_factory) -> Built:
    """mlgo-clang for the session's random inlining policy, built once for this file."""
    root = tmp_path_factory.mktemp("native")
    spec = FeatureSpec.load(policy_dir)
    problem = get_problem(PROBLEM)
    saved = write_saved_model(policy_dir, root / "saved_model", spec)
    aot = compile_aot(saved, root / "aot", problem).folder
    driver = build_native_driver(aot, spec, problem, toolchain.clang, root / "out", build_dir=root / "build")
    assert driver.clang == toolchain.clang and driver.runtime == "minimal"
    assert os.path.samefile(driver.bin_dir / "mlgo-clang", driver.bin_dir / "mlgo-clang++")
    return Built(root, aot, spec, driver.bin_dir)


def run(command: list, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env})


def private_env(tmp_path: Path, toolchain, **extra: str) -> dict:
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    return {"TMPDIR": str(temp), "MLGO_CLANG": str(toolchain.clang), **extra}


def mid_sized_modules(corpus, count: int) -> list:
    modules = sorted((m for m in corpus if 8_000 <= m.size <= 120_000), key=lambda m: m.size)
    step = max(1, len(modules) // count)
    return modules[::step][:count]


def test_objects_are_the_python_dropins_and_the_policy_decided(native, policy_dir, sample_corpus, toolchain, tmp_path):
    env = private_env(tmp_path, toolchain, MLGO_NATIVE_STATS=str(tmp_path / "stats.jsonl"))
    differs_from_oz = 0
    modules = mid_sized_modules(sample_corpus, MODULES)
    assert len(modules) == MODULES
    for index, module in enumerate(modules):
        args = ["-Oz", "-c", "-x", "ir", str(module.bitcode), "-o"]
        native_run = run([native.clang, *args, tmp_path / f"{index}.native.o"], tmp_path, **env)
        assert native_run.returncode == 0, native_run.stderr
        status = compile_with_policy(
            [*args, str(tmp_path / f"{index}.python.o")], policy_dir, clang=str(toolchain.clang)
        )
        assert status == 0
        plain = run([toolchain.clang, *args, tmp_path / f"{index}.oz.o"], tmp_path)
        assert plain.returncode == 0, plain.stderr
        objects = [(tmp_path / f"{index}.{kind}.o").read_bytes() for kind in ("native", "python", "oz")]
        assert objects[0] == objects[1], module.name
        differs_from_oz += objects[0] != objects[2]
    assert differs_from_oz > 0  # the policy really decided
    stats = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert len(stats) == MODULES and sum(s["decisions"] for s in stats) > 0
    answered = [s for s in stats if s["decisions"]]
    assert all(s["model_ns"] > 0 and s["total_ns"] >= s["model_ns"] + s["wait_ns"] for s in answered)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_programs_link_and_clangs_own_behaviour_passes_through(native, toolchain, tmp_path):
    stats = tmp_path / "stats.jsonl"
    env = private_env(tmp_path, toolchain, MLGO_NATIVE_STATS=str(stats))
    (tmp_path / "a.c").write_text("int twice(int);\nint main(void) { return twice(21) == 42 ? 0 : 1; }\n")
    (tmp_path / "b.c").write_text(
        "#define N 2\nstatic int mul(int a) { return a * N; }\nint twice(int x) { return mul(x); }\n"
    )
    (tmp_path / "c.cc").write_text("struct A { int f() { return 7; } };\nint main() { return A().f() == 7 ? 0 : 1; }\n")
    (tmp_path / "bad.c").write_text("int f(void) { return undeclared; }\n")
    linked = run([native.clang, "-Oz", "a.c", "b.c", "-o", "prog"], tmp_path, **env)
    assert linked.returncode == 0, linked.stderr
    assert subprocess.run([tmp_path / "prog"]).returncode == 0
    assert len(stats.read_text().splitlines()) == 2  # both compiles were answered

    version = run([native.clang, "--version"], tmp_path, **env)
    assert version.returncode == 0 and version.stdout.startswith(toolchain.version_text)
    preprocessed = run([native.clang, "-E", "b.c"], tmp_path, **env)
    assert preprocessed.returncode == 0 and "return a * 2;" in preprocessed.stdout
    assert run([native.clang, "-O0", "-c", "b.c", "-o", "b0.o"], tmp_path, **env).returncode == 0
    assert run([toolchain.clang, "-c", "a.c", "b.c"], tmp_path).returncode == 0
    assert run([native.clang, "a.o", "b.o", "-o", "prog2"], tmp_path, **env).returncode == 0  # link only
    assert subprocess.run([tmp_path / "prog2"]).returncode == 0
    assembly = run([native.clang, "-Oz", "-S", "-o", "-", "b.c"], tmp_path, **env)
    assert assembly.returncode == 0 and "twice:" in assembly.stdout
    assert len(stats.read_text().splitlines()) == 3  # -Oz -S was answered, the rest went to clang itself

    bad = run([native.clang, "-Oz", "-c", "bad.c"], tmp_path, **env)
    assert bad.returncode == 1 and "use of undeclared identifier 'undeclared'" in bad.stderr
    missing = run([native.clang, "-Oz", "-c", "missing.c"], tmp_path, **env)
    assert missing.returncode != 0 and "no such file or directory" in missing.stderr

    cxx = run([native.bin_dir / "mlgo-clang++", "-Oz", "c.cc", "-o", "cxx"], tmp_path, **env)
    assert cxx.returncode == 0, cxx.stderr
    assert subprocess.run([tmp_path / "cxx"]).returncode == 0
    launcher = run([native.clang, f"{toolchain.clang}++", "-Oz", "-c", "c.cc", "-o", "launched.o"], tmp_path, **env)
    assert launcher.returncode == 0, launcher.stderr
    direct = run([native.bin_dir / "mlgo-clang++", "-Oz", "-c", "c.cc", "-o", "direct.o"], tmp_path, **env)
    assert direct.returncode == 0 and (tmp_path / "launched.o").read_bytes() == (tmp_path / "direct.o").read_bytes()
    assert len(stats.read_text().splitlines()) == 7
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_compiler_whose_features_differ_gets_one_clear_message(native, toolchain, tmp_path):
    """A driver built for a policy whose first feature has another name: the compiler's header does not fit."""
    renamed = dataclasses.replace(native.spec.features[0], name=native.spec.features[0].name + "_renamed")
    spec = dataclasses.replace(native.spec, features=(renamed, *native.spec.features[1:]))
    driver = build_native_driver(
        native.aot, spec, get_problem(PROBLEM), toolchain.clang, tmp_path / "out", build_dir=native.root / "build"
    )
    (tmp_path / "x.c").write_text("static int f(int x) { return x + 1; }\nint g(int y) { return f(y) * 2; }\n")
    result = run([driver.bin_dir / "mlgo-clang", "-Oz", "-c", "x.c"], tmp_path, **private_env(tmp_path, toolchain))
    assert result.returncode == 1
    assert f"missing features: {renamed.name}" in result.stderr
    assert f"extra features: {native.spec.features[0].name}" in result.stderr
    assert toolchain.version_text in result.stderr and "set MLGO_CLANG" in result.stderr
    assert not (tmp_path / "x.o").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


_FAKE_CLANG = """#!{python}
# A clang whose -cc1 jobs {fault}; everything else is the real clang's (its -### names this script for -cc1).
import os, signal, subprocess, sys, time
REAL, ME, args = {real!r}, os.path.abspath(__file__), sys.argv[1:]
if args[:1] == ["-cc1"]:
    if {fault!r} == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    with open({pid_file!r}, "w") as stream:
        stream.write(str(os.getpid()))
    time.sleep(600)
if "-###" in args:
    listing = subprocess.run([REAL, *args], capture_output=True, text=True)
    sys.stderr.write(listing.stderr.replace(f'"{{REAL}}" "-cc1"', f'"{{ME}}" "-cc1"'))
    sys.exit(listing.returncode)
os.execv(REAL, [REAL, *args])
"""


def fake_clang(tmp_path: Path, toolchain, fault: str) -> Path:
    script = tmp_path / "clang"
    pid_file = tmp_path / "cc1.pid"
    script.write_text(
        _FAKE_CLANG.format(python=sys.executable, real=str(toolchain.clang), fault=fault, pid_file=str(pid_file))
    )
    script.chmod(0o755)
    (tmp_path / "x.c").write_text("int f(void) { return 1; }\n")
    return script


def test_a_crashing_compiler_is_named_and_leaves_nothing(native, toolchain, tmp_path):
    fake = fake_clang(tmp_path, toolchain, "crash")
    result = run([native.clang, "-Oz", "-c", "x.c"], tmp_path, **private_env(tmp_path, toolchain, MLGO_CLANG=str(fake)))
    assert result.returncode == 1
    assert f"mlgo-clang: error: clang -cc1 crashed (signal {int(signal.SIGSEGV)}) compiling x.c" in result.stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_sigterm_ends_the_compile_and_leaves_nothing(native, toolchain, tmp_path):
    fake = fake_clang(tmp_path, toolchain, "sleep")
    env = {**os.environ, **private_env(tmp_path, toolchain, MLGO_CLANG=str(fake))}
    process = subprocess.Popen([native.clang, "-Oz", "-c", "x.c"], cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "cc1.pid").exists() or not (tmp_path / "cc1.pid").read_text():
            assert time.monotonic() < deadline and process.poll() is None, "the compiler never started"
            time.sleep(0.05)
        compiler = int((tmp_path / "cc1.pid").read_text())
        assert any((tmp_path / "tmp").iterdir())  # the channel's folder exists mid-compile
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
        assert process.returncode == -signal.SIGTERM
        assert not Path(f"/proc/{compiler}").exists()  # forwarded, and reaped
        assert list((tmp_path / "tmp").iterdir()) == []
    finally:
        process.kill()

"""The baseline cache with the real clang: computed once, recomputed on any change, never trusted half-written."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import subprocess
import sys
import time

import pytest

from compiler_opt.collect.baseline import BaselineCache, compute_baseline
from compiler_opt.llvm.failures import CompilerTimeout
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from tests.pool import jobs


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as pool:
        yield pool


@pytest.fixture
def counter(tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()

    def calls() -> int:
        count = len(list(folder.iterdir()))
        for marker in folder.iterdir():
            marker.unlink()
        return count

    calls.compute = functools.partial(jobs.counted_baseline, counter_dir=str(folder))
    return calls


@pytest.fixture
def copied(modules, toolchain, tmp_path):
    """The test modules' commands, with their bitcode copied where a test may overwrite it."""
    commands = {}
    for name, built in modules.items():
        bitcode = tmp_path / "corpus" / f"{name}.bc"
        bitcode.parent.mkdir(exist_ok=True)
        shutil.copy(built.bitcode, bitcode)
        commands[name] = dataclasses.replace(built.command(toolchain), bitcode=str(bitcode))
    return commands


def test_computed_once_then_reused(toolchain, pool, copied, counter, tmp_path):
    cache = BaselineCache(tmp_path / "baselines", toolchain, get_problem("inlining"))
    first = cache.get_many(copied, pool, compute=counter.compute)
    assert (first.computed, first.reused, counter()) == (len(copied), 0, len(copied))
    assert not first.failures
    for name, command in copied.items():
        plain = tmp_path / f"{name}.o"
        subprocess.run(command.argv(plain), check=True)
        size = (
            subprocess.run([str(toolchain.tool("llvm-size")), str(plain)], capture_output=True, text=True, check=True)
            .stdout.splitlines()[1]
            .split()[0]
        )
        assert first.scores[name].value == float(size) == first.scores[name].figures["text"]
    again = BaselineCache(tmp_path / "baselines", toolchain, get_problem("inlining"))
    second = again.get_many(copied, pool, compute=counter.compute)
    assert (second.computed, second.reused, counter()) == (0, len(copied), 0)
    assert second.scores == first.scores


def test_changed_bitcode_compiler_or_command_is_recomputed(toolchain, pool, copied, modules, counter, tmp_path):
    problem = get_problem("inlining")
    cache = BaselineCache(tmp_path / "baselines", toolchain, problem)
    calls = {"calls": copied["calls"]}
    before = cache.get_many(calls, pool, compute=counter.compute).scores["calls"]
    assert counter() == 1
    # Other bytes under the same path (and the same command line).
    shutil.copy(modules["pressure"].bitcode, copied["calls"].bitcode)
    changed = cache.get_many(calls, pool, compute=counter.compute)
    assert (changed.computed, counter()) == (1, 1)
    assert changed.scores["calls"] != before
    # Back to the original bytes: that entry is still there.
    shutil.copy(modules["calls"].bitcode, copied["calls"].bitcode)
    assert cache.get_many(calls, pool, compute=counter.compute).scores["calls"] == before and counter() == 0
    # A different compiler (same binary, another identity: as after an upgrade).
    other = dataclasses.replace(toolchain, version_text=toolchain.version_text + " (rebuilt)")
    assert other.identity != toolchain.identity
    BaselineCache(tmp_path / "baselines", other, problem).get_many(calls, pool, compute=counter.compute)
    assert counter() == 1
    # A different command line.
    command = copied["calls"]
    longer = {"calls": dataclasses.replace(command, args=(*command.args, "-fmerge-all-constants"))}
    assert cache.get_many(longer, pool, compute=counter.compute).computed == 1 and counter() == 1
    # A different measurement (problem) is its own entry too.
    assert cache.key(command) != BaselineCache(tmp_path / "baselines", toolchain, get_problem("regalloc-priority")).key(
        command
    )
    # The moved module (same bytes, same command, other path) reuses its entry.
    moved = tmp_path / "elsewhere.bc"
    shutil.copy(command.bitcode, moved)
    assert cache.get(dataclasses.replace(command, bitcode=str(moved))) == before


def test_half_written_entry_is_recomputed(toolchain, pool, copied, counter, tmp_path):
    cache = BaselineCache(tmp_path / "baselines", toolchain, get_problem("inlining"))
    calls = {"calls": copied["calls"]}
    good = cache.get_many(calls, pool, compute=counter.compute).scores["calls"]
    counter()
    entry = cache.path(cache.key(copied["calls"]))
    text = entry.read_text()
    entry.write_text(text[: len(text) // 2])  # as if the writer died mid-file
    (entry.parent / f".{entry.name}.999.tmp").write_text(text[:10])  # a temp file a crash left behind
    assert cache.get(copied["calls"]) is None
    redone = cache.get_many(calls, pool, compute=counter.compute)
    assert (redone.computed, counter(), redone.scores["calls"]) == (1, 1, good)
    assert entry.read_text() != text[: len(text) // 2]
    # An entry filed under the wrong key is not trusted either.
    other_key = "0" * 64
    cache.path(other_key).parent.mkdir(parents=True, exist_ok=True)
    cache.path(other_key).write_text(entry.read_text())
    assert cache._read(other_key) is None


def test_failed_compiles_are_reported_not_cached(toolchain, pool, copied, counter, tmp_path):
    cache = BaselineCache(tmp_path / "baselines", toolchain, get_problem("inlining"))
    bad = tmp_path / "bad.bc"
    bad.write_bytes(b"BC\xc0\xde" + b"\0" * 64)
    broken = {"bad": dataclasses.replace(copied["calls"], bitcode=str(bad)), "calls": copied["calls"]}
    found = cache.get_many(broken, pool, compute=compute_baseline)
    assert set(found.scores) == {"calls"} and set(found.failures) == {"bad"}
    assert found.failures["bad"].module == str(bad) and found.failures["bad"].stderr_tail
    assert cache.get(broken["bad"]) is None


def test_commands_of_corpus_modules(toolchain, modules, monkeypatch, tmp_path):
    from compiler_opt.corpus.loading import ModuleSpec
    from compiler_opt.llvm.cmdline import read_cmd_file, sanitize_cc1

    built = modules["calls"]
    spec = ModuleSpec(
        "lib/calls",
        built.bitcode,
        tuple(sanitize_cc1(read_cmd_file(built.cmd), "calls")),
        None,
        built.bitcode.stat().st_size,
    )
    ((name, command),) = BaselineCache.commands(toolchain, [spec]).items()
    assert name == "lib/calls" and command == built.command(toolchain)
    monkeypatch.setenv("MLGO_CACHE_DIR", str(tmp_path))
    assert BaselineCache.shared_folder() == tmp_path / "baselines"


@pytest.mark.timeout(60)
def test_hung_plain_compile_is_killed_with_its_children(toolchain, modules, tmp_path):
    """A baseline compile past its limit goes with every process it started (they hold its output pipes)."""
    marker = tmp_path / "child.pid"
    fake = tmp_path / "clang"
    fake.write_text(
        f"#!{sys.executable}\nimport os, subprocess, sys, time\n"
        f"if '--version' in sys.argv:\n    os.execv({str(toolchain.clang)!r}, sys.argv)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\ntime.sleep(600)\n"
    )
    fake.chmod(0o755)
    command = dataclasses.replace(modules["calls"].command(toolchain), clang=str(fake))
    started = time.monotonic()
    with pytest.raises(CompilerTimeout, match="timed out after 2 s"):
        compute_baseline(find_toolchain(fake), "inlining", command, timeout=2)
    assert time.monotonic() - started < 10
    child = int(marker.read_text())
    try:
        alive = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        alive = False
    assert not alive

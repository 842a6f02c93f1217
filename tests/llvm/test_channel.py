"""The interactive channel against the real clang, and against fakes that inject faults."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from compiler_opt.llvm import advisors
from compiler_opt.llvm.channel import InteractiveCompile
from compiler_opt.llvm.failures import ChannelProtocolError, CompilerCrash, CompilerTimeout
from compiler_opt.llvm.log_format import LogReader


def _assert_gone(compile_: InteractiveCompile, temp_parent: Path) -> None:
    """No process, FIFO or directory of the compile outlives it."""
    pid = compile_.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert list(temp_parent.iterdir()) == []


def test_inliner_decisions_follow_the_header(toolchain, modules, tmp_path):
    module = modules["calls"]
    parent = tmp_path / "channels"
    parent.mkdir()
    argv = module.command(toolchain).argv(tmp_path / "out.o")
    seen = 0
    with InteractiveCompile(argv, advisors.INLINING, temp_parent=parent) as compile_:
        names = [spec.name for spec in compile_.header.features]
        assert "callee_users" in names and "cost_estimate" in names
        assert compile_.header.advice.name == "inlining_decision"
        for observation in compile_:
            features = observation.as_dict()
            assert set(features) == set(names)
            assert all(value.shape == (1,) and value.dtype == np.int64 for value in features.values())
            assert observation.index == seen
            seen += 1
            compile_.advise(0)
        outcome = compile_.finish()
    assert outcome.decisions == seen > 20
    assert (tmp_path / "out.o").stat().st_size > 0
    _assert_gone(compile_, parent)


def test_transcript_is_a_readable_log(toolchain, modules, tmp_path):
    """The raw stream clang wrote reads back with LogReader, record for record."""
    argv = modules["calls"].command(toolchain).argv(tmp_path / "out.o")
    live = []
    with InteractiveCompile(argv, advisors.INLINING, transcript=tmp_path / "stream.log") as compile_:
        for observation in compile_:
            live.append((observation.context, observation.index, observation.raw))
            compile_.advise(1)
        compile_.finish()
    with open(tmp_path / "stream.log", "rb") as stream:
        reader = LogReader(stream)
        replayed = [(r.observation.context, r.observation.index, r.observation.raw) for r in reader]
    assert reader.header.advice.name == "inlining_decision"
    assert replayed == live and len(live) > 20


def test_eviction_candidates_and_mask(toolchain, modules, tmp_path):
    argv = modules["pressure"].command(toolchain).argv(tmp_path / "out.o")
    decisions = 0
    with InteractiveCompile(argv, advisors.REGALLOC_EVICTION) as compile_:
        assert compile_.header.advice.name == "index_to_evict"
        for observation in compile_:
            mask = observation["mask"].reshape(-1)
            assert observation["mask"].shape == (1, 33) and mask.any()
            compile_.advise(int(np.flatnonzero(mask)[0]))
            decisions += 1
        compile_.finish()
    assert decisions > 0


def test_priority_advice_is_float(toolchain, modules, tmp_path):
    argv = modules["pressure"].command(toolchain).argv(tmp_path / "out.o")
    with InteractiveCompile(argv, advisors.REGALLOC_PRIORITY) as compile_:
        assert compile_.header.advice.type == "float"
        outcome = compile_.run(lambda observation: observation.scalar("weight"))
    assert outcome.decisions > 0


def test_corrupt_bitcode_is_a_crash_with_stderr(toolchain, tmp_path):
    bad = tmp_path / "bad.bc"
    bad.write_bytes(b"BC\xc0\xde" + b"\x00garbage" * 10)
    argv = [str(toolchain.clang), "-Oz", "-c", "-x", "ir", str(bad), "-o", str(tmp_path / "bad.o")]
    with pytest.raises(CompilerCrash) as error:
        with InteractiveCompile(argv, advisors.INLINING, module="bad.bc", temp_parent=tmp_path) as compile_:
            compile_.run(lambda observation: 0)
    assert error.value.module == "bad.bc"
    assert error.value.returncode == 1
    assert "Malformed block" in error.value.stderr_tail
    assert str(error.value).startswith("bad.bc: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bc"]


# Fakes: a "compiler" that speaks the protocol badly, to inject faults the real one won't.
_FAKE_PRELUDE = """
import os, sys, time, json
base = next(a.split("=", 1)[1] for a in sys.argv if "channel-base=" in a)
out = open(base + ".out", "wb", buffering=0)
inp = open(base + ".in", "rb", buffering=0)
HEADER = json.dumps({"features": [{"name": "f", "port": 0, "shape": [1], "type": "int64_t"}],
                     "advice": {"name": "inlining_decision", "port": 0, "shape": [1], "type": "int64_t"}}).encode()
"""


def _fake(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "fake-clang"
    script.write_text(f"#!{sys.executable}\n" + _FAKE_PRELUDE + textwrap.dedent(body))
    script.chmod(0o755)
    return [str(script)]


@pytest.mark.parametrize(
    "body, error, words",
    [
        ("time.sleep(600)\n", CompilerTimeout, "per-read limit"),
        (
            "out.write(HEADER + b'\\n')\nwhile True:\n    out.write(b'{\"observation\":0}\\n' + bytes(8) + b'\\n')\n"
            "    inp.read(8)\n    time.sleep(0.05)\n",
            CompilerTimeout,
            "wall limit",
        ),
        ("out.write(b'this is not json\\n')\ntime.sleep(600)\n", ChannelProtocolError, "malformed log header"),
        (
            "out.write(HEADER + b'\\n{\"observation\":0}\\n' + bytes(3))\nsys.exit(0)\n",
            ChannelProtocolError,
            "stream ended mid-record",
        ),
        (
            "out.write(HEADER + b'\\n{\"observation\":0}\\n' + bytes(3))\nsys.stderr.write('boom\\n')\nsys.exit(3)\n",
            CompilerCrash,
            "exit status 3",
        ),
        ("out.write(HEADER + b'\\n{\"oops\":0}\\n')\ntime.sleep(600)\n", ChannelProtocolError, "unexpected log line"),
        ("sys.stderr.write('fatal: cannot open\\n')\nos.kill(os.getpid(), 11)\n", CompilerCrash, "signal 11"),
    ],
    ids=["hang", "too-slow", "garbage-header", "truncated-record", "crash", "bad-record", "segfault"],
)
def test_faults_are_typed_and_leave_nothing(tmp_path, body, error, words):
    argv = _fake(tmp_path, body)
    parent = tmp_path / "channels"
    parent.mkdir()
    compile_ = InteractiveCompile(
        argv, advisors.INLINING, module="m.bc", timeout=1.5, read_timeout=0.5, temp_parent=parent
    )
    with pytest.raises(error) as raised:
        with compile_:
            compile_.run(lambda observation: 0)
    assert words in str(raised.value)
    assert raised.value.module == "m.bc"
    if "crash" in words or "exit status" in words:
        assert "boom" in raised.value.stderr_tail
    _assert_gone(compile_, parent)


def test_hung_compiler_children_are_killed_too(tmp_path):
    """The whole process group goes: a grandchild holding the FIFO open does not survive."""
    marker = tmp_path / "child.pid"
    argv = _fake(
        tmp_path,
        f"""
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(marker)!r}, "w").write(str(child.pid))
        time.sleep(600)
    """,
    )
    compile_ = InteractiveCompile(argv, advisors.INLINING, timeout=5, read_timeout=1)
    with pytest.raises(CompilerTimeout):
        with compile_:
            compile_.run(lambda observation: 0)
    child = int(marker.read_text())
    try:
        os.kill(child, 0)
        alive = Path(f"/proc/{child}/stat").read_text().split()[2] != "Z"
    except ProcessLookupError:
        alive = False
    assert not alive


def test_compile_with_no_decisions_ends(toolchain, tmp_path):
    """A module without call sites makes no decision; the host neither hangs nor fails."""
    source = tmp_path / "leaf.c"
    source.write_text("int leaf(int x) { return x * 3; }\n")
    argv = [str(toolchain.clang), "-Oz", "-c", str(source), "-o", str(tmp_path / "leaf.o")]
    with InteractiveCompile(argv, advisors.INLINING, timeout=60, read_timeout=30) as compile_:
        outcome = compile_.run(lambda observation: 0)
    assert outcome.decisions == 0 and outcome.returncode == 0


# Sends decisions from a thread without reading any advice; the main thread waits until the
# advice FIFO is full (the host is then blocked writing), then does what the test says.
_FLOOD = """
import fcntl, termios, threading
record = b'{"observation":0}\\n' + bytes(8) + b'\\n'
out.write(HEADER + b'\\n')
threading.Thread(target=lambda: [out.write(record) for _ in range(20000)], daemon=True).start()
queued = bytearray(4)
while fcntl.ioctl(inp, termios.FIONREAD, queued) or int.from_bytes(queued, "little") < 65536:
    time.sleep(0.01)
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "after, error, words",
    [
        ("time.sleep(600)\n", CompilerTimeout, "per-read limit"),
        ("os._exit(0)\n", ChannelProtocolError, "exited without reading the advice"),
        ("sys.stderr.write('boom\\n')\nos._exit(3)\n", CompilerCrash, "exit status 3"),
    ],
    ids=["stuck", "exits", "fails"],
)
def test_unread_advice_cannot_block_the_host(tmp_path, after, error, words):
    """A compiler that never reads its advice fills the FIFO; the host's write is bounded like a read."""
    argv = _fake(tmp_path, _FLOOD + after)
    parent = tmp_path / "channels"
    parent.mkdir()
    compile_ = InteractiveCompile(
        argv, advisors.INLINING, module="m.bc", timeout=30, read_timeout=2, temp_parent=parent
    )
    with pytest.raises(error) as raised:
        with compile_:
            compile_.run(lambda observation: 0)
    assert words in str(raised.value)
    assert compile_.decisions == 65536 // 8  # the FIFO took this many before it was full
    _assert_gone(compile_, parent)

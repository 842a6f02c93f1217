"""Stuck compilers and killed runs: `mlgo trace` and `mlgo eval` end on time and leave nothing behind.

The compiler is the real clang behind a wrapper that misbehaves only on the
module named `stuck`: there it sends a valid header and a flood of decisions
but never reads an advice, so the host's advice FIFO fills up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler_opt.llvm.toolchain import find_toolchain

_STUCK_CLANG = """#!{python}
import json, os, sys, time
args = sys.argv[1:]
base = next((a.split("=", 1)[1] for a in args if "channel-base=" in a), None)
if base is None or not any(a.endswith("stuck.bc") for a in args):
    os.execv({real!r}, [{real!r}, *args])
with open({pid_file!r}, "w") as stream:
    stream.write(str(os.getpid()))
out = open(base + ".out", "wb", buffering=0)
spec = {{"port": 0, "shape": [1], "type": "int64_t"}}
out.write(json.dumps({{"features": [{{"name": "f", **spec}}], "advice": {{"name": "inlining_decision", **spec}}}}).encode()
          + b"\\n")
for _ in range(20000):
    out.write(b'{{"observation":0}}\\n' + bytes(8) + b"\\n")
time.sleep(600)
"""


@pytest.fixture(scope="module")
def stuck_clang(toolchain, tmp_path_factory) -> Path:
    """The wrapper; its toolchain probe is cached in a private cache folder (`MLGO_CACHE_DIR`)."""
    folder = tmp_path_factory.mktemp("stuck-clang")
    script = folder / "clang"
    script.write_text(
        _STUCK_CLANG.format(python=sys.executable, real=str(toolchain.clang), pid_file=str(folder / "stuck.pid"))
    )
    script.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLGO_CACHE_DIR", str(folder / "cache"))
        find_toolchain(script).probe()
    return script


@pytest.fixture(scope="module")
def stuck_corpus(modules, tmp_path_factory) -> Path:
    """A corpus of a good module (`calls`) and the stuck one (the same code)."""
    root = tmp_path_factory.mktemp("stuck-corpus")
    for name in ("calls", "stuck"):
        shutil.copy(modules["calls"].bitcode, root / f"{name}.bc")
        shutil.copy(modules["calls"].cmd, root / f"{name}.cmd")
    (root / "corpus_description.json").write_text(json.dumps({"modules": ["calls", "stuck"], "has_thinlto": False}))
    return root


def _environment(stuck_clang: Path, tmpdir: Path) -> dict[str, str]:
    tmpdir.mkdir()
    return {**os.environ, "MLGO_CACHE_DIR": str(stuck_clang.parent / "cache"), "TMPDIR": str(tmpdir)}


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for a reaper does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _processes_using(tmpdir: Path) -> list[int]:
    """Live processes whose environment names `tmpdir` (the run, its workers, compilers, forkserver)."""
    found = []
    needle = str(tmpdir).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes() and _alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _run_bounded(argv: list[str], env: dict[str, str], limit: float) -> tuple[subprocess.CompletedProcess, float]:
    """Run `mlgo` with a hard limit; on overrun everything it started is killed and the test fails."""
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mlgo.cli", *argv], capture_output=True, text=True, env=env, timeout=limit
        )
    except subprocess.TimeoutExpired:
        _kill_all(Path(env["TMPDIR"]))
        pytest.fail(f"mlgo {argv[0]} still running after {limit:g} s")
    return result, time.monotonic() - started


def _kill_all(tmpdir: Path) -> None:
    for pid in _processes_using(tmpdir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _stuck_pid(stuck_clang: Path) -> Path:
    pid_file = stuck_clang.parent / "stuck.pid"
    pid_file.unlink(missing_ok=True)
    return pid_file


def _wait_for(path: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {limit:g} s"
        time.sleep(0.1)


def test_trace_with_unread_advice_ends_within_its_timeout(stuck_clang, stuck_corpus, tmp_path):
    env = _environment(stuck_clang, tmp_path / "tmp")
    result, seconds = _run_bounded(
        [
            "trace",
            "--problem",
            "inlining",
            "--policy",
            "always",
            "--clang",
            stuck_clang,
            "--bitcode",
            stuck_corpus / "stuck.bc",
            "--timeout",
            "5",
        ],
        env,
        60,
    )
    assert result.returncode == 2, result.stderr
    assert "stuck.bc: compiler timed out" in result.stderr and "Traceback" not in result.stderr
    assert seconds < 5 + 10
    assert _processes_using(tmp_path / "tmp") == [] and list((tmp_path / "tmp").iterdir()) == []


def test_eval_with_unread_advice_fails_that_module_on_time(stuck_clang, stuck_corpus, tmp_path):
    env = _environment(stuck_clang, tmp_path / "tmp")
    output = tmp_path / "eval.json"
    result, seconds = _run_bounded(
        [
            "eval",
            "--problem",
            "inlining",
            "--policy",
            "always",
            "--clang",
            stuck_clang,
            "--corpus",
            stuck_corpus,
            "--output",
            output,
            "--baselines",
            tmp_path / "b",
            "--workers",
            "2",
            "--timeout",
            "5",
        ],
        env,
        120,
    )
    assert result.returncode == 0, result.stderr
    modules = {entry["name"]: entry for entry in json.loads(output.read_text())["modules"]}
    assert modules["calls"]["ok"] and not modules["stuck"]["ok"]
    assert "compiler timed out" in modules["stuck"]["error"]  # the compile's own limit, not the pool's backstop
    assert seconds < 5 + 30
    assert _processes_using(tmp_path / "tmp") == [] and list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("verb", ["trace", "eval"])
def test_sigterm_leaves_no_process_or_folder(stuck_clang, stuck_corpus, tmp_path, verb):
    """SIGTERM mid-compile: the run exits 143 at once, its workers, compiler and temp folders go with it."""
    tmpdir = tmp_path / "tmp"
    env = _environment(stuck_clang, tmpdir)
    pid_file = _stuck_pid(stuck_clang)
    common = ["--problem", "inlining", "--policy", "always", "--clang", str(stuck_clang), "--timeout", "300"]
    argv = (
        ["trace", *common, "--bitcode", str(stuck_corpus / "stuck.bc")]
        if verb == "trace"
        else [
            "eval",
            *common,
            "--corpus",
            str(stuck_corpus),
            "--output",
            str(tmp_path / "eval.json"),
            "--baselines",
            str(tmp_path / "b"),
            "--workers",
            "2",
        ]
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgo.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(pid_file, 60)
        compiler = int(pid_file.read_text())
        time.sleep(0.5)  # the host is now blocked on the full advice FIFO
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 143, stderr
        assert "terminated" in stderr and "Traceback" not in stderr
        deadline = time.monotonic() + 3
        while _processes_using(tmpdir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _processes_using(tmpdir) == []
        assert not _alive(compiler)
        assert list(tmpdir.iterdir()) == []
    finally:
        process.kill()
        _kill_all(tmpdir)

"""The one runner of external tools: a bounded run in a process group of its own, failures naming the tool.

Every process this project starts to do its work goes through here: clang
(plain compiles, `--version`, option listings, driver plans), `llvm-size`,
`llvm-objcopy`, the linker, `saved_model_cli`, cmake and the check harness,
the runtime benchmarks' programs. The one exception is the interactive
compile, whose clang `compiler_opt.llvm.channel` starts beside its FIFOs.

`run_captured` runs a tool to its end with no stdin and its output captured;
past its time limit the tool's whole process group is killed, not only the
tool, since children holding the output pipes would keep the caller waiting.
`run_tool` turns a timeout or a failing exit into the caller's error type,
naming what ran and keeping the tail of its stderr. `run_attached` runs a
command sharing this process's terminal (the drop-in compiler's assembler
and linker jobs), in this process group so the terminal's Ctrl-C reaches it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

from compiler_opt.errors import MlgoError

__all__ = ["STDERR_TAIL_BYTES", "run_attached", "run_captured", "run_tool", "stderr_tail"]

STDERR_TAIL_BYTES = 4000


def run_captured(
    argv: Sequence[str], *, timeout: float, cwd: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`argv` run to its end in a session of its own, with no stdin and stdout/stderr captured as bytes.

    Past `timeout` seconds, or when this process is interrupted, the tool's
    whole process group is killed; then `subprocess.TimeoutExpired` (or the
    interruption) propagates. A tool that cannot start raises `OSError`.
    """
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def stderr_tail(result: subprocess.CompletedProcess, limit: int = STDERR_TAIL_BYTES) -> str:
    """The last `limit` bytes of a captured run's stderr, decoded (undecodable bytes replaced)."""
    return result.stderr[-limit:].decode("utf-8", "replace")


def run_tool(
    argv: Sequence[str],
    what: str,
    error: type[MlgoError],
    *,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> subprocess.CompletedProcess:
    """`argv` run with `run_captured`; raises `error` starting with `what` when it times out or fails.

    A failure's message ends with the tail of the tool's stderr.
    """
    try:
        result = run_captured(argv, cwd=cwd, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        raise error(f"{what} timed out after {timeout:g} s; killed") from expired
    if result.returncode != 0:
        raise error(f"{what} failed (exit status {result.returncode}):\n{stderr_tail(result).rstrip()}")
    return result


def run_attached(argv: Sequence[str]) -> int:
    """Run `argv` sharing this process's terminal (stdin, stdout, stderr, process group); its exit status."""
    return subprocess.run(list(argv)).returncode

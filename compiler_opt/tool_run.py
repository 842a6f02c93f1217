"""Run an external tool to completion: a timeout or a failing exit becomes the caller's error, with stderr's tail."""

from __future__ import annotations

import os
import subprocess
from typing import Sequence

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.channel import STDERR_TAIL_BYTES
from compiler_opt.processes import run_captured


def run_tool(argv: Sequence[str], what: str, error: type[MlgoError], *, cwd: str | os.PathLike | None = None,
             timeout: float = 600.0) -> subprocess.CompletedProcess:
    """`argv` run with no stdin and captured output; raises `error` starting with `what` when it fails.

    On timeout the tool and every process it started are killed (`run_captured`).
    """
    try:
        result = run_captured(argv, cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        raise error(f"{what} timed out after {timeout:g} s; killed") from expired
    if result.returncode != 0:
        tail = result.stderr[-STDERR_TAIL_BYTES:].decode("utf-8", "replace").rstrip()
        raise error(f"{what} failed (exit status {result.returncode}):\n{tail}")
    return result

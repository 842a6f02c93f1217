"""Processes: the table as /proc shows it (every visible process's parent), killing a whole process tree, and a
bounded run of one tool."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Sequence


def parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc (processes that vanish while being read are skipped)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stream:
                stat = stream.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            table[int(entry)] = int(fields[1])
    return table


def kill_process_tree(pid: int) -> None:
    """SIGKILL `pid` and all its descendants, including ones in other sessions.

    The root is frozen first so it cannot start new children while its tree
    is read from /proc; each descendant is frozen as it is found, then all die.
    """
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return
    tree = [pid]
    frontier = [pid]
    while frontier:
        children = _children(set(frontier))
        for child in children:
            try:
                os.kill(child, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        tree += children
        frontier = children
    for member in tree:
        for kill in (os.killpg, os.kill):
            try:
                if kill is os.killpg and os.getpgid(member) != member:
                    continue
                kill(member, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _children(parents: set[int]) -> list[int]:
    return [pid for pid, parent in parent_pids().items() if parent in parents]



def run_captured(argv: Sequence[str], *, timeout: float,
                 cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """`argv` run to its end in a session of its own, with no stdin and stdout/stderr captured as bytes.

    Past `timeout` seconds, or when this process is interrupted, the tool's
    whole process group is killed, not only the tool: its children would
    otherwise run on and, holding the output pipes, keep the caller waiting.
    Then `subprocess.TimeoutExpired` (or the interruption) propagates.
    """
    with subprocess.Popen(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

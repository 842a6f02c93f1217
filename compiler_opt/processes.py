"""Processes: the table as /proc shows it (every visible process's parent), and killing a whole process tree."""

from __future__ import annotations

import os
import signal


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
        fields = stat[stat.rfind(b")") + 2 :].split()
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

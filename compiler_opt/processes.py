"""The process table as /proc shows it: every visible process's parent."""

from __future__ import annotations

import os


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

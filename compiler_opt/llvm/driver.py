"""What a clang driver command would run, so each compile can be run with an ML advisor on it.

`plan_jobs(clang, args)` asks the driver itself (`clang -### ARGS`) for the
commands it would run: `-cc1` compiles, `-cc1as` assembles, and external
tools (the linker). Intermediate files (a compile's object that only the
link reads) are moved into a private folder the caller owns, so nothing is
left in the system temp folder. A command that runs no job (`--version`,
`-print-*`) or that the driver rejects gives no plan: the caller should
then run the driver itself, which prints the same output or errors.

`-###` prints each job as its arguments in double quotes, with `"`, `\\`
and `$` escaped by a backslash (LLVM's `sys::printArg`); lines that do not
start with a quoted argument (version, target, "(in-process)") are not jobs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from compiler_opt.llvm.run import run_captured

COMPILE = "compile"
ASSEMBLE = "assemble"
TOOL = "tool"


@dataclass(frozen=True)
class DriverJob:
    """One command the driver would run: `kind` (compile, assemble or tool) and its full argv."""

    kind: str
    argv: tuple[str, ...]

    @property
    def output(self) -> str | None:
        """The file named by `-o`, if any."""
        args = self.argv
        for index, arg in enumerate(args[:-1]):
            if arg == "-o":
                return args[index + 1]
        return None


def parse_job_line(line: str) -> tuple[str, ...] | None:
    """The arguments of one `-###` job line, or None when the line is not a job."""
    text = line.strip()
    if not text.startswith('"'):
        return None
    args: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == " ":
            index += 1
            continue
        if text[index] != '"':
            return None
        index += 1
        current = []
        while index < len(text) and text[index] != '"':
            if text[index] == "\\" and index + 1 < len(text):
                index += 1
            current.append(text[index])
            index += 1
        if index >= len(text):
            return None  # unterminated quote: not a job line
        args.append("".join(current))
        index += 1
    return tuple(args)


def _kind(argv: Sequence[str]) -> str:
    if len(argv) > 1 and argv[1] == "-cc1":
        return COMPILE
    if len(argv) > 1 and argv[1] == "-cc1as":
        return ASSEMBLE
    return TOOL


def plan_jobs(
    clang: str, args: Sequence[str], private_dir: Path, *, driver_mode: str | None = None, timeout: float = 120.0
) -> list[DriverJob] | None:
    """The jobs `clang ARGS` would run, intermediates redirected into `private_dir`; None if it runs none."""
    driver = [clang, *([f"--driver-mode={driver_mode}"] if driver_mode else [])]
    result = run_captured([*driver, "-###", *args], timeout=timeout)
    if result.returncode != 0:
        return None
    listing = result.stderr.decode("utf-8", "surrogateescape")
    jobs = [DriverJob(_kind(argv), argv) for argv in map(parse_job_line, listing.splitlines()) if argv]
    if not jobs:
        return None
    return _redirect_intermediates(jobs, private_dir)


def _redirect_intermediates(jobs: list[DriverJob], private_dir: Path) -> list[DriverJob]:
    """Move outputs that a later job reads (and the user did not name) into `private_dir`."""
    final = jobs[-1].output
    renames: dict[str, str] = {}
    for index, job in enumerate(jobs[:-1]):
        output = job.output
        if output and output != final and any(output in later.argv for later in jobs[index + 1 :]):
            renames[output] = str(private_dir / f"{index}-{os.path.basename(output)}")
    if not renames:
        return jobs
    return [replace(job, argv=tuple(renames.get(arg, arg) for arg in job.argv)) for job in jobs]

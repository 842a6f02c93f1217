"""Compile one module once: plainly (the ML advisor off), or with every decision answered by a callable.

`compile_answering` is the only code that opens an `InteractiveCompile`:
the actor of `compiler_opt.collect` (training, tracing, baselines, corpus
statistics, the drop-in compiler) and the toolchain probes all compile
through it. `make_decide(header)` is called once the compiler has sent its
log header and returns the function answering each `Observation` with its
advice. `compile_plainly` runs the same kind of compile with no advisor
through the process runner. Both raise the typed `CompilerFailure`s of
`compiler_opt.llvm.failures`, naming the module.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from compiler_opt.llvm.advisors import Advisor
from compiler_opt.llvm.channel import InteractiveCompile
from compiler_opt.llvm.failures import CompilerCrash, CompilerTimeout, raise_start_failure
from compiler_opt.llvm.log_format import LogHeader, Observation
from compiler_opt.llvm.run import run_captured, stderr_tail

__all__ = ["AnsweredCompile", "compile_answering", "compile_plainly"]

Decide = Callable[[Observation], Any]


@dataclass(frozen=True)
class AnsweredCompile:
    """What `compile_answering` saw: the log header (None when the advisor never ran) and the decision count."""

    header: LogHeader | None
    decisions: int


def compile_answering(
    argv: Sequence[str],
    advisor: Advisor,
    make_decide: Callable[[LogHeader], Decide] | None,
    *,
    module: str = "",
    include_default: bool = False,
    timeout: float = 600.0,
    read_timeout: float = 120.0,
    temp_parent: str | os.PathLike | None = None,
    cpu: int | None | bool = True,
    expect_header: bool = True,
    passthrough: bool = False,
) -> AnsweredCompile:
    """Run `argv` with `advisor` in interactive mode, answering each decision with `make_decide(header)`.

    With `make_decide` None the compile is stopped as soon as its header
    arrives (reading what the compiler would show a policy) and counts no
    decisions. The other options are `InteractiveCompile`'s.
    """
    with InteractiveCompile(
        argv,
        advisor,
        module=module,
        include_default=include_default,
        timeout=timeout,
        read_timeout=read_timeout,
        temp_parent=temp_parent,
        cpu=cpu,
        expect_header=expect_header,
        passthrough=passthrough,
    ) as compile_:
        header = compile_.header
        if make_decide is None:
            return AnsweredCompile(header, 0)
        if header is None:  # the advisor had nothing to decide in this module
            return AnsweredCompile(None, compile_.finish().decisions)
        return AnsweredCompile(header, compile_.run(make_decide(header)).decisions)


def compile_plainly(argv: Sequence[str], module: str, timeout: float) -> None:
    """Run the compile `argv` with no advisor; `CompilerTimeout` or `CompilerCrash` naming `module` when it fails."""
    try:
        result = run_captured(argv, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise CompilerTimeout(
            module, f"compiler timed out after {timeout:g} s; its process group was killed"
        ) from error
    except OSError as error:
        raise_start_failure(module, argv, error)
    if result.returncode != 0:
        raise CompilerCrash(
            module, f"compiler failed: exit status {result.returncode}", result.returncode, stderr_tail(result)
        )

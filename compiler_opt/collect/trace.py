"""Compile one module under a built-in policy and log every decision in LLVM's format.

The log written is what LLVM's development mode writes: the compiler's
features followed by the advice as one more feature (named as the advice),
so LLVM's own log readers and this project's read it alike.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.llvm.channel import (STDERR_TAIL_BYTES, CompilerCrash, CompilerTimeout, InteractiveCompile,
                                      raise_start_failure)
from compiler_opt.llvm.cmdline import CompileCommand
from compiler_opt.llvm.log_format import LogHeader, LogWriter, TensorSpec
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.problems.base import PolicyContext, Problem
from compiler_opt.problems.measurements import Score
from compiler_opt.processes import run_captured


@dataclass(frozen=True)
class TraceResult:
    """What `trace_module` reports."""

    module: str
    problem: str
    policy: str
    decisions: int
    seconds: float
    score: Score
    logged: bool


def trace_header(header: LogHeader) -> LogHeader:
    """The log header of a trace: the compiler's features plus the advice as a feature."""
    advice = header.advice
    return LogHeader([*header.features, TensorSpec(advice.name, advice.shape, advice.type)], advice=advice)


def trace_module(
    toolchain: Toolchain,
    problem: Problem,
    policy_name: str,
    command: CompileCommand,
    *,
    log_path: Path | None = None,
    object_path: Path | None = None,
    seed: int = 0,
    timeout: float = 600.0,
) -> TraceResult:
    """Compile `command` with `problem`'s advisor answered by the built-in policy `policy_name`."""
    policy = problem.policy(policy_name)
    if policy.make is not None:
        toolchain.probe().require(problem.advisor.name, toolchain.clang)
    module = command.bitcode
    with tempfile.TemporaryDirectory(prefix="mlgo-trace-") as tmp:
        workdir = Path(tmp)
        output = Path(object_path) if object_path is not None else workdir / "module.o"
        argv = command.argv(output, problem.measurement.compile_options(workdir, command.cc1))
        started = time.monotonic()
        decisions = 0
        if policy.make is None:
            _compile_plainly(argv, module, timeout)
        else:
            with InteractiveCompile(argv, problem.advisor, module=module, include_default=policy.include_default,
                                    timeout=timeout, temp_parent=tmp,
                                    expect_header=not problem.advisor.header_with_first_decision) as compile_:
                if compile_.header is None:  # nothing to decide in this module: no log
                    decisions = compile_.finish().decisions
                else:
                    decide = policy.make(PolicyContext(toolchain, compile_.header, seed))
                    decisions = (compile_.run(decide).decisions if log_path is None
                                 else _run_logged(compile_, decide, Path(log_path)))
        seconds = time.monotonic() - started
        score = problem.measurement.measure(toolchain, output, workdir)
    return TraceResult(module, problem.name, policy_name, decisions, seconds, score, policy.make is not None)


def _run_logged(compile_: InteractiveCompile, decide, log_path: Path) -> int:
    encode_advice = compile_.header.advice.encode
    with open(log_path, "wb") as stream:
        writer = LogWriter(stream, trace_header(compile_.header))
        for observation in compile_:
            advice = decide(observation)
            compile_.advise(advice)
            writer.observation(observation.index, observation.raw + encode_advice(advice), observation.context)
        return compile_.finish().decisions


def _compile_plainly(argv: list[str], module: str, timeout: float) -> None:
    try:
        result = run_captured(argv, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise CompilerTimeout(module, f"compiler timed out after {timeout:g} s; its process group was killed") \
            from error
    except OSError as error:
        raise_start_failure(module, argv, error)
    if result.returncode != 0:
        tail = result.stderr[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")
        raise CompilerCrash(module, f"compiler failed: exit status {result.returncode}", result.returncode, tail)

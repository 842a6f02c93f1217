"""`mlgo trace`: compile one module under a built-in policy and log its decisions."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from compiler_opt.collect.trace import trace_module
from compiler_opt.llvm.cmdline import CompileCommand, read_cmd_file
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.problems import get_problem
from compiler_opt.training.gin_config import load_gin
from mlgo.flags import (
    add_clang_flag,
    add_gin_flags,
    add_json_flag,
    add_output_flag,
    add_problem_flag,
    add_timeout_flag,
    describe,
    output_file,
)

EPILOG = """built-in policies:
  inlining:           default (clang's -Oz decision, replayed), always, never,
                      rule (the hand rule: clang's decision, and also inline where
                      callee_users == N and cost_estimate - threshold <= M; N, M default
                      to 2 and 45, gin sets them: --gin-binding 'inlining.rule.margin = 60',
                      and the name over that: rule:callee_users=N,margin=M)
  regalloc-eviction:  default (greedy allocator, nothing logged), first, random
  regalloc-priority:  default (greedy allocator, nothing logged), weight

example:
  mlgo trace --problem inlining --policy default --bitcode m.bc --cmd m.cmd --output m.log
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo trace`'s flags to its parser."""
    describe(
        parser,
        description="Compile one LLVM bitcode module with a stock clang whose ML advisor is answered by "
        "a built-in policy, write every decision in LLVM's training-log format, and print the decision "
        "count, compile time and the problem's measurement (object size; register-allocation costs).",
        epilog=EPILOG,
    )
    add_problem_flag(parser, "which advisor to drive")
    parser.add_argument("--policy", default="default", help="built-in policy name (see below; default: default)")
    add_gin_flags(
        parser, "setting built-in policies' defaults (the hand rule's: inlining.rule.*)", "inlining.rule.margin = 60"
    )
    parser.add_argument("--bitcode", required=True, type=Path, help="the module to compile (.bc)")
    parser.add_argument(
        "--cmd",
        type=Path,
        help="its NUL-separated cc1 command line (.cmd); without it the module compiles as `clang -Oz -c -x ir M.bc`",
    )
    add_output_flag(parser, "where to write the decision log (LLVM's log format)", kind=output_file, required=False)
    parser.add_argument("--object", type=output_file, help="keep the compiled object at this path")
    add_clang_flag(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of randomized policies (default: 0)")
    add_timeout_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    toolchain = find_toolchain(args.clang)
    problem = get_problem(args.problem)
    load_gin(args.gin_files, args.gin_bindings, None, ())  # after the problem's module registered its configurables
    policy = problem.policy(args.policy).name  # with every parameter, as configured
    if args.cmd is not None:
        command = CompileCommand.from_cc1(toolchain, read_cmd_file(args.cmd), args.bitcode, origin=str(args.cmd))
    else:
        command = CompileCommand.plain(toolchain, args.bitcode)
    result = trace_module(
        toolchain,
        problem,
        policy,
        command,
        log_path=args.output,
        object_path=args.object,
        seed=args.seed,
        timeout=args.timeout,
    )
    if args.json:
        print(json.dumps({**asdict(result), "log": str(args.output) if result.logged else None}))
        return 0
    print(f"module:     {result.module}")
    print(f"problem:    {result.problem} (policy {result.policy})")
    if result.logged:
        print(f"decisions:  {result.decisions}" + (f" -> {args.output}" if args.output else ""))
    else:
        print(
            "decisions:  none logged: this compiler cannot replay this advisor's default decisions "
            "through the channel, so the module was compiled with the default heuristic"
        )
    print(f"seconds:    {result.seconds:.3f}")
    for name, value in result.score.figures.items():
        print(f"{name + ':':<11} {value:,.6g}")
    return 0

"""`mlgo cc` and the `mlgo-clang` / `mlgo-clang++` commands: compile real code with a trained policy.

    mlgo cc --policy RUN/policy -- -Oz -c foo.c -o foo.o
    MLGO_POLICY=RUN/policy make CC=mlgo-clang CXX=mlgo-clang++ -j8
    MLGO_POLICY=pretrained:NAME make CC=mlgo-clang CXX=mlgo-clang++ -j8

Both run the stock clang with the policy's problem advisor in interactive
mode, answering with the policy (see `compiler_opt.export.dropin`).
`mlgo-clang` and `mlgo-clang++` read their settings from the environment,
since build systems pass compilers no extra flags: MLGO_POLICY (required: a
saved policy folder, `pretrained:NAME` for a policy packaged with mlgo, or
`LANGUAGE=POLICY,...` for one per source language),
MLGO_CLANG (the clang to drive), MLGO_PROBLEM (when the policy's advice does
not say).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from mlgo.cli import Terminated, raise_terminated
from mlgo.flags import add_clang_flag, add_problem_flag, describe

EPILOG = """examples:
  mlgo cc --policy run/policy -- -Oz -c foo.c -o foo.o
  MLGO_POLICY=run/policy make CC=mlgo-clang CXX=mlgo-clang++ -j8
  mlgo cc --policy pretrained:NAME -- -Oz -c foo.c -o foo.o   (a policy packaged with mlgo)
  MLGO_POLICY='c=default,c++=run/policy' make CC=mlgo-clang CXX=mlgo-clang++   (a policy per language)

mlgo-clang / mlgo-clang++ take clang's arguments only and read MLGO_POLICY (a folder or pretrained:NAME),
MLGO_CLANG and MLGO_PROBLEM.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo cc`'s flags to its parser."""
    describe(
        parser,
        description="A drop-in compiler: run the stock clang on the given arguments with the policy's advisor "
        "in interactive mode, answering every decision with the policy (its numpy form, greedy: the decisions "
        "`mlgo eval` takes). Works for compiles, links and whole builds (as CC/CXX through mlgo-clang).",
        epilog=EPILOG,
    )
    parser.add_argument(
        "--policy",
        default=None,
        help="saved policy folder (e.g. RUN_DIR/policy), pretrained:NAME for a policy packaged with mlgo (an "
        "unknown NAME lists them), or one per source language, LANGUAGE=POLICY,... (c, c++, other, * for the "
        "rest; members may also be built-in policies, e.g. c=default,c++=RUN_DIR/policy); needed by every "
        "command that compiles",
    )
    parser.add_argument(
        "--version", action="store_true", help="print the version of the clang it drives and exit (no policy needed)"
    )
    add_clang_flag(parser, "the clang to drive")
    add_problem_flag(parser, "the policy's problem (default: found from the advice it gives)", required=False)
    parser.add_argument("--cxx", action="store_true", help="run the driver as clang++")
    parser.add_argument(
        "clang_args", nargs=argparse.REMAINDER, metavar="-- CLANG_ARGS", help="everything after -- goes to clang"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clang_args = args.clang_args[1:] if args.clang_args[:1] == ["--"] else args.clang_args
    if args.version:
        from compiler_opt.llvm.run import run_attached  # pylint: disable=import-outside-toplevel
        from compiler_opt.llvm.toolchain import find_toolchain  # pylint: disable=import-outside-toplevel

        return run_attached([str(find_toolchain(args.clang).clang), "--version"])
    return _compile(clang_args, args.policy, args.clang, args.problem, cxx=args.cxx)


def _compile(
    clang_args: Sequence[str], policy_dir: str | None, clang: str | None, problem: str | None, *, cxx: bool
) -> int:
    from compiler_opt.export.dropin import compile_with_policy  # pylint: disable=import-outside-toplevel

    return compile_with_policy(clang_args, policy_dir, problem=problem, clang=clang, driver_mode="g++" if cxx else None)


def _entry(cxx: bool) -> int:
    """Run as `mlgo-clang(++)`; SIGTERM (a build tool stopping) cleans up as Ctrl-C does, exit 143."""
    from compiler_opt.errors import MlgoError  # pylint: disable=import-outside-toplevel

    name = "mlgo-clang++" if cxx else "mlgo-clang"
    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return _compile(sys.argv[1:], os.environ.get("MLGO_POLICY"), None, os.environ.get("MLGO_PROBLEM"), cxx=cxx)
    except MlgoError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        return 143
    except KeyboardInterrupt:
        return 130


def clang_main() -> int:
    """`mlgo-clang`: clang with the policy in MLGO_POLICY."""
    return _entry(cxx=False)


def clangxx_main() -> int:
    """`mlgo-clang++`: clang++ with the policy in MLGO_POLICY."""
    return _entry(cxx=True)

"""`mlgo export`: turn a saved policy into what LLVM embeds (XLA AOT) or loads (TFLite), and check it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlgo.flags import (
    add_clang_flag,
    add_json_flag,
    add_output_flag,
    add_problem_flag,
    add_verify_flag,
    describe,
    verify_count,
)

EPILOG = """output (OUT):
  saved_model/   the SavedModel as LLVM's CMake expects it (LLVM_INLINER_MODEL_PATH, LLVM_RAEVICT_MODEL_PATH)
  tflite/        model.tflite + output_spec.json, for development-mode clang (--tflite)
  aot/           XLA AOT header + object with LLVM's class name, llvm.cmake, README.md, Bazel files (--aot)
  native/bin/    mlgo-clang, mlgo-clang++: native drivers that run the stock clang with the policy (--native)
  plugin/lib/    libmlgo-inliner.so: the policy inside clang via -fpass-plugin= (--plugin, inlining)
  verify/        recorded observations, the C++ check harness, report.json (--verify)
  export.json    what was exported, with timings

examples:
  mlgo export --policy run/policy --output out --aot --tflite
  mlgo export --policy run/policy --output out --aot --tflite --verify 2000 --corpus corpus/
  mlgo export --policy pretrained:NAME --output out --aot
  mlgo export --policy run/policy --output out --native --plugin
  mlgo export --policy 'c=default,c++=run/policy' --output out --native   (then CXX=out/cxx/native/bin/mlgo-clang++)
  make CC=out/native/bin/mlgo-clang CFLAGS=-Oz                  # no Python in the build
  make CC=clang-19 CFLAGS="-Oz -fpass-plugin=$PWD/out/plugin/lib/libmlgo-inliner.so"
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo export`'s flags to its parser."""
    describe(
        parser,
        description="Export a saved policy into the forms LLVM uses: the SavedModel its build compiles, a "
        "TFLite model for development mode, and an XLA AOT header and object for release builds. With "
        "--verify, compile corpus modules under the policy and check that every exported form makes the "
        "same decision as the policy on every recorded observation.",
        epilog=EPILOG,
    )
    parser.add_argument(
        "--policy",
        required=True,
        help="saved policy folder (e.g. RUN_DIR/policy), pretrained:NAME for a policy packaged with mlgo (an "
        "unknown NAME lists them), or one per source language, LANGUAGE=POLICY,... (c, c++, other, * for the "
        "rest; a member may be `default`, the compiler's own heuristic): each member is exported into "
        "OUT/c/, OUT/cxx/, OUT/other/, OUT/any/, and OUT/languages.json says which serves which",
    )
    add_output_flag(parser, "folder to write the exports into")
    parser.add_argument(
        "--aot",
        action="store_true",
        help="compile the policy ahead of time with XLA (saved_model_cli aot_compile_cpu) into aot/",
    )
    parser.add_argument("--tflite", action="store_true", help="convert the policy to TFLite into tflite/")
    parser.add_argument(
        "--native",
        action="store_true",
        help="build native/bin/mlgo-clang and mlgo-clang++ (implies --aot): drop-in compilers that run the stock "
        "--clang with every decision answered by the AOT policy, no Python (needs cmake and a C++ compiler)",
    )
    parser.add_argument(
        "--plugin",
        action="store_true",
        help="build plugin/lib/libmlgo-inliner.so (implies --aot; inlining only): load it into the stock --clang "
        "with -fpass-plugin= and its inliner decides with the policy (needs that LLVM's headers, "
        "e.g. Debian's llvm-19-dev)",
    )
    parser.add_argument(
        "--target-triple", help="target of the AOT object (default: this machine's, e.g. x86_64-pc-linux-gnu)"
    )
    parser.add_argument(
        "--target-cpu",
        default="",
        help="CPU the AOT object may use the instructions of, as LLVM "
        "names it (e.g. haswell; default: the triple's baseline, which runs everywhere)",
    )
    add_verify_flag(parser, corpus_optional=True)
    parser.add_argument("--corpus", type=Path, help="corpus folder whose modules --verify compiles")
    add_clang_flag(parser, "the clang --verify compiles with, and that --native and --plugin are built for")
    add_problem_flag(parser, "the policy's problem (default: found from the advice it gives)", required=False)
    parser.add_argument("--seed", type=int, default=0, help="seed of the order --verify compiles modules in")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from compiler_opt.corpus.loading import load_corpus  # pylint: disable=import-outside-toplevel
    from compiler_opt.export.exporter import export_per_language, export_policy  # pylint: disable=import-outside-toplevel
    from compiler_opt.llvm.toolchain import find_toolchain  # pylint: disable=import-outside-toplevel
    from compiler_opt.policy.by_language import parse_language_policies  # pylint: disable=import-outside-toplevel
    from mlgo.cli import CommandError  # pylint: disable=import-outside-toplevel

    corpus = clang = None
    verify = verify_count(args)
    if verify or args.native or args.plugin:
        clang = str(find_toolchain(args.clang).clang)
    if verify:
        if args.corpus is None:
            raise CommandError("--verify needs --corpus: the modules to compile under the policy")
        corpus = load_corpus(args.corpus, skip_invalid=True)
    elif args.corpus is not None:
        raise CommandError("--corpus is only used with --verify N (N above 0)")
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    options = {
        "aot": args.aot,
        "tflite": args.tflite,
        "native": args.native,
        "plugin": args.plugin,
        "target_triple": args.target_triple,
        "target_cpu": args.target_cpu,
        "verify": verify,
        "corpus": corpus,
        "clang": clang,
        "problem": args.problem,
        "seed": args.seed,
        "log": log,
    }
    per_language = None if Path(args.policy).is_dir() else parse_language_policies(args.policy)
    if per_language is not None:
        results = export_per_language(per_language, args.output, **options)
        if args.json:
            print(json.dumps({lang: None if r is None else r.to_json() for lang, r in results.items()}))
        for language, result in results.items():
            if result is not None and not args.json:
                print(f"{language}: exported {result.policy} as {', '.join(result.forms)} into {result.output}")
        return 0
    result = export_policy(args.policy, args.output, **options)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"exported {result.problem} policy {result.policy} as {', '.join(result.forms)} into {result.output}")
    return 0

"""`mlgo corpus {extract,make,combine,stats,sample}`: make and inspect corpora.

Thin: each sub-verb parses its flags and calls `corpus_tools`.
"""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import asdict
from pathlib import Path

from compiler_opt.corpus.loading import load_corpus
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.problems import problem_names
from compiler_opt.train import TrainOptions
from corpus_tools.combine import combine_corpora
from corpus_tools.extract import (
    THINLTO_MODES,
    extract,
    objects_from_compile_commands,
    objects_from_directory,
    objects_from_params,
)
from corpus_tools.make_corpus import make_corpus
from corpus_tools.recipe import SIZES, load_recipe
from corpus_tools.sample import build_sample
from corpus_tools.stats import corpus_stats, count_all, count_decisions, count_inline_remarks, split_summary
from mlgo.flags import add_clang_flag, add_json_flag, add_output_flag, add_problem_flag, add_workers_flag, output_file


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo corpus`'s sub-verbs and their flags to its parser."""
    parser.description = "Corpora in LLVM's mlgo layout: corpus_description.json plus <module>.bc/.cmd files."
    verbs = parser.add_subparsers(dest="corpus_verb", metavar="SUBVERB", required=True)
    _register_extract(verbs)
    _register_make(verbs)
    _register_combine(verbs)
    _register_stats(verbs)
    _register_sample(verbs)


def _validation_fraction_flag(parser: argparse.ArgumentParser) -> None:
    default = TrainOptions.validation_fraction
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=default,
        help="show what `mlgo train` with this --validation-fraction holds out for validation: whole libraries "
        f"(when the corpus records two or more), about this share of each language's modules (default: {default})",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    add_workers_flag(
        parser,
        old_jobs=True,
        help="parallel compiler/tool processes (default: all cores; --jobs/-j: the deprecated spelling)",
    )
    add_clang_flag(parser)


def _register_extract(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "extract",
        help="extract a corpus from objects built with -Xclang -fembed-bitcode=all",
        description="Extract each object's embedded IR (.llvmbc) and cc1 command (.llvmcmd) into a corpus.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--compile-commands", type=Path, help="compile_commands.json of the build")
    source.add_argument("--params", type=Path, help="linker parameters (response) file listing the objects")
    source.add_argument("--objects-dir", type=Path, help="folder to walk for *.o files")
    add_output_flag(p, "corpus folder to write")
    p.add_argument(
        "--obj-base-dir",
        type=Path,
        default=None,
        help="folder module names are relative to (default: the folder of the input file)",
    )
    p.add_argument(
        "--thinlto",
        choices=THINLTO_MODES,
        default=None,
        help="ThinLTO build: 'local' (lld --save-temps=import --thinlto-emit-index-files) or "
        "'distributed' (-lto-embed-bitcode=post-merge-pre-opt)",
    )
    p.add_argument(
        "--cmd-filter", default=None, help="keep only modules with a command-line option matching this regex"
    )
    p.add_argument(
        "--cmd-override",
        default=None,
        help="cc1 command line for every module (shell-quoted, written --cmd-override='-cc1 ...'), "
        "stored as global_command_override; needed for local ThinLTO, whose modules keep no command",
    )
    _common(p)
    p.set_defaults(run=_run_extract)


def _run_extract(args: argparse.Namespace) -> int:
    if args.compile_commands:
        objects = objects_from_compile_commands(args.compile_commands, args.obj_base_dir)
    elif args.params:
        objects = objects_from_params(args.params, args.obj_base_dir)
    else:
        objects = objects_from_directory(args.objects_dir)
    result = extract(
        objects,
        args.output,
        toolchain=find_toolchain(args.clang),
        thinlto=args.thinlto,
        cmd_filter=args.cmd_filter,
        command_override=shlex.split(args.cmd_override) if args.cmd_override else None,
        jobs=args.workers,
    )
    print(result.summary())
    return 0 if result.modules else 1


def _register_make(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "make",
        help="make a corpus from a folder of .bc files and one command line",
        description="Copy every .bc under --input into a corpus whose global_command_override is --default-args.",
    )
    p.add_argument("--input", type=Path, required=True, help="folder holding .bc files")
    add_output_flag(p, "corpus folder to write")
    p.add_argument(
        "--default-args",
        default="-O2",
        help="cc1 arguments for every module, shell-quoted; write it --default-args='-O2 ...' "
        "since the value starts with a dash (default: -O2; -cc1 is added)",
    )
    p.set_defaults(run=_run_make)


def _run_make(args: argparse.Namespace) -> int:
    print(make_corpus(args.input, args.output, shlex.split(args.default_args)).summary())
    return 0


def _register_combine(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "combine",
        help="combine the corpora in the sub-folders of a root into one",
        description="Write ROOT/corpus_description.json listing the modules of every ROOT/*/ corpus.",
    )
    p.add_argument("root", type=Path, help="folder whose sub-folders are corpora")
    p.set_defaults(run=_run_combine)


def _run_combine(args: argparse.Namespace) -> int:
    description = combine_corpora(args.root)
    print(f"combined {len(description.modules)} modules into {args.root}")
    return 0


def _register_stats(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "stats",
        help="modules, bytes, libraries and (optionally) decisions of a corpus",
        description="Validate a corpus and print its figures.",
    )
    p.add_argument("corpus", type=Path, help="corpus folder")
    p.add_argument("--skip-invalid", action="store_true", help="list invalid modules instead of stopping at the first")
    _validation_fraction_flag(p)
    p.add_argument(
        "--inline-remarks",
        action="store_true",
        help="compile every module and count inliner remarks (call sites considered; a cheap upper "
        "bound on inlining decisions)",
    )
    p.add_argument(
        "--decisions",
        metavar="PROBLEM",
        default=None,
        choices=problem_names(),
        help="compile every module and count the decisions of PROBLEM's advisor through its channel",
    )
    add_output_flag(p, "also write the figures as JSON to this file", kind=output_file, required=False)
    add_json_flag(p, "the figures", old_file_form=True)
    _common(p)
    p.set_defaults(run=_run_stats)


def _run_stats(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.corpus, skip_invalid=args.skip_invalid)
    stats = corpus_stats(corpus)
    stats.split = split_summary(corpus, args.validation_fraction)
    if args.inline_remarks or args.decisions:
        toolchain = find_toolchain(args.clang)
        if args.decisions:
            stats.decisions = count_all(
                corpus, lambda spec: count_decisions(spec, args.decisions, toolchain), args.workers
            )
        else:
            stats.decisions = count_all(corpus, lambda spec: count_inline_remarks(spec, toolchain), args.workers)
    figures = {
        "modules": stats.modules,
        "bytes": stats.bytes,
        "libraries": stats.libraries,
        "languages": stats.languages,
        "decisions": stats.decisions,
        "validation": asdict(stats.split),
        "invalid": dict(corpus.invalid),
    }
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n")
    if args.json:
        print(json.dumps(figures))
        return 0
    for line in stats.lines():
        print(line)
    for name, reason in corpus.invalid:
        print(f"invalid: {name}: {reason}")
    return 0


def _register_sample(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "sample",
        help="build the default sample corpus from pinned open-source C/C++ code",
        description="Download the recipe's pinned PyPI source distributions, compile them at -Oz with embedded "
        "bitcode and extract the corpus. Cached: a second call returns at once.",
    )
    add_output_flag(p, "corpus folder (default: a folder under the cache, printed at the end)", required=False)
    p.add_argument(
        "--size",
        choices=SIZES,
        default="full",
        help="'full' (about 1,600 modules of 40 libraries, two thirds C++; about 1,100 CPU-seconds with the "
        "decision count, some 9-10 minutes on 2 idle cores) or 'small' (36 modules, seconds)",
    )
    p.add_argument("--recipe", type=Path, default=None, help="a recipe file other than the pinned one")
    _validation_fraction_flag(p)
    p.add_argument(
        "--no-count",
        action="store_true",
        help="skip counting --problem's decisions after the build (one more compile of every module)",
    )
    add_problem_flag(p, "whose decisions to count after the build (default: inlining)", required=False)
    _common(p)
    p.set_defaults(run=_run_sample, problem="inlining")


def _run_sample(args: argparse.Namespace) -> int:
    output, figures = build_sample(
        find_toolchain(args.clang),
        args.output,
        size=args.size,
        recipe=load_recipe(args.recipe) if args.recipe else None,
        jobs=args.workers,
        problem=None if args.no_count else args.problem,
    )
    for line in figures.lines():
        print(line)
    print(split_summary(load_corpus(output), args.validation_fraction).line())
    print(f"corpus: {output}")
    return 0

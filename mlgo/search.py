"""`mlgo search`: a greedy one-flip-at-a-time search for better decisions than the compiler's, per module."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.sampling import sample_modules
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.problems import get_problem
from compiler_opt.report.evaluation_json import write_report
from compiler_opt.report.search import DEFAULT_MAX_FLIPS, format_search, headroom_reached, search_corpus
from mlgo.flags import (
    add_corpus_compile_flags,
    add_module_sample_flags,
    add_output_flag,
    add_problem_flag,
    describe,
    output_file,
    pool_from_args,
    positive_int,
)

EPILOG = """Each module starts from the compiler's own decisions; each decision in turn is flipped (earlier
decisions kept, later ones left to the compiler) and the flip is kept when the object shrinks;
passes repeat until one keeps no flip or --max-flips trial compiles are spent. The result is a
lower bound on the gain possible, for reports to compare a policy with.

example:
  mlgo search --problem inlining --corpus CORPUS --output search.json --max-modules 20 --max-flips 300
  mlgo search ... --evaluation eval.json     (also print how much of the found gain the policy reaches)
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo search`'s flags to its parser."""
    describe(
        parser,
        description="Greedy flip search per module on the worker pool; writes each module's default and best "
        "score, the best decision sequence, and totals as JSON.",
        epilog=EPILOG,
    )
    add_problem_flag(parser, "which decisions to search (needs two-valued decisions with default replay: inlining)")
    add_output_flag(parser, "where to write the search JSON", kind=output_file)
    add_module_sample_flags(parser, "search")
    parser.add_argument(
        "--max-flips",
        type=positive_int,
        default=DEFAULT_MAX_FLIPS,
        help=f"trial compiles per module at most (default: {DEFAULT_MAX_FLIPS})",
    )
    parser.add_argument(
        "--evaluation",
        type=Path,
        default=None,
        help="an `mlgo eval` JSON: also print how much of the found gain its policy reaches",
    )
    add_corpus_compile_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    toolchain = find_toolchain(args.clang)
    problem = get_problem(args.problem)
    corpus = load_corpus(args.corpus)
    evaluation = None
    if args.evaluation is not None:
        try:
            evaluation = json.loads(args.evaluation.read_text())
        except (OSError, ValueError) as error:
            raise MlgoError(f"cannot read the evaluation {args.evaluation}: {error}") from error
    modules = sample_modules(corpus.modules, args.max_modules, args.seed)
    with pool_from_args(args) as pool:
        report = search_corpus(
            corpus, modules, problem, toolchain=toolchain, pool=pool, max_flips=args.max_flips, timeout=args.timeout
        )
    write_report(report, args.output)
    print(format_search(report))
    if evaluation is not None:
        reached = headroom_reached(evaluation, report)
        share = "-" if reached["reached"] is None else f"{reached['reached']:.1%}"
        print(
            f"policy {evaluation.get('policy')!r} on the {reached['modules']} modules of both: ratio "
            f"{reached['policy_ratio'] or float('nan'):.4f}, search {reached['best_ratio'] or float('nan'):.4f}; "
            f"reaches {share} of the found gain"
        )
    print(f"written: {args.output}")
    return 0

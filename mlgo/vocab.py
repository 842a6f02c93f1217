"""`mlgo vocab`: collect traces on a corpus and write the per-feature quantile buckets a policy normalizes with."""

from __future__ import annotations

import argparse

from compiler_opt.collect.vocab_traces import collect_vocab
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.sampling import sample_modules
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.policy.vocab import DEFAULT_QUANTILES, DEFAULT_SAMPLE_SIZE
from compiler_opt.problems import get_problem
from mlgo.flags import (
    add_corpus_compile_flags,
    add_module_sample_flags,
    add_output_flag,
    add_problem_flag,
    describe,
    pool_from_args,
    positive_int,
)

EPILOG = """output (MLGO's layout): VOCAB_DIR/<feature>.buckets, one boundary per line, and
VOCAB_DIR/feature_spec.json, the features the vocabulary covers.

example:
  mlgo vocab --problem inlining --corpus CORPUS --output vocab/ --max-modules 200
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo vocab`'s flags to its parser."""
    describe(
        parser,
        description="Compile a seeded sample of a corpus's modules under the problem's vocabulary policy "
        "(for inlining: clang's own decisions, with the real features), keep a bounded, seeded sample of the "
        "observations, and write each feature's quantile boundaries.",
        epilog=EPILOG,
    )
    add_problem_flag(parser, "whose features")
    add_output_flag(parser, "the vocabulary folder to write")
    add_module_sample_flags(parser, "trace", "the module and observation samples")
    parser.add_argument(
        "--quantiles",
        type=positive_int,
        default=DEFAULT_QUANTILES,
        help=f"quantiles per feature, before duplicates are merged (default: {DEFAULT_QUANTILES})",
    )
    parser.add_argument(
        "--sample-size",
        type=positive_int,
        default=DEFAULT_SAMPLE_SIZE,
        help=f"observations kept to take the quantiles of (default: {DEFAULT_SAMPLE_SIZE})",
    )
    add_corpus_compile_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    toolchain = find_toolchain(args.clang)
    problem = get_problem(args.problem)
    corpus = load_corpus(args.corpus)
    modules = sample_modules(corpus.modules, args.max_modules, args.seed)
    with pool_from_args(args) as pool:
        result = collect_vocab(
            modules,
            problem,
            toolchain,
            pool,
            seed=args.seed,
            quantiles=args.quantiles,
            sample_size=args.sample_size,
            timeout=args.timeout,
        )
    result.vocab.save(args.output)
    result.spec.save(args.output)
    sizes = {name: len(result.vocab[name]) for name in result.spec.names}
    print(f"modules:       {result.modules_ok} traced, {len(result.failures)} failed")
    print(f"observations:  {result.observations:,} seen, {result.sampled:,} sampled")
    print(
        f"features:      {len(sizes)} ({sum(1 for n in sizes.values() if n <= 1)} constant); "
        f"boundaries per feature: {min(sizes.values())}-{max(sizes.values())}"
    )
    for name, error in sorted(result.failures.items())[:10]:
        print(f"failed: {name}: {error.splitlines()[0]}")
    print(f"written: {args.output}")
    return 0

"""What the training benchmarks share: their corpus, split and output flags, and the set-up those flags name."""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.corpus.loading import Corpus, load_corpus
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import Problem


def add_training_flags(parser: argparse.ArgumentParser) -> None:
    """--corpus, --size, --output, --workers, --validation-fraction, --seed and --baselines."""
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: the sample corpus of --size)")
    parser.add_argument("--size", choices=("small", "full"), default="full", help="sample corpus size (default: full)")
    parser.add_argument("--output", type=Path, help="folder for the runs and reports (default: a new temp folder)")
    parser.add_argument("--workers", type=int, default=2, help="compile workers (default: 2)")
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="modules (by name hash) kept for validation (default: 0.2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of everything seeded (default: 0)")
    parser.add_argument("--baselines", type=Path, help="baseline cache folder (default: the per-user cache)")


@dataclass(frozen=True)
class TrainingSetup:
    """The problem (`--problem`, where the benchmark has one; else inlining), the corpus and its split, the
    output folder, the baselines, and the arguments every `TrainOptions` of the benchmark shares (`common`)."""

    toolchain: Toolchain
    problem: Problem
    corpus_dir: Path
    corpus: Corpus
    training: Corpus
    validation: Corpus
    output: Path
    baselines: BaselineCache
    common: dict


def training_setup(args: argparse.Namespace) -> TrainingSetup:
    """The set-up `add_training_flags`' parsed flags describe (the sample corpus is built or reused); prints it."""
    toolchain = find_toolchain()
    problem = get_problem(getattr(args, "problem", "inlining"))
    if args.corpus is None:
        from corpus_tools.sample import build_sample

        corpus_dir, _ = build_sample(toolchain, size=args.size)
    else:
        corpus_dir = args.corpus
    corpus = load_corpus(corpus_dir)
    training, validation = corpus.split(args.validation_fraction)
    output = args.output or Path(tempfile.mkdtemp(prefix="mlgo-bench-"))
    output.mkdir(parents=True, exist_ok=True)
    baselines = BaselineCache(args.baselines or BaselineCache.shared_folder(), toolchain, problem)
    common = {
        "corpus": corpus_dir,
        "seed": args.seed,
        "validation_fraction": args.validation_fraction,
        "baseline_cache": args.baselines,
    }
    print(f"corpus: {corpus_dir} ({len(corpus)} modules: {len(training)} training, {len(validation)} validation)")
    return TrainingSetup(toolchain, problem, corpus_dir, corpus, training, validation, output, baselines, common)


def fmt(value, spec: str) -> str:
    """`value` formatted with `spec`, or "-" for None."""
    return "-" if value is None else format(value, spec)

"""`mlgo demo`: the main job — sample corpus, a warm start, ES, selection, evaluation, export, report.

Builds (or reuses) the sample corpus of real open-source code, starts an
inlining-for-size policy by cloning the hand rule's decisions (or by
imitation: exploring around the policy, the compiler's heuristic and the
hand rule as first candidates, and cloning the best decisions found per
module), trains it further with ES (or another --algorithm) within the
budget, keeps the smaller of the two on a sample of training modules (and
ships none when neither is smaller than -Oz there: the compiler keeps its own
heuristic, and the headline says so), evaluates it on libraries it never saw,
and the hand rule (`rule`, the policy it must beat) on the same modules,
exports it (SavedModel, TFLite, XLA AOT, verified to decide alike) and writes
the report, which opens with whether the policy beats the rule.
With --languages, it trains for those source languages only and ships a
policy per language, clang's own heuristic answering the others.
Rerunning with the same --output resumes: finished stages are not redone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compiler_opt.collect.scoring import REWARD_SIZES
from compiler_opt.demo.options import ALGORITHMS, PROBLEM, WARMSTART_SHARE, WARMSTARTS, DemoOptions
from compiler_opt.demo.pipeline import run_demo
from compiler_opt.llvm.source_language import LANGUAGES
from compiler_opt.llvm.toolchain import Toolchain
from corpus_tools.sample import build_sample
from mlgo.flags import (
    add_budget_flag,
    add_clang_flag,
    add_output_flag,
    add_verify_flag,
    add_workers_flag,
    describe,
    positive_int,
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo demo`'s flags to its parser."""
    describe(parser, description=__doc__)
    add_output_flag(
        parser,
        "folder for everything the demo makes (default: ./demo); rerun with the same folder to resume",
        required=False,
        default="demo",
    )
    add_budget_flag(
        parser,
        f"training time in minutes (default: 30): {WARMSTART_SHARE:g} of it for the --warmstart-algorithm stage, the rest "
        "(at least a quarter) for --algorithm; each stage's first iteration always runs whole, so a busy "
        "machine cannot starve it; corpus, baselines, selection, evaluation (the policy's and the rule's) "
        "and export come on top",
        default_minutes=30.0,
    )
    parser.add_argument(
        "--warmstart-algorithm",
        choices=WARMSTARTS,
        default="bc-rule",
        help="what starts the policy: bc-rule (behavioral cloning of the hand rule's decisions, `mlgo eval "
        "--policy rule`; the default, measured best in benchmarks/README.md), imitation (explore, keep the best "
        "decisions found, clone them), bc (behavioral cloning of clang's -Oz decisions), or pretrained (no "
        "stage: the packaged rule's clone, pretrained:inlining-oz, trained with clang 19; the whole budget goes "
        "to --algorithm)",
    )
    parser.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default="es",
        help="what trains from the warm start: es (evolution strategies, the default), imitation (rounds of "
        "exploring around the policy and cloning the best decisions found; not after --warmstart-algorithm "
        "imitation), ppo, or none",
    )
    parser.add_argument(
        "--reward-size",
        choices=REWARD_SIZES,
        default="linked",
        help="how training values a compile: linked (the default: its object's change to its library's "
        "linked .text, which does not count copies the linker would merge anyway) or object (the object's "
        "own text, which rewards such phantom gains; see benchmarks/README.md)",
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        choices=LANGUAGES,
        default=(),
        metavar="LANGUAGE",
        help="train for these source languages only (c, c++, other) and ship a policy per language: the trained "
        "policy for them, clang's own heuristic for the rest (e.g. --languages c++ --warmstart-algorithm "
        "pretrained --algorithm imitation; see benchmarks/README.md, 'A policy per language'); default: one "
        "policy for every language",
    )
    parser.add_argument("--corpus", type=Path, help="use this corpus instead of the sample corpus")
    parser.add_argument(
        "--corpus-size",
        choices=("small", "full"),
        default="full",
        help="which sample corpus to build or reuse (default: full, about 1,600 modules)",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="share of modules held out for evaluation: whole libraries, about this share of each language's "
        "modules (as mlgo train splits; default: 0.2)",
    )
    parser.add_argument(
        "--modules-per-iteration",
        type=positive_int,
        help="imitation: modules explored per round; PPO: modules compiled per iteration (default: the gin "
        "configuration's; ES takes its es_config.modules_per_perturbation)",
    )
    parser.add_argument(
        "--max-eval-modules", type=positive_int, help="evaluate on at most this many validation modules (default: all)"
    )
    add_verify_flag(parser)
    parser.add_argument(
        "--no-aot",
        action="store_true",
        help="skip the XLA AOT export (minutes of compile time); SavedModel and TFLite still come",
    )
    add_workers_flag(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of module sampling and exploration (default: 0)")
    add_clang_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    run_demo(
        DemoOptions(
            output=args.output,
            budget_minutes=args.max_seconds / 60,
            corpus=args.corpus,
            corpus_size=args.corpus_size,
            validation_fraction=args.validation_fraction,
            workers=args.workers,
            seed=args.seed,
            clang=args.clang,
            verify=args.verify,
            aot=not args.no_aot,
            max_eval_modules=args.max_eval_modules,
            modules_per_iteration=args.modules_per_iteration,
            warmstart=args.warmstart_algorithm,
            algorithm=args.algorithm,
            reward_size=args.reward_size,
            languages=tuple(args.languages),
        ),
        _sample_corpus,
    )
    return 0


def _sample_corpus(toolchain: Toolchain, size: str) -> Path:
    """The sample corpus of `size`, built or cached by `corpus_tools` (decisions counted, as `corpus sample` does)."""
    return build_sample(toolchain, size=size, problem=PROBLEM)[0]

"""`mlgo demo`: the main job, as far as the project has come.

Today it builds (or reuses) the sample corpus of real code, compiles a seeded
sample of its modules under every built-in policy of every problem the
installed clang supports, and compares each policy with the compiler's own
heuristic. Training, export and reports are listed as not built yet.
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compiler_opt.corpus import load_corpus
from compiler_opt.llvm.channel import CompilerFailure
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.problems import get_problem, problem_names
from compiler_opt.progress import progress
from compiler_opt.tracing import trace_module

NOT_BUILT_YET = (
    "training an inlining policy (tf-agents policy gradient, behavioral cloning)",
    "evolution strategies",
    "export to SavedModel / TFLite / XLA AOT",
    "reports comparing policies",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the main job: sample corpus, policies compiled and compared (training still to come)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", type=Path, default=Path("demo"), help="folder for results (default: ./demo)")
    parser.add_argument("--corpus", type=Path, help="use this corpus instead of the sample corpus")
    parser.add_argument("--corpus-size", choices=("small", "full"), default="full",
                        help="which sample corpus to build or reuse (default: full)")
    parser.add_argument("--modules", type=int, default=40, help="modules compiled per policy (seeded sample)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel compiles")
    parser.add_argument("--seed", type=int, default=0, help="seed of the module sample and random policies")
    parser.add_argument("--clang", help="the clang to use (default: $MLGO_CLANG, then clang-22 ... clang-17, clang)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    toolchain = find_toolchain(args.clang)
    probe = toolchain.probe()
    print(f"compiler: {toolchain.version_text} ({toolchain.clang}); "
          f"interactive advisors: {', '.join(sorted(probe.advisors))}")
    if args.corpus is None:
        from corpus_tools.sample import build_sample

        corpus_dir, figures = build_sample(toolchain, size=args.corpus_size)
        print(f"sample corpus: {corpus_dir} ({figures.modules} modules, {len(figures.libraries)} libraries)")
    else:
        corpus_dir = args.corpus
    corpus = load_corpus(corpus_dir)
    modules = corpus.sample(min(args.modules, len(corpus)), seed=args.seed)
    args.output.mkdir(parents=True, exist_ok=True)
    summary: dict = {"compiler": toolchain.version_text, "corpus": str(corpus_dir), "problems": {}}
    for name in problem_names():
        problem = get_problem(name)
        if problem.advisor.name not in probe.advisors:
            print(f"{name}: skipped, {toolchain.clang} has no interactive {problem.advisor.name} advisor")
            continue
        jobs = [(spec, policy) for policy in problem.policies for spec in modules]

        def compile_one(job):
            spec, policy = job
            command = spec.command(toolchain.clang)
            try:
                return spec.name, policy, trace_module(toolchain, problem, policy, command, seed=args.seed)
            except CompilerFailure as error:
                return spec.name, policy, error

        results: dict[str, dict[str, float]] = {policy: {} for policy in problem.policies}
        failures: list[str] = []
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            for module, policy, result in progress(pool.map(compile_one, jobs), total=len(jobs), desc=name):
                if isinstance(result, CompilerFailure):
                    failures.append(f"{policy}: {result}")
                else:
                    results[policy][module] = result.score.value
        common = set.intersection(*(set(scores) for scores in results.values()))
        totals = {policy: sum(scores[m] for m in common) for policy, scores in results.items()}
        baseline = totals["default"] or 1.0
        print(f"\n{name}: {problem.measurement.name} over {len(common)} modules ({len(failures)} failed compiles)")
        for policy, total in totals.items():
            print(f"  {policy:<10} {total:>14,.0f}  {total / baseline:7.3f}x default")
        summary["problems"][name] = {"modules": len(common), "totals": totals, "failures": failures}
    (args.output / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nresults: {args.output / 'summary.json'}")
    print("not built yet (open issues): " + "; ".join(NOT_BUILT_YET))
    return 0

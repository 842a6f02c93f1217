"""`mlgo eval`: compile a corpus under a policy and under clang's own heuristic; write the evaluation JSON."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.profiles import collect_profiles
from compiler_opt.corpus.programs import load_programs
from compiler_opt.corpus.sampling import sample_modules
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.problems import get_problem
from compiler_opt.report.evaluate import evaluate
from compiler_opt.report.evaluated_policy import load_policy
from compiler_opt.report.evaluation_json import check_output, format_summary, write_report
from compiler_opt.report.partial import partial_folder
from compiler_opt.report.runtime import check_runtime_tools
from compiler_opt.training.gin_config import load_gin
from mlgo.flags import (
    add_corpus_compile_flags,
    add_gin_flags,
    add_module_sample_flags,
    add_output_flag,
    add_problem_flag,
    add_profiles_flag,
    describe,
    pool_from_args,
    positive_int,
)

EPILOG = """the JSON (ratios are policy/default; bytes of the Berkeley text figure for inlining, frequency-weighted
spill/reload/copy cost for register allocation):
  {"problem", "policy", "corpus", "compiler", "created", "measurement", "seed",
   "modules": [{"name", "language", "default", "policy", "ok", "error", "figures",
                "functions": [{"name", "default", "policy"}]}],           (regalloc: cost per function)
   "summary": {"modules", "failed", "default_total", "policy_total", "total_ratio", "geomean_ratio"},
   "linked": [{"library", "modules", "default", "policy", "ratio", ...}],  (with --linked)
   "runtime": [{"program", "library", "default": {"instructions", "seconds"}, "policy": {...},
                "ok", "error"}],                                          (with --runtime)
   "profiles": {"profiled": [module], "missing": {module: why}}}          (with --profiles)

while it runs, OUTPUT.partial/ (beside the JSON) keeps each module's results as its compiles end
(results.jsonl) and the objects --linked and --runtime need; it is removed once the JSON is written.
After a kill, the same command with --resume compiles only the modules not recorded there; the links and
the --runtime programs (built, counted and timed) run again in full.

the hand rule (inlining's `rule`, the policy a learned one must beat): clang's -Oz decision, and also inline
where callee_users == CALLEE_USERS and cost_estimate - threshold <= MARGIN (defaults 2 and 45). gin sets the
defaults (--gin-binding 'inlining.rule.margin = 60', or a --gin-file with such lines), the name sets them over
those (--policy rule:callee_users=3,margin=60); the JSON records the name with every threshold. Give its
evaluation to `mlgo report` beside a learned policy's: the report's first line says which beats which, and
every table and plot shows the rule beside the policy.

a policy per language (LANGUAGE=POLICY,...; LANGUAGE is c, c++, other or * for the rest): each module is
compiled under the member for its language (from its main file's name), e.g. a C++-trained policy for C++ and
clang's own heuristic for C: --policy 'c=default,c++=RUN_DIR/policy'.

examples:
  mlgo eval --problem inlining --policy default --corpus CORPUS --output eval.json
  mlgo eval --problem inlining --policy rule --corpus CORPUS --output rule.json --linked
  mlgo eval --problem inlining --policy rule --gin-binding 'inlining.rule.margin = 60' --corpus CORPUS -o r.json
  mlgo eval ... --output eval.json --resume       # after a kill: reuse eval.json.partial/, compile the rest
  mlgo eval --problem inlining --policy RUN_DIR/policy --corpus CORPUS --output eval.json --linked
  mlgo eval --problem inlining --policy 'c=C_RUN/policy,c++=CXX_RUN/policy' --corpus CORPUS -o eval.json
  mlgo eval --problem regalloc-eviction --policy RUN_DIR/policy --corpus CORPUS --output eval.json --runtime
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo eval`'s flags to its parser."""
    describe(
        parser,
        description="Compile every module (or a seeded sample) of a corpus under a policy, greedily, and under "
        "the compiler's default heuristic; write per-module scores, totals and ratios as JSON and print the "
        "summary. A module that fails is recorded with its error and the others go on.",
        epilog=EPILOG,
    )
    add_problem_flag(parser, "which decision the policy makes")
    parser.add_argument(
        "--policy",
        required=True,
        help="a built-in policy of the problem (inlining: default, always, never, rule: the hand rule, with its "
        "thresholds from gin's inlining.rule.* or set as rule:callee_users=N,margin=M), a saved policy folder "
        "(as `mlgo train` writes under RUN_DIR/policy), pretrained:NAME, a policy packaged with mlgo (an "
        "unknown NAME lists them), or one of those per source language: LANGUAGE=POLICY,... (c, c++, other, "
        "* for the rest; see below)",
    )
    add_gin_flags(
        parser, "setting built-in policies' defaults (the hand rule's: inlining.rule.*)", "inlining.rule.margin = 60"
    )
    add_output_flag(
        parser,
        "where to write the evaluation JSON (written atomically at the end; its folder must be "
        "writable, it is checked before any compile); results so far are kept in OUTPUT.partial/ "
        "meanwhile",
        kind=Path,
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with the results an interrupted run of the same evaluation (same policy, "
        "corpus, compiler, modules and options) kept in OUTPUT.partial/, compiling only the rest",
    )
    add_module_sample_flags(parser, "evaluate")
    parser.add_argument(
        "--linked",
        action="store_true",
        help="also link each library the corpus records (-shared -Wl,--gc-sections) under the "
        "policy and under the default, and report the linked .text sizes (only libraries "
        "whose modules are all evaluated link; with --max-modules most are skipped)",
    )
    parser.add_argument(
        "--runtime",
        nargs="*",
        metavar="PROGRAM",
        help="also build the corpus's runnable benchmark programs (corpus_description.json's "
        '"programs"; the sample corpus has them) from their libraries compiled under the '
        "policy and under the default, count their instructions with callgrind and time them; "
        "name programs to run only those (default: all)",
    )
    parser.add_argument(
        "--runtime-runs",
        type=positive_int,
        default=5,
        help="timed runs per program and side; the median is reported (default: 5)",
    )
    add_profiles_flag(parser, ' and in the JSON\'s "profiles"; both sides use them')
    parser.add_argument(
        "--baselines",
        type=Path,
        default=None,
        help="folder of the default heuristic's cached scores (default: the per-user cache, shared between runs)",
    )
    add_corpus_compile_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    toolchain = find_toolchain(args.clang)
    problem = get_problem(args.problem)
    load_gin(args.gin_files, args.gin_bindings, None, ())  # after the problem's module registered its configurables
    corpus = load_corpus(args.corpus)
    policy = load_policy(problem, args.policy)
    profiles = None
    if args.profiles:
        profiles = collect_profiles(toolchain, corpus, timeout=args.timeout)
        print(profiles.describe(), file=sys.stderr)
        corpus = profiles.apply(corpus)
    modules = sample_modules(corpus.modules, args.max_modules, args.seed)
    programs = []
    if args.runtime is not None:
        check_runtime_tools()
        programs = load_programs(corpus, args.runtime)
        if not programs:
            raise MlgoError(
                f'{args.corpus}: the corpus names no runtime programs ("programs" in '
                "corpus_description.json; `mlgo corpus sample` adds them); leave out --runtime"
            )
    baselines = BaselineCache(args.baselines or BaselineCache.shared_folder(), toolchain, problem)
    with pool_from_args(args) as pool:
        report = evaluate(
            corpus,
            problem,
            policy,
            toolchain=toolchain,
            pool=pool,
            baselines=baselines,
            policy_label=policy if isinstance(policy, str) else args.policy,
            modules=modules,
            linked=args.linked,
            programs=programs,
            runtime_runs=args.runtime_runs,
            seed=args.seed,
            timeout=args.timeout,
            partial=partial_folder(args.output),
            resume=args.resume,
        )
    if profiles is not None:
        report["profiles"] = {"profiled": sorted(profiles.profiles), "missing": dict(sorted(profiles.missing.items()))}
    write_report(report, args.output)
    shutil.rmtree(partial_folder(args.output), ignore_errors=True)
    print(format_summary(report))
    print(f"written: {args.output}")
    return 0

"""`mlgo train`: train a policy (PPO, evolution strategies, imitation of the best decisions found, or behavioral
cloning of the compiler's heuristic) into a run folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compiler_opt.train import ALGORITHMS
from mlgo.flags import (
    add_budget_flag,
    add_corpus_compile_flags,
    add_gin_flags,
    add_json_flag,
    add_output_flag,
    add_problem_flag,
    add_profiles_flag,
    describe,
    pool_from_args,
    positive_int,
)

EPILOG = """the run folder (RUN_DIR):
  config.json          problem, algorithm, corpus, compiler, seed, profiles (whether --profiles) and the gin
                       configuration used
  log.jsonl            one JSON object per iteration (modules ok/failed, mean_reward, total_ratio,
                       policy_total, baseline_total, decisions, loss, seconds_collect, seconds_train,
                       seconds_compile/seconds_policy summed over jobs, decisions_per_second_per_worker,
                       peak_rss_bytes of all processes, ...); train.log: the same, one line per iteration
  policy/              the latest saved policy: from the first iteration on, then every policy_every
                       iterations (gin) and after the last (replaced atomically)
  checkpoints/, state.json   what --resume continues from (the last complete iteration)
  failed_modules.json  modules set aside after failing too often, with their errors
  feature_spec.json, vocab/, trajectories/, tensorboard/
  best_trajectories/   imitation: per module the best decisions found so far (keyed by module content,
                       command line and compiler; only ever improves)

examples:
  mlgo train --problem inlining --algorithm bc --corpus CORPUS --output runs/bc
  mlgo train --problem inlining --algorithm ppo --corpus CORPUS --output runs/ppo --warmstart runs/bc/policy
  mlgo train --problem inlining --algorithm es --corpus CORPUS --output runs/es --warmstart runs/bc/policy
  mlgo train --problem inlining --algorithm imitation --corpus CORPUS --output runs/imitation
  mlgo train --problem inlining --algorithm es --corpus CORPUS --output runs/es2 --warmstart runs/imitation/policy
  mlgo train --problem regalloc-eviction --algorithm es --corpus CORPUS --output runs/evict
  mlgo train --problem regalloc-priority --algorithm ppo --corpus CORPUS --output runs/priority
  mlgo train --problem regalloc-eviction --algorithm es --corpus CORPUS --output runs/evict-pgo --profiles
  mlgo train ... --output runs/ppo --resume          # after a kill: continue from the last complete iteration
  mlgo train ... --gin-binding 'ppo.ppo_config.learning_rate = 1e-3'
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `mlgo train`'s flags to its parser."""
    describe(
        parser,
        description="Train a policy for a problem on the training split of a corpus. PPO: each iteration "
        "compiles a sample of modules under the current policy on the worker pool, rewards each by its score "
        "(object size for inlining, frequency-weighted spill/reload/copy cost for register allocation) "
        "against the compiler's own heuristic, trains a tf-agents PPO agent on the decisions, and saves the "
        "policy. ES: each step compiles a sample of modules under antithetic random perturbations of the "
        "policy's weights, scores each perturbation by its modules' scores against the compiler's own "
        "heuristic, and moves the weights along the estimated gradient; then saves the "
        "policy. BC: collects a built-in policy's decisions (the compiler's own, or "
        "trainer_config.label_policy's) as labels once, then trains the policy to repeat them, one epoch per "
        "iteration (the warm start for PPO and ES; inlining only: clang 19's register "
        "allocator cannot replay its own decisions). Hyper-parameters come from the "
        "problem's gin file (compiler_opt/problems/gin/<problem>/<algorithm>.gin), --gin-file and "
        "--gin-binding.",
        epilog=EPILOG,
    )
    add_problem_flag(parser, "which decision to learn")
    parser.add_argument(
        "--algorithm",
        required=True,
        choices=ALGORITHMS,
        help="ppo: policy gradient with a clipped objective; es: evolution strategies over the "
        "policy's weights; bc: behavioral cloning of a built-in policy (the compiler's own heuristic, or "
        "trainer_config.label_policy, e.g. 'rule'); imitation: rounds of exploring around the "
        "policy (its least-certain decisions flipped, the built-in references such as the hand rule as "
        "candidates), keeping each module's best decisions, and cloning them (inlining; warm-starts es)",
    )
    add_output_flag(parser, "the run folder to create (or resume)")
    parser.add_argument(
        "--warmstart",
        type=Path,
        help="start from this saved policy's weights, feature spec and vocabulary (e.g. a BC run's RUN_DIR/policy)",
    )
    parser.add_argument(
        "--vocab",
        type=Path,
        help="the vocabulary folder (`mlgo vocab`); default: the warm-start policy's, else computed "
        "from default traces (PPO) or the labels (BC) into RUN_DIR/vocab",
    )
    parser.add_argument(
        "--iterations",
        type=positive_int,
        help="PPO iterations, ES steps, or BC epochs, in all (default: gin's train.trainer_config.iterations)",
    )
    parser.add_argument(
        "--modules-per-iteration",
        type=positive_int,
        help="PPO: modules compiled per iteration (default: gin's trainer_config)",
    )
    parser.add_argument(
        "--max-modules",
        type=positive_int,
        help="BC: label a seeded sample of this many training modules (default: all)",
    )
    add_budget_flag(
        parser,
        "training time in minutes: stop before an iteration that would end past this much wall "
        "time of this invocation (default: no limit)",
        old_seconds=True,
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of module sampling, exploration and network initialization (default: 0)",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="fraction of the corpus kept out of training for evaluation: whole libraries chosen by a hash of "
        "their names, about this share of each language's modules, when the corpus records libraries, else "
        "modules by name hash; a resumed run keeps its split (default: 0.2; benchmarks/train_policy.py "
        "evaluates on that part)",
    )
    add_gin_flags(parser)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --output from its last complete iteration (same problem, "
        "algorithm, corpus and compiler; its own gin configuration)",
    )
    parser.add_argument(
        "--baselines",
        type=Path,
        help="folder of cached -Oz baselines (default: the per-user cache, shared between runs)",
    )
    add_profiles_flag(
        parser,
        "; training and validation modules alike, in every iteration (config.json records the choice; "
        "--resume must give it as the run started)",
    )
    add_json_flag(parser, "the summary")
    add_corpus_compile_flags(parser, timeout=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from compiler_opt.train import TrainOptions, train

    options = TrainOptions(
        problem=args.problem,
        algorithm=args.algorithm,
        corpus=args.corpus,
        output=args.output,
        clang=args.clang,
        warmstart=args.warmstart,
        vocab=args.vocab,
        iterations=args.iterations,
        modules_per_iteration=args.modules_per_iteration,
        max_modules=args.max_modules,
        seed=args.seed,
        validation_fraction=args.validation_fraction,
        resume=args.resume,
        max_seconds=args.max_seconds,
        gin_files=tuple(args.gin_files),
        gin_bindings=tuple(args.gin_bindings),
        baseline_cache=args.baselines,
        profiles=args.profiles,
    )
    with pool_from_args(args) as pool:
        summary = train(options, pool)
    if args.json:
        print(
            json.dumps(
                {
                    "output": str(summary.output),
                    "iterations": summary.iterations,
                    "stopped": summary.stopped,
                    "peak_rss_bytes": summary.peak_rss_bytes,
                    "last": summary.last,
                }
            )
        )
        return 0
    print(f"run:        {summary.output}")
    print(f"iterations: {summary.iterations} complete (stopped: {summary.stopped})")
    print(f"policy:     {summary.output / 'policy'}")
    print(f"peak RSS:   {summary.peak_rss_bytes / 2**30:.2f} GiB (all processes)")
    return 0

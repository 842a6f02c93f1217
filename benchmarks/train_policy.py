"""Train a policy from scratch within a time budget, then evaluate it on unseen modules.

For `--problem` (inlining for size by default, or a register-allocation
problem), on the sample corpus (built or reused; `--size full` by default),
split by module name into training and validation (`--validation-fraction`,
as `mlgo train` splits it):

0. the default heuristic's score of every module, from the baseline cache or
   computed into it, before the clock starts (the cache outlives runs);
1. behavioral cloning of the compiler's own decisions on the training
   modules (`mlgo train --algorithm bc`), the warm start, for problems whose
   default decisions the channel replays (inlining; clang 19's regalloc
   advisors cannot, so their trainer starts from a fresh network);
2. the trainer (`mlgo train --algorithm es|ppo`, `--algorithm`, ES by
   default: it beat PPO in `es_vs_ppo.py`) until the budget is spent; every
   `--eval-every` iterations the current policy is evaluated greedily on the
   validation modules (evaluation time is not charged to the training
   budget, and is reported apart);
3. the final policy (and the BC policy) evaluated on the validation modules
   against the compiler's heuristic (`compiler_opt.report.evaluate`, the code
   behind `mlgo eval`).

It prints the training curve (per iteration: the sampled modules' score
ratio to the heuristic and mean reward; validation ratios where evaluated),
the validation `total_ratio` (policy / heuristic: text bytes or weighted
regalloc cost, below 1 is better),
module counts, collection throughput (modules/s, decisions/s per worker),
where the time went (compiling, Python policy, training, saving, baselines,
evaluation) and the peak memory of all processes, and writes it all to
`OUTPUT/benchmark.json`.

    .venv/bin/python benchmarks/train_policy.py                       # inlining, 60 min on 2 workers, full sample
    .venv/bin/python benchmarks/train_policy.py --problem regalloc-eviction --eval-every 0
    .venv/bin/python benchmarks/train_policy.py --budget-minutes 3 --size small --eval-every 0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training_setup import add_training_flags, fmt, training_setup

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.backends import make_pool
from compiler_opt.problems import problem_names
from compiler_opt.report.evaluate import evaluate
from compiler_opt.report.evaluation_json import write_report
from compiler_opt.train import TrainOptions, train
from compiler_opt.training.memory import PeakMemory


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--problem", choices=problem_names(), default="inlining", help="which decision to learn (default: inlining)"
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=60.0,
        help="training time budget, BC and the trainer together, evaluation excluded (default: 60)",
    )
    add_training_flags(parser)
    parser.add_argument(
        "--bc-epochs", type=int, default=20, help="behavioral-cloning epochs, where the problem has BC (default: 20)"
    )
    parser.add_argument(
        "--algorithm",
        choices=("es", "ppo"),
        default="es",
        help="the trainer (after the BC warm start, if any; default: es)",
    )
    parser.add_argument(
        "--modules-per-iteration",
        type=int,
        help="PPO modules per iteration (default: gin's; ES samples per gin's es_config)",
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=10,
        help="evaluate on the validation split every N iterations (0: only at the end)",
    )
    parser.add_argument(
        "--gin-binding",
        dest="gin_bindings",
        action="append",
        default=[],
        help="extra gin bindings for the trainer (repeatable)",
    )
    return parser.parse_args(argv)


def _validate(
    label: str, policy_dir: Path, corpus, validation, problem, toolchain, pool, baselines, output: Path, seed: int
) -> dict:
    started = time.monotonic()
    report = evaluate(
        corpus,
        problem,
        FastPolicy.load(policy_dir),
        toolchain=toolchain,
        pool=pool,
        baselines=baselines,
        policy_label=str(policy_dir),
        modules=list(validation.modules),
        seed=seed,
    )
    write_report(report, output / f"eval-{label}.json")
    summary = report["summary"]
    return {
        "label": label,
        "total_ratio": summary["total_ratio"],
        "geomean_ratio": summary["geomean_ratio"],
        "modules": summary["modules"],
        "failed": summary["failed"],
        "seconds": time.monotonic() - started,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    setup = training_setup(args)
    toolchain, problem, corpus_dir, corpus = setup.toolchain, setup.problem, setup.corpus_dir, setup.corpus
    training, validation, output, baselines, common = (
        setup.training,
        setup.validation,
        setup.output,
        setup.baselines,
        setup.common,
    )
    budget = args.budget_minutes * 60.0
    print(f"budget: {args.budget_minutes:g} min of training on {args.workers} workers; output: {output}")
    memory = PeakMemory().start()
    evaluations: list[dict] = []
    eval_seconds = 0.0
    curve_points: dict[int, dict] = {}
    with make_pool("local", args.workers) as pool:
        # The baseline cache outlives runs (keyed by module, compiler and command): fill it before the clock starts.
        before = time.monotonic()
        found = baselines.get_many(BaselineCache.commands(toolchain, corpus.modules), pool, desc="baselines")
        baseline_seconds = time.monotonic() - before
        print(
            f"baselines: {len(found.scores)} modules ready in {baseline_seconds:.0f} s "
            f"({len(found.failures)} failed), not charged to the budget",
            flush=True,
        )
        started = time.monotonic()
        bc = None
        if problem.default_replay() is not None:
            bc = train(
                TrainOptions(
                    problem.name, "bc", output=output / "bc", iterations=args.bc_epochs, max_seconds=budget, **common
                ),
                pool,
            )
        bc_seconds = time.monotonic() - started
        run_dir = output / args.algorithm
        done, records, stopped = 0, [], "time budget"
        while True:
            left = budget - (time.monotonic() - started - eval_seconds)
            typical = [r["seconds_collect"] + r["seconds_train"] + r.get("seconds_save", 0.0) for r in records]
            if left <= (sum(typical) / len(typical) if typical else 0.0):
                break
            target = done + args.eval_every if args.eval_every else 10**6
            run = train(
                TrainOptions(
                    problem.name,
                    args.algorithm,
                    output=run_dir,
                    warmstart=bc.output / "policy" if bc else None,
                    iterations=target,
                    modules_per_iteration=args.modules_per_iteration,
                    max_seconds=left,
                    resume=done > 0,
                    gin_bindings=tuple(args.gin_bindings) if done == 0 else (),
                    **common,
                ),
                pool,
            )
            records = run.records
            progressed = run.iterations > done
            done, stopped = run.iterations, run.stopped
            if not progressed:
                break
            if args.eval_every and stopped == "iterations":
                before = time.monotonic()
                point = _validate(
                    f"{args.algorithm}-{done}",
                    run_dir / "policy",
                    corpus,
                    validation,
                    problem,
                    toolchain,
                    pool,
                    baselines,
                    output,
                    args.seed,
                )
                eval_seconds += time.monotonic() - before
                curve_points[done] = point
                evaluations.append(point)
                print(f"validation after iteration {done}: total_ratio {fmt(point['total_ratio'], '.4f')}", flush=True)
            if stopped != "iterations":
                break
        train_seconds = time.monotonic() - started - eval_seconds
        before = time.monotonic()
        final_bc = bc and _validate(
            "bc", bc.output / "policy", corpus, validation, problem, toolchain, pool, baselines, output, args.seed
        )
        final = None
        if done:
            final = curve_points.get(done) or _validate(
                f"{args.algorithm}-{done}",
                run_dir / "policy",
                corpus,
                validation,
                problem,
                toolchain,
                pool,
                baselines,
                output,
                args.seed,
            )
        eval_seconds += time.monotonic() - before
    peak = memory.peak()
    memory.stop()

    name = args.algorithm.upper()
    print(f"\ntraining curve ({name}; ratio and reward on each iteration's sampled training modules):")
    print(
        f"{'iter':>5} {'modules':>8} {'decisions':>10} {'ratio':>8} {'reward':>9} {'collect s':>9} "
        f"{'train s':>8} {'dec/s/w':>8} {'validation':>10}"
    )
    for r in records:
        point = curve_points.get(r["iteration"])
        print(
            f"{r['iteration']:>5} {r['modules_ok']:>8} {r['decisions']:>10,} {fmt(r['total_ratio'], '.4f'):>8} "
            f"{fmt(r['mean_reward'], '+.5f'):>9} {r['seconds_collect']:>9.1f} {r['seconds_train']:>8.1f} "
            f"{fmt(r['decisions_per_second_per_worker'], '.0f'):>8} "
            f"{fmt(point['total_ratio'] if point else None, '.4f'):>10}"
        )
    bc_figures = None
    if bc is not None:
        bc_last = bc.records[-1] if bc.records else {}
        bc_figures = {
            "epochs": bc.iterations,
            "seconds": bc_seconds,
            "holdout_accuracy": bc_last.get("holdout_accuracy"),
            "labels_seconds": bc.records[0]["seconds_collect"] if bc.records else None,
            "validation": final_bc,
        }
    collect = sum(r["seconds_collect"] - r.get("seconds_baselines", 0.0) for r in records)
    compiles = sum(r.get("jobs_ok", r["modules_ok"]) for r in records)  # ES: every compile, perturbed ones too
    decisions = sum(r["decisions"] for r in records)
    last = final or final_bc
    figures = {
        "problem": problem.name,
        "clang": toolchain.version_text,
        "corpus": str(corpus_dir),
        "modules": len(corpus),
        "training_modules": len(training),
        "validation_modules": len(validation),
        "workers": args.workers,
        "budget_minutes": args.budget_minutes,
        "bc": bc_figures,
        "algorithm": args.algorithm,
        "trainer": {
            "iterations": done,
            "stopped": stopped,
            "modules_compiled": compiles,
            "decisions": decisions,
            "validation": final,
            "curve": evaluations,
        },
        "validation_total_ratio": last["total_ratio"] if last else None,
        "throughput": {
            "modules_per_second": compiles / collect if collect else None,
            "decisions_per_second_per_worker": decisions / collect / args.workers if collect else None,
        },
        "seconds": {
            "training": train_seconds,
            "evaluation": eval_seconds,
            "baselines_before": baseline_seconds,
            "collect": sum(r["seconds_collect"] for r in records),
            "baselines": sum(r.get("seconds_baselines", 0.0) for r in records),
            "jobs_compile": sum(r["seconds_compile"] for r in records),
            "jobs_policy": sum(r["seconds_policy"] for r in records),
            "train": sum(r["seconds_train"] for r in records),
            "save": sum(r.get("seconds_save", 0.0) for r in records),
        },
        "peak_rss_bytes": peak,
    }
    (output / "benchmark.json").write_text(json.dumps(figures, indent=1) + "\n")
    seconds = figures["seconds"]
    print(
        f"\nmodules:     {len(training)} training, {len(validation)} validation; {name} compiled modules "
        f"{compiles:,} times ({decisions:,} decisions) in {done} iterations (stopped: {stopped})"
    )
    if bc_figures:
        print(
            f"BC:          {bc.iterations} epochs, {bc_seconds:.0f} s (labels "
            f"{fmt(bc_figures['labels_seconds'], '.0f')} s), hold-out agreement with the default "
            f"{fmt(bc_figures['holdout_accuracy'], '.4f')}"
        )
    print(
        f"throughput:  {fmt(figures['throughput']['modules_per_second'], '.2f')} modules/s, "
        f"{fmt(figures['throughput']['decisions_per_second_per_worker'], '.0f')} decisions/s per worker ({name})"
    )
    print(
        f"time:        training {seconds['training']:.0f} s ({name}: collect {seconds['collect']:.0f} s wall, of "
        f"which baselines {seconds['baselines']:.0f} s; jobs' compile {seconds['jobs_compile']:.0f} s and "
        f"Python policy {seconds['jobs_policy']:.0f} s summed over workers; train {seconds['train']:.0f} s; "
        f"save {seconds['save']:.0f} s), evaluation {seconds['evaluation']:.0f} s"
    )
    print(f"peak memory: {peak / 2**30:.2f} GiB (all processes)")
    print(
        f"validation:  BC total_ratio {fmt(final_bc['total_ratio'] if final_bc else None, '.4f')}, {name} "
        f"total_ratio {fmt(final['total_ratio'] if final else None, '.4f')} on {len(validation)} modules "
        f"({last['failed'] if last else '-'} failed; {problem.measurement.name}, policy / the compiler's heuristic)"
    )
    print(f"written:     {output / 'benchmark.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which reward makes register allocation faster: train with each, judge by running programs never trained on.

For `--problem` (regalloc-eviction by default) on the sample corpus (split by
library, the held-out programs' libraries always on the validation side),
one ES run per reward, with the same seed and the same wall-time budget, one
after the other on the same workers:

- `estimated`: the remarks' weighted spill/reload/copy cost, block
  frequencies estimated by the compiler (the reward of every run so far);
- `profiled`: the same cost with block frequencies measured by running the
  corpus's programs (`mlgo train --profiles`);
- `runtime`: the training programs built under each perturbation and counted
  under callgrind (`es.es_config.fitness = 'programs'`), starting from the
  `profiled` run's policy when that ran (a step builds whole programs, tens of
  times dearer than a step of module costs, so a fresh network would spend
  the budget reaching the default allocator).

Then each policy, and the default allocator itself (`default`: a rebuild
with the same decisions, the noise floor of every figure), is evaluated on
the held-out programs' libraries: every module's weighted cost with
estimated and with measured frequencies, and each held-out program built
from its library compiled under the policy, counted under callgrind and
timed (`--runtime-runs`, median and spread), outputs checked
(`compiler_opt.report.evaluate`, the code behind `mlgo eval --runtime`).

It prints per reward and program the instruction, wall-time and cost
ratios, and how well each cost predicts the instruction count: Pearson's r
across (policy, program) pairs of the library's cost ratio and the
program's instruction ratio, and across modules of the estimated and the
measured cost ratio. Everything goes to `OUTPUT/regalloc_rewards.json`; a
reward whose run folder holds a saved policy is not trained again, and its
evaluations written by an earlier invocation are read back.

    MLGO_CLANG=clang-19 .venv/bin/python benchmarks/regalloc_rewards.py --budget-minutes 20 \\
        --fitness-programs lz4-roundtrip,xxhash-bench --output /tmp/rewards
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training_setup import add_training_flags, fmt, training_setup

from compiler_opt.corpus.profiles import collect_profiles
from compiler_opt.corpus.programs import load_programs
from compiler_opt.es.program_fitness import training_programs
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.backends import make_pool
from compiler_opt.report.evaluate import evaluate
from compiler_opt.report.evaluation_json import write_report
from compiler_opt.train import TrainOptions, train
from compiler_opt.training.memory import PeakMemory

# Per reward: `mlgo train` options, and the reward whose policy it starts from (None: a fresh network).
REWARDS: dict[str, tuple[dict, str | None]] = {
    "estimated": ({"profiles": False, "gin_bindings": ()}, None),
    "profiled": ({"profiles": True, "gin_bindings": ()}, None),
    "runtime": ({"profiles": False, "gin_bindings": ("es.es_config.fitness = 'programs'",)}, "profiled"),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--problem",
        choices=("regalloc-eviction", "regalloc-priority"),
        default="regalloc-eviction",
        help="which allocator decision to learn (default: regalloc-eviction)",
    )
    parser.add_argument("--budget-minutes", type=float, default=20.0, help="training minutes per reward (default: 20)")
    parser.add_argument(
        "--rewards",
        default=",".join(REWARDS),
        help=f"comma-separated rewards to compare, of {', '.join(REWARDS)} (default: all)",
    )
    parser.add_argument(
        "--runtime-runs", type=int, default=5, help="timed runs per held-out program and side (default: 5)"
    )
    parser.add_argument(
        "--fitness-programs",
        default="",
        help="comma-separated training programs the runtime reward builds (default: every training program)",
    )
    add_training_flags(parser)
    return parser.parse_args(argv)


def _train(reward: str, setup, budget: float, pool, extra_bindings: tuple[str, ...]) -> dict:
    """Train the run of `reward` within `budget` seconds, from the policy of the reward it follows when that ran
    (a run folder holding a saved policy is reused); its figures."""
    run_dir = setup.output / f"train-{reward}"
    options, after = REWARDS[reward]
    warmstart = None if after is None else setup.output / f"train-{after}" / "policy"
    started = time.monotonic()
    trained_now = not (run_dir / "policy").is_dir()
    if trained_now:
        train(
            TrainOptions(
                setup.problem.name,
                "es",
                output=run_dir,
                max_seconds=budget,
                iterations=10**6,  # the budget ends the run
                warmstart=warmstart if warmstart is not None and warmstart.is_dir() else None,
                gin_bindings=(*options["gin_bindings"], *extra_bindings),
                profiles=options["profiles"],
                **setup.common,
            ),
            pool,
        )
    log = run_dir / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
    return {
        "run": str(run_dir),
        "trained_now": trained_now,
        "warmstart": None if warmstart is None or not warmstart.is_dir() else str(warmstart),
        "steps": len(records),
        "seconds": time.monotonic() - started,
        "seconds_training": math.fsum(r["seconds_collect"] + r["seconds_train"] for r in records),
        "compiles": sum(r.get("jobs_ok", 0) for r in records),
        "jobs_failed": sum(r.get("jobs_failed", 0) for r in records),
        "first_ratio": records[0]["total_ratio"] if records else None,
        "last_ratio": records[-1]["total_ratio"] if records else None,
    }


def _names(listed: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in listed.split(",") if name.strip())


def _bindings(reward: str, fitness_programs: str) -> tuple[str, ...]:
    """The runtime reward's choice of programs as a gin binding (no other reward builds programs)."""
    names = _names(fitness_programs)
    if reward != "runtime" or not names:
        return ()
    return (f"es.es_config.fitness_programs = {tuple(names)!r}",)


def _library_costs(report: dict, members: dict[str, list[str]]) -> dict[str, float | None]:
    """Per library, the policy's summed cost over the default's (None unless every module of it compiled)."""
    by_name = {m["name"]: m for m in report["modules"]}
    ratios = {}
    for library, names in members.items():
        entries = [by_name.get(name) for name in names]
        if any(e is None or not e["ok"] for e in entries):
            ratios[library] = None
            continue
        default = math.fsum(e["default"] for e in entries)
        ratios[library] = math.fsum(e["policy"] for e in entries) / default if default else 1.0
    return ratios


def _module_ratios(report: dict) -> dict[str, float]:
    return {m["name"]: m["policy"] / m["default"] for m in report["modules"] if m["ok"] and m["default"]}


def _pearson(pairs: list[tuple[float, float]]) -> float | None:
    if len(pairs) < 3:
        return None
    xs, ys = zip(*pairs, strict=True)
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return statistics.correlation(xs, ys)


def main(argv=None) -> int:
    args = parse_args(argv)
    rewards = [r.strip() for r in args.rewards.split(",") if r.strip()]
    unknown = sorted(set(rewards) - set(REWARDS))
    if unknown:
        raise SystemExit(f"unknown rewards {', '.join(unknown)}; choose from {', '.join(REWARDS)}")
    setup = training_setup(args)
    toolchain, problem, corpus = setup.toolchain, setup.problem, setup.corpus
    held_out = [p for p in load_programs(corpus) if p.held_out]
    if not held_out:
        raise SystemExit(f"{setup.corpus_dir}: no held-out programs to judge on (the full sample corpus has them)")
    members = {p.library: list(corpus.libraries[p.library]) for p in held_out}
    modules = sorted({name for names in members.values() for name in names})
    profiled_corpus = collect_profiles(toolchain, corpus).apply(corpus)
    print(
        f"judged on {len(held_out)} held-out programs ({', '.join(p.name for p in held_out)}), "
        f"{len(modules)} modules of their libraries; {args.budget_minutes:g} min of training per reward",
        flush=True,
    )
    if "runtime" in rewards:  # refused now rather than after the other rewards' training
        training_programs(setup.training, setup.validation, _names(args.fitness_programs))
    memory = PeakMemory().start()
    results: dict[str, dict] = {}
    with make_pool("local", args.workers) as pool:
        for reward in ["default", *rewards]:
            entry: dict = {}
            if reward == "default":
                policy = "default"
            else:
                entry["training"] = _train(
                    reward, setup, args.budget_minutes * 60.0, pool, _bindings(reward, args.fitness_programs)
                )
                print(f"{reward}: trained {entry['training']}", flush=True)
                policy = FastPolicy.load(Path(entry["training"]["run"]) / "policy")
            started = time.monotonic()
            sides = {}
            for frequencies, source in (("estimated", corpus), ("profiled", profiled_corpus)):
                written = setup.output / f"eval-{reward}-{frequencies}.json"
                if written.is_file() and not entry.get("training", {}).get("trained_now"):
                    # The same policy as when it was written (the default, or a run reused, not trained again).
                    sides[frequencies] = json.loads(written.read_text())
                    continue
                report = evaluate(
                    source,
                    problem,
                    policy,
                    toolchain=toolchain,
                    pool=pool,
                    baselines=setup.baselines,
                    policy_label=reward,
                    modules=[source.module(name) for name in modules],
                    programs=held_out if frequencies == "estimated" else (),
                    runtime_runs=args.runtime_runs,
                    seed=args.seed,
                )
                write_report(report, setup.output / f"eval-{reward}-{frequencies}.json")
                sides[frequencies] = report
            entry["evaluation_seconds"] = time.monotonic() - started
            entry["cost_ratio"] = {k: r["summary"]["total_ratio"] for k, r in sides.items()}
            entry["library_cost_ratio"] = {k: _library_costs(r, members) for k, r in sides.items()}
            entry["module_cost_ratio"] = {k: _module_ratios(r) for k, r in sides.items()}
            entry["programs"] = sides["estimated"].get("runtime", [])
            results[reward] = entry
    peak = memory.peak()
    memory.stop()

    print("\nheld-out programs: policy / default allocator (instructions under callgrind; wall: median of runs)")
    print(
        f"{'reward':<10} {'program':<18} {'instr':>8} {'wall':>8} {'wall spread':>19} {'cost est':>9} {'cost prof':>9}"
    )
    pairs: dict[str, list[tuple[float, float]]] = {"estimated": [], "profiled": []}
    summary: dict[str, dict] = {}
    for reward, entry in results.items():
        instruction_ratios = []
        for program in entry["programs"]:
            library = program["library"]
            costs = {k: entry["library_cost_ratio"][k].get(library) for k in pairs}
            if not program["ok"]:
                print(f"{reward:<10} {program['program']:<18} failed: {program['error']}")
                continue
            default, policy = program["default"], program["policy"]
            ratio = policy["instructions"] / default["instructions"]
            instruction_ratios.append(ratio)
            if reward != "default":
                for kind, cost in costs.items():
                    if cost is not None:
                        pairs[kind].append((cost, ratio))
            spread = f"{policy['seconds_min']:.4f}-{policy['seconds_max']:.4f}"
            print(
                f"{reward:<10} {program['program']:<18} {ratio:>8.4f} {policy['seconds'] / default['seconds']:>8.4f} "
                f"{spread:>19} {fmt(costs['estimated'], '.4f'):>9} {fmt(costs['profiled'], '.4f'):>9}"
            )
        summary[reward] = {
            "mean_instruction_ratio": statistics.fmean(instruction_ratios) if instruction_ratios else None,
            "worst_instruction_ratio": max(instruction_ratios) if instruction_ratios else None,
            "programs_ok": len(instruction_ratios),
            "cost_ratio": entry["cost_ratio"],
        }
        print(
            f"{reward:<10} {'mean':<18} {fmt(summary[reward]['mean_instruction_ratio'], '.4f'):>8}  worst "
            f"{fmt(summary[reward]['worst_instruction_ratio'], '.4f')}; cost of the {len(modules)} modules: "
            f"estimated {fmt(entry['cost_ratio']['estimated'], '.4f')}, profiled "
            f"{fmt(entry['cost_ratio']['profiled'], '.4f')}"
        )
    module_pairs = [
        (entry["module_cost_ratio"]["estimated"][name], ratio)
        for reward, entry in results.items()
        if reward != "default"
        for name, ratio in entry["module_cost_ratio"]["profiled"].items()
        if name in entry["module_cost_ratio"]["estimated"]
    ]
    correlation = {
        "library_estimated_cost_vs_instructions": _pearson(pairs["estimated"]),
        "library_profiled_cost_vs_instructions": _pearson(pairs["profiled"]),
        "points": len(pairs["estimated"]),
        "module_estimated_vs_profiled_cost": _pearson(module_pairs),
        "module_points": len(module_pairs),
    }
    print(
        f"\nPearson r over {correlation['points']} (policy, program) pairs: library cost ratio vs instruction "
        f"ratio: estimated {fmt(correlation['library_estimated_cost_vs_instructions'], '.3f')}, profiled "
        f"{fmt(correlation['library_profiled_cost_vs_instructions'], '.3f')}; over {len(module_pairs)} "
        f"(policy, module) pairs, estimated vs profiled cost ratio "
        f"{fmt(correlation['module_estimated_vs_profiled_cost'], '.3f')}"
    )
    print(f"peak memory: {peak / 2**30:.2f} GiB (all processes)")
    figures = {
        "problem": problem.name,
        "clang": toolchain.version_text,
        "corpus": str(setup.corpus_dir),
        "budget_minutes": args.budget_minutes,
        "workers": args.workers,
        "held_out_programs": [p.name for p in held_out],
        "modules": modules,
        "results": results,
        "summary": summary,
        "correlation": correlation,
        "peak_rss_bytes": peak,
    }
    (setup.output / "regalloc_rewards.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"written:     {setup.output / 'regalloc_rewards.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

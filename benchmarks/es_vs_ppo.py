"""Evolution strategies versus PPO: the same warm start, training split, wall-clock budget and validation split.

1. behavioral cloning of clang's `-Oz` decisions on the training split (or `--bc POLICY`, an existing BC
   policy trained on the same split);
2. PPO and ES (`mlgo train --algorithm ppo|es`), each warm-started from that BC policy, each stopped by the
   same `--budget-minutes` of wall time on the same workers (or `--ppo-run RUN_DIR`, an existing PPO run
   warm-started from the same BC policy, for example `mlgo demo`'s `train/` folder);
3. the BC, PPO and ES policies evaluated greedily on the validation split against `-Oz` (the code behind
   `mlgo eval`).

Printed: each arm's curve (per iteration: elapsed seconds and the `total_ratio` on that iteration's sampled
training modules; PPO's under exploration, ES's for the unperturbed policy), and the validation
`total_ratio` of all three. Everything also goes to `OUTPUT/es_vs_ppo.json`.

    .venv/bin/python benchmarks/es_vs_ppo.py --budget-minutes 15
    .venv/bin/python benchmarks/es_vs_ppo.py --bc demo/bc/policy --ppo-run demo/train --budget-minutes 16.7
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training_setup import add_training_flags, fmt, training_setup

from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.backends import make_pool
from compiler_opt.report.evaluate import evaluate
from compiler_opt.report.evaluation_json import write_report
from compiler_opt.train import TrainOptions, train


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=15.0,
        help="wall-clock training budget of each arm, PPO and ES alike (default: 15)",
    )
    add_training_flags(parser)
    parser.add_argument("--bc", type=Path, help="an existing BC policy (trained on the same training split)")
    parser.add_argument("--bc-epochs", type=int, default=20, help="BC epochs when training it here (default: 20)")
    parser.add_argument("--ppo-run", type=Path, help="an existing PPO run folder warm-started from --bc")
    return parser.parse_args(argv)


def _log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]


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
    print(f"budget: {args.budget_minutes:g} min per arm on {args.workers} workers; output: {output}", flush=True)
    runs: dict[str, Path] = {}
    with make_pool("local", args.workers) as pool:
        bc_policy = args.bc
        if bc_policy is None:
            bc = train(TrainOptions("inlining", "bc", output=output / "bc", iterations=args.bc_epochs, **common), pool)
            bc_policy = bc.output / "policy"
        policies = {"bc": bc_policy}
        for arm in ("ppo", "es"):
            if arm == "ppo" and args.ppo_run is not None:
                config = json.loads((args.ppo_run / "config.json").read_text())
                if Path(config["warmstart"] or "") != bc_policy.resolve():
                    raise SystemExit(f"{args.ppo_run} was warm-started from {config['warmstart']}, not {bc_policy}")
                runs[arm] = args.ppo_run
            else:
                runs[arm] = train(
                    TrainOptions(
                        "inlining", arm, output=output / arm, warmstart=bc_policy, max_seconds=budget, **common
                    ),
                    pool,
                ).output
            policies[arm] = runs[arm] / "policy"
        results = {}
        for label, policy_dir in policies.items():
            report = evaluate(
                corpus,
                problem,
                FastPolicy.load(policy_dir),
                toolchain=toolchain,
                pool=pool,
                baselines=baselines,
                policy_label=str(policy_dir),
                modules=list(validation.modules),
                seed=args.seed,
            )
            write_report(report, output / f"eval-{label}.json")
            results[label] = report["summary"]

    curves = {
        arm: [
            {
                "iteration": r["iteration"],
                "elapsed": r["elapsed"],
                "total_ratio": r["total_ratio"],
                "mean_reward": r["mean_reward"],
                "modules_ok": r["modules_ok"],
            }
            for r in _log(run_dir)
        ]
        for arm, run_dir in runs.items()
    }
    for arm, curve in curves.items():
        print(f"\n{arm} curve (total_ratio on each iteration's sampled training modules):")
        print(f"{'iter':>5} {'elapsed s':>10} {'modules':>8} {'ratio':>8} {'reward':>9}")
        for point in curve:
            print(
                f"{point['iteration']:>5} {point['elapsed']:>10.0f} {point['modules_ok']:>8} "
                f"{fmt(point['total_ratio'], '.4f'):>8} {fmt(point['mean_reward'], '+.5f'):>9}"
            )
    print(f"\nvalidation ({len(validation)} modules never trained on), greedy, against clang -Oz:")
    print(f"{'policy':<6} {'iterations':>10} {'total_ratio':>12} {'geomean':>8} {'failed':>7}")
    for label, summary in results.items():
        iterations = len(curves[label]) if label in curves else "-"
        print(
            f"{label:<6} {iterations:>10} {summary['total_ratio']:>12.4f} {summary['geomean_ratio']:>8.4f} "
            f"{summary['failed']:>7}"
        )
    figures = {
        "corpus": str(corpus_dir),
        "training_modules": len(training),
        "validation_modules": len(validation),
        "budget_minutes": args.budget_minutes,
        "workers": args.workers,
        "clang": toolchain.version_text,
        "runs": {arm: str(path) for arm, path in runs.items()},
        "curves": curves,
        "validation": results,
    }
    (output / "es_vs_ppo.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"written: {output / 'es_vs_ppo.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

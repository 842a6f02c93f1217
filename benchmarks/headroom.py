"""The headroom on validation: the best decisions exploration finds per validation module, with no training on them.

For the validation split of a corpus (split as `mlgo train` and `mlgo demo`
split it: whole libraries), each module is explored around a saved policy
(`compiler_opt.collect.explore`: its greedy compile, its `--flips`
least-certain decisions flipped, climbing `--depth` times while a flip saves)
with the compiler's heuristic replayed and the hand rule as candidates too,
into a best-trajectory store of its own (a temporary folder unless `--store`
names one). Printed per language and in all: the policy's greedy total over
`-Oz`, the hand rule's, and the store's best: the headroom a policy reaches a
share of (per-object text, the problem's measurement).

    .venv/bin/python benchmarks/headroom.py --policy demo/policy [--corpus DIR] [--flips 3 --depth 2] [--json F]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from compiler_opt.collect.baseline import BaselineCache
from compiler_opt.collect.best_store import BestTrajectoryStore
from compiler_opt.collect.explore_round import ExploreSettings, explore_round
from compiler_opt.collect.rollouts import ModuleBook
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.policy.saved import load_fast_policy
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.training.config import TrainerConfig
from corpus_tools.sample import build_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, required=True, help="a saved inlining policy (RUN_DIR/policy)")
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: the full sample corpus)")
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--flips", type=int, default=3)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--store", type=Path, help="the store's folder (default: a temporary one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clang", default=None)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    toolchain = find_toolchain(args.clang)
    problem = get_problem("inlining")
    corpus_dir = args.corpus or build_sample(toolchain, size="full", problem="inlining")[0]
    corpus = load_corpus(corpus_dir)
    validation = list(corpus.split(args.validation_fraction)[1].modules)
    default = problem.default_replay()
    assert default is not None  # the inliner replays its default
    references = (default.name, problem.policy("rule").name)
    settings = TrainerConfig(deadline_quorum=1.0, deadline_grace_seconds=None)
    with tempfile.TemporaryDirectory(prefix="mlgo-headroom-") as tmp:
        store = BestTrajectoryStore(args.store or Path(tmp), toolchain, problem)
        baselines = BaselineCache(BaselineCache.shared_folder(), toolchain, problem)
        started = time.monotonic()
        with LocalPool(args.workers) as pool:
            figures = explore_round(
                pool,
                load_fast_policy(args.policy),
                validation,
                problem,
                toolchain,
                baselines,
                store,
                ModuleBook(),
                round=1,
                settings=settings,
                explore=ExploreSettings(args.flips, args.depth, references),
                found={"benchmark": "headroom", "policy": str(args.policy)},
            )
        seconds = time.monotonic() - started
        entries = store.entries(validation)
        totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        logs: dict[str, list[float]] = defaultdict(list)
        for module in validation:
            entry = entries.get(module.name)
            if entry is None:
                continue
            for group in (module.language, "all"):
                totals[group]["best"] += entry.value
                totals[group]["baseline"] += entry.baseline
                totals[group]["modules"] += 1
                logs[group].append(math.log((entry.value + 10) / (entry.baseline + 10)))
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {args.workers} workers",
        "compiler": toolchain.version_text.splitlines()[0],
        "corpus": str(corpus_dir),
        "policy": str(args.policy),
        "validation_modules": len(validation),
        "flips": args.flips,
        "depth": args.depth,
        "seconds": round(seconds, 1),
        "compiles": figures.compiles,
        "policy_total_ratio": figures.policy_total / figures.baseline_total if figures.baseline_total else None,
        "best_kinds": dict(figures.best_kinds),
        "store": {
            group: {
                "modules": int(values["modules"]),
                "total_ratio": values["best"] / values["baseline"],
                "geomean_ratio": math.exp(sum(logs[group]) / len(logs[group])),
            }
            for group, values in sorted(totals.items())
        },
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

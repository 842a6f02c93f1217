"""How collection scales: the local pool versus a real two-node Ray cluster, at 1 and 2 workers.

The same collection runs four times: compile jobs (`compiler_opt.collect.compile_job`)
of the same real modules of a corpus (default: the small sample corpus), on

- the local pool (`LocalPool`) with 1 and 2 worker processes;
- a Ray cluster on this machine: a head node and a second node, each a `ray start`
  process limited to one CPU, joined on loopback (`LocalRayCluster`), with 1 and 2 workers.

Each pool first runs one job per worker (workers started and warm; not timed), then the
timed run; configurations alternate, `--repeats` times, with the cluster up throughout.
Printed: modules/s per run, the best per configuration, the 2-worker speedup of each
backend, and Ray's overhead at equal workers (local modules/s over Ray's, minus 1).

Also measured, for docs/distributed.md's plan: how many empty jobs per second each pool
dispatches with 2 workers (the driver's ceiling), and one training-style collection on
Ray (an untrained actor shared once with `pool.share`, sampled and recorded): the
policy's broadcast size and time, and the result volume per module and per decision.

    .venv/bin/python benchmarks/pool_scaling.py [--corpus DIR] [--modules 24] [--policy default] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from compiler_opt.collect.compile_job import CompileTask, compile_jobs, problem_feature_spec
from compiler_opt.corpus.loading import ModuleSpec, load_corpus
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.preprocessing import Preprocessor, feature_transforms
from compiler_opt.policy.vocab import Vocab
from compiler_opt.pool.base import Job, WorkerPool
from compiler_opt.pool.local import LocalPool
from compiler_opt.pool.ray_backend import RayPool
from compiler_opt.pool.ray_backend.local_cluster import LocalRayCluster
from corpus_tools.sample import build_sample

ROOT = Path(__file__).resolve().parents[1]
EMPTY_JOBS = 400


def random_actor(toolchain: Toolchain, module: ModuleSpec, problem: str) -> FastPolicy:
    """An untrained actor (MLGO's default (40, 40, 20) network, seeded weights) with 100 buckets per feature."""
    spec = problem_feature_spec(toolchain, problem, module)
    vocab = Vocab({name: np.unique(np.round(np.geomspace(1, 1e5, 100))) for name in spec.names})
    config = NetworkConfig()
    sizes = [
        Preprocessor(feature_transforms(spec, vocab, config.identity)).width,
        *config.fc_layer_params,
        spec.num_actions,
    ]
    rng = np.random.default_rng(0)
    weights = [(rng.normal(0, 1 / math.sqrt(a), (a, b)), np.zeros(b)) for a, b in zip(sizes, sizes[1:])]
    return FastPolicy(spec, vocab, config, weights)


def tasks_for(modules, args, toolchain) -> list[CompileTask]:
    return [
        CompileTask(
            m, args.problem, str(toolchain.clang), args.policy, explore=False, record=args.record, timeout=300.0
        )
        for m in modules
    ]


def timed_collection(pool: WorkerPool, tasks: list[CompileTask], warm: list[CompileTask]) -> dict:
    pool.run_all(compile_jobs(warm[: pool.workers]), desc="warm-up")
    started = time.monotonic()
    results = pool.run_all(compile_jobs(tasks), desc="collect")
    seconds = time.monotonic() - started
    ok = [r for r in results.values() if r.ok]
    failed = {key: f"{type(r.error).__name__}: {r.error}" for key, r in results.items() if not r.ok}
    return {
        "workers": pool.workers,
        "modules": len(tasks),
        "ok": len(ok),
        "failed": failed,
        "seconds": seconds,
        "modules_per_second": len(ok) / seconds,
        "job_seconds_sum": sum(r.seconds for r in ok),
    }


def empty_jobs_per_second(pool: WorkerPool) -> float:
    pool.run_all([Job(f"w{i}", os.getpid) for i in range(pool.workers * 4)])
    started = time.monotonic()
    pool.run_all([Job(f"e{i}", os.getpid) for i in range(EMPTY_JOBS)], desc="empty")
    return EMPTY_JOBS / (time.monotonic() - started)


def training_volume(pool: RayPool, modules, args, toolchain) -> dict:
    """One training-style collection: the actor shared once, every module sampled and recorded."""
    actor = random_actor(toolchain, modules[0], args.problem)
    started = time.monotonic()
    ref = pool.share(actor)
    share_seconds = time.monotonic() - started
    tasks = [
        CompileTask(m, args.problem, str(toolchain.clang), None, explore=True, seed=1, record=True, timeout=300.0)
        for m in modules
    ]
    try:
        results = pool.run_all(compile_jobs(tasks, ref), desc="training-style")
    finally:
        pool.release(ref)
    ok = [r.value for r in results.values() if r.ok]
    sizes = [len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) for value in ok]
    started = time.monotonic()
    for value in ok:
        pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    roundtrip = (time.monotonic() - started) / max(len(ok), 1)
    decisions = sum(value.decisions for value in ok)
    return {
        "policy_bytes": len(pickle.dumps(actor, protocol=pickle.HIGHEST_PROTOCOL)),
        "share_seconds": share_seconds,
        "modules_ok": len(ok),
        "decisions": decisions,
        "result_bytes_mean": statistics.mean(sizes) if sizes else 0,
        "result_bytes_max": max(sizes, default=0),
        "result_bytes_per_decision": sum(sizes) / decisions if decisions else None,
        "driver_pickle_roundtrip_s_per_result": roundtrip,
        "policy_seconds_sum": sum(value.seconds.get("policy", 0.0) for value in ok),
        "compile_seconds_sum": sum(value.seconds.get("compile", 0.0) for value in ok),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: the small sample corpus, built or reused)")
    parser.add_argument(
        "--modules", type=int, default=24, help="modules per collection (a seeded, size-stratified sample; default 24)"
    )
    parser.add_argument("--problem", default="inlining", help="the problem whose advisor the compiles use")
    parser.add_argument(
        "--policy",
        default="default",
        help="built-in policy answering the compiles (default: "
        "default, the compiler's own decisions through the channel)",
    )
    parser.add_argument("--record", action="store_true", help="record trajectories in the timed collections too")
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="timed runs per configuration, interleaved; the best is compared (default 2)",
    )
    parser.add_argument("--object-store-mb", type=int, default=80, help="object store per Ray node (default 80 MB)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    toolchain = find_toolchain()
    corpus_dir = args.corpus or build_sample(toolchain, size="small")[0]
    corpus = load_corpus(corpus_dir)
    modules = corpus.sample(args.modules, seed=0)
    warm = tasks_for(sorted(corpus, key=lambda m: m.size)[:2], args, toolchain)
    tasks = tasks_for(modules, args, toolchain)
    load_before = os.getloadavg()
    figures: dict = {
        "corpus": str(corpus_dir),
        "modules": len(modules),
        "policy": args.policy,
        "record": args.record,
        "clang": toolchain.version_text,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "repeats": args.repeats,
        "runs": {},
    }
    with LocalRayCluster(
        2, cpus_per_node=1, object_store_bytes=args.object_store_mb << 20, env={"PYTHONPATH": str(ROOT)}
    ) as cluster:
        pools = {"local": LocalPool, "ray": lambda workers: RayPool(cluster.address, workers)}
        for repeat in range(args.repeats):  # interleaved, so a burst of load elsewhere hits both backends
            for workers in (1, 2):
                for backend, make in pools.items():
                    with make(workers) as pool:
                        run = timed_collection(pool, tasks, warm)
                        if repeat == 0 and workers == 2:
                            figures[f"{backend}_empty_jobs_per_second"] = empty_jobs_per_second(pool)
                            if backend == "ray":
                                figures["training_volume"] = training_volume(pool, modules, args, toolchain)
                    figures["runs"].setdefault(f"{backend}-{workers}", []).append(run)
                    print(_line(f"{backend}-{workers}", run), flush=True)
    figures["load_average_before_after"] = [load_before[0], os.getloadavg()[0]]
    rate = {name: max(run["modules_per_second"] for run in runs) for name, runs in figures["runs"].items()}
    figures["best_modules_per_second"] = rate
    figures["speedup_2_over_1"] = {b: rate[f"{b}-2"] / rate[f"{b}-1"] for b in ("local", "ray")}
    figures["ray_overhead"] = {w: rate[f"local-{w}"] / rate[f"ray-{w}"] - 1 for w in (1, 2)}
    volume = figures["training_volume"]
    print(
        f"\n{len(modules)} modules of {corpus_dir}, policy {args.policy}, clang {toolchain.version_text}, "
        f"{os.cpu_count()} CPUs (load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after)"
    )
    print(
        "best of {} runs, modules/s: {}".format(
            args.repeats, ", ".join(f"{name} {value:.2f}" for name, value in rate.items())
        )
    )
    for backend in ("local", "ray"):
        print(f"{backend}: 2 workers {figures['speedup_2_over_1'][backend]:.2f}x one worker")
    for workers in (1, 2):
        print(
            f"ray overhead at {workers} worker(s): {figures['ray_overhead'][workers]:+.1%} "
            "(local modules/s over Ray's, minus 1)"
        )
    print(
        f"empty jobs/s with 2 workers: local {figures['local_empty_jobs_per_second']:.0f}, "
        f"ray {figures['ray_empty_jobs_per_second']:.0f}"
    )
    print(
        f"training-style collection on Ray: policy {volume['policy_bytes'] / 1024:.0f} KiB shared in "
        f"{volume['share_seconds'] * 1000:.1f} ms; results {volume['result_bytes_mean'] / 1024:.0f} KiB/module "
        f"on average (max {volume['result_bytes_max'] / 1024:.0f} KiB), "
        f"{volume['result_bytes_per_decision'] or 0:.0f} bytes/decision over {volume['decisions']} decisions; "
        f"pickling and unpickling one costs the driver {volume['driver_pickle_roundtrip_s_per_result'] * 1000:.2f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


def _line(name: str, run: dict) -> str:
    failed = f", {len(run['failed'])} failed" if run["failed"] else ""
    return (
        f"{name:<8} {run['ok']:>3}/{run['modules']} modules in {run['seconds']:6.1f} s: "
        f"{run['modules_per_second']:.2f} modules/s{failed}"
    )


if __name__ == "__main__":
    main()

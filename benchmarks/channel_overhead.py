"""What the interactive channel costs: plain compiles versus compiles answered from Python.

For a few real modules of a corpus (by default the sample corpus, built or
reused), this compiles each module three ways and prints the medians:

- plain: the compiler's own heuristic, no advisor;
- python: the inlining advisor in interactive mode, every decision answered by
  this project's channel replaying the default decision (the same object);
- native: the same, answered by `native_host.c`, a minimal C host: the floor
  that the compiler's ML mode and the FIFO round trips cost with no Python.

It also prints decisions per second and the host's CPU time per decision
(this process's CPU time during the compile, over the decision count).

    .venv/bin/python benchmarks/channel_overhead.py [--corpus DIR] [--modules 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from compiler_opt.corpus.layout import CorpusError
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.llvm.advisors import INLINING
from compiler_opt.llvm.compile import compile_answering
from compiler_opt.llvm.toolchain import Toolchain, find_toolchain
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import PolicyContext
from corpus_tools.sample import build_sample, module_decisions

HERE = Path(__file__).parent


def build_native_host(toolchain: Toolchain, workdir: Path) -> Path:
    binary = workdir / "native_host"
    subprocess.run([str(toolchain.clang), "-O2", str(HERE / "native_host.c"), "-o", str(binary)], check=True)
    return binary


def time_plain(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - started


def time_python(toolchain: Toolchain, argv: list[str], module: str) -> tuple[float, float, int]:
    """Wall seconds, host CPU seconds and decisions of a compile answered by the Python channel."""
    replay = get_problem("inlining").policy("default")
    started, cpu = time.perf_counter(), time.process_time()
    answered = compile_answering(
        argv,
        INLINING,
        lambda header: replay.make(PolicyContext(toolchain, header)),
        module=module,
        include_default=True,
    )
    return time.perf_counter() - started, time.process_time() - cpu, answered.decisions


def time_native(toolchain: Toolchain, host: Path, argv: list[str], workdir: Path) -> float:
    """Wall seconds of the same compile answered by the native host, both on one CPU as the channel does."""
    base = workdir / "native"
    for suffix in (".in", ".out"):
        Path(str(base) + suffix).unlink(missing_ok=True)
        os.mkfifo(str(base) + suffix)
    slot = toolchain.probe().facts["inlining_default_feature"]
    header = compile_answering(argv, INLINING, lambda header: lambda observation: 0, include_default=True).header
    cpu = str(sorted(os.sched_getaffinity(0))[0])
    started = time.perf_counter()
    host_process = subprocess.Popen(
        ["taskset", "-c", cpu, str(host), str(base), str(header.observation_size), str(header.slots[slot].offset)],
        stdout=subprocess.PIPE,
    )
    subprocess.run(["taskset", "-c", cpu, *argv, *INLINING.options(str(base), include_default=True)], check=True)
    host_process.communicate(timeout=60)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: the sample corpus, built or reused)")
    parser.add_argument(
        "--modules",
        type=int,
        default=6,
        help="how many modules to measure: those with the most inlining decisions "
        "(from the sample build's counts; else the largest bitcode)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="runs per configuration (the fastest is printed; medians also go to --json)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    toolchain = find_toolchain()
    corpus_dir = args.corpus
    if corpus_dir is None:
        corpus_dir, _ = build_sample(toolchain, problem="inlining")
    corpus = load_corpus(corpus_dir)
    try:
        counts = module_decisions(corpus_dir, "inlining")
    except CorpusError:
        counts = {}
    chosen = sorted(corpus.modules, key=lambda spec: (-counts.get(spec.name, 0), -spec.size))[: args.modules]
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlgo-bench-") as tmp:
        workdir = Path(tmp)
        host = build_native_host(toolchain, workdir)
        for spec in chosen:
            command = spec.command(toolchain.clang)
            argv = command.argv(workdir / "out.o")
            plain, python, native, cpu = [], [], [], []
            decisions = 0
            for _ in range(args.repeats):
                plain.append(time_plain(argv))
                wall, host_cpu, decisions = time_python(toolchain, argv, spec.name)
                python.append(wall)
                cpu.append(host_cpu)
                native.append(time_native(toolchain, host, argv, workdir))
            row = {
                "module": spec.name,
                "decisions": decisions,
                "plain_s": min(plain),
                "python_s": min(python),
                "native_s": min(native),
                "host_us_per_decision": min(cpu) / max(decisions, 1) * 1e6,
                "median_s": {
                    "plain": statistics.median(plain),
                    "python": statistics.median(python),
                    "native": statistics.median(native),
                },
            }
            rows.append(row)
            print(
                f"{spec.name:<48} {decisions:>7} decisions  plain {row['plain_s']:.3f}s  "
                f"python {row['python_s']:.3f}s ({row['python_s'] / row['plain_s'] - 1:+.1%})  "
                f"native {row['native_s']:.3f}s ({row['native_s'] / row['plain_s'] - 1:+.1%})  "
                f"host {row['host_us_per_decision']:.1f} us/decision",
                flush=True,
            )
    total = {key: sum(row[key] for row in rows) for key in ("decisions", "plain_s", "python_s", "native_s")}
    print(
        f"\n{len(rows)} modules, {total['decisions']} decisions, clang {'.'.join(map(str, toolchain.version))}, "
        f"{platform.machine()} with {os.cpu_count()} CPUs"
    )
    print(
        f"python channel: {total['python_s'] / total['plain_s'] - 1:+.1%} wall time over plain, "
        f"{total['decisions'] / total['python_s']:,.0f} decisions/s"
    )
    print(f"native floor:   {total['native_s'] / total['plain_s'] - 1:+.1%} wall time over plain")
    print(f"python over native floor: {total['python_s'] / total['native_s'] - 1:+.1%}")
    weighted_host = sum(row["host_us_per_decision"] * row["decisions"] for row in rows) / max(total["decisions"], 1)
    print(f"host CPU per decision (decision-weighted): {weighted_host:.1f} us")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "total": total, "clang": toolchain.version_text}, indent=1))


if __name__ == "__main__":
    main()

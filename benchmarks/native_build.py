"""What a trained policy costs in a real build, per way of deploying it: plain clang, the native driver,
the inliner plugin and the Python drop-in.

1. Exports a policy (`--policy`, else the seeded random inlining policy the
   tests use) with XLA AOT, and builds the native driver
   (`OUT/native/bin/mlgo-clang`) and the inliner plugin
   (`OUT/plugin/lib/libmlgo-inliner.so`) from it.
2. Builds real libraries of the sample corpus's pinned archives with
   `make -jJ`: brotli's C library (35 files) and fastText (14 C++ files),
   `--rounds` times each way, alternating: plain `clang -Oz`, the native
   driver, `-fpass-plugin=` and (unless `--no-python`) `mlgo-clang`.
3. Prints per project and way the median wall time, the CPU time of all
   compiles (user + system, summed over the build's processes: robust on a
   busy machine) and the peak RSS of the build's largest process, each also
   as a ratio to plain clang; the decisions made (the native driver's
   counts) and the CPU cost per decision of each way over plain clang; and
   the native driver's own share: its time in the model and its whole CPU
   time (parsing, copying, the FIFOs), per decision.

    .venv/bin/python benchmarks/native_build.py [--policy DIR] [--rounds 3] [--make-jobs 2] [--no-python] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compiler_opt.corpus.loading import load_corpus  # noqa: E402
from compiler_opt.export.exporter import export_policy  # noqa: E402
from compiler_opt.llvm.toolchain import find_toolchain  # noqa: E402
from compiler_opt.paths import cache_dir  # noqa: E402
from corpus_tools.sample import build_sample  # noqa: E402

MAKEFILE = """\
SRC := $(wildcard src/*.{ext}) $(wildcard src/*/*.{ext})
OBJ := $(patsubst src/%.{ext},obj/%.o,$(SRC))
FLAGS ?= -Oz
all: $(OBJ)
obj/%.o: src/%.{ext}
\t@mkdir -p $(dir $@)
\t$(COMPILER) $(FLAGS) {extra} -c $< -o $@
"""
# name: (archive, the archive's folder holding the sources, subfolders kept, extension, extra flags)
PROJECTS = {
    "brotli": ("brotli-*.tar.gz", "c/", ("common/", "dec/", "enc/", "include/"), "c", "-Isrc/include"),
    "fasttext": ("fasttext-*.tar.gz", "src/", ("",), "cc", "-std=c++17 -w"),
}


def unpack(project: str, root: Path) -> Path:
    """The project's sources under `root/src`, with a Makefile that compiles each into `obj/`."""
    pattern, folder, kept, extension, extra = PROJECTS[project]
    archive = next((cache_dir() / "sample" / "downloads").glob(pattern))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            inner = member.name.split("/", 1)[-1]
            rest = inner[len(folder) :]
            if member.isfile() and inner.startswith(folder) and rest.startswith(kept):
                member.name = rest
                tar.extract(member, root / "src", filter="data")
    (root / "Makefile").write_text(MAKEFILE.format(ext=extension, extra=extra))
    return root


def build_once(root: Path, compiler: str, flags: str, jobs: int, env: dict) -> dict[str, float]:
    """One clean `make -jJ`: wall seconds, CPU seconds of every process, the peak RSS (KiB) of the largest."""
    subprocess.run(["rm", "-rf", "obj"], cwd=root, check=True)
    command = ["/usr/bin/time", "-f", "%M", "make", f"-j{jobs}", f"COMPILER={compiler}", f"FLAGS={flags}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"the build with {compiler} {flags} failed:\n{result.stderr[-2000:]}")
    peak = int(result.stderr.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "peak_kib": peak}


def native_stats(path: Path) -> dict[str, float]:
    """The native driver's per-compile stats lines, summed."""
    totals: dict[str, float] = {}
    for line in path.read_text().splitlines():
        for key, value in json.loads(line).items():
            if isinstance(value, int | float):
                totals[key] = totals.get(key, 0) + value
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--policy",
        help="saved inlining policy folder or pretrained:NAME (default: a seeded random one, as the tests use)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="builds per way (medians are printed)")
    parser.add_argument("--make-jobs", type=int, default=2, help="make -j")
    parser.add_argument("--no-python", action="store_true", help="skip the Python drop-in (the slowest way)")
    parser.add_argument("--projects", nargs="+", default=list(PROJECTS), choices=list(PROJECTS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    toolchain = find_toolchain()
    clang = str(toolchain.clang)
    with tempfile.TemporaryDirectory(prefix="mlgo-bench-native-") as tmp:
        work = Path(tmp)
        policy_dir = args.policy
        if policy_dir is None:
            from tests.export.policies import build_random_policy

            corpus = load_corpus(build_sample(toolchain, size="small")[0])
            policy_dir = build_random_policy(toolchain, corpus, work / "policy")
        export = export_policy(
            policy_dir,
            work / "out",
            native=True,
            plugin=True,
            clang=clang,
            log=lambda line: print(line, file=sys.stderr),
        )
        native = work / "out" / "native" / "bin"
        plugin = work / "out" / "plugin" / "lib" / "libmlgo-inliner.so"
        stats_file = work / "native-stats.jsonl"
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MLGO_POLICY": str(policy_dir),
            "MLGO_CLANG": clang,
        }
        figures: dict[str, object] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "compiler": toolchain.version_text,
            "make_jobs": args.make_jobs,
            "rounds": args.rounds,
            "export_seconds": {k: round(v, 1) for k, v in export.seconds.items()},
        }
        for project in args.projects:
            root = unpack(project, work / project)
            cxx = PROJECTS[project][3] != "c"
            compiler = _cxx(clang) if cxx else clang
            ways = {
                "plain": (compiler, "-Oz"),
                "native": (str(native / ("mlgo-clang++" if cxx else "mlgo-clang")), "-Oz"),
                "plugin": (compiler, f"-Oz -fpass-plugin={plugin}"),
            }
            if not args.no_python:
                ways["python"] = ("mlgo-clang++" if cxx else "mlgo-clang", "-Oz")
            runs: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
            for _ in range(args.rounds):
                for way, (compiler, flags) in ways.items():
                    run_env = env
                    if way == "native":  # the native driver's counts of its last build
                        stats_file.unlink(missing_ok=True)
                        run_env = {**env, "MLGO_NATIVE_STATS": str(stats_file)}
                    runs[way].append(build_once(root, compiler, flags, args.make_jobs, run_env))
            decisions = native_stats(stats_file) if stats_file.exists() else {}
            figures[project] = _summary(root, runs, decisions)
        figures["load_average_at_end"] = round(os.getloadavg()[0], 1)
    if args.json:
        print(json.dumps(figures))
    else:
        print(json.dumps(figures, indent=1))
    return 0


def _cxx(clang: str) -> str:
    """The C++ driver beside `clang` (clang-19 -> clang++-19)."""
    path = Path(clang)
    name = path.name.replace("clang", "clang++", 1) if "++" not in path.name else path.name
    return str(path.with_name(name))


def _summary(root: Path, runs: dict[str, list[dict[str, float]]], native: dict[str, float]) -> dict[str, object]:
    files = len(list((root / "obj").rglob("*.o")))
    medians = {
        way: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "peak_kib")} for way, rs in runs.items()
    }
    plain = medians["plain"]
    decisions = int(native.get("decisions", 0))
    summary: dict[str, object] = {"files": files, "decisions": decisions}
    for way, m in medians.items():
        entry = {
            "wall_s": round(m["wall"], 2),
            "wall_ratio": round(m["wall"] / plain["wall"], 3),
            "cpu_s": round(m["cpu"], 2),
            "cpu_ratio": round(m["cpu"] / plain["cpu"], 3),
            "peak_mib": round(m["peak_kib"] / 1024, 1),
            "peak_ratio": round(m["peak_kib"] / plain["peak_kib"], 3),
            "spread_wall_s": [round(min(r["wall"] for r in runs[way]), 2), round(max(r["wall"] for r in runs[way]), 2)],
        }
        if way != "plain" and decisions:
            entry["extra_cpu_us_per_decision"] = round((m["cpu"] - plain["cpu"]) / decisions * 1e6, 2)
        summary[way] = entry
    if decisions:
        summary["native_model_ns_per_decision"] = round(native.get("model_ns", 0) / decisions, 1)
        summary["native_driver_cpu_ns_per_decision"] = round(native.get("host_cpu_ns", 0) / decisions, 1)
    return summary


if __name__ == "__main__":
    sys.exit(main())

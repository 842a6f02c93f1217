"""What an exported policy costs: ns per decision (XLA AOT, numpy fast form) and a real build with mlgo-clang.

1. Exports a policy (`--policy`, else a seeded random inlining policy built
   from the sample corpus, as the tests use) with `--aot --verify N`, which
   records N real observations and builds the C++ check harness.
2. Times the AOT model over those observations in the harness (`--repeat`
   passes, after one warm pass), and the numpy fast form the compile loop
   runs (`FastPolicy.greedy` on each observation's raw bytes, as the channel
   delivers them).
3. Builds a real multi-file C library (brotli's 36 files, from the sample
   corpus's pinned archive) with `make -jJ` twice per round: `CC=clang -Oz`
   and `CC=mlgo-clang -Oz`, alternating, and prints the median wall times.

    .venv/bin/python benchmarks/export.py [--policy DIR] [--observations 2000] [--rounds 3] [--make-jobs 2]

Prints a table and, with --json, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
from compiler_opt.export.harness import run_harness  # noqa: E402
from compiler_opt.llvm.log_format import LogHeader, Observation  # noqa: E402
from compiler_opt.llvm.toolchain import find_toolchain  # noqa: E402
from compiler_opt.paths import cache_dir  # noqa: E402
from compiler_opt.policy.saved import load_fast_policy  # noqa: E402
from corpus_tools.sample import build_sample  # noqa: E402

MAKEFILE = """\
SRC := $(wildcard src/*/*.c)
OBJ := $(patsubst src/%.c,obj/%.o,$(SRC))
CFLAGS ?= -Oz
all: libproject.a
obj/%.o: src/%.c
\t@mkdir -p $(dir $@)
\t$(CC) $(CFLAGS) -Isrc/include -c $< -o $@
libproject.a: $(OBJ)
\t$(AR) rcs $@ $^
"""


def unpack_brotli(root: Path) -> Path:
    """brotli's C library (common/, dec/, enc/ and its headers) with a plain Makefile."""
    archive = next((cache_dir() / "sample" / "downloads").glob("brotli-*.tar.gz"))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            wanted = len(parts) > 3 and parts[1] == "c" and parts[2] in ("common", "dec", "enc", "include")
            if wanted and member.isfile():
                member.name = "/".join(parts[2:])
                tar.extract(member, root / "src", filter="data")
    (root / "Makefile").write_text(MAKEFILE)
    return root


def time_build(root: Path, compiler: str, jobs: int, env: dict) -> float:
    subprocess.run(["rm", "-rf", "obj", "libproject.a"], cwd=root, check=True)
    started = time.perf_counter()
    subprocess.run(["make", f"-j{jobs}", f"CC={compiler}"], cwd=root, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def numpy_ns_per_decision(policy, observations_file: Path, repeat: int) -> float:
    """The in-loop numpy path: `greedy` on raw observation bytes under a compiler-shaped header."""
    spec = policy.spec
    header = LogHeader(spec.features, advice=spec.advice)
    raw = observations_file.read_bytes()
    records = raw[raw.index(b"records ") :].split(b"\n", 1)[1]
    size = header.observation_size
    observations = [
        Observation(None, i, records[i * size : (i + 1) * size], header) for i in range(len(records) // size)
    ]
    greedy = policy.greedy
    for observation in observations:
        greedy(observation)
    started = time.perf_counter_ns()
    for _ in range(repeat):
        for observation in observations:
            greedy(observation)
    return (time.perf_counter_ns() - started) / (repeat * len(observations))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, help="saved policy folder (default: a seeded random inlining policy)")
    parser.add_argument("--observations", type=int, default=2000, help="observations to record and time")
    parser.add_argument("--repeat", type=int, default=200, help="timed passes of the AOT model over them")
    parser.add_argument("--rounds", type=int, default=3, help="builds per compiler (medians are printed)")
    parser.add_argument("--make-jobs", type=int, default=2, help="make -j")
    parser.add_argument("--target-cpu", default="", help="CPU the AOT object may use (default: the baseline)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    toolchain = find_toolchain()
    corpus_dir, _ = build_sample(toolchain, size="small")
    corpus = load_corpus(corpus_dir)
    with tempfile.TemporaryDirectory(prefix="mlgo-bench-export-") as tmp:
        work = Path(tmp)
        policy_dir = args.policy
        if policy_dir is None:
            from tests.export.policies import build_random_policy

            policy_dir = build_random_policy(toolchain, corpus, work / "policy")
        result = export_policy(
            policy_dir,
            work / "out",
            aot=True,
            target_cpu=args.target_cpu,
            verify=args.observations,
            corpus=corpus,
            clang=str(toolchain.clang),
            log=lambda line: print(line, file=sys.stderr),
        )
        policy = load_fast_policy(policy_dir)
        records = work / "out" / "verify" / "observations.bin"
        _, aot_ns = run_harness(
            work / "out" / "verify" / "mlgo_aot_check", records, policy.spec.advice.dtype, repeat=args.repeat
        )
        numpy_ns = numpy_ns_per_decision(policy, records, max(1, args.repeat // 20))

        project = unpack_brotli(work / "brotli")
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MLGO_POLICY": str(policy_dir),
            "MLGO_CLANG": str(toolchain.clang),
        }
        plain, policy_times = [], []
        for _ in range(args.rounds):
            plain.append(time_build(project, str(toolchain.clang), args.make_jobs, env))
            policy_times.append(time_build(project, "mlgo-clang", args.make_jobs, env))
        files = len(list((project / "src").glob("*/*.c")))

    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
        "compiler": toolchain.version_text,
        "aot_compile_seconds": round(result.seconds["aot"], 2),
        "observations": args.observations,
        "aot_target_cpu": args.target_cpu or "baseline",
        "aot_ns_per_decision": round(aot_ns, 1),
        "numpy_ns_per_decision": round(numpy_ns, 1),
        "build_files": files,
        "make_jobs": args.make_jobs,
        "plain_clang_seconds": round(statistics.median(plain), 2),
        "mlgo_clang_seconds": round(statistics.median(policy_times), 2),
        "mlgo_clang_ratio": round(statistics.median(policy_times) / statistics.median(plain), 3),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(map(len, figures))
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Start-up of the command line: `mlgo --help`, `mlgo cc --policy P -- --version` and `mlgo-clang --version`.

Each command runs as a whole process (a fresh interpreter, as a shell or a
build tool starts it) `--runs` times; with `--before DIR`, a checkout of
another commit (e.g. `git worktree add /tmp/before c918fb3`), its commands
run too, interleaved run by run with this checkout's, on the same Python with
PYTHONPATH pointing at that checkout. The two drop-in commands get a tiny
saved policy (`tests/mlgo/tiny_policy.py`): `--version` never decides, so
what is timed is start-up, the policy's loading and clang's own `--version`.
Also counts the modules each command imports (`python -X importtime`).

    .venv/bin/python benchmarks/startup.py [--before /tmp/before] [--runs 15] [--json]

Prints a table (median and fastest wall time per command and checkout) and,
with --json, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compiler_opt.llvm.toolchain import find_toolchain  # noqa: E402
from tests.mlgo.tiny_policy import save_tiny_policy  # noqa: E402

COMMANDS = {
    "mlgo --help": ["-m", "mlgo.cli", "--help"],
    "mlgo cc --policy P -- --version": ["-m", "mlgo.cli", "cc", "--policy", "{policy}", "--", "--version"],
    "mlgo-clang --version": [
        "-c",
        "import sys; from mlgo.cc import clang_main; sys.argv = ['mlgo-clang', '--version']; sys.exit(clang_main())",
    ],
}


def command_line(name: str, policy: Path) -> list[str]:
    return [sys.executable, *(arg.format(policy=policy) for arg in COMMANDS[name])]


def environment(checkout: Path, policy: Path, clang: str) -> dict[str, str]:
    """This Python's environment with `checkout` first on the import path (so its `mlgo` is the one run)."""
    return {**os.environ, "PYTHONPATH": str(checkout), "MLGO_POLICY": str(policy), "MLGO_CLANG": clang}


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def modules_imported(argv: list[str], env: dict[str, str], cwd: Path) -> int:
    """How many modules the command imports (beyond the interpreter's start-up), from `-X importtime`."""
    bare = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"], env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stderr.count("import time:")
    result = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return result.stderr.count("import time:") - bare


def check_checkout(checkout: Path, env: dict[str, str]) -> None:
    """Refuse to time a checkout whose `mlgo` is not the one imported (an installed copy found first)."""
    found = subprocess.run(
        [sys.executable, "-c", "import mlgo; print(mlgo.__file__)"],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(checkout.resolve()):
        raise SystemExit(f"{checkout}: `import mlgo` finds {found}, not this checkout's")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of the commit to compare with (default: none)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command and checkout (default: 15)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()

    clang = str(find_toolchain().clang)
    checkouts = {"after": REPO, **({"before": args.before} if args.before else {})}
    figures: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "runs": args.runs,
        "commands": {},
    }
    with tempfile.TemporaryDirectory(prefix="mlgo-bench-startup-") as tmp:
        policy = save_tiny_policy(Path(tmp) / "policy")
        envs = {label: environment(checkout, policy, clang) for label, checkout in checkouts.items()}
        for label, checkout in checkouts.items():
            check_checkout(checkout, envs[label])
        for name in COMMANDS:
            argv = command_line(name, policy)
            times: dict[str, list[float]] = {label: [] for label in checkouts}
            for label, checkout in checkouts.items():  # one warm-up run each: the page cache, .pyc files
                run_once(argv, envs[label], checkout)
            for _ in range(args.runs):
                for label, checkout in checkouts.items():
                    times[label].append(run_once(argv, envs[label], checkout))
            figures["commands"][name] = {
                label: {
                    "median_s": statistics.median(values),
                    "min_s": min(values),
                    "modules": modules_imported(argv, envs[label], checkouts[label]),
                }
                for label, values in times.items()
            }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{figures['machine']}, Python {figures['python']}, {args.runs} runs per command and checkout")
    print(f"{'command':<34} {'checkout':<8} {'median':>9} {'fastest':>9} {'modules':>8}")
    for name, by_checkout in figures["commands"].items():
        for label, row in sorted(by_checkout.items(), reverse=True):
            print(f"{name:<34} {label:<8} {row['median_s']:>8.3f}s {row['min_s']:>8.3f}s {row['modules']:>8}")
        if "before" in by_checkout:
            ratio = by_checkout["after"]["median_s"] / by_checkout["before"]["median_s"]
            print(f"{'':<34} {'ratio':<8} {ratio:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

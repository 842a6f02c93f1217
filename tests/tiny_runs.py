"""The smallest real runs of `mlgo train`, `eval`, `export` and `cc`, as a user types them (in a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Two small modules of the small sample (a C library and a C++ one), enough for every problem and algorithm.
MODULES = ("xxhash/xxhash", "libyaml/api")

# The least work each algorithm does in one iteration.
TINY = {
    "ppo": ("--gin-binding", "ppo.ppo_config.epochs = 1"),
    "es": (
        "--gin-binding",
        "es.es_config.perturbations = 1",
        "--gin-binding",
        "es.es_config.modules_per_perturbation = 1",
    ),
    "bc": (),
    "imitation": (
        "--gin-binding",
        "imitation.imitation_config.first_epochs = 1",
        "--gin-binding",
        "imitation.imitation_config.min_batches = 2",
    ),
}


def mlgo(*args, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`mlgo ARGS` in a subprocess, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True, check=check, cwd=cwd
    )


def train(
    corpus: Path, output: Path, problem: str, algorithm: str, clang: str, baselines: Path, iterations: int = 1
) -> subprocess.CompletedProcess:
    """`iterations` of `algorithm` on `problem` with the smallest network and sample; the policy is `output/policy`."""
    return mlgo(
        "train",
        "--problem",
        problem,
        "--algorithm",
        algorithm,
        "--corpus",
        corpus,
        "--output",
        output,
        "--clang",
        clang,
        "--baselines",
        baselines,
        "--iterations",
        iterations,
        "--modules-per-iteration",
        2,
        "--validation-fraction",
        0,
        "--workers",
        2,
        "--json",
        "--gin-binding",
        "train.trainer_config.vocab_modules = 2",
        "--gin-binding",
        "policy.network_config.fc_layer_params = (8,)",
        *TINY[algorithm],
    )


def evaluate(
    corpus: Path, policy: Path, problem: str, clang: str, baselines: Path, output: Path, *flags: str
) -> subprocess.CompletedProcess:
    """`mlgo eval` of `policy` on every module of `corpus` (with more `flags`, e.g. `--linked`)."""
    return mlgo(
        "eval",
        "--problem",
        problem,
        "--policy",
        policy,
        "--corpus",
        corpus,
        "--output",
        output,
        "--clang",
        clang,
        "--baselines",
        baselines,
        "--workers",
        2,
        *flags,
    )


def export(
    policy: Path, output: Path, corpus: Path, clang: str, observations: int = 50, aot: bool = True
) -> subprocess.CompletedProcess:
    """`mlgo export --json` of `policy` as TFLite (and XLA AOT), verified on `observations` recorded decisions."""
    return mlgo(
        "export",
        "--policy",
        policy,
        "--output",
        output,
        "--tflite",
        *(["--aot"] if aot else []),
        "--verify",
        observations,
        "--corpus",
        corpus,
        "--clang",
        clang,
        "--json",
    )


def cc(policy: Path, source: Path, output: Path, clang: str, *flags: str) -> subprocess.CompletedProcess:
    """`mlgo cc` (with `flags`, e.g. `--cxx`): compile `source` at -Oz into `output` under `policy`."""
    return mlgo("cc", "--policy", policy, "--clang", clang, *flags, "--", "-Oz", "-c", source, "-o", output)

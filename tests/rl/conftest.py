"""Real data for the learners: default labels and policy trajectories of small sample modules, from clang-19."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler_opt.collect.compile_job import (
    CompileResult,
    CompileTask,
    default_label_trajectory,
    problem_feature_spec,
    run_compile_task,
)
from compiler_opt.collect.vocab_traces import ObservationSample
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.vocab import compute_vocab

# Small C and C++ modules of the small sample (about 150-250 decisions each).
MODULES = ("lz4/xxhash", "libyaml/api", "double-conversion/double-conversion/fast-dtoa")


@pytest.fixture(scope="session")
def sample_corpus(small_sample):
    return load_corpus(small_sample)


@pytest.fixture(scope="session")
def rl_modules(sample_corpus):
    return [sample_corpus.module(name) for name in MODULES]


@pytest.fixture(scope="session")
def rl_spec(toolchain, rl_modules):
    return problem_feature_spec(toolchain, "inlining", rl_modules[0])


@pytest.fixture(scope="session")
def labels(toolchain, rl_modules) -> list[CompileResult]:
    """The default heuristic's decisions as labels, with the real features."""
    return [default_label_trajectory(module, "inlining", str(toolchain.clang)) for module in rl_modules]


@pytest.fixture(scope="session")
def rl_vocab(rl_spec, labels):
    sample = ObservationSample(rl_spec, 100_000, 0)
    for label in labels:
        sample.add(label.trajectory)
    observations = sample.observations()
    return compute_vocab(observations, rl_spec, sample_size=len(observations))


@pytest.fixture(scope="session")
def small_network() -> NetworkConfig:
    return NetworkConfig(fc_layer_params=(16, 8))


def policy_trajectories(toolchain, modules, policy, seed: int = 1) -> list[CompileResult]:
    """Each module compiled under `policy` (a FastPolicy), sampling with `seed`, trajectories recorded."""
    return [
        run_compile_task(CompileTask(m, "inlining", str(toolchain.clang), None, seed=seed), policy) for m in modules
    ]


def write_trajectories(folder: Path, results, rewards) -> list[str]:
    """Write `results`' trajectories with the given per-module rewards; the shard files."""
    from compiler_opt.collect.trajectory_files import TrajectoryWriter

    with TrajectoryWriter(folder, results[0].trajectory_spec) as writer:
        for result, reward in zip(results, rewards):
            writer.write(result.trajectory.with_reward(reward))
    return [str(p) for p in writer.shards]


def sub_corpus(source: Path, names, destination: Path, *, corrupt=()) -> Path:
    """A corpus folder holding copies of `names` from `source`; the modules in `corrupt` get broken bitcode.

    A corrupted module keeps the bitcode magic (so the corpus loads) and is garbage after it, so clang fails on it.
    The source's runtime programs are left out: a few modules cannot link them, and a held-out program would send
    its library's modules to validation whatever the fraction.
    """
    import json
    import shutil

    description = json.loads((source / "corpus_description.json").read_text())
    for name in names:
        for suffix in (".bc", ".cmd"):
            target = destination / (name + suffix)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / (name + suffix), target)
        if name in corrupt:
            (destination / (name + ".bc")).write_bytes(b"BC\xc0\xde" + b"\x00\x01garbage" * 64)
    description["modules"] = list(names)
    description.pop("programs", None)
    description["libraries"] = {
        library: [m for m in members if m in names]
        for library, members in description.get("libraries", {}).items()
        if any(m in names for m in members)
    }
    (destination / "corpus_description.json").write_text(json.dumps(description, indent=1))
    return destination

"""Imitation end to end with the real clang on small sample modules: the store improves, the loss falls, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from compiler_opt.collect.best_store import BestTrajectoryStore
from compiler_opt.collect.compile_job import replay_actions
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.train import TrainOptions, train
from tests.rl.conftest import sub_corpus

MODULES = ("lz4/xxhash", "libyaml/api", "libyaml/parser", "marisa/lib/marisa/keyset")
BINDINGS = (
    "policy.network_config.fc_layer_params = (16, 8)",
    "train.trainer_config.vocab_modules = 3",
    "train.trainer_config.deadline_quorum = 1.0",
    "imitation.imitation_config.flips = 2",
    "imitation.imitation_config.depth = 1",
    "imitation.imitation_config.epochs = 4",
    "imitation.imitation_config.first_epochs = 4",
    "imitation.imitation_config.min_batches = 20",
    "imitation.imitation_config.learning_rate = 0.01",
)


@pytest.fixture(scope="module")
def corpus(small_sample, tmp_path_factory):
    return sub_corpus(small_sample, MODULES, tmp_path_factory.mktemp("imitation") / "corpus")


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    return tmp_path_factory.mktemp("baselines")


def _options(corpus, output, baselines, *, iterations, resume=False):
    return TrainOptions(
        "inlining",
        "imitation",
        corpus,
        output,
        iterations=iterations,
        modules_per_iteration=len(MODULES),
        validation_fraction=0.0,
        resume=resume,
        gin_bindings=() if resume else BINDINGS,
        baseline_cache=baselines,
    )


@pytest.mark.slow
def test_rounds_keep_the_best_found_and_cloning_fits_it(toolchain, corpus, baselines, tmp_path):
    with LocalPool(2) as pool:
        summary = train(_options(corpus, tmp_path / "run", baselines, iterations=3), pool)
    records = summary.records
    assert [r["iteration"] for r in records] == [1, 2, 3]
    first = records[0]
    # The first round compiles the untrained policy and the references, and flips nothing.
    assert first["compiles"] == first["modules_ok"] * 3 and first["store_modules"] == len(MODULES)
    assert first["best_from_default"] + first.get("best_from_rule", 0) + first.get("best_from_greedy", 0) == 4
    assert all(r["compiles"] > r["modules_ok"] for r in records[1:])  # later rounds explore
    ratios = [r["store_training_ratio"] for r in records]
    assert ratios[0] <= 1.0 and all(b <= a for a, b in zip(ratios, ratios[1:]))  # never worse than -Oz; improving
    assert records[-1]["loss"] < records[0]["loss"]
    assert {"best_ratio", "store_ratio", "total_ratio", "seconds_compile", "seconds_policy", "seconds_train"} <= set(
        first
    )
    # Every stored sequence replays to its stored size.
    store = BestTrajectoryStore(summary.output / "best_trajectories", toolchain, get_problem("inlining"))
    for module in load_corpus(corpus).modules:
        entry = store.get(module)
        assert entry is not None
        assert replay_actions(module, "inlining", str(toolchain.clang), entry.actions).score.value == entry.value


@pytest.mark.slow
def test_a_run_killed_mid_round_resumes_and_its_store_only_improved(toolchain, corpus, baselines, tmp_path):
    output = tmp_path / "run"
    command = [sys.executable, "-m", "mlgo.cli", "train", "--problem", "inlining", "--algorithm", "imitation"]
    command += ["--corpus", str(corpus), "--output", str(output), "--baselines", str(baselines), "--workers", "2"]
    command += ["--iterations", "3", "--modules-per-iteration", str(len(MODULES)), "--validation-fraction", "0"]
    for binding in BINDINGS:
        command += ["--gin-binding", binding]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    state = output / "state.json"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if state.exists() and json.loads(state.read_text()).get("iteration", 0) >= 1:
                break
            time.sleep(0.2)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(2.0)  # into round 2's exploration
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    store = BestTrajectoryStore(output / "best_trajectories", toolchain, get_problem("inlining"))
    modules = load_corpus(corpus).modules
    before = {name: entry.value for name, entry in store.entries(modules).items()}
    assert set(before) == set(MODULES)
    with LocalPool(2) as pool:
        summary = train(_options(corpus, output, baselines, iterations=3, resume=True), pool)
    assert summary.iterations == 3 and [r["iteration"] for r in summary.records] == [1, 2, 3]
    after = store.entries(modules)
    assert all(after[name].value <= value for name, value in before.items())
    assert all(store.trajectory(entry) is not None for entry in after.values())

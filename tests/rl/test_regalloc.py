"""Register-allocation eviction with the real clang: the cost the reward uses is the remarks' cost, and PPO and ES
train on it (a module with nothing to evict is no failure); the eval JSON carries costs per function."""

from __future__ import annotations

import json
import math
import re
import subprocess

import numpy as np
import pytest

from compiler_opt.collect.compile_job import replay_actions
from compiler_opt.collect.trajectory_dataset import read_trajectories
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems.measurements import COST_TERMS
from compiler_opt.train import TrainOptions, train
from tests.rl.conftest import sub_corpus

# About 280 eviction decisions each under a random policy, and one module (tables only) with none.
MODULES = ("double-conversion/double-conversion/fast-dtoa", "libyaml/api", "xxhash/xxhash", "brotli/dec/prefix")
SMALL = ("policy.network_config.fc_layer_params = (8,)", "train.trainer_config.vocab_modules = 4")
REMARK_TERMS = ("TotalSpillsCost", "TotalReloadsCost", "TotalFoldedReloadsCost", "TotalCopiesCost")


def remark_costs(toolchain, module, tmp_path) -> dict[str, float]:
    """Per function, the sum of the four cost terms of its SpillReloadCopies remark, from a plain compile."""
    remarks = tmp_path / f"{module.name.replace('/', '_')}.yaml"
    argv = module.command(toolchain.clang).argv(
        tmp_path / "out.o", ["-opt-record-file", str(remarks), "-opt-record-passes", "regalloc"]
    )
    subprocess.run(argv, check=True, capture_output=True)
    costs = {}
    for document in remarks.read_text().split("\n---"):
        if re.search(r"^Name:\s+SpillReloadCopies$", document, re.M):
            function = re.search(r"^Function:\s+'?([^'\n]+)'?$", document, re.M).group(1)
            costs[function] = sum(
                float(value) for term in REMARK_TERMS for value in re.findall(rf"{term}:\s+'?([-0-9.e+]+)'?", document)
            )
    return costs


@pytest.fixture(scope="module")
def corpus_dir(small_sample, tmp_path_factory):
    return sub_corpus(small_sample, MODULES, tmp_path_factory.mktemp("evict-corpus"))


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as workers:
        yield workers


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    return tmp_path_factory.mktemp("baselines")


@pytest.fixture(scope="module")
def ppo_run(corpus_dir, pool, baselines, tmp_path_factory):
    options = TrainOptions(
        "regalloc-eviction",
        "ppo",
        corpus_dir,
        tmp_path_factory.mktemp("runs") / "ppo",
        iterations=2,
        modules_per_iteration=4,
        validation_fraction=0.0,
        seed=3,
        gin_bindings=(*SMALL, "ppo.ppo_config.batch_size = 8", "train.trainer_config.keep_trajectory_iterations = 2"),
        baseline_cache=baselines,
    )
    return train(options, pool)


@pytest.mark.slow
def test_ppo_rewards_the_remarks_cost_against_the_default(ppo_run, corpus_dir, toolchain, tmp_path):
    records = [json.loads(line) for line in (ppo_run.output / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2]
    for record in records:
        assert record["modules_failed"] == 0 and record["modules_ok"] == 3
        assert record["decisions"] > 500 and math.isfinite(record["loss"])
    # brotli/dec/prefix has nothing to evict: no failure, and not sampled again.
    assert [r["modules_without_decisions"] for r in records] == [1, 0] and records[1]["modules"] == 3
    corpus = load_corpus(corpus_dir)
    # Iteration 1: every moving average starts at 0, so a step's reward is its function's raw reward.
    trajectories = list(read_trajectories(ppo_run.output / "trajectories" / "iteration-00001"))
    assert {t.module for t in trajectories} == set(MODULES[:3])
    for trajectory in trajectories:
        module = corpus.module(trajectory.module)
        default = remark_costs(toolchain, module, tmp_path)
        assert trajectory.context["baseline"] == pytest.approx(sum(default.values()), rel=1e-6)
        raw = 1.0 - (trajectory.score + 10.0) / (sum(default.values()) + 10.0)
        assert trajectory.context["raw_reward"] == pytest.approx(raw, rel=1e-5, abs=1e-6)
        # The same decisions replayed give the policy's cost per function; the channel's contexts name them.
        actions = trajectory.actions.reshape(-1)
        replayed = replay_actions(module, "regalloc-eviction", str(toolchain.clang), actions, record=True)
        assert replayed.score.value == pytest.approx(trajectory.score, rel=1e-6)
        policy = replayed.score.per_function
        functions = replayed.trajectory.functions
        expected = [
            1.0 - (policy.get(f, 0.0) + 10.0) / (default.get(f, 0.0) + 10.0)
            for f in np.asarray(functions)[replayed.trajectory.step_function]
        ]
        assert trajectory.rewards == pytest.approx(expected, rel=1e-4, abs=1e-6)
        assert len(set(np.round(trajectory.rewards, 6))) > 1  # functions differ
        # Every action is a candidate the mask offered.
        masks = trajectory.features["mask"].reshape(len(trajectory), -1)
        assert all(masks[i, action] for i, action in enumerate(actions))


@pytest.mark.slow
def test_eval_reports_costs_per_module_and_function(ppo_run, corpus_dir, toolchain, pool, baselines, tmp_path):
    from compiler_opt.collect.baseline import BaselineCache
    from compiler_opt.policy.fast import FastPolicy
    from compiler_opt.problems import get_problem
    from compiler_opt.report.evaluate import evaluate

    problem = get_problem("regalloc-eviction")
    corpus = load_corpus(corpus_dir)
    report = evaluate(
        corpus,
        problem,
        FastPolicy.load(ppo_run.output / "policy"),
        toolchain=toolchain,
        pool=pool,
        baselines=BaselineCache(baselines, toolchain, problem),
    )
    assert report["measurement"] == "regalloc_cost" and report["summary"]["failed"] == 0
    for entry in report["modules"]:
        expected = remark_costs(toolchain, corpus.module(entry["name"]), tmp_path)
        assert entry["default"] == pytest.approx(sum(expected.values()), rel=1e-6)
        functions = {f["name"]: f for f in entry.get("functions", [])}
        assert {name: f["default"] for name, f in functions.items() if f["default"]} == pytest.approx(expected)
        assert sum(f["policy"] for f in functions.values()) == pytest.approx(entry["policy"], rel=1e-6)
        assert entry["figures"]["policy_cost"] == pytest.approx(
            sum(entry["figures"][f"policy_{term}"] for term in COST_TERMS)
        )


@pytest.mark.slow
def test_es_steps_train_eviction_and_cost_weights_come_from_gin(corpus_dir, pool, baselines, tmp_path):
    runs = {}
    for label, weights in (("plain", ()), ("copies-free", ("regalloc.cost_weights.copies_cost = 0.0",))):
        options = TrainOptions(
            "regalloc-eviction",
            "es",
            corpus_dir,
            tmp_path / label,
            iterations=2,
            validation_fraction=0.0,
            seed=4,
            baseline_cache=baselines,
            gin_bindings=(
                *SMALL,
                *weights,
                "es.es_config.perturbations = 2",
                "es.es_config.modules_per_perturbation = 3",
            ),
        )
        run = train(options, pool)
        assert run.iterations == 2
        runs[label] = [json.loads(line) for line in (run.output / "log.jsonl").read_text().splitlines()]
    for record in runs["plain"]:
        assert record["pairs_used"] == 2 and record["jobs_failed"] == 0 and math.isfinite(record["mean_reward"])
    # Same seeds, same modules, same first-step policy: only the weights differ, so the totals do.
    first = runs["plain"][0], runs["copies-free"][0]
    assert first[1]["baseline_total"] < first[0]["baseline_total"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "algorithm, bindings",
    [
        ("ppo", ("ppo.ppo_config.batch_size = 8",)),
        ("es", ("es.es_config.perturbations = 2", "es.es_config.modules_per_perturbation = 3")),
    ],
)
def test_priority_levels_train_with_ppo_and_es(corpus_dir, pool, baselines, tmp_path, algorithm, bindings):
    """The priority problem's float advice is chosen as one of its levels; the saved policy answers levels."""
    from compiler_opt.policy.fast import FastPolicy
    from compiler_opt.problems.regalloc_priority import PRIORITY_LEVELS

    options = TrainOptions(
        "regalloc-priority",
        algorithm,
        corpus_dir,
        tmp_path / algorithm,
        iterations=2,
        modules_per_iteration=4,
        validation_fraction=0.0,
        seed=2,
        baseline_cache=baselines,
        gin_bindings=(*SMALL, *bindings),
    )
    run = train(options, pool)
    records = [json.loads(line) for line in (run.output / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2]
    assert all(r["decisions"] > 500 and math.isfinite(r["mean_reward"]) for r in records)
    policy = FastPolicy.load(run.output / "policy")
    assert policy.spec.advice.name == "priority" and policy.spec.advice.type == "float"
    assert policy.spec.action.type == "int64_t" and policy.num_outputs == PRIORITY_LEVELS
    saved = json.loads((run.output / "policy" / "output_spec.json").read_text())
    assert saved[0]["logging_name"] == "priority" and saved[0]["tensor_spec"]["type"] == "int64_t"

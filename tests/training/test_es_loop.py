"""ES training end to end with the real clang on small sample modules: direction, reproducibility, resume, faults."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from compiler_opt.collect.compile_job import CompileTask, run_compile_task
from compiler_opt.errors import MlgoError
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.pool.local import LocalPool
from compiler_opt.train import TrainOptions, train
from tests.rl.conftest import sub_corpus

# Modules where inlining every call site is far larger than inlining none (30-50% here with clang-19).
NEVER_BETTER = ("libyaml/api", "libyaml/parser", "lz4/lz4frame")
ES_BINDINGS = (
    "policy.network_config.fc_layer_params = (16, 8)",
    "train.trainer_config.vocab_modules = 3",
    # Wait for every compile, so runs with equal seeds see equal results whatever the machine's load.
    "train.trainer_config.deadline_quorum = 1.0",
    "es.es_config.perturbations = 4",
    "es.es_config.modules_per_perturbation = 3",
    "es.es_config.noise_scale = 0.05",
    "es.es_config.step_size = 0.05",
)


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as workers:
        yield workers


@pytest.fixture(scope="module")
def corpus(small_sample, tmp_path_factory):
    return sub_corpus(small_sample, NEVER_BETTER, tmp_path_factory.mktemp("es") / "corpus")


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    return tmp_path_factory.mktemp("baselines")


@pytest.fixture(scope="module")
def initial_policy(rl_spec, rl_vocab, small_network, tmp_path_factory):
    """A seeded fresh actor whose inline logit is raised by 0.2: it inlines most call sites (saved, the warm start)."""
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network, actor_weights, set_actor_weights
    from compiler_opt.policy.saved import save_policy

    tf.random.set_seed(0)
    actor = actor_network(rl_spec, rl_vocab, small_network)
    weights = actor_weights(actor)
    weights[-1][1][1] += 0.2
    set_actor_weights(actor, weights)
    return save_policy(tmp_path_factory.mktemp("init") / "policy", actor, rl_spec, rl_vocab, small_network)


def _es(corpus, output, baselines, pool, *, iterations, resume=False, seed=0, warmstart=None, bindings=()):
    options = TrainOptions(
        "inlining",
        "es",
        corpus,
        output,
        iterations=iterations,
        validation_fraction=0.0,
        seed=seed,
        resume=resume,
        warmstart=None if resume else warmstart,
        gin_bindings=() if resume else ES_BINDINGS + tuple(bindings),
        baseline_cache=baselines,
    )
    return train(options, pool)


def _greedy(toolchain, modules, policy: FastPolicy) -> tuple[int, float]:
    """(text bytes in all, fraction of call sites inlined) of `modules` compiled greedily under `policy`."""
    results = [
        run_compile_task(CompileTask(m, "inlining", str(toolchain.clang), None, explore=False, record=False), policy)
        for m in modules
    ]
    actions = np.concatenate([r.actions for r in results])
    return sum(r.score.value for r in results), float(actions.mean())


@pytest.mark.slow
def test_es_moves_toward_the_known_better_direction(
    toolchain, sample_corpus, corpus, baselines, pool, initial_policy, tmp_path
):
    modules = [sample_corpus.module(name) for name in NEVER_BETTER]
    initial = FastPolicy.load(initial_policy)
    initial_size, initial_inlined = _greedy(toolchain, modules, initial)
    never = [run_compile_task(CompileTask(m, "inlining", str(toolchain.clang), "never", record=False)) for m in modules]
    # The premise: the initial policy inlines most call sites, and inlining none is much smaller.
    assert initial_inlined > 0.7 and sum(r.score.value for r in never) < 0.8 * initial_size

    summary = _es(corpus, tmp_path / "run", baselines, pool, iterations=5, warmstart=initial_policy)
    records = summary.records
    assert [r["iteration"] for r in records] == [1, 2, 3, 4, 5]
    assert all(r["pairs_used"] == 4 and r["jobs_ok"] == r["jobs"] == 4 * 2 * 3 + 3 for r in records)
    assert records[-1]["mean_reward"] > records[0]["mean_reward"]
    final_size, final_inlined = _greedy(toolchain, modules, FastPolicy.load(summary.output / "policy"))
    assert final_size < initial_size and final_inlined < initial_inlined
    log = [json.loads(line) for line in (summary.output / "log.jsonl").read_text().splitlines()]
    assert {
        "gradient_norm",
        "update_norm",
        "mean_perturbed_reward",
        "best_perturbed_reward",
        "total_ratio",
        "seconds_collect",
        "seconds_train",
        "peak_rss_bytes",
    } <= set(log[0])

    evaluation = tmp_path / "eval.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mlgo.cli",
            "eval",
            "--problem",
            "inlining",
            "--policy",
            summary.output / "policy",
            "--corpus",
            corpus,
            "--output",
            evaluation,
            "--baselines",
            baselines,
        ],
        check=True,
        capture_output=True,
    )
    report = json.loads(evaluation.read_text())
    assert report["summary"]["modules"] == 3 and report["summary"]["failed"] == 0
    assert report["summary"]["policy_total"] == final_size


@pytest.mark.slow
def test_equal_seeds_give_equal_updates_and_a_resumed_run_continues_exactly(
    corpus, baselines, pool, initial_policy, tmp_path
):
    straight = _es(corpus, tmp_path / "straight", baselines, pool, iterations=3, seed=4, warmstart=initial_policy)
    _es(corpus, tmp_path / "resumed", baselines, pool, iterations=2, seed=4, warmstart=initial_policy)
    resumed = _es(corpus, tmp_path / "resumed", baselines, pool, iterations=3, resume=True)
    assert straight.iterations == resumed.iterations == 3
    a, b = FastPolicy.load(straight.output / "policy"), FastPolicy.load(resumed.output / "policy")
    assert np.array_equal(a.flat_weights(), b.flat_weights())
    assert not np.array_equal(a.flat_weights(), FastPolicy.load(initial_policy).flat_weights())
    other = _es(corpus, tmp_path / "other-seed", baselines, pool, iterations=1, seed=5, warmstart=initial_policy)
    first = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()][0]
    assert other.records[0]["update_norm"] != first["update_norm"]


@pytest.mark.slow
def test_a_failing_module_does_not_stall_a_step_and_is_set_aside(
    small_sample, baselines, pool, initial_policy, tmp_path
):
    broken = NEVER_BETTER[1]
    folder = sub_corpus(small_sample, NEVER_BETTER, tmp_path / "corpus", corrupt={broken})
    summary = _es(folder, tmp_path / "run", baselines, pool, iterations=2, warmstart=initial_policy)
    first, second = summary.records
    assert first["modules_failed"] == 1 and first["pairs_used"] == 4 and first["update_norm"] > 0
    assert first["set_aside"] == [] and second["set_aside"] == [broken]
    failed = json.loads((tmp_path / "run" / "failed_modules.json").read_text())
    assert [f["module"] for f in failed] == [broken] and broken in failed[0]["error"]


def test_a_bad_es_setting_is_refused_before_the_run_folder_is_written(corpus, baselines, pool, tmp_path):
    with pytest.raises(MlgoError, match="es_config.top_k"):
        _es(corpus, tmp_path / "run", baselines, pool, iterations=1, bindings=("es.es_config.top_k = 99",))
    assert not (tmp_path / "run" / "config.json").exists()

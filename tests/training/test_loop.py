"""The training loop end to end with the real clang on the small sample: BC, then PPO warm-started from it."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil

import numpy as np
import pytest

from compiler_opt.collect.trajectory_dataset import read_trajectories
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.errors import MlgoError
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.saved import SavedPolicy
from compiler_opt.pool.local import LocalPool
from compiler_opt.report.inputs import load_run
from compiler_opt.report.plots import step_name, training_curves, training_panels
from compiler_opt.train import TrainOptions, train
from compiler_opt.training.run_folder import RunFolder, RunFolderError
from tests.rl.conftest import sub_corpus

SMALL_NETWORK = "policy.network_config.fc_layer_params = (16, 8)"
PPO_KEYS = {
    "iteration",
    "modules",
    "modules_ok",
    "modules_failed",
    "modules_cancelled",
    "modules_without_decisions",
    "mean_reward",
    "total_ratio",
    "policy_total",
    "baseline_total",
    "seconds_collect",
    "seconds_train",
    "seconds_compile",
    "seconds_policy",
    "seconds_save",
    "decisions",
    "decisions_per_second_per_worker",
    "modules_per_second",
    "loss",
    "peak_rss_bytes",
    "train_step",
    "set_aside",
}


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    return tmp_path_factory.mktemp("baselines")


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as workers:
        yield workers


@pytest.fixture(scope="module")
def bc_run(small_sample, baselines, pool, tmp_path_factory):
    options = TrainOptions(
        "inlining",
        "bc",
        small_sample,
        tmp_path_factory.mktemp("runs") / "bc",
        iterations=3,
        gin_bindings=(SMALL_NETWORK, "bc.bc_config.learning_rate = 0.01"),
        baseline_cache=baselines,
    )
    return train(options, pool)


@pytest.fixture(scope="module")
def ppo_run(small_sample, bc_run, baselines, pool, tmp_path_factory):
    options = TrainOptions(
        "inlining",
        "ppo",
        small_sample,
        tmp_path_factory.mktemp("runs") / "ppo",
        iterations=2,
        modules_per_iteration=8,
        warmstart=bc_run.output / "policy",
        seed=5,
        gin_bindings=("train.trainer_config.keep_trajectory_iterations = 2", "ppo.ppo_config.batch_size = 16"),
        baseline_cache=baselines,
    )
    return train(options, pool)


def _log(run) -> list[dict]:
    return [json.loads(line) for line in (run.output / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_bc_run_clones_the_default_and_logs_its_agreement(bc_run, small_sample):
    records = _log(bc_run)
    assert bc_run.iterations == 3 and bc_run.stopped == "iterations"
    assert [r["iteration"] for r in records] == [1, 2, 3] and records == bc_run.records
    labels = json.loads((bc_run.output / "state.json").read_text())["labels"]
    training, _ = load_corpus(small_sample).split(0.2)
    assert (
        labels["modules"]
        == len(training)
        == labels["modules_ok"] + labels["modules_failed"] + labels["modules_without_decisions"]
    )
    for record in records:
        assert record["algorithm"] == "bc" and record["decisions"] == labels["fit_steps"] > 1000
        assert 0.0 <= record["accuracy"] <= 1.0 and 0.0 <= record["holdout_accuracy"] <= 1.0
        assert record["holdout_steps"] == labels["holdout_steps"] > 0
        assert 0 < record["peak_rss_bytes"] < 4 * 2**30
    assert records[-1]["loss"] < records[0]["loss"]
    # bc.gin's cosine schedule, from the bound rate to its final rate by the last iteration.
    rates = [r["learning_rate"] for r in records]
    assert rates[0] == pytest.approx(0.01) and rates[-1] == pytest.approx(1e-5) and rates[0] > rates[1] > rates[2]
    assert records[0]["seconds_collect"] > 0 and records[1]["seconds_collect"] == 0.0
    # The vocabulary was computed from the labels and covers every feature of the spec.
    spec = FeatureSpec.load(bc_run.output)
    assert sorted(p.stem for p in (bc_run.output / "vocab").glob("*.buckets")) == sorted(spec.names)
    config = json.loads((bc_run.output / "config.json").read_text())
    assert config["algorithm"] == "bc" and "fc_layer_params = (16, 8)" in config["gin"]
    assert config["network"]["fc_layer_params"] == [16, 8]
    assert (bc_run.output / "train.log").read_text().count("\n") == 3
    assert list((bc_run.output / "tensorboard").iterdir())


@pytest.mark.slow
def test_bc_run_plots_its_loss_and_agreement_per_epoch(bc_run, ppo_run):
    bc, ppo = load_run(bc_run.output), load_run(ppo_run.output)
    assert step_name(bc.iterations) == "epoch" and step_name(ppo.iterations) == "iteration"
    panels = training_panels(bc.iterations)
    assert [panel.title for panel in panels] == ["losses", "agreement with the labels"]
    assert all(value is not None for panel in panels for values in panel.series.values() for value in values)
    assert set(panels[1].series) == {"training labels", "held-out labels"}
    assert [panel.title for panel in training_panels(ppo.iterations)] == [
        "mean reward",
        "total vs default (policy / default)",
        "losses",
    ]
    plot = training_curves(bc, "bc", "training-1.png")
    assert plot.png.startswith(b"\x89PNG") and plot.caption == "training run bc: curves per epoch"


@pytest.mark.slow
def test_ppo_run_logs_consistent_figures(ppo_run):
    records = _log(ppo_run)
    assert [r["iteration"] for r in records] == [1, 2]
    for record in records:
        assert PPO_KEYS <= set(record), PPO_KEYS - set(record)
        assert (
            record["modules"]
            == 8
            == (
                record["modules_ok"]
                + record["modules_failed"]
                + record["modules_cancelled"]
                + record["modules_without_decisions"]
            )
        )
        assert record["modules_ok"] > 0 and record["decisions"] > 0
        assert record["total_ratio"] == pytest.approx(record["policy_total"] / record["baseline_total"])
        assert math.isfinite(record["loss"]) and math.isfinite(record["mean_reward"])
        assert record["decisions_per_second_per_worker"] > 0 and record["seconds_compile"] > 0
        assert record["seconds_policy"] > 0 and record["seconds_train"] > 0
        assert 0 < record["peak_rss_bytes"] <= record["peak_rss_bytes_run"] < 4 * 2**30
    assert records[1]["train_step"] == records[0]["train_step"] + records[1]["train_batches"]
    state = json.loads((ppo_run.output / "state.json").read_text())
    assert state["iteration"] == 2 and state["checkpoint"] == "checkpoints/iteration-00002"
    assert set(state["rewards"]["averages"]) and all(math.isfinite(v) for v in state["rewards"]["averages"].values())
    # The warm start brought its vocabulary along.
    assert (ppo_run.output / "vocab").exists()
    assert json.loads((ppo_run.output / "config.json").read_text())["warmstart"].endswith("bc/policy")


def _observations(trajectory, count: int) -> list[dict]:
    return [{name: values[i] for name, values in trajectory.features.items()} for i in range(count)]


@pytest.mark.slow
def test_saved_policies_decide_as_the_fast_form_used_in_training(ppo_run, bc_run):
    """Iteration 1 was collected by the warm start's fast form: its saved model answers as the logged logits say;
    the final saved policy and its fast form agree on the same observations."""
    trajectories = [t for t in read_trajectories(ppo_run.output / "trajectories" / "iteration-00001") if len(t)]
    assert trajectories
    warm = SavedPolicy(bc_run.output / "policy")
    final_tf, final_fast = SavedPolicy(ppo_run.output / "policy"), FastPolicy.load(ppo_run.output / "policy")
    checked = 0
    for trajectory in trajectories[:4]:
        count = min(len(trajectory), 60)
        observations = _observations(trajectory, count)
        logged = np.argmax(trajectory.logits[:count], axis=1)
        assert [warm(o) for o in observations] == logged.tolist()
        fast = np.argmax(final_fast.logits_batch({k: v[:count] for k, v in trajectory.features.items()}), axis=1)
        assert [final_tf(o) for o in observations] == fast.tolist()
        checked += count
    assert checked > 50


@pytest.mark.slow
def test_a_module_that_keeps_failing_is_set_aside(small_sample, baselines, pool, tmp_path):
    corpus = load_corpus(small_sample)
    training, _ = corpus.split(0.2)
    names = [m.name for m in training.modules if m.library in ("lz4", "libyaml", "double-conversion")][:4]
    broken = names[1]
    folder = sub_corpus(small_sample, names, tmp_path / "corpus", corrupt={broken})
    options = TrainOptions(
        "inlining",
        "ppo",
        folder,
        tmp_path / "run",
        iterations=2,
        modules_per_iteration=4,
        validation_fraction=0.0,  # all four modules train (one library: the sub-corpus would split by name)
        gin_bindings=(SMALL_NETWORK, "train.trainer_config.vocab_modules = 4"),
        baseline_cache=baselines,
    )
    summary = train(options, pool)
    records = _log(summary)
    assert [r["modules_failed"] for r in records] == [1, 1]
    assert records[0]["set_aside"] == [] and records[1]["set_aside"] == [broken]
    failed = json.loads((tmp_path / "run" / "failed_modules.json").read_text())
    assert [f["module"] for f in failed] == [broken] and failed[0]["failures"] == 2
    assert broken in failed[0]["error"]
    # A third iteration (resumed, with more iterations) no longer compiles it.
    more = TrainOptions(
        "inlining", "ppo", folder, tmp_path / "run", iterations=3, resume=True, baseline_cache=baselines
    )
    third = train(more, pool).records[-1]
    assert third["iteration"] == 3 and third["modules"] == 3 and third["modules_failed"] == 0


@pytest.fixture(scope="module")
def short_run(small_sample, baselines, pool, tmp_path_factory):
    """Two PPO iterations on four small modules, saving the policy every 5 iterations (and after the last)."""
    training, _ = load_corpus(small_sample).split(0.2)
    names = [m.name for m in training.modules if m.library in ("lz4", "libyaml", "double-conversion")][:4]
    root = tmp_path_factory.mktemp("short")
    folder = sub_corpus(small_sample, names, root / "corpus")
    options = TrainOptions(
        "inlining",
        "ppo",
        folder,
        root / "run",
        iterations=2,
        modules_per_iteration=4,
        gin_bindings=(SMALL_NETWORK, "train.trainer_config.vocab_modules = 4", "train.trainer_config.policy_every = 5"),
        baseline_cache=baselines,
    )
    return options, train(options, pool)


def _copy_run(short_run, folder) -> TrainOptions:
    """Options resuming a copy of the short run in `folder`, for one more iteration."""
    options, summary = short_run
    shutil.copytree(summary.output, folder)
    return dataclasses.replace(options, output=folder, iterations=3, resume=True, gin_bindings=())


@pytest.mark.slow
def test_the_policy_is_saved_after_the_first_iteration(short_run):
    _, summary = short_run
    assert [r["policy_saved"] for r in _log(summary)] == [True, True]
    assert (summary.output / "policy").is_dir()


@pytest.mark.slow
def test_a_torn_last_log_line_is_reported_and_its_record_kept(short_run, pool, tmp_path, caplog):
    options = _copy_run(short_run, tmp_path / "run")
    log = options.output / "log.jsonl"
    records = _log(short_run[1])
    log.write_text(log.read_text()[:-20])  # iteration 2's record torn, though state.json names it complete
    with caplog.at_level(logging.WARNING):
        summary = train(options, pool)
    assert f"{log}: dropping line 2" in caplog.text and "iteration 2 (complete) was missing; restored" in caplog.text
    assert [r["iteration"] for r in _log(summary)] == [1, 2, 3] and _log(summary)[:2] == records
    assert [line.split(":")[0] for line in (options.output / "train.log").read_text().splitlines()] == [
        "iteration 1/2",
        "iteration 2/2",
        "iteration 3/3",
    ]


@pytest.mark.slow
def test_a_missing_or_corrupt_checkpoint_is_a_clear_error(short_run, pool, tmp_path):
    missing = _copy_run(short_run, tmp_path / "missing")
    for path in (missing.output / "checkpoints").glob("iteration-00002.*"):
        path.unlink()
    with pytest.raises(
        RunFolderError,
        match=f"{missing.output} cannot go on: the checkpoint of iteration 2.*is missing.*start a new run",
    ):
        train(missing, pool)
    corrupt = _copy_run(short_run, tmp_path / "corrupt")
    (data,) = (corrupt.output / "checkpoints").glob("iteration-00002.data-*")
    os.truncate(data, data.stat().st_size // 2)
    with pytest.raises(
        RunFolderError,
        match=f"{corrupt.output} cannot go on: the checkpoint of iteration 2.*is unreadable.*restore that checkpoint",
    ):
        train(corrupt, pool)
    assert [r["iteration"] for r in _log(short_run[1])] == [1, 2]
    assert [r["iteration"] for r in RunFolder(corrupt.output).read_log()] == [1, 2]  # left as it was


def test_bad_runs_are_refused_with_clear_messages(small_sample, pool, tmp_path):
    with pytest.raises(MlgoError, match="unknown algorithm"):
        train(TrainOptions("inlining", "dqn", small_sample, tmp_path / "a"), pool)
    with pytest.raises(MlgoError, match="no training run to resume"):
        train(TrainOptions("inlining", "ppo", small_sample, tmp_path / "b", resume=True), pool)
    with pytest.raises(MlgoError, match="bad gin configuration"):
        train(
            TrainOptions(
                "inlining",
                "ppo",
                small_sample,
                tmp_path / "c",
                gin_bindings=("train.trainer_config.no_such_setting = 1",),
            ),
            pool,
        )

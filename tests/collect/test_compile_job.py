"""The compile job with the real clang: built-in and numpy policies, trajectories, labels, failures."""

from __future__ import annotations

import dataclasses
import pickle
import tempfile

import numpy as np
import pytest

from compiler_opt.collect.compile_job import (
    BASELINE_POLICY,
    CompileTask,
    compile_jobs,
    default_label_trajectory,
    replay_actions,
    run_compile_task,
)
from compiler_opt.collect.replay import ReplayMismatch
from compiler_opt.llvm.failures import CompilerCrash, CompilerFailure, CompilerTimeout
from compiler_opt.pool.base import Job
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem

INLINING = get_problem("inlining")


def task(module, toolchain, policy, **options) -> CompileTask:
    return CompileTask(module, "inlining", str(toolchain.clang), policy, **options)


def test_builtin_policies_record_every_decision(toolchain, module, spec):
    results = {name: run_compile_task(task(module, toolchain, name)) for name in ("default", "always", "never")}
    baseline = run_compile_task(task(module, toolchain, BASELINE_POLICY))
    assert baseline.decisions == 0 and baseline.trajectory is None
    for result in results.values():
        trajectory = result.trajectory
        assert result.decisions == len(trajectory) == len(result.actions) > 50
        assert set(trajectory.features) == set(spec.names) and "inlining_default" not in trajectory.features
        assert np.array_equal(trajectory.actions, result.actions)
        assert result.trajectory_spec.logits is None and trajectory.log_probability is None
        assert result.score.value == result.score.figures["text"] > 0
        assert set(result.seconds) >= {"compile", "policy"}
    assert set(results["always"].actions.tolist()) == {1} and set(results["never"].actions.tolist()) == {0}
    assert set(results["default"].actions.tolist()) == {0, 1}
    assert results["default"].score.value == baseline.score.value
    assert results["always"].score.value != baseline.score.value != results["never"].score.value


def test_default_labels_carry_real_features(toolchain, corpus, module):
    """On LLVM 19 the default decision overwrites `callee_basic_block_count`; labels must show the real counts."""
    label = default_label_trajectory(module, "inlining", str(toolchain.clang))
    counts = label.trajectory.features["callee_basic_block_count"]
    unlabeled = run_compile_task(task(module, toolchain, "always"))
    assert counts.max() > 1  # not the 0/1 decisions
    assert label.decisions == len(label.actions) == len(counts)
    # The first decision sees the unmodified module in both compiles: identical features.
    first = {name: values[0] for name, values in label.trajectory.features.items()}
    assert first == {name: values[0] for name, values in unlabeled.trajectory.features.items()}


def test_a_teachers_labels_are_its_decisions_with_real_features(toolchain, module, spec):
    """BC may clone another built-in than the default (`trainer_config.label_policy`): here a loose hand rule."""
    clang = str(toolchain.clang)
    default = default_label_trajectory(module, "inlining", clang)
    taught = default_label_trajectory(module, "inlining", clang, teacher="rule:margin=100000")
    assert set(taught.trajectory.features) == set(spec.names)
    assert np.array_equal(taught.trajectory.actions, taught.actions)
    differ = np.flatnonzero(default.actions[: len(taught.actions)] != taught.actions[: len(default.actions)])
    assert differ.size, "the loose rule must fire on this module, or this test checks nothing"
    first = int(differ[0])  # up to here both compiles saw the same module, so the same features
    features = {name: values[first] for name, values in taught.trajectory.features.items()}
    assert default.actions[first] == 0 and taught.actions[first] == 1
    assert features["callee_users"] == 2
    assert features == {name: values[first] for name, values in default.trajectory.features.items()}


@pytest.mark.slow
def test_default_labels_replayed_give_the_oz_object_on_the_small_sample(toolchain, corpus):
    """Every module of the small sample: labels replayed through the channel reproduce the plain -Oz size."""
    modules = list(corpus)
    clang = str(toolchain.clang)
    with LocalPool(2) as pool:
        labels = pool.run_all(compile_jobs([task(m, toolchain, "default") for m in modules]))
        plain = pool.run_all(compile_jobs([task(m, toolchain, BASELINE_POLICY) for m in modules]))
        replays = pool.run_all(
            [Job(m.name, replay_actions, (m, "inlining", clang, labels[m.name].unwrap().actions)) for m in modules]
        )
    for spec in modules:
        label = labels[spec.name].unwrap()
        assert label.decisions == len(label.trajectory) == len(label.actions)
        assert label.score.value == plain[spec.name].unwrap().score.value == replays[spec.name].unwrap().score.value
    assert sum(labels[spec.name].value.decisions for spec in modules) > 1000


def test_fast_policy_greedy_is_deterministic_and_sampling_is_seeded(toolchain, module, fast_policy):
    greedy = [run_compile_task(task(module, toolchain, fast_policy, explore=False)) for _ in range(2)]
    assert np.array_equal(greedy[0].actions, greedy[1].actions) and greedy[0].score == greedy[1].score
    sampled = [run_compile_task(task(module, toolchain, fast_policy, seed=seed)) for seed in (3, 3, 4)]
    assert np.array_equal(sampled[0].actions, sampled[1].actions)
    assert np.array_equal(sampled[0].trajectory.log_probability, sampled[1].trajectory.log_probability)
    assert not np.array_equal(sampled[0].actions, sampled[2].actions)
    for result in (greedy[0], sampled[0]):
        trajectory = result.trajectory
        assert result.decisions == len(trajectory) and result.trajectory_spec.logits == 2
        assert trajectory.logits.shape == (len(trajectory), 2)
        # logged logits are the policy's logits on the recorded features
        features = {name: values.reshape(-1, 1) for name, values in trajectory.features.items()}
        np.testing.assert_allclose(fast_policy.logits_batch(features), trajectory.logits, rtol=1e-5, atol=1e-6)
        logits = trajectory.logits.astype(np.float64)
        log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        chosen = log_softmax[np.arange(len(trajectory)), trajectory.actions]
        np.testing.assert_allclose(trajectory.log_probability, chosen, rtol=1e-5, atol=1e-5)
    assert np.array_equal(greedy[0].actions, greedy[0].trajectory.logits.argmax(axis=1))
    assert greedy[0].seconds["policy"] > 0


def test_jobs_on_the_pool_share_the_policy_and_pickle_both_ways(toolchain, corpus, module, fast_policy):
    modules = [module, corpus.module("lz4/lz4frame")]
    tasks = [task(spec, toolchain, None, seed=9) for spec in modules]
    with LocalPool(2) as pool:
        ref = pool.share(fast_policy)
        results = pool.run_all(compile_jobs(tasks, ref))
    direct = run_compile_task(tasks[0], fast_policy)
    assert set(results) == {spec.name for spec in modules}
    remote = results[module.name].unwrap()
    assert np.array_equal(remote.actions, direct.actions) and remote.score == direct.score
    again = pickle.loads(pickle.dumps(remote))
    assert np.array_equal(again.trajectory.logits, remote.trajectory.logits)
    assert pickle.loads(pickle.dumps(task(module, toolchain, fast_policy))).policy.spec == fast_policy.spec


def test_corrupt_bitcode_is_a_typed_failure_naming_the_module(toolchain, module, tmp_path):
    broken = tmp_path / "broken.bc"
    broken.write_bytes(b"BC\xc0\xde" + b"\x00garbage" * 64)
    spec = dataclasses.replace(module, name="mylib/broken", bitcode=broken, size=broken.stat().st_size)
    with pytest.raises(CompilerCrash) as caught:
        run_compile_task(task(spec, toolchain, "default"))
    assert caught.value.module == "mylib/broken" and "mylib/broken" in str(caught.value)
    assert caught.value.stderr_tail.strip()
    with LocalPool(1) as pool:
        result = pool.run_all(compile_jobs([task(spec, toolchain, "never")]))["mylib/broken"]
    assert not result.ok and isinstance(result.error, CompilerFailure) and result.error.module == "mylib/broken"


def test_a_compile_over_its_limit_is_a_timeout_naming_the_module(toolchain, corpus, fast_policy):
    big = corpus.module("lz4/lz4")
    for policy in ("default", fast_policy):
        with pytest.raises(CompilerTimeout) as caught:
            run_compile_task(task(big, toolchain, policy, timeout=0.2))
        assert caught.value.module == "lz4/lz4"


def test_replay_that_diverges_is_refused(toolchain, module):
    actions = run_compile_task(task(module, toolchain, "never", record=False)).actions
    with pytest.raises(ReplayMismatch, match="asked for more"):
        replay_actions(module, "inlining", str(toolchain.clang), actions[:-5])
    with pytest.raises(ReplayMismatch, match="asked for only"):
        replay_actions(module, "inlining", str(toolchain.clang), np.concatenate([actions, actions[:3]]))
    tail = replay_actions(module, "inlining", str(toolchain.clang), [], default_tail=True)
    assert tail.score == run_compile_task(task(module, toolchain, "default", record=False)).score


def test_work_files_are_removed(toolchain, module, fast_policy, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    run_compile_task(task(module, toolchain, "default", keep_object=True))
    run_compile_task(task(module, toolchain, fast_policy))
    run_compile_task(task(module, toolchain, BASELINE_POLICY))
    assert list(tmp_path.iterdir()) == []


def test_kept_object_is_the_measured_one(toolchain, module, tmp_path):
    result = run_compile_task(task(module, toolchain, "always", keep_object=True, record=False))
    path = tmp_path / "m.o"
    path.write_bytes(result.object)
    from compiler_opt.llvm.measure import object_size

    assert object_size(toolchain, path).text == result.score.value


def test_feature_spec_leaves_out_the_default_decision(toolchain, module, spec):
    assert "inlining_default" not in spec.names and spec.num_actions == 2
    assert spec.advice.name == "inlining_decision"
    assert "callee_basic_block_count" in spec.names and len(spec.names) >= 30

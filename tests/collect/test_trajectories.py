"""Trajectory records from real clang decisions, through TFRecord shards, into tf-agents batches."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from compiler_opt.collect.trace import trace_module
from compiler_opt.collect.trajectories import ModuleTrajectory, TrajectoryError, TrajectoryRecorder, TrajectorySpec
from compiler_opt.collect.trajectory_dataset import read_trajectories, trajectory_dataset
from compiler_opt.collect.trajectory_files import TrajectoryWriter, shard_files
from compiler_opt.llvm.log_format import LogReader, TensorSpec
from compiler_opt.problems import get_problem


@pytest.fixture(scope="module")
def recorded(toolchain, modules, tmp_path_factory):
    """Trajectories of real inlining decisions on `calls` under three policies, with fake policy outputs."""
    folder = tmp_path_factory.mktemp("traces")
    problem = get_problem("inlining")
    trajectories, spec = [], None
    rng = np.random.default_rng(0)
    for policy in ("default", "always", "never"):
        log = folder / f"{policy}.log"
        result = trace_module(toolchain, problem, policy, modules["calls"].command(toolchain), log_path=log)
        with open(log, "rb") as stream:
            reader = LogReader(stream)
            spec = TrajectorySpec.from_header(reader.header, logits=2, log_probability=True)
            recorder = TrajectoryRecorder(reader.header, spec)
            for record in reader:
                logits = rng.normal(size=2).astype(np.float32)
                action = int(record.observation[spec.action.name][0])
                recorder.record(record.observation, action, float(logits[action] - np.logaddexp(*logits)), logits)
        trajectory = recorder.finish(f"calls-{policy}", score=result.score.value, baseline=123.0)
        assert len(trajectory) == result.decisions > 3
        trajectories.append(trajectory.with_reward(0.25 * len(trajectories)))
    return spec, trajectories


def test_recorder_decodes_the_compiler_features(recorded, toolchain, modules, tmp_path):
    spec, trajectories = recorded
    names = [f.name for f in spec.features]
    assert "inlining_decision" not in names and spec.action.name == "inlining_decision"
    assert len(names) >= 30 and all(f.shape == () for f in spec.features)
    always = trajectories[1]
    assert set(always.actions.tolist()) == {1} and set(trajectories[2].actions.tolist()) == {0}
    assert always.features["callee_users"].dtype == np.int64 and always.features["callee_users"].shape == (len(always),)
    # The decoded values are the ones LogReader decodes one by one.
    trace_module(
        toolchain,
        get_problem("inlining"),
        "always",
        modules["calls"].command(toolchain),
        log_path=tmp_path / "check.log",
    )
    with open(tmp_path / "check.log", "rb") as stream:
        records = list(LogReader(stream))
    for name in ("callee_users", "cost_estimate", "node_count"):
        assert always.features[name].tolist() == [int(r.observation[name][0]) for r in records]


def test_round_trip_through_shards(recorded, tmp_path):
    spec, trajectories = recorded
    with TrajectoryWriter(tmp_path, spec, records_per_shard=2) as writer:
        for trajectory in trajectories:
            writer.write(trajectory)
            if writer.records == 1:
                assert shard_files(tmp_path) == []  # an unfinished shard is invisible
    assert [p.name for p in writer.shards] == ["trajectories-00000.tfrecord", "trajectories-00001.tfrecord"]
    back = list(read_trajectories(tmp_path))
    assert [t.module for t in back] == [t.module for t in trajectories]
    for got, want in zip(back, trajectories):
        for name in (f.name for f in spec.features):
            np.testing.assert_array_equal(got.features[name], want.features[name])
            assert got.features[name].dtype == want.features[name].dtype
        np.testing.assert_array_equal(got.actions, want.actions)
        np.testing.assert_allclose(got.log_probability, want.log_probability, rtol=1e-6)
        np.testing.assert_allclose(got.logits, want.logits, rtol=1e-6)
        np.testing.assert_array_equal(got.rewards, want.rewards)
        assert got.score == want.score and got.context == want.context
    # A second writer appends new shards beside them; another spec is refused.
    with TrajectoryWriter(tmp_path, spec) as more:
        more.write(trajectories[0])
    assert len(shard_files(tmp_path)) == 3
    other = TrajectorySpec(spec.features, spec.action)
    with pytest.raises(TrajectoryError):
        TrajectoryWriter(tmp_path, other)


def test_windowed_batches_are_tf_agents_trajectories(recorded, tmp_path):
    from tf_agents.trajectories import time_step as ts

    spec, trajectories = recorded
    with TrajectoryWriter(tmp_path, spec) as writer:
        for trajectory in trajectories:
            writer.write(trajectory)
    length, batch = 4, 2
    batches = list(trajectory_dataset(tmp_path, batch_size=batch, sequence_length=length, shuffle_buffer=0))
    steps = sum(len(t) for t in trajectories)
    assert len(batches) == (steps // length) // batch
    first = batches[0]
    assert first.observation["callee_users"].shape == (batch, length)
    assert first.observation["callee_users"].dtype.name == "int64"
    assert first.action.shape == (batch, length) and first.action.dtype.name == "int64"
    assert first.reward.dtype.name == "float32" and first.discount.dtype.name == "float32"
    assert first.step_type.dtype.name == "int32"
    assert first.policy_info["dist_params"]["logits"].shape == (batch, length, 2)
    assert first.policy_info["log_probability"].shape == (batch, length)

    # In file order, the windows are the concatenated steps of the modules.
    def flat(name):
        return np.concatenate([b.observation[name].numpy().reshape(-1) for b in batches])

    expected = np.concatenate([t.features["cost_estimate"] for t in trajectories])[: len(flat("cost_estimate"))]
    np.testing.assert_array_equal(flat("cost_estimate"), expected)
    step_types = np.concatenate([b.step_type.numpy().reshape(-1) for b in batches])
    rewards = np.concatenate([b.reward.numpy().reshape(-1) for b in batches])
    discounts = np.concatenate([b.discount.numpy().reshape(-1) for b in batches])
    next_types = np.concatenate([b.next_step_type.numpy().reshape(-1) for b in batches])
    starts = np.cumsum([0] + [len(t) for t in trajectories])
    for index, trajectory in enumerate(trajectories):
        begin, end = starts[index], min(starts[index + 1], len(step_types))
        if begin >= len(step_types):
            break
        assert step_types[begin] == ts.StepType.FIRST
        assert (step_types[begin + 1 : end] == ts.StepType.MID).all()
        assert (rewards[begin:end] == trajectory.rewards[0]).all()
        if end == starts[index + 1]:
            assert next_types[end - 1] == ts.StepType.LAST and discounts[end - 1] == 0.0
            assert (discounts[begin : end - 1] == 1.0).all()
    assert not any(bool(np.any(b.is_boundary().numpy())) for b in batches)
    # Shuffled and repeated with a seed: the same batches every time.
    one = trajectory_dataset(tmp_path, batch_size=2, sequence_length=3, shuffle_buffer=8, seed=7, repeat=True)
    two = trajectory_dataset(tmp_path, batch_size=2, sequence_length=3, shuffle_buffer=8, seed=7, repeat=True)
    for a, b in zip(one.take(5), two.take(5)):
        np.testing.assert_array_equal(a.observation["node_count"].numpy(), b.observation["node_count"].numpy())


def _synthetic(module: str, steps: int, rng) -> ModuleTrajectory:
    return ModuleTrajectory(
        module,
        {
            "mask": rng.integers(0, 2, (steps, 33)).astype(np.int64),
            "weight": rng.normal(size=(steps, 33)).astype(np.float32),
            "progress": rng.random(steps).astype(np.float32),
        },
        rng.integers(0, 33, steps).astype(np.int64),
        logits=rng.normal(size=(steps, 33)).astype(np.float32),
        score=float(steps),
    )


def test_padded_sequences_and_gin_bindings(tmp_path):
    import gin

    spec = TrajectorySpec(
        (
            TensorSpec("mask", (33,), "int64_t"),
            TensorSpec("weight", (33,), "float"),
            TensorSpec("progress", (), "float"),
        ),
        TensorSpec("index_to_evict", (), "int64_t"),
        logits=33,
    )
    rng = np.random.default_rng(1)
    trajectories = [_synthetic("a", 5, rng).with_reward(-1.0), _synthetic("b", 3, rng).with_reward(2.0)]
    with TrajectoryWriter(tmp_path, spec) as writer:
        for trajectory in trajectories:
            writer.write(trajectory)
    try:
        gin.bind_parameter("trajectory_dataset.sequence_length", 4)
        gin.bind_parameter("trajectory_dataset.mode", "pad")
        batches = list(trajectory_dataset(tmp_path, spec, batch_size=3, shuffle_buffer=0))
    finally:
        gin.clear_config()
    assert len(batches) == 1
    (traj,) = batches
    assert traj.observation["mask"].shape == (3, 4, 33) and traj.observation["weight"].dtype.name == "float32"
    assert traj.observation["progress"].shape == (3, 4) and traj.action.shape == (3, 4)
    # a: 4 steps, then 1 step + 3 padding; b: 3 steps + 1 padding. Padding is boundary, rewardless.
    boundary = traj.is_boundary().numpy()
    assert boundary.tolist() == [[False] * 4, [False, True, True, True], [False, False, False, True]]
    np.testing.assert_array_equal(traj.reward.numpy(), [[-1] * 4, [-1, 0, 0, 0], [2, 2, 2, 0]])
    np.testing.assert_array_equal(traj.observation["mask"].numpy()[0], trajectories[0].features["mask"][:4])
    np.testing.assert_array_equal(traj.observation["mask"].numpy()[2, :3], trajectories[1].features["mask"])
    np.testing.assert_allclose(traj.policy_info["dist_params"]["logits"].numpy()[1, 0], trajectories[0].logits[4])
    assert traj.discount.numpy().tolist() == [[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 0, 0]]


def test_incomplete_trajectories_are_refused(tmp_path):
    spec = TrajectorySpec((TensorSpec("x", (), "int64_t"),), TensorSpec("y", (), "int64_t"))
    no_reward = ModuleTrajectory("m", {"x": np.zeros(3, np.int64)}, np.zeros(3, np.int64))
    with TrajectoryWriter(tmp_path, spec) as writer, pytest.raises(TrajectoryError, match="rewards"):
        writer.write(no_reward)
    with pytest.raises(TrajectoryError):
        TrajectorySpec((TensorSpec("reward", (), "float"),), TensorSpec("y", (), "int64_t"))


def test_worker_side_does_not_import_tensorflow():
    code = (
        "import sys; import compiler_opt.collect, compiler_opt.collect.trajectories, compiler_opt.collect.baseline;"
        "import compiler_opt.collect.trajectory_files, compiler_opt.collect.trajectory_dataset;"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _reference_example(trajectory: ModuleTrajectory, spec: TrajectorySpec):
    """The same SequenceExample built through the protobuf API, the slow obvious way."""
    import tensorflow as tf

    example = tf.train.SequenceExample()
    example.context.feature["module"].bytes_list.value.append(trajectory.module.encode())
    example.context.feature["score"].float_list.value.append(trajectory.score)
    for name, value in trajectory.context.items():
        example.context.feature[name].float_list.value.append(value)
    columns = [(f.name, trajectory.features[f.name], f.dtype.kind == "f") for f in spec.features]
    columns += [(spec.action.name, trajectory.actions, False), ("reward", trajectory.rewards, True)]
    if spec.logits is not None:
        columns.append(("action_logits", trajectory.logits, True))
    if spec.log_probability:
        columns.append(("action_log_probability", trajectory.log_probability, True))
    for name, array, is_float in columns:
        entries = example.feature_lists.feature_list[name].feature
        for row in array.reshape(len(trajectory), -1).tolist() if len(trajectory) else []:
            (entries.add().float_list if is_float else entries.add().int64_list).value.extend(row)
    return example


@pytest.mark.parametrize("steps", [0, 1, 7, 300])
def test_numpy_encoding_matches_protobuf(steps):
    import tensorflow as tf

    from compiler_opt.collect.trajectory_files import to_sequence_example

    spec = TrajectorySpec(
        (
            TensorSpec("small", (), "int64_t"),
            TensorSpec("wide", (3,), "int64_t"),
            TensorSpec("grid", (2, 5), "float"),
            TensorSpec("narrow", (), "int32_t"),
        ),
        TensorSpec("choice", (), "int64_t"),
        logits=40,
        log_probability=True,
    )
    rng = np.random.default_rng(steps)
    wide = rng.integers(-(2**62), 2**62, (steps, 3))
    if steps:
        wide[0] = [0, -1, 2**63 - 1]
    trajectory = ModuleTrajectory(
        "lib/dir/m\u00e9.cc",
        {
            "small": rng.integers(0, 100, steps),
            "wide": wide,
            "grid": rng.normal(size=(steps, 2, 5)).astype(np.float32),
            "narrow": rng.integers(-(2**31), 2**31, steps).astype(np.int32),
        },
        rng.integers(0, 2**20, steps),
        log_probability=rng.normal(size=steps).astype(np.float32),
        logits=rng.normal(size=(steps, 40)).astype(np.float32),
        score=1234.5,
        context={"baseline": 99.0},
    ).with_reward(-0.125)
    encoded = tf.train.SequenceExample.FromString(to_sequence_example(trajectory, spec))
    assert encoded == _reference_example(trajectory, spec)


def test_workers_record_and_serialize_without_tensorflow(toolchain, modules, tmp_path):
    from compiler_opt.pool.base import Job
    from compiler_opt.pool.local import LocalPool
    from tests.pool import jobs

    batch = [
        Job(
            f"calls-{policy}",
            jobs.record_trajectory,
            (toolchain, policy, modules["calls"].command(toolchain), f"calls-{policy}"),
        )
        for policy in ("always", "never")
    ]
    with LocalPool(2) as pool:
        results = pool.run_all(batch, timeout=120)
    assert all(r.ok for r in results.values()), [str(r.error) for r in results.values()]
    spec = results["calls-always"].value[0]
    with TrajectoryWriter(tmp_path, spec) as writer:
        for key in sorted(results):
            _, _, serialized, tensorflow_loaded = results[key].value
            assert not tensorflow_loaded
            writer.write(serialized)
    back = {t.module: t for t in read_trajectories(tmp_path)}
    for key, result in results.items():
        sent = result.value[1]
        np.testing.assert_array_equal(back[key].actions, sent.actions)
        np.testing.assert_array_equal(back[key].features["node_count"], sent.features["node_count"])
        assert back[key].score == sent.score > 0

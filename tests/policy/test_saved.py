"""The saved form: LLVM's signature (checked with saved_model_cli), round trips into TF and the fast form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, TensorSpec
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.saved import SavedPolicy, load_actor_network, load_fast_policy, save_policy

SAVED_MODEL_CLI = Path(sys.executable).with_name("saved_model_cli")


@pytest.fixture(scope="module")
def saved(inlining_actor, inlining_spec, inlining_vocab, config, tmp_path_factory) -> Path:
    return save_policy(
        tmp_path_factory.mktemp("policies") / "policy", inlining_actor, inlining_spec, inlining_vocab, config
    )


def signature(directory: Path) -> tuple[dict, dict]:
    """saved_model_cli's view of the `action` signature: {input name: (dtype, shape)}, same for outputs."""
    text = subprocess.run(
        [str(SAVED_MODEL_CLI), "show", "--dir", str(directory), "--tag_set", "serve", "--signature_def", "action"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    inputs, outputs, current, name = {}, {}, None, None
    for line in text.splitlines():
        line = line.strip()
        if "input(s)" in line:
            current = inputs
        elif "output(s)" in line:
            current = outputs
        elif line.startswith(("inputs[", "outputs[")):
            name = line.split("'")[1]
            current[name] = {}
        elif line.startswith(("dtype:", "shape:")) and name is not None:
            key, value = line.split(":", 1)
            current[name][key] = value.strip()
    return inputs, outputs


def test_folder_layout_and_output_spec(saved, inlining_spec):
    assert {
        "saved_model.pb",
        "variables",
        "output_spec.json",
        "feature_spec.json",
        "vocab",
        "network.json",
        "weights.npz",
    } <= set(os.listdir(saved))
    assert sorted(p.stem for p in (saved / "vocab").glob("*.buckets")) == sorted(inlining_spec.names)
    assert json.loads((saved / "output_spec.json").read_text()) == [
        {
            "logging_name": "inlining_decision",
            "tensor_spec": {"name": "StatefulPartitionedCall", "port": 0, "type": "int64_t", "shape": [1]},
        }
    ]
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_signature_has_one_input_per_feature_named_as_the_compiler_names_it(saved, inlining_spec):
    inputs, outputs = signature(saved)
    # tf-agents adds the time step's fields, which LLVM's development mode feeds and AOT prunes.
    assert set(inputs) == set(inlining_spec.names) | {"step_type", "reward", "discount"}
    assert "inlining_default" not in inputs
    for name in inlining_spec.names:
        assert inputs[name] == {"dtype": "DT_INT64", "shape": "(1)"}, name
    assert outputs == {"inlining_decision": {"dtype": "DT_INT64", "shape": "(1)"}}


def test_tf_and_fast_forms_decide_alike_on_recorded_observations(
    saved, inlining_actor, inlining_spec, config, inlining_observations
):
    from compiler_opt.policy.networks import actor_weights

    before = FastPolicy(inlining_spec, load_fast_policy(saved).vocab, config, actor_weights(inlining_actor))
    fast = load_fast_policy(saved)
    tf_policy = SavedPolicy(saved)
    sample = inlining_observations[::3]
    expected = [before.greedy(o) for o in sample]
    assert [fast.greedy(o) for o in sample] == expected
    assert [tf_policy.observation(o) for o in sample] == expected
    np.testing.assert_array_equal(
        np.stack([fast.observation_logits(o) for o in sample]), np.stack([before.observation_logits(o) for o in sample])
    )


def test_fast_form_loads_and_decides_without_tensorflow(saved, inlining_default, tmp_path):
    inlining_observations = inlining_default[1]
    log = tmp_path / "decisions.npy"
    np.save(log, np.array([load_fast_policy(saved).greedy(o) for o in inlining_observations]))
    raws = tmp_path / "raws.bin"
    raws.write_bytes(b"".join(o.raw for o in inlining_observations))
    header = json.dumps(inlining_observations[0].header.to_json())
    code = f"""
import json, sys, numpy as np
from compiler_opt.llvm.log_format import LogHeader, Observation
from compiler_opt.policy.saved import load_fast_policy
header = LogHeader.parse({header!r}.encode())
data = open({str(raws)!r}, 'rb').read()
size = header.observation_size
policy = load_fast_policy({str(saved)!r})
got = [policy.greedy(Observation(None, i, data[i * size:(i + 1) * size], header)) for i in range(len(data) // size)]
assert got == np.load({str(log)!r}).tolist()
assert not [m for m in sys.modules if m.startswith('tensorflow')]
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_warm_start_rebuilds_the_same_actor(saved, inlining_actor):
    from compiler_opt.policy.networks import actor_weights

    actor, spec, _, config = load_actor_network(saved)
    assert spec == FeatureSpec.load(saved)
    for (k1, b1), (k2, b2) in zip(actor_weights(actor), actor_weights(inlining_actor)):
        np.testing.assert_array_equal(k1, k2)
        np.testing.assert_array_equal(b1, b2)
    assert config.fc_layer_params == (40, 40, 20)


def test_saving_again_replaces_the_policy_atomically(
    saved, inlining_actor, inlining_spec, inlining_vocab, config, inlining_observations
):
    from compiler_opt.policy.networks import actor_network

    other = actor_network(inlining_spec, inlining_vocab, config)
    target = saved.parent / "replaced"
    save_policy(target, inlining_actor, inlining_spec, inlining_vocab, config)
    save_policy(target, other, inlining_spec, inlining_vocab, config)
    first = load_fast_policy(saved).observation_logits(inlining_observations[0])
    second = load_fast_policy(target).observation_logits(inlining_observations[0])
    assert not np.array_equal(first, second)
    assert sorted(p.name for p in target.parent.iterdir() if p.name.startswith(".")) == []


def test_failed_save_leaves_nothing(inlining_actor, inlining_spec, inlining_vocab, config, tmp_path):
    from dataclasses import replace

    bad = replace(inlining_spec, num_actions=None)  # no action spec can be made
    with pytest.raises(MlgoError):
        save_policy(tmp_path / "policy", inlining_actor, bad, inlining_vocab, config)
    assert list(tmp_path.iterdir()) == []


def test_saved_policy_refuses_a_different_compiler(saved, inlining_observations):
    from compiler_opt.llvm.log_format import Observation

    header = inlining_observations[0].header
    renamed = LogHeader(
        [
            TensorSpec("callee_users_v2" if f.name == "callee_users" else f.name, f.shape, f.type)
            for f in header.features
        ],
        advice=header.advice,
    )
    observation = Observation(None, 0, inlining_observations[0].raw, renamed)
    with pytest.raises(MlgoError, match="missing features: callee_users; extra features: callee_users_v2"):
        load_fast_policy(saved).greedy(observation)

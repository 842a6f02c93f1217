"""Policies from others: every problem's real saved policy passes the graph check and still loads and exports;
a SavedModel with file ops (built with real TensorFlow, or a real one altered) is refused before anything of it
runs, and a fast form asking for absurd sizes is refused before it is allocated."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec, build_feature_spec, policy_shape
from compiler_opt.policy.untrusted import ACTION_OPS, UnsafePolicyError, action_ops, check_policy_graph
from compiler_opt.policy.vocab import compute_vocab
from compiler_opt.problems import get_problem
from tests.policy.conftest import record

# label: (problem, test module, built-in policy recorded, network): every problem, and each activation's op.
POLICIES = {
    "inlining": ("inlining", "calls", "default", NetworkConfig((40, 40, 20))),
    "inlining-tanh": ("inlining", "calls", "default", NetworkConfig((8,), activation="tanh")),
    "inlining-margin": (
        "inlining",
        "calls",
        "default",
        NetworkConfig((40, 40, 20), differences=(("cost_estimate", "threshold"),)),
    ),
    "regalloc-eviction": (
        "regalloc-eviction",
        "pressure",
        "random",
        NetworkConfig((32, 16), identity=("mask",), head="masked_candidates", mask="mask"),
    ),
    "regalloc-priority": ("regalloc-priority", "pressure", "weight", NetworkConfig((32, 16))),
}
FOLDER_FILES = ("feature_spec.json", "output_spec.json", "network.json", "weights.npz")


@pytest.fixture(scope="module")
def policies(toolchain, modules, tmp_path_factory) -> dict[str, tuple[Path, list]]:
    """Each label's policy, saved by `save_policy` with random weights, and the observations it was built from."""
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network
    from compiler_opt.policy.saved import save_policy

    root = tmp_path_factory.mktemp("untrusted")
    built = {}
    for label, (name, module, builtin, config) in POLICIES.items():
        problem = get_problem(name)
        header, observations = record(toolchain, modules[module], name, builtin, root)
        spec = build_feature_spec(header, exclude=problem.excluded_features, num_actions=problem.num_actions)
        vocab = compute_vocab(observations, spec)
        tf.random.set_seed(5)
        built[label] = save_policy(root / label, actor_network(spec, vocab, config), spec, vocab, config), observations
    return built


@pytest.fixture
def inlining(policies, tmp_path) -> Path:
    """A copy of the real inlining policy, to alter."""
    return Path(shutil.copytree(policies["inlining"][0], tmp_path / "policy"))


def test_every_problems_policy_passes_and_runs_only_allowlisted_ops(policies):
    observed = set()
    for folder, _ in policies.values():
        check_policy_graph(folder)
        observed |= action_ops(folder)
    print("op types of the action signatures:", sorted(observed))
    assert observed <= ACTION_OPS
    assert ACTION_OPS - observed == {"PartitionedCall"}  # no stale entry (that one: the other signatures' calls)


@pytest.mark.parametrize("label", sorted(POLICIES))
def test_every_problems_policy_still_loads_into_tensorflow_and_exports(policies, label, tmp_path):
    from compiler_opt.export.exporter import export_policy
    from compiler_opt.policy.saved import SavedPolicy

    folder, observations = policies[label]
    fast, saved = FastPolicy.load(folder), SavedPolicy(folder)
    sample = observations[:: max(1, len(observations) // 40)]
    assert [saved.observation(o) for o in sample] == [fast.greedy(o) for o in sample]
    result = export_policy(folder, tmp_path / "out", tflite=True, problem=POLICIES[label][0], log=lambda _: None)
    assert result.forms == ["saved_model", "tflite"]
    if label == "regalloc-priority":  # LLVM embeds no priority model: AOT is refused with a message
        from compiler_opt.export.saved_model import ExportError

        with pytest.raises(ExportError, match="no ahead-of-time embedded model for problem regalloc-priority"):
            export_policy(folder, tmp_path / "aot", aot=True, problem="regalloc-priority", log=lambda _: None)


# --- a policy whose action writes a file: real TensorFlow, tf.saved_model.save ---------------------------------


def write_file_policy(real: Path, folder: Path, target: Path) -> Path:
    """A SavedModel whose `action` signature (with the real policy's inputs and advice) writes `target`, with the
    real policy's other files beside it."""
    import tensorflow as tf

    spec = FeatureSpec.load(real)

    class WritesAFile(tf.Module):
        @tf.function
        def action(self, **features):
            tf.io.write_file(str(target), "written by the policy")
            return {spec.advice.name: tf.zeros((1,), tf.int64)}

    module = WritesAFile()
    inputs = {f.name: tf.TensorSpec((1, *policy_shape(f)), tf.as_dtype(f.dtype), name=f.name) for f in spec.features}
    tf.saved_model.save(module, str(folder), signatures={"action": module.action.get_concrete_function(**inputs)})
    for name in FOLDER_FILES:
        shutil.copy2(real / name, folder / name)
    shutil.copytree(real / "vocab", folder / "vocab")
    return folder


@pytest.fixture
def writes_a_file(policies, tmp_path) -> tuple[Path, Path]:
    target = tmp_path / "written"
    return write_file_policy(policies["inlining"][0], tmp_path / "writes", target), target


def test_saved_policy_refuses_a_policy_that_writes_a_file(writes_a_file):
    from compiler_opt.policy.saved import SavedPolicy

    folder, target = writes_a_file
    with pytest.raises(
        UnsafePolicyError,
        match=rf"policy {folder}: its action graph contains op 'WriteFile', "
        r"which no policy needs; refusing to run or convert it",
    ):
        SavedPolicy(folder)
    assert not target.exists()


def test_mlgo_export_refuses_it_before_anything_runs(writes_a_file, tmp_path):
    folder, target = writes_a_file
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlgo.cli",
            "export",
            "--policy",
            str(folder),
            "--output",
            str(tmp_path / "out"),
            "--tflite",
            "--aot",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2, run.stderr
    assert f"policy {folder}: its action graph contains op 'WriteFile'" in run.stderr
    assert "Traceback" not in run.stderr
    assert not target.exists() and not (tmp_path / "out" / "saved_model").exists()


def test_the_crafted_policy_does_write_when_loaded_unchecked(writes_a_file):
    """The control: what the check prevents is real."""
    import tensorflow as tf

    folder, target = writes_a_file
    signature = tf.saved_model.load(str(folder)).signatures["action"]
    signature(**{name: tf.zeros(s.shape, s.dtype) for name, s in signature.structured_input_signature[1].items()})
    assert target.read_text() == "written by the policy"


# --- a real policy's saved_model.pb, altered -----------------------------------------------------------------------


def _string_const(name: str, value: str):
    from tensorflow.core.framework import node_def_pb2, types_pb2

    node = node_def_pb2.NodeDef(name=name, op="Const")
    node.attr["dtype"].type = types_pb2.DT_STRING
    node.attr["value"].tensor.dtype = types_pb2.DT_STRING
    node.attr["value"].tensor.string_val.append(value.encode())
    return node


def _file_op(op: str, path: Path, prefix: str = "") -> list:
    """A Const holding `path` and a ReadFile or WriteFile of it (function-body input names)."""
    from tensorflow.core.framework import node_def_pb2

    node = node_def_pb2.NodeDef(name="evil", op=op, input=[f"{prefix}path:output:0"] * (2 if op == "WriteFile" else 1))
    return [_string_const(f"{prefix}path", str(path)), node]


def _called_function(meta_graph, node_name: str):
    """The library function the graph node `node_name` calls (its `f`)."""
    node = next(n for n in meta_graph.graph_def.node if n.name == node_name.split(":")[0])
    return next(f for f in meta_graph.graph_def.library.function if f.signature.name == node.attr["f"].func.name)


def _add_function(meta_graph, name: str, nodes: list) -> None:
    function = meta_graph.graph_def.library.function.add()
    function.signature.name = name
    function.node_def.extend(nodes)


def _calling_node(name: str, *, func: str = "", funcs: tuple[str, ...] = ()):
    from tensorflow.core.framework import node_def_pb2

    node = node_def_pb2.NodeDef(name=name, op="PartitionedCall")
    if func:
        node.attr["f"].func.name = func
    for other in funcs:
        node.attr["branches"].list.func.add().name = other
    return node


def _action_function(meta_graph):
    return _called_function(
        meta_graph,
        meta_graph.signature_def["action"].outputs[next(iter(meta_graph.signature_def["action"].outputs))].name,
    )


def _read_in_action(meta_graph, target: Path) -> None:
    _action_function(meta_graph).node_def.extend(_file_op("ReadFile", Path("/etc/passwd")))


def _write_in_restore(meta_graph, target: Path) -> None:
    _called_function(meta_graph, meta_graph.saver_def.restore_op_name).node_def.extend(_file_op("WriteFile", target))


def _write_through_a_func_attr(meta_graph, target: Path) -> None:
    _add_function(meta_graph, "innocent_looking", _file_op("WriteFile", target))
    _action_function(meta_graph).node_def.append(_calling_node("call", func="innocent_looking"))


def _write_through_a_func_list_attr(meta_graph, target: Path) -> None:
    _add_function(meta_graph, "innocent_looking", _file_op("WriteFile", target))
    _action_function(meta_graph).node_def.append(_calling_node("call", funcs=("innocent_looking",)))


def _write_in_a_function_passed_to_a_call(meta_graph, target: Path) -> None:
    from tensorflow.core.framework import node_def_pb2

    _add_function(meta_graph, "harmless", [node_def_pb2.NodeDef(name="nothing", op="NoOp")])
    _add_function(meta_graph, "innocent_looking", _file_op("WriteFile", target))
    call = _calling_node("call", func="harmless")
    call.attr["f"].func.attr["then"].func.name = "innocent_looking"
    _action_function(meta_graph).node_def.append(call)


def _primitive_write_as_a_function(meta_graph, target: Path) -> None:
    _action_function(meta_graph).node_def.append(_calling_node("call", func="WriteFile"))


def _function_named_like_the_op(meta_graph, target: Path) -> None:
    from tensorflow.core.framework import node_def_pb2

    _add_function(meta_graph, "WriteFile", [node_def_pb2.NodeDef(name="nothing", op="NoOp")])
    _action_function(meta_graph).node_def.append(node_def_pb2.NodeDef(name="call", op="WriteFile"))


def _py_func_nowhere_called(meta_graph, target: Path) -> None:
    from tensorflow.core.framework import node_def_pb2

    _add_function(meta_graph, "unused", [node_def_pb2.NodeDef(name="py", op="EagerPyFunc")])


def _write_in_the_init_op(meta_graph, target: Path) -> None:
    nodes = _file_op("WriteFile", target)
    nodes[1].input[:] = ["path", "path"]  # graph nodes, not a function body
    meta_graph.graph_def.node.extend(nodes)
    meta_graph.signature_def["__saved_model_init_op"].outputs["__saved_model_init_op"].name = "evil"


ALTERATIONS = {
    "ReadFile in the action function": (_read_in_action, "its action graph contains op 'ReadFile'"),
    "WriteFile in the restore function": (_write_in_restore, "its variable restore contains op 'WriteFile'"),
    "WriteFile in a function an attr calls": (_write_through_a_func_attr, "its action graph contains op 'WriteFile'"),
    "WriteFile in a function a list attr calls": (
        _write_through_a_func_list_attr,
        "its action graph contains op 'WriteFile'",
    ),
    "WriteFile in a function passed to a call": (
        _write_in_a_function_passed_to_a_call,
        "its action graph contains op 'WriteFile'",
    ),
    "WriteFile called as a function": (_primitive_write_as_a_function, "its action graph contains op 'WriteFile'"),
    "a function named WriteFile": (_function_named_like_the_op, "its action graph contains op 'WriteFile'"),
    "EagerPyFunc in an unused function": (_py_func_nowhere_called, "its SavedModel contains op 'EagerPyFunc'"),
    "WriteFile as the init op": (_write_in_the_init_op, "its action graph contains op 'WriteFile'"),
}


def _alter(folder: Path, edit) -> None:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((folder / "saved_model.pb").read_bytes())
    edit(proto.meta_graphs[0], folder / "written")
    (folder / "saved_model.pb").write_bytes(proto.SerializeToString())


@pytest.mark.parametrize("alteration", sorted(ALTERATIONS))
def test_an_altered_saved_model_is_refused_naming_the_op(inlining, alteration, tmp_path):
    from compiler_opt.export.exporter import export_policy
    from compiler_opt.policy.saved import SavedPolicy

    edit, message = ALTERATIONS[alteration]
    _alter(inlining, edit)
    with pytest.raises(UnsafePolicyError, match=f"policy {inlining}: {message}, which no policy needs"):
        SavedPolicy(inlining)
    with pytest.raises(UnsafePolicyError, match=message):
        export_policy(inlining, tmp_path / "out", tflite=True, log=lambda _: None)
    assert not (inlining / "written").exists() and not (tmp_path / "out" / "saved_model").exists()


def test_objects_whose_restoring_runs_functions_are_refused(inlining):
    _alter(inlining, lambda meta_graph, _: meta_graph.object_graph_def.nodes.add().resource.SetInParent())
    with pytest.raises(UnsafePolicyError, match=r"object \d+ is a resource, whose restoring runs functions"):
        check_policy_graph(inlining)


def test_a_second_node_of_the_same_name_is_refused(inlining):
    def duplicate(meta_graph, target: Path) -> None:
        nodes = _file_op("WriteFile", target)
        nodes[0].name, nodes[1].name = "path", meta_graph.graph_def.node[0].name
        nodes[1].input[:] = ["path", "path"]
        meta_graph.graph_def.node.extend(nodes)

    _alter(inlining, duplicate)
    with pytest.raises(UnsafePolicyError, match="names two graph nodes or two functions alike"):
        check_policy_graph(inlining)


def test_another_form_of_the_saved_model_beside_it_is_refused(inlining):
    (inlining / "saved_model.pbtxt").write_text("meta_graphs {}\n")
    with pytest.raises(UnsafePolicyError, match="holds saved_model.pbtxt beside saved_model.pb"):
        check_policy_graph(inlining)


# --- the fast form's sizes --------------------------------------------------------------------------------------


def test_network_json_asking_for_a_billion_units_is_refused_before_building(inlining):
    from compiler_opt.policy.saved import load_actor_network

    (inlining / "network.json").write_text('{"fc_layer_params": [1000000000, 40, 20], "activation": "relu"}')
    message = r"network.json asks for layers of \[1000000000, 40, 20\] units and 2 outputs, but the weights' kernels"
    with pytest.raises(UnsafePolicyError, match=message):
        FastPolicy.load(inlining)
    with pytest.raises(UnsafePolicyError, match=message):
        load_actor_network(inlining)


def test_network_json_with_other_layers_than_the_weights_is_refused(inlining):
    (inlining / "network.json").write_text('{"fc_layer_params": [40, 40], "activation": "relu"}')
    with pytest.raises(UnsafePolicyError, match="network.json asks for 3 Dense layers, but weights.npz has 4"):
        FastPolicy.load(inlining)


def test_a_feature_spec_declaring_a_billion_elements_is_refused_before_preprocessing(inlining):
    spec = json.loads((inlining / "feature_spec.json").read_text())
    spec["features"][0]["shape"] = [10**9]
    (inlining / "feature_spec.json").write_text(json.dumps(spec))
    with pytest.raises(UnsafePolicyError, match="feature_spec.json declares 1,000,000,0[0-9,]+ feature elements"):
        FastPolicy.load(inlining)


def test_weights_whose_headers_claim_absurd_sizes_are_refused_before_reading(inlining):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 40)})
    with zipfile.ZipFile(inlining / "weights.npz", "a") as archive:
        archive.writestr("kernel_9.npy", header.getvalue())  # 160 GB claimed, no data
    with pytest.raises(UnsafePolicyError, match=r"weights.npz holds 4e\+10 weights, more than the 16,777,216"):
        FastPolicy.load(inlining)

"""Checks on a saved policy folder from someone else, made before anything in it is loaded or run.

The threat model trusts the compiler binary and the user, not policies from
others. The numpy fast form (`network.json`, `weights.npz`) runs no code from
the policy, but a crafted folder could still ask it for absurd sizes; and
`tf.saved_model.load` (`SavedPolicy`), the TFLite converter and
`saved_model_cli aot_compile_cpu` run graphs from `saved_model.pb`, in which
any TensorFlow op can be put: ReadFile, WriteFile, SaveV2, MatchingFiles,
PyFunc, DebugIdentity, PrintV2 to a file...

`check_policy_graph(folder)` parses `saved_model.pb` with TensorFlow's
protobuf classes (parsing runs nothing) and walks what loading the policy and
calling it can run: graph nodes backwards through their inputs, and every
function a node calls (its op naming a library function, or a function-valued
attr: `attr.func`, `attr.list.func`), recursively through the functions'
nodes. A called name the library lacks is a primitive op (TensorFlow runs one
as a function), and a library function named like a TensorFlow op counts as
that op too. The op types reached must be in

    ACTION_OPS   from every signature's outputs (`action`, and the init op),
                 every node of the collections (the TF1 main op), and every
                 function and constant the object graph names (what
                 `tf.saved_model.load` restores and what its `signatures`
                 call)
    RESTORE_OPS  from the saver's restore op, which TF1-style loaders run
                 (`saved_model_cli` among them): ACTION_OPS and the reads of
                 the variables
    FILE_OPS     anywhere in the file: the above and the save function's ops,
                 which only saving a policy runs

The object graph may hold only objects that `tf.saved_model.load` rebuilds
without running their functions (no resources, assets or custom saveables),
and the folder only the binary `saved_model.pb` (TensorFlow's loaders would
read a `.pbtxt` or a chunked `.cpb` form too). Anything else is an
`UnsafePolicyError` naming the folder and the op; the error's advice is to
rebuild the SavedModel from the fast form (`load_actor_network`, then
`save_policy`), which runs nothing from the policy.

`check_feature_sizes`, `check_weights_file` and `check_network_fits` bound
the fast form: `feature_spec.json` may declare only so many elements, the
arrays' sizes are read from the `.npy` headers in `weights.npz` before any
array is, and `network.json` must describe exactly the layers the weights
have, so it cannot make `load_actor_network` build a layer of 10^9 units.

TensorFlow is imported only by the graph checks (`check_policy_graph`, `action_ops`).
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.features import FeatureSpec

# The op types the project's own policies run, for every problem: the union of `action_ops` over policies saved
# by `save_policy` for inlining ((40, 40, 20) relu; (8,) tanh; (8,) linear; no hidden layer), regalloc-eviction
# (the masked_candidates head) and regalloc-priority, and an inliner with a derived difference (`Sub`,
# `network_config.differences`), with TensorFlow 2.19 and tf-agents (plus PartitionedCall,
# which their get_initial_state and get_metadata signatures call). Math, array and variable-read ops only.
ACTION_OPS = frozenset(
    {
        "ArgMax",
        "BiasAdd",
        "BroadcastArgs",
        "BroadcastTo",
        "Cast",
        "ConcatV2",
        "Const",
        "GatherV2",
        "Greater",
        "GreaterEqual",
        "Identity",
        "MatMul",
        "Maximum",
        "Minimum",
        "Mul",
        "NoOp",
        "Pack",
        "PartitionedCall",
        "Placeholder",
        "ReadVariableOp",
        "RealDiv",
        "Relu",
        "Reshape",
        "SelectV2",
        "Sqrt",
        "Squeeze",
        "StatefulPartitionedCall",
        "StridedSlice",
        "Sub",
        "Sum",
        "Tanh",
        "VarHandleOp",
    }
)
# What the same policies' restore op adds: reading the variables from variables/ and assigning them.
RESTORE_OPS = ACTION_OPS | {"AssignVariableOp", "RestoreV2"}
# What the same policies' save function adds (never run by loading, converting or calling a policy).
FILE_OPS = RESTORE_OPS | {
    "DisableCopyOnRead",
    "MergeV2Checkpoints",
    "SaveV2",
    "Select",
    "ShardedFilename",
    "StaticRegexFullMatch",
    "StringJoin",
}
# The kinds of object-graph objects `tf.saved_model.load` rebuilds without running a function of theirs.
OBJECT_KINDS = frozenset({"user_object", "variable", "function", "bare_concrete_function", "constant"})

SAVED_MODEL_FILE = "saved_model.pb"
OTHER_FORMS = ("saved_model.pbtxt", "saved_model.cpb")
# The most weights (float32 elements, 64 MiB) a policy's fast form may hold; the project's policies hold thousands.
MAX_WEIGHTS = 1 << 24
# The most feature elements a policy may read; the compilers' headers have hundreds (33 eviction candidates' rows).
MAX_FEATURE_ELEMENTS = 1 << 16


class UnsafePolicyError(MlgoError):
    """A saved policy that would run, or allocate, what no policy needs: refused before anything of it runs."""


def _refuse(folder: Path, where: str, ops: Iterable[str]) -> None:
    ops = sorted(ops)
    if ops:
        named = ", ".join(map(repr, ops))
        raise UnsafePolicyError(
            f"policy {folder}: {where} contains op{'s' if len(ops) > 1 else ''} {named}, which no policy needs; "
            "refusing to run or convert it: retrain it, or re-save it from its weights "
            "(compiler_opt.policy.saved.load_actor_network, then save_policy)"
        )


def check_policy_graph(folder: str | os.PathLike) -> None:
    """Refuse (`UnsafePolicyError`) a policy whose SavedModel could run more than a policy needs; see above."""
    folder = Path(folder)
    meta_graph = _meta_graph(folder)
    graph = _Graph(folder, meta_graph.graph_def)
    nodes, functions = _object_roots(folder, meta_graph.object_graph_def)
    nodes += [
        name
        for signature in meta_graph.signature_def.values()
        for info in signature.outputs.values()
        for name in _tensor_nodes(info)
    ]
    nodes += [
        _node_name(name) for collection in meta_graph.collection_def.values() for name in collection.node_list.value
    ]
    _refuse(folder, "its action graph", graph.ops(nodes, functions) - ACTION_OPS)
    restore = meta_graph.saver_def.restore_op_name
    _refuse(folder, "its variable restore", graph.ops([_node_name(restore)] if restore else []) - RESTORE_OPS)
    _refuse(folder, "its SavedModel", graph.all_ops() - FILE_OPS)


def action_ops(folder: str | os.PathLike) -> frozenset[str]:
    """The op types a saved policy's `action` signature runs (how `ACTION_OPS` was obtained)."""
    folder = Path(folder)
    meta_graph = _meta_graph(folder)
    outputs = [name for info in meta_graph.signature_def["action"].outputs.values() for name in _tensor_nodes(info)]
    return frozenset(_Graph(folder, meta_graph.graph_def).ops(outputs))


def _meta_graph(folder: Path):
    """The one meta graph of `folder`'s saved_model.pb, parsed (nothing runs)."""
    from compiler_opt.tf_runtime import import_tensorflow  # pylint: disable=import-outside-toplevel

    import_tensorflow()
    from google.protobuf.message import DecodeError  # pylint: disable=import-outside-toplevel
    from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=import-outside-toplevel

    others = [name for name in OTHER_FORMS if (folder / name).exists()]
    if others:
        raise UnsafePolicyError(
            f"policy {folder}: holds {others[0]} beside {SAVED_MODEL_FILE}, which TensorFlow "
            "could load instead of the checked file; a saved policy has only the latter"
        )
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((folder / SAVED_MODEL_FILE).read_bytes())
    except (OSError, DecodeError) as error:
        raise MlgoError(
            f"{folder} holds no readable {SAVED_MODEL_FILE} ({error}); is it a saved policy folder?"
        ) from error
    if len(proto.meta_graphs) != 1:
        raise UnsafePolicyError(
            f"policy {folder}: its SavedModel holds {len(proto.meta_graphs)} meta graphs, a saved policy one"
        )
    return proto.meta_graphs[0]


def _object_roots(folder: Path, objects) -> tuple[list[str], list[str]]:
    """The graph nodes and functions the object graph names; refuses objects whose restoring runs functions."""
    nodes, functions = [], list(objects.concrete_functions)
    for index, obj in enumerate(objects.nodes):
        kind = obj.WhichOneof("kind")
        if kind not in OBJECT_KINDS or obj.saveable_objects or obj.registered_saver:
            what = kind if kind not in OBJECT_KINDS else "custom saveable"
            raise UnsafePolicyError(
                f"policy {folder}: its SavedModel's object {index} is a {what}, whose "
                "restoring runs functions of its own; no policy has one, refusing to load it"
            )
        if kind == "function":
            functions += obj.function.concrete_functions
        elif kind == "bare_concrete_function":
            functions.append(obj.bare_concrete_function.concrete_function_name)
        elif kind == "constant":
            nodes.append(obj.constant.operation)
    return nodes, functions


def _node_name(tensor: str) -> str:
    """The node of a tensor or control input name ("node:0", "^node")."""
    return tensor.lstrip("^").split(":")[0]


def _tensor_nodes(info) -> Iterator[str]:
    """The graph nodes a signature's `TensorInfo` names (a dense, sparse or composite tensor)."""
    encoding = info.WhichOneof("encoding")
    if encoding == "name":
        yield _node_name(info.name)
    elif encoding == "coo_sparse":
        sparse = info.coo_sparse
        yield from map(
            _node_name, (sparse.values_tensor_name, sparse.indices_tensor_name, sparse.dense_shape_tensor_name)
        )
    elif encoding == "composite_tensor":
        for component in info.composite_tensor.components:
            yield from _tensor_nodes(component)


def _closure(start: Iterable[str], successors: Callable[[str], Iterable[str]]) -> set[str]:
    """Everything reachable from `start` through `successors`, `start` included."""
    seen: set[str] = set()
    pending = list(start)
    while pending:
        item = pending.pop()
        if item not in seen:
            seen.add(item)
            pending.extend(successors(item))
    return seen


def _functions_in(attr) -> Iterator[str]:
    """The functions an `AttrValue` names: `func`, `list.func`, and those in their own attrs (a call's arguments)."""
    kind = attr.WhichOneof("value")
    functions = [attr.func] if kind == "func" else list(attr.list.func) if kind == "list" else []
    for function in functions:
        yield function.name
        for inner in function.attr.values():
            yield from _functions_in(inner)


class _Graph:
    """A GraphDef's nodes and function library, walked by name: op types and function names alike."""

    def __init__(self, folder: Path, graph_def) -> None:
        self.nodes = {node.name: node for node in graph_def.node}
        self.library = {function.signature.name: function for function in graph_def.library.function}
        if len(self.nodes) != len(graph_def.node) or len(self.library) != len(graph_def.library.function):
            raise UnsafePolicyError(
                f"policy {folder}: its SavedModel names two graph nodes or two functions alike, "
                "which hides one of them from the check; refusing to load it"
            )

    def _is_op(self, name: str) -> bool:
        """Whether TensorFlow could run `name` as an op: not a library function, or one named like an op."""
        from tensorflow.python.framework import op_def_registry  # pylint: disable=import-outside-toplevel

        return name not in self.library or op_def_registry.get(name) is not None

    @staticmethod
    def _runs(node) -> list[str]:
        """What `node` runs: its op (a primitive op or a library function) and every function in its attrs."""
        return [node.op, *(name for attr in node.attr.values() for name in _functions_in(attr))]

    def _callees(self, name: str) -> list[str]:
        function = self.library.get(name)
        return [] if function is None else [callee for node in function.node_def for callee in self._runs(node)]

    def _inputs(self, name: str) -> list[str]:
        return [node for node in map(_node_name, self.nodes[name].input) if node in self.nodes]

    def ops(self, nodes: Iterable[str], functions: Sequence[str] = ()) -> set[str]:
        """The op types that computing graph `nodes` and calling `functions` can run."""
        reached = _closure((name for name in nodes if name in self.nodes), self._inputs)
        names = _closure(
            [*functions, *(run for name in reached for run in self._runs(self.nodes[name]))], self._callees
        )
        return set(filter(self._is_op, names))

    def all_ops(self) -> set[str]:
        """Every op type anywhere in the graph and its library."""
        names = {run for node in self.nodes.values() for run in self._runs(node)}
        names |= {callee for name in self.library for callee in self._callees(name)}
        return set(filter(self._is_op, names))


def check_feature_sizes(folder: Path, spec: FeatureSpec) -> None:
    """Refuse a `feature_spec.json` declaring more than `MAX_FEATURE_ELEMENTS` elements (the preprocessing's size)."""
    shapes = [tuple(map(int, feature.shape)) for feature in (*spec.features, spec.advice)]
    elements = sum(math.prod(shape) for shape in shapes)  # Python ints: a product cannot wrap around
    if elements > MAX_FEATURE_ELEMENTS or any(size < 0 for shape in shapes for size in shape):
        raise UnsafePolicyError(
            f"{folder}: feature_spec.json declares {elements:,} feature elements, more than the "
            f"{MAX_FEATURE_ELEMENTS:,} any policy reads; refusing to load it"
        )


def check_weights_file(path: Path) -> None:
    """Refuse a `weights.npz` whose arrays (sizes read from their headers) exceed `MAX_WEIGHTS` elements together.

    A missing or unreadable file raises `OSError`, left to the caller.
    """
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as member:
                    total += int(np.prod(_npy_shape(member), dtype=np.float64))
    except (ValueError, zipfile.BadZipFile) as error:
        raise MlgoError(f"{path} is not a readable weights file: {error}") from error
    if total > MAX_WEIGHTS:
        raise UnsafePolicyError(
            f"{path} holds {total:.4g} weights, more than the {MAX_WEIGHTS:,} any policy may have; refusing to load it"
        )


def _npy_shape(member) -> tuple[int, ...]:
    """The shape in an `.npy` stream's header (its data is not read)."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    version = np.lib.format.read_magic(member)
    if version not in readers:
        raise ValueError(f"unsupported .npy format version {version}")
    return readers[version](member)[0]


def check_network_fits(
    folder: Path, config: NetworkConfig, num_actions: int | None, weights: Sequence[tuple[np.ndarray, np.ndarray]]
) -> None:
    """Refuse a `network.json` (`config`) whose layers are not exactly the Dense layers in `weights.npz`."""
    fc_layer_params = config.fc_layer_params
    sizes = [(kernel.shape, bias.shape) for kernel, bias in weights]
    problem = None
    if len(sizes) != len(fc_layer_params) + 1:
        problem = f"{len(fc_layer_params) + 1} Dense layers, but weights.npz has {len(sizes)}"
    elif any(len(kernel) != 2 or bias != kernel[1:] for kernel, bias in sizes):
        problem = f"Dense layers, but the weights' shapes are {sizes}"
    else:
        outputs = [kernel[1] for kernel, _ in sizes]
        inputs = [kernel[0] for kernel, _ in sizes[1:]]
        last = 1 if config.head == "masked_candidates" else num_actions
        if outputs[:-1] != list(fc_layer_params) or inputs != outputs[:-1] or last not in (None, outputs[-1]):
            problem = (
                f"layers of {list(fc_layer_params)} units and {last} outputs, but the weights' kernels "
                f"are {[kernel for kernel, _ in sizes]}"
            )
    if problem is not None:
        raise UnsafePolicyError(f"{folder}: network.json asks for {problem}; refusing to build the policy")

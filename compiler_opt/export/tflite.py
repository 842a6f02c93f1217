"""`OUT/tflite/`: the policy as LLVM's development mode loads it (`model.tflite` + `output_spec.json`).

The converter runs on the SavedModel's `action` signature. LLVM's TFLite
runner binds tensors by name: each feature as `action_<feature>:0` (its
`TFFeedPrefix`), plus tf-agents' `action_step_type`, `action_reward` and
`action_discount`, and the advice as the tensor `output_spec.json` names
(`StatefulPartitionedCall:0`). `write_tflite` checks the converted model
has exactly those names before it is written. `TfliteModel` runs it through
`ai_edge_litert` for the export check.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from compiler_opt.export.saved_model import ExportError
from compiler_opt.policy.features import FeatureSpec, policy_shape
from compiler_opt.policy.saved import OUTPUT_SPEC_FILE, SIGNATURE
from compiler_opt.policy.untrusted import check_policy_graph
from compiler_opt.tf_runtime import import_tensorflow, without_notices

MODEL_FILE = "model.tflite"
FEED_PREFIX = "action_"


def convert(saved_model: Path) -> bytes:
    """The TFLite flatbuffer of `saved_model`'s `action` signature."""
    tf = import_tensorflow()  # with tf-agents, which registers its specs

    check_policy_graph(saved_model)  # the converter loads it and runs its restore and init ops
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
        with without_notices():
            return converter.convert()
    except Exception as error:  # the converter raises many unrelated types
        raise ExportError(f"TFLite conversion of {saved_model} failed: {error}") from error


def _interpreter(model: bytes):
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=import-outside-toplevel

    with without_notices():
        interpreter = Interpreter(model_content=model)
        interpreter.allocate_tensors()
    return interpreter


def check_names(model: bytes, spec: FeatureSpec, output_spec: list[dict]) -> None:
    """Refuse a converted model whose tensors LLVM's development mode could not bind by name."""
    interpreter = _interpreter(model)
    inputs = {d["name"] for d in interpreter.get_input_details()}
    outputs = {d["name"] for d in interpreter.get_output_details()}
    missing = [f"{FEED_PREFIX}{name}:0" for name in spec.names if f"{FEED_PREFIX}{name}:0" not in inputs]
    wanted = [f"{o['tensor_spec']['name']}:{o['tensor_spec'].get('port', 0)}" for o in output_spec]
    missing += [name for name in wanted if name not in outputs]
    if missing:
        raise ExportError(
            f"the TFLite model lacks tensors LLVM's development mode binds by name: "
            f"{', '.join(missing)} (it has inputs {sorted(inputs)}, outputs {sorted(outputs)})"
        )


def write_tflite(saved_model: Path, destination: Path, spec: FeatureSpec) -> Path:
    """Convert, check and write `destination/model.tflite` and `output_spec.json` (folder replaced)."""
    model = convert(saved_model)
    output_spec = json.loads((saved_model / OUTPUT_SPEC_FILE).read_text())
    check_names(model, spec, output_spec)
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    (destination / MODEL_FILE).write_bytes(model)
    shutil.copy2(saved_model / OUTPUT_SPEC_FILE, destination / OUTPUT_SPEC_FILE)
    return destination


class TfliteModel:
    """A written `model.tflite`, called one observation at a time through its `action` signature."""

    def __init__(self, folder: Path, spec: FeatureSpec) -> None:
        self.spec = spec
        interpreter = _interpreter((folder / MODEL_FILE).read_bytes())
        self._runner = interpreter.get_signature_runner(SIGNATURE)
        details = self._runner.get_input_details()
        # tf-agents' time-step fields: step type and reward 0, discount 1 (what LLVM's development mode feeds).
        self._extra = {
            name: (np.ones if name == "discount" else np.zeros)(d["shape"], d["dtype"])
            for name, d in details.items()
            if name not in spec.names
        }
        self._dtypes = {name: d["dtype"] for name, d in details.items()}

    def __call__(self, features: Mapping[str, np.ndarray]):
        feeds = dict(self._extra)
        for feature in self.spec.features:
            feeds[feature.name] = np.asarray(features[feature.name], self._dtypes[feature.name]).reshape(
                (1, *policy_shape(feature))
            )
        result = self._runner(**feeds)[self.spec.advice.name]
        return result.reshape(-1)[0].item()

"""`OUT/saved_model/`: the policy's SavedModel as LLVM's build expects it, checked before it is copied.

LLVM compiles the folder named by `LLVM_INLINER_MODEL_PATH` (or
`LLVM_RAEVICT_MODEL_PATH`) with `saved_model_cli aot_compile_cpu --tag_set
serve --signature_def_key action`, and its development mode loads the same
signature through TFLite. So the `action` signature must take one input per
feature, named as the compiler names it, with a static batch size of 1, and
return the advice under its own name; `output_spec.json` names the output
tensor for development mode. `check_signature` reads the SavedModel's
protobuf and refuses anything else with a message naming the input, and
`check_policy_graph` refuses graphs with ops no policy needs (a policy may come
from someone else; see `compiler_opt.policy.untrusted`); the
copy holds everything of the policy folder but the fast form's files
(`network.json`, `weights.npz`, `vocab/`): the SavedModel, `output_spec.json`,
and `feature_spec.json` (which LLVM ignores and this project's loaders read).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from compiler_opt.errors import MlgoError
from compiler_opt.policy.fast import NETWORK_FILE, VOCAB_DIR, WEIGHTS_FILE
from compiler_opt.policy.features import FeatureSpec, policy_shape
from compiler_opt.policy.saved import OUTPUT_SPEC_FILE, SIGNATURE
from compiler_opt.policy.untrusted import check_policy_graph
from compiler_opt.tf_runtime import import_tensorflow

# The fast form's files, which the SavedModel does not need.
_FAST_FORM = frozenset({NETWORK_FILE, WEIGHTS_FILE, VOCAB_DIR})


class ExportError(MlgoError):
    """A policy that cannot be exported as asked, or an export step that failed."""


def check_signature(policy_dir: Path, spec: FeatureSpec) -> None:
    """Refuse a SavedModel whose `action` signature is not what LLVM feeds and fetches."""
    import_tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=import-outside-toplevel
    from tensorflow.python.framework import dtypes  # pylint: disable=import-outside-toplevel

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((policy_dir / "saved_model.pb").read_bytes())
    except (OSError, ValueError) as error:
        raise ExportError(
            f"{policy_dir} holds no readable SavedModel ({error}); is it a saved policy folder?"
        ) from error
    graphs = [g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags]
    if not graphs or SIGNATURE not in graphs[0].signature_def:
        raise ExportError(
            f"{policy_dir}: the SavedModel has no {SIGNATURE!r} signature under the 'serve' tag; "
            "save the policy with compiler_opt.policy.saved.save_policy"
        )
    signature = graphs[0].signature_def[SIGNATURE]

    def shape(info) -> tuple[int, ...] | None:
        return None if info.tensor_shape.unknown_rank else tuple(d.size for d in info.tensor_shape.dim)

    problems = []
    for feature in spec.features:
        info = signature.inputs.get(feature.name)
        expected = (1, *policy_shape(feature))
        if info is None:
            problems.append(f"no input named {feature.name!r}")
        elif dtypes.as_dtype(info.dtype).as_numpy_dtype != feature.dtype.newbyteorder("="):
            problems.append(
                f"input {feature.name!r} is {dtypes.as_dtype(info.dtype).name}, the compiler sends {feature.type}"
            )
        elif shape(info) != expected:
            problems.append(
                f"input {feature.name!r} has shape {shape(info)}, LLVM feeds {expected} (static batch size 1)"
            )
    advice = signature.outputs.get(spec.advice.name)
    if advice is None:
        problems.append(f"no output named {spec.advice.name!r} (outputs: {', '.join(signature.outputs)})")
    if problems:
        raise ExportError(f"{policy_dir}: the {SIGNATURE!r} signature does not fit LLVM: " + "; ".join(problems))


def write_saved_model(policy_dir: Path, destination: Path, spec: FeatureSpec) -> Path:
    """Check the policy's SavedModel (its signature, and its graphs for ops no policy needs) and copy it to
    `destination` (replaced if present)."""
    check_signature(policy_dir, spec)
    check_policy_graph(policy_dir)
    if not (policy_dir / OUTPUT_SPEC_FILE).is_file():
        raise ExportError(f"{policy_dir} has no {OUTPUT_SPEC_FILE}, which LLVM's development mode needs")
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(
        policy_dir,
        destination,
        ignore=lambda folder, names: [
            n for n in names if Path(folder) == policy_dir and (n in _FAST_FORM or n.startswith("."))
        ],
    )
    return destination

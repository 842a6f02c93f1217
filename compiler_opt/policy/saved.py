"""The policy's one saved form: a SavedModel with LLVM's signature, and everything needed to rebuild it.

A saved policy folder holds

    saved_model.pb, variables/   tf-agents `PolicySaver` output (batch size 1, plain input names): the
                                 `action` signature takes one input per feature, named as the compiler
                                 names it (plus tf-agents' `step_type`, `reward`, `discount`, which LLVM's
                                 development mode feeds and AOT compilation prunes), and returns the
                                 advice under its own name (e.g. `inlining_decision`)
    output_spec.json             LLVM's output spec: the advice's logging name and tensor
    feature_spec.json            the features it was trained with (checked against every compiler)
    vocab/<feature>.buckets      the vocabulary of its preprocessing
    network.json, weights.npz    the actor's config and Dense weights: the fast form loads these
                                 without TensorFlow, and `load_actor_network` rebuilds a trainable actor

A policy may come from someone else: `SavedPolicy` loads one into TensorFlow
only after `compiler_opt.policy.untrusted.check_policy_graph` has found
nothing in its graphs that a policy does not need, and the fast form checks
`network.json` against the weights' shapes (`FastPolicy.load`).

`save_policy` writes into a temporary sibling folder and renames it into
place (`replace_folder`), so a crash never leaves a half-written policy under
the final name. A policy may also be packaged under a name and given as
`pretrained:NAME` (`compiler_opt.policy.pretrained`).
TensorFlow is imported only by the functions that need it, so
`load_fast_policy` works in processes that never load TF.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import Observation
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec, policy_shape
from compiler_opt.policy.untrusted import check_policy_graph
from compiler_opt.policy.vocab import Vocab
from compiler_opt.tf_runtime import import_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf

OUTPUT_SPEC_FILE = "output_spec.json"
SIGNATURE = "action"
# The tensor that carries the action in a PolicySaver graph, as MLGO's output_spec.json names it.
OUTPUT_TENSOR = "StatefulPartitionedCall"


def output_spec(spec: FeatureSpec) -> list[dict]:
    """LLVM's `output_spec.json` contents for `spec`'s advice (the policy's action: its name, type and shape)."""
    action = spec.action
    return [
        {
            "logging_name": action.name,
            "tensor_spec": {"name": OUTPUT_TENSOR, "port": 0, "type": action.type, "shape": list(action.shape)},
        }
    ]


def save_policy(
    directory: str | os.PathLike,
    actor: tf.Module,
    spec: FeatureSpec,
    vocab: Vocab,
    config: NetworkConfig,
    *,
    greedy: bool = True,
) -> Path:
    """Save `actor` (greedy by default, else its stochastic policy) as a policy folder at `directory`, atomically.

    An existing folder at `directory` is replaced.
    """
    from tf_agents.policies import actor_policy, greedy_policy, policy_saver  # pylint: disable=import-outside-toplevel

    from compiler_opt.policy.networks import action_spec, actor_weights, time_step_spec

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    fast = FastPolicy(spec, vocab, config, actor_weights(actor))
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        policy = actor_policy.ActorPolicy(time_step_spec(spec), action_spec(spec), actor, training=False)
        if greedy:
            policy = greedy_policy.GreedyPolicy(policy)
        policy_saver.PolicySaver(policy, batch_size=1, use_nest_path_signatures=False).save(str(staging))
        (staging / OUTPUT_SPEC_FILE).write_text(json.dumps(output_spec(spec), indent=1) + "\n")
        fast.save(staging)
        replace_folder(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def replace_folder(staging: Path, directory: Path) -> None:
    """Rename `staging` to `directory` (siblings); an old `directory` is moved aside first and removed after."""
    if not directory.exists():
        os.rename(staging, directory)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
    os.rename(directory, old / "policy")
    os.rename(staging, directory)
    shutil.rmtree(old, ignore_errors=True)


def load_fast_policy(directory: str | os.PathLike) -> FastPolicy:
    """The numpy fast form of a saved policy (no TensorFlow)."""
    return FastPolicy.load(directory)


def load_actor_network(directory: str | os.PathLike) -> tuple[tf.Module, FeatureSpec, Vocab, NetworkConfig]:
    """A trainable actor with a saved policy's weights (a warm start), with its spec, vocabulary and config."""
    from compiler_opt.policy.networks import actor_network, set_actor_weights  # pylint: disable=import-outside-toplevel

    fast = FastPolicy.load(directory)
    actor = actor_network(fast.spec, fast.vocab, fast.config)
    set_actor_weights(actor, fast.weights)
    return actor, fast.spec, fast.vocab, fast.config


class SavedPolicy:
    """A saved policy loaded into TensorFlow: calls its `action` signature one observation at a time."""

    def __init__(self, directory: str | os.PathLike) -> None:
        tf = import_tensorflow()
        self.directory = Path(directory)
        self.spec = FeatureSpec.load(directory)
        check_policy_graph(directory)  # before TensorFlow reads the SavedModel: it may come from someone else
        try:
            self.model = tf.saved_model.load(str(directory))
            self.signature = self.model.signatures[SIGNATURE]
        except (OSError, KeyError, ValueError) as error:
            raise MlgoError(f"cannot load the saved policy {directory}: {error}") from error
        self._tf = tf
        inputs = self.signature.structured_input_signature[1]
        self._extra = {name: tf.zeros(s.shape, s.dtype) for name, s in inputs.items() if name not in self.spec.names}
        self._extra.update({name: tf.ones(s.shape, s.dtype) for name, s in inputs.items() if name == "discount"})

    def __call__(self, features: Mapping[str, object]) -> int:
        """The advice for one observation given as feature name -> value."""
        tf = self._tf
        feeds = dict(self._extra)
        for feature in self.spec.features:
            value = np.asarray(features[feature.name], dtype=feature.dtype).reshape((1,) + policy_shape(feature))
            feeds[feature.name] = tf.constant(value)
        result = self.signature(**feeds)[self.spec.advice.name]
        return int(result.numpy().reshape(-1)[0])

    def observation(self, observation: Observation) -> int:
        """The advice for a channel or log `Observation`."""
        return self(observation.as_dict())

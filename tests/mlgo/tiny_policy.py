"""A valid saved inlining policy, fast form only, of one feature: for commands that load a policy but never decide.

Written with numpy alone (no TensorFlow, no corpus, no compile), so start-up
tests and benchmarks can give `mlgo cc` / `mlgo-clang` a policy in
milliseconds; its decisions are meaningless.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compiler_opt.llvm.log_format import TensorSpec
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.vocab import Vocab


def save_tiny_policy(folder: Path) -> Path:
    """Save the policy into `folder` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = FeatureSpec(
        (TensorSpec("callee_users", (1,), "int64_t"),), TensorSpec("inlining_decision", (1,), "int64_t"), 2
    )
    weights = [
        (np.zeros((3, 4), np.float32), np.zeros(4, np.float32)),
        (np.zeros((4, 2), np.float32), np.zeros(2, np.float32)),
    ]
    FastPolicy(spec, Vocab({"callee_users": np.array([0, 1])}), NetworkConfig((4,)), weights).save(folder)
    return folder

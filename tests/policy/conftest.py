"""Real observations recorded from clang-19 through the channel, and a policy built from them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from compiler_opt.llvm.channel import InteractiveCompile
from compiler_opt.llvm.log_format import LogHeader, Observation
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.features import FeatureSpec, build_feature_spec, policy_shape
from compiler_opt.policy.vocab import Vocab, compute_vocab
from compiler_opt.problems import get_problem
from compiler_opt.problems.base import PolicyContext

# What the inlining plug-in will exclude (the default decision is not a policy input).
INLINING_EXCLUDE = ("inlining_default",)


def record(toolchain, built, problem_name: str, policy: str, workdir: Path) -> tuple[LogHeader, list[Observation]]:
    """Compile `built` under a built-in policy and keep every observation the compiler sent."""
    problem = get_problem(problem_name)
    builtin = problem.policy(policy)
    argv = built.command(toolchain).argv(workdir / f"{built.name}.{problem_name}.{policy}.o")
    observations: list[Observation] = []
    with InteractiveCompile(
        argv, problem.advisor, module=built.name, include_default=builtin.include_default, temp_parent=workdir
    ) as compile_:
        decide = builtin.make(PolicyContext(toolchain, compile_.header, seed=1))
        for observation in compile_:
            observations.append(observation)
            compile_.advise(decide(observation))
        compile_.finish()
    return compile_.header, observations


@pytest.fixture(scope="session")
def inlining_default(toolchain, modules, tmp_path_factory) -> tuple[LogHeader, list[Observation]]:
    """calls.cc under clang's own decisions (header with `inlining_default`): ~700 observations."""
    return record(toolchain, modules["calls"], "inlining", "default", tmp_path_factory.mktemp("rec"))


@pytest.fixture(scope="session")
def inlining_always(toolchain, modules, tmp_path_factory) -> tuple[LogHeader, list[Observation]]:
    """calls.cc inlining everything it may (no default decision in the header)."""
    return record(toolchain, modules["calls"], "inlining", "always", tmp_path_factory.mktemp("rec"))


@pytest.fixture(scope="session")
def inlining_observations(inlining_default, inlining_always) -> list[Observation]:
    return inlining_default[1] + inlining_always[1]


@pytest.fixture(scope="session")
def inlining_spec(inlining_default) -> FeatureSpec:
    return build_feature_spec(inlining_default[0], exclude=INLINING_EXCLUDE, num_actions=2)


@pytest.fixture(scope="session")
def inlining_vocab(inlining_spec, inlining_observations) -> Vocab:
    return compute_vocab(inlining_observations, inlining_spec)


@pytest.fixture(scope="session")
def config() -> NetworkConfig:
    return NetworkConfig(fc_layer_params=(40, 40, 20))


@pytest.fixture(scope="session")
def inlining_actor(inlining_spec, inlining_vocab, config):
    """A randomly initialized actor network (seeded)."""
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network

    tf.random.set_seed(7)
    return actor_network(inlining_spec, inlining_vocab, config)


def batch_features(observations: Iterable[Observation], spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Stack observations into feature name -> `[B, *policy_shape]` arrays (for `logits_batch` and TF networks)."""
    rows = [o.as_dict() for o in observations]
    return {
        f.name: np.stack([row[f.name] for row in rows]).reshape((len(rows),) + policy_shape(f)) for f in spec.features
    }

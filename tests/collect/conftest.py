"""Fixtures of the collection tests: the small sample's modules, a module's feature spec, an untrained policy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compiler_opt.collect.compile_job import default_label_trajectory, problem_feature_spec
from compiler_opt.corpus.loading import ModuleSpec, load_corpus
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.preprocessing import Preprocessor, feature_transforms
from compiler_opt.policy.vocab import compute_vocab
from compiler_opt.problems import get_problem

INLINING = get_problem("inlining")


@pytest.fixture(scope="module")
def corpus(small_sample):
    return load_corpus(small_sample)


@pytest.fixture(scope="module")
def module(corpus) -> ModuleSpec:
    """A C module with a few hundred decisions."""
    return corpus.module("lz4/xxhash")


@pytest.fixture(scope="module")
def spec(toolchain, module):
    return problem_feature_spec(toolchain, INLINING, module)


@pytest.fixture(scope="module")
def fast_policy(toolchain, module, spec) -> FastPolicy:
    """An untrained actor in numpy (seeded random weights) over a vocabulary of real observations."""
    label = default_label_trajectory(module, INLINING, str(toolchain.clang))
    vocab = compute_vocab(_observations(label.trajectory, spec), spec)
    config = NetworkConfig(fc_layer_params=(16, 8))
    width = Preprocessor(feature_transforms(spec, vocab, config.identity)).width
    sizes = [width, *config.fc_layer_params, 2]
    rng = np.random.default_rng(5)
    weights = [(rng.normal(0, 1 / math.sqrt(a), (a, b)), rng.normal(0, 0.1, b)) for a, b in zip(sizes, sizes[1:])]
    return FastPolicy(spec, vocab, config, weights)


def _observations(trajectory, spec):
    """Observations (raw bytes under a header of `spec`'s features) rebuilt from a recorded trajectory."""
    from compiler_opt.llvm.log_format import LogHeader, Observation

    header = LogHeader(spec.features, advice=spec.advice)
    rows = np.stack([trajectory.features[name].reshape(len(trajectory)) for name in spec.names], axis=1)
    rows = np.ascontiguousarray(rows, np.int64)
    return [Observation(None, index, row.tobytes(), header) for index, row in enumerate(rows)]

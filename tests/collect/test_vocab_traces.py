"""Vocabulary from traces on the pool: real features, a bounded sample independent of job order."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_opt.collect.compile_job import problem_feature_spec
from compiler_opt.collect.trajectories import ModuleTrajectory
from compiler_opt.collect.vocab_traces import ObservationSample, collect_vocab
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.sampling import sample_modules
from compiler_opt.errors import MlgoError
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem

INLINING = get_problem("inlining")


@pytest.fixture(scope="module")
def modules(small_sample):
    corpus = load_corpus(small_sample)
    return [spec for spec in sample_modules(corpus.modules, 6, seed=4) if spec.size < 70_000]


def test_vocab_covers_the_policy_features_with_real_values(toolchain, modules):
    with LocalPool(2) as pool:
        run = collect_vocab(modules, INLINING, toolchain, pool, seed=1, sample_size=300)
    with LocalPool(1) as pool:
        again = collect_vocab(modules, INLINING, toolchain, pool, seed=1, sample_size=300)
    assert run.spec.names == problem_feature_spec(toolchain, INLINING, modules[0]).names
    assert set(run.vocab.boundaries) == set(run.spec.names) and "inlining_default" not in run.vocab
    assert run.modules_ok == len(modules) and not run.failures
    assert run.sampled == 300 < run.observations
    # real basic-block counts, not the 0/1 default decision LLVM 19 writes into that slot
    assert run.vocab["callee_basic_block_count"].max() > 1
    assert len(run.vocab["cost_estimate"]) > 20
    # one worker or two, jobs finish in another order: the same sample, the same vocabulary
    assert again.vocab == run.vocab and again.observations == run.observations


def test_a_corpus_without_decisions_is_refused(toolchain, small_sample):
    corpus = load_corpus(small_sample)
    silent = [corpus.module("brotli/dec/prefix"), corpus.module("brotli/dec/huffman")]
    with LocalPool(1) as pool, pytest.raises(MlgoError, match="no inlining decisions"):
        collect_vocab(silent, INLINING, toolchain, pool)


def test_bottom_k_sample_does_not_depend_on_order(toolchain, modules):
    spec = problem_feature_spec(toolchain, INLINING, modules[0])
    rng = np.random.default_rng(0)

    def trajectory(name: str, steps: int) -> ModuleTrajectory:
        features = {f.name: rng.integers(0, 1000, steps) for f in spec.features}
        return ModuleTrajectory(name, features, np.zeros(steps, np.int64))

    trajectories = [trajectory(f"m{i}", steps) for i, steps in enumerate((50, 0, 120, 7, 300))]
    forward, backward = ObservationSample(spec, 100, seed=3), ObservationSample(spec, 100, seed=3)
    for t in trajectories:
        forward.add(t)
    for t in reversed(trajectories):
        backward.add(t)
    assert forward.seen == backward.seen == 477
    assert [o.raw for o in forward.observations()] == [o.raw for o in backward.observations()]
    kept = forward.observations()
    assert len(kept) == 100
    rows = {tuple(t.features[f.name][i] for f in spec.features) for t in trajectories for i in range(len(t))}
    assert all(tuple(int(o[f.name][0]) for f in spec.features) in rows for o in kept)

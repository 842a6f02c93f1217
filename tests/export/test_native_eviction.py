"""The native `mlgo-clang` decides register-allocation evictions as trained: for a seeded random eviction
policy its -O2 objects are byte for byte the Python drop-in's, and not all plain clang's (the policy decided)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from compiler_opt.export.aot import compile_aot
from compiler_opt.export.dropin import compile_with_policy
from compiler_opt.export.native_driver import build_native_driver
from compiler_opt.export.saved_model import write_saved_model
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.features import FeatureSpec, build_feature_spec
from compiler_opt.policy.vocab import compute_vocab
from compiler_opt.problems import get_problem
from tests.conftest import DATA
from tests.export.test_native_driver import private_env, run
from tests.policy.conftest import record

pytestmark = pytest.mark.slow

PROBLEM = "regalloc-eviction"
CONFIG = NetworkConfig(fc_layer_params=(24, 12), identity=("mask",), head="masked_candidates", mask="mask")
# Sample-corpus modules where clang-19's -O2 allocator evicts (most of the small sample's lighter modules never
# do: x86-64 has registers enough), compared with the Python drop-in; and tests/data/pressure.c from source.
MODULES = ("brotli/dec/huffman", "libyaml/reader", "double-conversion/double-conversion/fixed-dtoa")


@pytest.fixture(scope="module")
def eviction_policy(toolchain, modules, tmp_path_factory) -> Path:
    """A seeded random eviction policy (vocabulary from pressure.c's real observations), saved as a folder.

    Its picks on those observations vary, and are not always the candidate being allocated (the last slot).
    """
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network, actor_weights
    from compiler_opt.policy.saved import save_policy

    root = tmp_path_factory.mktemp("eviction")
    problem = get_problem(PROBLEM)
    header, observations = record(toolchain, modules["pressure"], PROBLEM, "random", root)
    spec = build_feature_spec(header, exclude=problem.excluded_features, num_actions=problem.num_actions)
    vocab = compute_vocab(observations, spec, quantiles=100)
    tf.random.set_seed(3)
    actor = actor_network(spec, vocab, CONFIG)
    picks = FastPolicy(spec, vocab, CONFIG, actor_weights(actor)).observations_logits(observations).argmax(axis=1)
    assert len(set(picks.tolist()) - {problem.num_actions - 1}) > 1, np.bincount(picks)
    return save_policy(root / "policy", actor, spec, vocab, CONFIG)


@pytest.fixture(scope="module")
def eviction_clang(eviction_policy, toolchain, tmp_path_factory) -> Path:
    """mlgo-clang for the eviction policy: SavedModel, XLA AOT, native build."""
    root = tmp_path_factory.mktemp("native-eviction")
    spec = FeatureSpec.load(eviction_policy)
    problem = get_problem(PROBLEM)
    saved = write_saved_model(eviction_policy, root / "saved_model", spec)
    aot = compile_aot(saved, root / "aot", problem).folder
    driver = build_native_driver(aot, spec, problem, toolchain.clang, root / "out", build_dir=root / "build")
    return driver.bin_dir / "mlgo-clang"


def test_eviction_objects_are_the_python_dropins_and_the_policy_decided(
    eviction_clang, eviction_policy, sample_corpus, toolchain, tmp_path
):
    stats_file = tmp_path / "stats.jsonl"
    env = private_env(tmp_path, toolchain, MLGO_NATIVE_STATS=str(stats_file))
    inputs = [["-x", "ir", str(sample_corpus.module(name).bitcode)] for name in MODULES] + [[str(DATA / "pressure.c")]]
    differs_from_o2 = 0
    for index, source in enumerate(inputs):
        args = ["-O2", "-c", *source, "-o"]
        native_run = run([eviction_clang, *args, tmp_path / f"{index}.native.o"], tmp_path, **env)
        assert native_run.returncode == 0, native_run.stderr
        status = compile_with_policy(
            [*args, str(tmp_path / f"{index}.python.o")], eviction_policy, problem=PROBLEM, clang=str(toolchain.clang)
        )
        assert status == 0
        plain = run([toolchain.clang, *args, tmp_path / f"{index}.o2.o"], tmp_path)
        assert plain.returncode == 0, plain.stderr
        native, python, o2 = [(tmp_path / f"{index}.{kind}.o").read_bytes() for kind in ("native", "python", "o2")]
        assert native == python, source[-1]
        differs_from_o2 += native != o2
    assert differs_from_o2 > 0  # the policy really decided
    stats = [json.loads(line) for line in stats_file.read_text().splitlines()]
    assert len(stats) == len(inputs) and all(s["decisions"] > 0 for s in stats), stats
    assert list((tmp_path / "tmp").iterdir()) == []

"""A non-trivial inlining policy for export tests and benchmarks: random weights, decisions that vary.

The feature spec comes from the real compiler's header (the problem's
`problem_feature_spec`, so the include-default slot is not a feature), the
vocabulary from default-label trajectories of a few corpus modules. The
actor is randomly initialized (seeded), its weights perturbed, and its last
bias shifted so that about half of those observations are inlined: every
form must then get both decisions right, not just a constant.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compiler_opt.collect.compile_job import default_label_trajectory, problem_feature_spec
from compiler_opt.collect.vocab_traces import ObservationSample
from compiler_opt.corpus.loading import Corpus
from compiler_opt.llvm.toolchain import Toolchain
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.vocab import compute_vocab

PROBLEM = "inlining"


def build_random_policy(toolchain: Toolchain, corpus: Corpus, folder: Path, *, modules: int = 6, seed: int = 7) -> Path:
    """Save a seeded random inlining policy for `toolchain` at `folder` (see the module docstring)."""
    import tensorflow as tf

    from compiler_opt.policy.networks import actor_network, actor_weights, set_actor_weights
    from compiler_opt.policy.saved import save_policy

    chosen = corpus.sample(modules, seed)
    spec = problem_feature_spec(toolchain, PROBLEM, chosen[0])
    sample = ObservationSample(spec, 100_000, seed)
    for module in chosen:
        sample.add(default_label_trajectory(module, PROBLEM, str(toolchain.clang)).trajectory)
    observations = sample.observations()
    vocab = compute_vocab(observations, spec)
    config = NetworkConfig((40, 40, 20), differences=(("cost_estimate", "threshold"),))  # as the inliner trains
    tf.random.set_seed(seed)
    actor = actor_network(spec, vocab, config)
    rng = np.random.default_rng(seed)
    weights = [
        (k + rng.normal(0, 0.3, k.shape).astype(np.float32), b + rng.normal(0, 0.3, b.shape).astype(np.float32))
        for k, b in actor_weights(actor)
    ]
    set_actor_weights(actor, weights)
    logits = FastPolicy(spec, vocab, config, weights).observations_logits(observations)
    kernel, bias = weights[-1]
    bias = bias.copy()
    bias[1] -= np.float32(np.median(logits[:, 1] - logits[:, 0]))
    weights[-1] = (kernel, bias)
    set_actor_weights(actor, weights)
    return save_policy(folder, actor, spec, vocab, config)
